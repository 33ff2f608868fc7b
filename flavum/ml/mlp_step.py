"""One SGD step of a binary classifier with one hidden ReLU layer as an ONNX graph, and its float
reference: the MLP family of training steps (flavum/ml/training.py has the layout).

- params `theta` = [W1 flattened row by row, W1 of shape [h, d + 1] (a hidden unit's weights,
  then its bias); w2 = [v_1 .. v_h, c] (output weights, then bias)]: h (d + 1) + h + 1 values;
- a row = [x_1 .. x_d, y], y in {0, 1}: the logistic step's rows, the same DATA objects;
- one step (backpropagation of the logistic loss):
  A = [X 1] W1^T, H = relu(A), z = [H 1] w2, e = sigmoid(clip(z, -8, 8)) - y,
  g2 = [H 1]^T e, g1 = ((e v^T) * [A > 0])^T [X 1], theta' = theta - (lr / B) [g1, g2].

Training cannot start from all-zero params (every hidden unit would stay equal):
`initial_params` gives the fixed-seed start that the float and the proven runs share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from flavum.ml.errors import InvalidInput
from flavum.ml.training import (
    SgdStep,
    binary_design,
    check_binary_labels,
    check_row_batch,
    finish_model,
    hidden_layer_forward,
    hidden_layer_gradient,
    hidden_layer_inference,
    hidden_layer_shapes,
    sigmoid_errors,
)

MAX_HIDDEN = 32


class HiddenLayerFamily:
    """What the one-hidden-layer families share: `hidden` ReLU units, their weights W1
    [h, d + 1] first in the params."""

    features: int
    hidden: int

    def check_hidden(self) -> None:
        if not 1 <= self.hidden <= MAX_HIDDEN:
            raise InvalidInput(f"hidden units must lie in 1..{MAX_HIDDEN}, not {self.hidden}")

    @property
    def first_layer_size(self) -> int:
        return self.hidden * (self.features + 1)

    def initial_first_layer(self, rng: np.random.Generator) -> np.ndarray:
        """W1's fixed-seed start (before rounding): weights ~ N(0, 1/d), biases 0."""
        first: np.ndarray = np.c_[
            rng.normal(scale=self.features ** -0.5, size=(self.hidden, self.features)),
            np.zeros(self.hidden)]
        return first


@dataclass(frozen=True)
class MlpStep(HiddenLayerFamily, SgdStep):
    """One SGD step of a d-h-1 ReLU network with a sigmoid output on `batch` rows."""

    hidden: int

    name = "mlp"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_hidden()

    @property
    def params_size(self) -> int:
        return self.first_layer_size + self.hidden + 1

    @property
    def row_width(self) -> int:
        return self.features + 1

    @property
    def outputs(self) -> int:
        return 1

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W1 [h, d + 1], w2 [h + 1]) of flat params."""
        flat = self.check_params(theta)
        first = flat[:self.first_layer_size].reshape(self.hidden, self.features + 1)
        return first, flat[self.first_layer_size:]

    def initial_params(self, seed: int = 0) -> np.ndarray:
        """A fixed-seed start: W1 ~ N(0, 1/d), biases 0, w2 ~ N(0, 1/h), as multiples of 2^-8
        (exact at any circuit scale >= 8)."""
        rng = np.random.default_rng(seed)
        first = self.initial_first_layer(rng)
        second = np.r_[rng.normal(scale=self.hidden ** -0.5, size=self.hidden), 0.0]
        result: np.ndarray = np.round(np.r_[first.reshape(-1), second] * 256) / 256
        return result

    def make_graph(self) -> bytes:
        """The ONNX step graph (see the module docstring)."""
        d, h = self.features, self.hidden
        design_inits, design = binary_design(d)
        # w2 = [v, c] -> v (h values, the column the hidden errors need) by a selector.
        output_weights = np.zeros((h, h + 1), np.float32)
        output_weights[:, :h] = np.eye(h)
        inits = [
            *design_inits,
            numpy_helper.from_array(output_weights, "output_weight_selector"),
            numpy_helper.from_array(np.ones((self.batch, 1), np.float32), "ones_column"),
            *hidden_layer_shapes(self, h, (h + 1, 1)),
            numpy_helper.from_array(np.array([1, self.first_layer_size], np.int64),
                                    "first_flat_shape"),
            numpy_helper.from_array(np.array([1, h + 1], np.int64), "second_flat_shape"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ]
        nodes = [
            *design,
            *hidden_layer_forward("design", "ones_column"),
            helper.make_node("MatMul", ["hidden_design", "second"], ["logits"]),
            *sigmoid_errors(),
            # backward
            helper.make_node("MatMul", ["errors_t", "hidden_design"], ["second_gradient"]),
            helper.make_node("MatMul", ["output_weight_selector", "second"], ["v"]),
            helper.make_node("Transpose", ["v"], ["v_t"], perm=[1, 0]),
            helper.make_node("MatMul", ["errors", "v_t"], ["hidden_errors"]),
            *hidden_layer_gradient(),
        ]
        return self.step_graph("mlp_sgd_step", inits, nodes, "gradient_sum")

    def make_inference_graph(self) -> bytes:
        """Every version's inference graph: params and one row [x_1 .. x_d, 1] in, the logit
        out."""
        return finish_model(hidden_layer_inference(self, self.hidden, 1, "mlp_logit"))

    def step(self, theta: np.ndarray, rows: np.ndarray, clip: bool = True) -> np.ndarray:
        """The float reference step (float64); `clip=False` is plain SGD."""
        first, second = self.split(theta)
        batch = self.check_rows(rows)
        design = np.c_[batch[:, :-1], np.ones(self.batch)]
        pre = design @ first.T
        hidden_design = np.c_[np.maximum(pre, 0.0), np.ones(self.batch)]
        logits = hidden_design @ second
        if clip:
            logits = np.clip(logits, -self.logit_bound, self.logit_bound)
        errors = 1.0 / (1.0 + np.exp(-logits)) - batch[:, -1]
        second_gradient = hidden_design.T @ errors
        first_gradient = ((np.outer(errors, second[:-1])) * (pre > 0)).T @ design
        gradient = np.r_[first_gradient.reshape(-1), second_gradient]
        result: np.ndarray = np.r_[first.reshape(-1), second] - self.step_size * gradient
        return result

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The float logits [n, 1] of params `theta` for rows of features."""
        first, second = self.split(theta)
        x = np.asarray(features, dtype=np.float64)
        hidden = np.maximum(np.c_[x, np.ones(len(x))] @ first.T, 0.0)
        result: np.ndarray = (hidden @ second[:-1] + second[-1]).reshape(-1, 1)
        return result

    def predict(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class predictions (0 or 1) of params `theta` for rows of features."""
        predictions: np.ndarray = (self.logits(theta, features)[:, 0] > 0).astype(np.int64)
        return predictions

    def check_rows(self, rows: np.ndarray) -> np.ndarray:
        """One batch as (batch, d + 1) finite values with labels 0 or 1; InvalidInput
        otherwise."""
        array = check_row_batch(rows, self.batch, self.row_width, f"{self.features} features "
                                                                 "and a label")
        check_binary_labels(array)
        return array
