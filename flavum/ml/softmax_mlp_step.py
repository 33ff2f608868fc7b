"""One SGD step of a multi-class network with one hidden ReLU layer and a softmax output, as an
ONNX graph, and its float reference: the family for digits (flavum/ml/training.py has the
layout).

- params `theta` = [W1 flattened, W1 of shape [h, d + 1] (a hidden unit's weights, then its
  bias); W2 flattened, W2 of shape [k, h + 1] (a class's weights on the hidden units, then its
  bias)]: h (d + 1) + k (h + 1) values;
- a row = [x_1 .. x_d, e_y], the one-hot label: the softmax step's rows, the same DATA objects;
- one step (backpropagation of the cross-entropy):
  A = [X 1] W1^T, H = relu(A), Z = [H 1] W2^T, S = clip(Z - max_c Z, -8, 0) per row,
  E = softmax(S) - Y,
  G2 = E^T [H 1], G1 = ((E V) * [A > 0])^T [X 1] with V = W2 without its bias column,
  theta' = theta - (lr / B) [G1, G2].

The softmax is spelled out (Exp, ReduceSum, Div: flavum/ml/softmax_step.py says why) after the
log-sum-exp shift: softmax(Z) = softmax(Z - max Z), so clipping the shifted logits at -8 only
rounds probabilities below e^-8 (3.4e-4), and the exp table spans [-8, 0] whatever the
logits. The softmax step's plain clip at +-4 instead stalls training on digits: the true class's
probability cannot pass softmax(4, -4, ..) and its weights grow without bound (docs/training.md).
Training starts from `initial_params`, a fixed-seed start shared by the float and the proven
runs (all-zero params would keep every hidden unit equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from flavum.ml.errors import InvalidInput
from flavum.ml.mlp_step import HiddenLayerFamily
from flavum.ml.softmax_step import (
    MAX_CLASSES,
    OneHotFamily,
    clipped_softmax_errors,
    one_hot_design,
    softmax,
)
from flavum.ml.training import (
    SgdStep,
    finish_model,
    hidden_layer_forward,
    hidden_layer_gradient,
    hidden_layer_inference,
    hidden_layer_shapes,
)

SHIFTED_LOGIT_BOUND = 8.0
"""The shifted logits are clipped to [-8, 0]: the exp table's range."""


def shifted_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of the logits shifted by their maximum and clipped to [-8, 0], as the
    step graph computes it."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return softmax(np.clip(shifted, -SHIFTED_LOGIT_BOUND, 0.0))


@dataclass(frozen=True)
class SoftmaxMlpStep(HiddenLayerFamily, OneHotFamily, SgdStep):
    """One SGD step of a d-h-k ReLU network with a softmax output on `batch` rows."""

    hidden: int
    classes: int

    name = "softmax-mlp"
    logit_bound = SHIFTED_LOGIT_BOUND

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_hidden()
        if not 2 <= self.classes <= MAX_CLASSES:
            raise InvalidInput(f"classes must lie in 2..{MAX_CLASSES}, not {self.classes}")

    @property
    def params_size(self) -> int:
        return self.first_layer_size + self.classes * (self.hidden + 1)

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W1 [h, d + 1], W2 [k, h + 1]) of flat params."""
        flat = self.check_params(theta)
        first = flat[:self.first_layer_size].reshape(self.hidden, self.features + 1)
        return first, flat[self.first_layer_size:].reshape(self.classes, self.hidden + 1)

    def initial_params(self, seed: int = 0) -> np.ndarray:
        """A fixed-seed start: W1 ~ N(0, 1/d), W2 ~ N(0, 1/h), biases 0, as multiples of 2^-8
        (exact at any circuit scale >= 8)."""
        rng = np.random.default_rng(seed)
        first = self.initial_first_layer(rng)
        second = np.c_[rng.normal(scale=self.hidden ** -0.5, size=(self.classes, self.hidden)),
                       np.zeros(self.classes)]
        result: np.ndarray = np.round(np.r_[first.reshape(-1), second.reshape(-1)] * 256) / 256
        return result

    def make_graph(self) -> bytes:
        """The ONNX step graph (see the module docstring)."""
        d, h, k = self.features, self.hidden, self.classes
        design_inits, design = one_hot_design(d, k)
        output_weights = np.zeros((h + 1, h), np.float32)  # W2 -> V (its bias column dropped)
        output_weights[:h, :] = np.eye(h)
        inits = [
            *design_inits,
            numpy_helper.from_array(output_weights, "output_weight_selector"),
            numpy_helper.from_array(np.ones((self.batch, 1), np.float32), "ones_column"),
            *hidden_layer_shapes(self, h, (k, h + 1)),
            numpy_helper.from_array(np.array([1, self.first_layer_size], np.int64),
                                    "first_flat_shape"),
            numpy_helper.from_array(np.array([1, k * (h + 1)], np.int64), "second_flat_shape"),
            numpy_helper.from_array(np.array([1], np.int64), "class_axis"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ]
        nodes = [
            *design,
            *hidden_layer_forward("design", "ones_column"),
            helper.make_node("Transpose", ["second"], ["second_t"], perm=[1, 0]),
            helper.make_node("MatMul", ["hidden_design", "second_t"], ["logits"]),
            # softmax of the shifted, clipped logits (spelled out, see the module docstring)
            helper.make_node("ReduceMax", ["logits"], ["logit_maxima"], axes=[1], keepdims=1),
            helper.make_node("Sub", ["logits", "logit_maxima"], ["shifted_logits"]),
            helper.make_node("Clip", ["shifted_logits", "logit_min", "zero"], ["clipped_logits"]),
            *clipped_softmax_errors(),
            # backward
            helper.make_node("MatMul", ["errors_t", "hidden_design"], ["second_gradient"]),
            helper.make_node("MatMul", ["second", "output_weight_selector"], ["v"]),
            helper.make_node("MatMul", ["errors", "v"], ["hidden_errors"]),
            *hidden_layer_gradient(),
        ]
        return self.step_graph("softmax_mlp_sgd_step", inits, nodes, "gradient_sum")

    def make_inference_graph(self) -> bytes:
        """Every version's inference graph: params and one row [x_1 .. x_d, 1] in, the k
        logits out."""
        graph = hidden_layer_inference(self, self.hidden, self.classes, "softmax_mlp_logits")
        return finish_model(graph)

    def step(self, theta: np.ndarray, rows: np.ndarray, clip: bool = True) -> np.ndarray:
        """The float reference step (float64); `clip=False` is plain SGD (softmax without the
        clip)."""
        first, second = self.split(theta)
        batch = self.check_rows(rows)
        design = np.c_[batch[:, :self.features], np.ones(self.batch)]
        pre = design @ first.T
        hidden_design = np.c_[np.maximum(pre, 0.0), np.ones(self.batch)]
        logits = hidden_design @ second.T
        probabilities = shifted_softmax(logits) if clip else softmax(logits)
        errors = probabilities - batch[:, self.features:]
        second_gradient = errors.T @ hidden_design
        first_gradient = ((errors @ second[:, :-1]) * (pre > 0)).T @ design
        gradient = np.r_[first_gradient.reshape(-1), second_gradient.reshape(-1)]
        params = np.r_[first.reshape(-1), second.reshape(-1)]
        result: np.ndarray = params - self.step_size * gradient
        return result

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The float logits of params `theta` for rows of features."""
        first, second = self.split(theta)
        x = np.asarray(features, dtype=np.float64)
        hidden = np.maximum(np.c_[x, np.ones(len(x))] @ first.T, 0.0)
        result: np.ndarray = np.c_[hidden, np.ones(len(x))] @ second.T
        return result
