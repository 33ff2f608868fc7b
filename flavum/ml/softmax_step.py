"""One SGD step of softmax (multinomial logistic) regression as an ONNX graph, and its float
reference: the multi-class family of training steps (flavum/ml/training.py has the layout).

- params `theta` = W flattened row by row, W of shape [k, d + 1] (class c's weights, then its
  bias): one input of shape [1, k (d + 1)];
- a row = [x_1 .. x_d, e_y] with e_y the one-hot label: one input of shape [1, d + k].
  One-hot rather than a class index because the graph then only selects and multiplies (a
  matrix product with a constant 0/1 selector): a class index would need a comparison per class
  in the circuit. The row's commitment still covers its label.
- one step: Z = [X 1] W^T, P = softmax(clip(Z, -4, 4)) per row, G = (P - Y)^T [X 1],
  theta' = theta - (lr / B) G.

The softmax is spelled out as Exp, ReduceSum and Div: ezkl's own Softmax operator failed its
constraints (ezkl.mock) at scale 2^-10 for 8 of 12 random weight sets, the spelled-out one for
none. The clip bound (4, the logistic step's is 8) bounds the exp lookup table (logrows 14 at
2^-10); at 8 the division lost precision on large logits (docs/training.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from flavum.ml.errors import InvalidInput
from flavum.ml.training import (
    PARAMS_INPUT,
    SgdStep,
    check_row_batch,
    finish_model,
    linear_inference,
)

SOFTMAX_LOGIT_BOUND = 4.0
MAX_CLASSES = 16


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (float64, shifted by the row maximum for stability)."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


class OneHotFamily:
    """What the multi-class families share: rows [x_1 .. x_d, e_y] with a one-hot label of
    `classes`, one logit per class, the prediction their argmax."""

    features: int
    batch: int
    classes: int

    @property
    def row_width(self) -> int:
        return self.features + self.classes

    @property
    def outputs(self) -> int:
        return self.classes

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class predictions (argmax of the logits) of params `theta` for rows of features."""
        predictions: np.ndarray = np.argmax(self.logits(theta, features), axis=1)
        return predictions

    def check_rows(self, rows: np.ndarray) -> np.ndarray:
        """One batch as (batch, d + k) finite values whose last k are one-hot; InvalidInput
        otherwise."""
        return check_one_hot_rows(rows, self.batch, self.features, self.classes)


@dataclass(frozen=True)
class SoftmaxStep(OneHotFamily, SgdStep):
    """One SGD step of softmax regression with `classes` classes on `batch` rows of `features`
    values."""

    classes: int

    name = "softmax"
    logit_bound = SOFTMAX_LOGIT_BOUND

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 2 <= self.classes <= MAX_CLASSES:
            raise InvalidInput(f"classes must lie in 2..{MAX_CLASSES}, not {self.classes}")

    @property
    def params_size(self) -> int:
        return self.classes * (self.features + 1)

    def make_graph(self) -> bytes:
        """The ONNX step graph (see the module docstring)."""
        d, k = self.features, self.classes
        design_inits, design = one_hot_design(d, k)
        inits = [
            *design_inits,
            numpy_helper.from_array(np.array([k, d + 1], np.int64), "weights_shape"),
            numpy_helper.from_array(np.array([1, self.params_size], np.int64), "params_shape"),
            numpy_helper.from_array(np.array([1], np.int64), "class_axis"),
        ]
        nodes = [
            *design,
            helper.make_node("Reshape", [PARAMS_INPUT, "weights_shape"], ["weights"]),
            helper.make_node("Transpose", ["weights"], ["weights_t"], perm=[1, 0]),
            helper.make_node("MatMul", ["design", "weights_t"], ["logits"]),
            *softmax_errors(),
            helper.make_node("MatMul", ["errors_t", "design"], ["gradient_sum"]),
            helper.make_node("Reshape", ["gradient_sum", "params_shape"], ["gradient_flat"]),
        ]
        return self.step_graph("softmax_sgd_step", inits, nodes, "gradient_flat")

    def make_inference_graph(self) -> bytes:
        """Every version's inference graph: params and one row [x_1 .. x_d, 1] in, the k
        logits out."""
        return finish_model(linear_inference(self, self.classes, "softmax_logits"))

    def step(self, theta: np.ndarray, rows: np.ndarray, clip: bool = True) -> np.ndarray:
        """The float reference step (float64); `clip=False` is plain softmax regression SGD."""
        weights = self.check_params(theta).reshape(self.classes, self.features + 1)
        batch = self.check_rows(rows)
        design = np.c_[batch[:, :self.features], np.ones(self.batch)]
        logits = design @ weights.T
        if clip:
            logits = np.clip(logits, -self.logit_bound, self.logit_bound)
        errors = softmax(logits) - batch[:, self.features:]
        result: np.ndarray = (weights - self.step_size * errors.T @ design).reshape(-1)
        return result

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The float logits [n, k] of params `theta` for rows of features."""
        weights = self.check_params(theta).reshape(self.classes, self.features + 1)
        x = np.asarray(features, dtype=np.float64)
        result: np.ndarray = x @ weights[:, :-1].T + weights[:, -1]
        return result


def one_hot_design(features: int, classes: int) -> tuple[list[onnx.TensorProto],
                                                         list[onnx.NodeProto]]:
    """Constants and nodes that turn the one-hot families' `rows` [x, e_y] into `design` rows
    [x, 1] and the `labels` [e_y] (matrix products with constant 0/1 selectors)."""
    d, k = features, classes
    # [x, e_y] -> [x, 0] (d + 1 columns), then a one in the last column: the design row.
    feature_selector = np.zeros((d + k, d + 1), np.float32)
    feature_selector[:d, :d] = np.eye(d)
    bias_column = np.zeros((1, d + 1), np.float32)
    bias_column[0, d] = 1.0
    label_selector = np.zeros((d + k, k), np.float32)
    label_selector[d:, :] = np.eye(k)
    inits = [numpy_helper.from_array(feature_selector, "feature_selector"),
             numpy_helper.from_array(bias_column, "bias_column"),
             numpy_helper.from_array(label_selector, "label_selector")]
    nodes = [helper.make_node("MatMul", ["rows", "feature_selector"], ["features"]),
             helper.make_node("Add", ["features", "bias_column"], ["design"]),
             helper.make_node("MatMul", ["rows", "label_selector"], ["labels"])]
    return inits, nodes


def softmax_errors() -> list[onnx.NodeProto]:
    """Nodes from `logits` to the one-hot families' `errors` softmax(clip(logits)) - labels and
    their transpose `errors_t` (needs the constant `class_axis` = [1])."""
    return [
        helper.make_node("Clip", ["logits", "logit_min", "logit_max"], ["clipped_logits"]),
        *clipped_softmax_errors(),
    ]


def clipped_softmax_errors() -> list[onnx.NodeProto]:
    """Nodes from `clipped_logits` to the errors softmax(clipped_logits) - labels and their
    transpose `errors_t` (needs the constant `class_axis` = [1])."""
    return [
        # softmax spelled out: ezkl's own Softmax failed its constraints at scale 2^-10
        helper.make_node("Exp", ["clipped_logits"], ["exps"]),
        helper.make_node("ReduceSum", ["exps", "class_axis"], ["exp_sums"], keepdims=1),
        helper.make_node("Div", ["exps", "exp_sums"], ["probabilities"]),
        helper.make_node("Sub", ["probabilities", "labels"], ["errors"]),
        helper.make_node("Transpose", ["errors"], ["errors_t"], perm=[1, 0]),
    ]


def check_one_hot_rows(rows: np.ndarray, batch: int, features: int, classes: int) -> np.ndarray:
    """One batch as (batch, d + k) finite values whose last k are one-hot; InvalidInput
    otherwise."""
    array = check_row_batch(rows, batch, features + classes,
                            f"{features} features and a one-hot label of {classes}")
    labels = array[:, features:]
    if not (np.all(np.isin(labels, (0.0, 1.0))) and np.all(labels.sum(axis=1) == 1.0)):
        raise InvalidInput("labels (the last values of each row) must be one-hot")
    return array


def make_one_hot_rows(features: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Rows [x_1 .. x_d, e_y] as the softmax step takes them (float32)."""
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise InvalidInput(f"{x.shape[0] if x.ndim else 0} feature rows and {y.shape[0]} labels")
    if not np.all((y >= 0) & (y < classes) & (y == np.round(y))):
        raise InvalidInput(f"labels must be class indices in 0..{classes - 1}")
    return np.concatenate([x, np.eye(classes, dtype=np.float32)[y.astype(np.int64)]], axis=1)
