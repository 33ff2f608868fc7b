"""Training steps as ONNX graphs: one SGD step of a model family, and its float reference.

A step graph takes the current parameters and a batch of labelled rows and outputs the new
parameters. The parameters are an *input* of the graph, never an initializer, so one circuit
(one verifying key) proves a step from any parameters; the circuit hashes its inputs and output,
and the proof's public values are the commitments [H(params), H(row_0), ..., H(row_{B-1}),
H(new params)] (see flavum/zk/training.py and docs/training.md).

Layouts, chosen so that every input tensor has the same shape [1, d + 1] (ezkl gives all inputs
one scale, and a row's commitment is then the hash of exactly that row):
- logistic regression (binary): params `theta` = [w_1 .. w_d, b]; a row = [x_1 .. x_d, y] with
  y in {0, 1}. One step: z = X w + b, p = sigmoid(z), g = [X 1]^T (p - y),
  theta' = theta - (lr / B) g.

The learning rate and the batch size are fixed per graph (constants of the circuit). Other
families (flavum/ml/softmax_step.py, flavum/ml/mlp_step.py, flavum/ml/softmax_mlp_step.py)
follow the `TrainingStep` protocol: params one input, each row one input, new params the one
output. Every family also has the inference graph of its versions (`TrainedModel`): params and
one row [x_1 .. x_d, 1] in, the logits out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flavum.ml.errors import InvalidInput

OPSET = 17
PARAMS_INPUT = "theta"
NEW_PARAMS_OUTPUT = "theta_next"
MAX_STEP_BATCH = 64
"""A step circuit grows linearly with its batch: beyond this it would not fit logrows <= 18."""
MAX_FEATURES = 64
LOGIT_BOUND = 8.0
"""Logits are clipped to [-8, 8] before the sigmoid (|sigmoid(8) - 1| < 3.4e-4): the sigmoid is a
lookup table over its input range, and the clip bounds that range whatever the params become."""


def get_row_input_name(index: int) -> str:
    """The step graph's input that carries row `index` of the batch."""
    return f"row_{index}"


class TrainingStep(Protocol):
    """What the step circuit (flavum/zk/training.py) needs of a model family's SGD step."""

    @property
    def name(self) -> str: ...  # the family, part of the circuit's cache key

    @property
    def batch(self) -> int: ...

    @property
    def params_size(self) -> int: ...

    @property
    def row_width(self) -> int: ...

    @property
    def logit_bound(self) -> float: ...  # the nonlinearity's lookup range is +-this

    def make_graph(self) -> bytes: ...

    def check_params(self, theta: np.ndarray) -> np.ndarray: ...

    def check_rows(self, rows: np.ndarray) -> np.ndarray: ...


class TrainedModel(Protocol):
    """What the inference circuit of a family's versions (flavum/zk/versions.py) needs: the
    params' size and check, the features of a row, the number of logits, and the graph (params
    and one row [x_1 .. x_d, 1] as inputs, the logits [1, outputs] as output); and the float
    logits and predictions the graph's logits are compared with."""

    @property
    def name(self) -> str: ...

    @property
    def features(self) -> int: ...

    @property
    def params_size(self) -> int: ...

    @property
    def outputs(self) -> int: ...

    def make_inference_graph(self) -> bytes: ...

    def check_params(self, theta: np.ndarray) -> np.ndarray: ...

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray: ...

    def predict(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray: ...


class TrainableFamily(TrainingStep, TrainedModel, Protocol):
    """A family trainable in the rollup: its step circuit and its versions' inference circuit."""


def finish_model(graph: onnx.GraphProto) -> bytes:
    """A checked ONNX model (opset 17, IR 8) of `graph`, serialized."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    graph_bytes: bytes = model.SerializeToString()
    return graph_bytes


def inference_inputs(features: int, params_size: int) -> list[onnx.ValueInfoProto]:
    """The inputs of every version's inference graph: params `theta` and an augmented row `x`
    = [x_1 .. x_d, 1] (the 1 multiplies the biases)."""
    return [helper.make_tensor_value_info(PARAMS_INPUT, TensorProto.FLOAT, [1, params_size]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features + 1])]


def linear_inference(step: SgdStep, outputs: int, name: str) -> onnx.GraphProto:
    """The inference graph of a linear family whose params are W [outputs, d + 1] flattened:
    logits = x W^T."""
    shape = numpy_helper.from_array(np.array([outputs, step.features + 1], np.int64),
                                    "weights_shape")
    return helper.make_graph(
        [helper.make_node("Reshape", [PARAMS_INPUT, "weights_shape"], ["weights"]),
         helper.make_node("Transpose", ["weights"], ["weights_t"], perm=[1, 0]),
         helper.make_node("MatMul", ["x", "weights_t"], ["logits"])],
        name, inference_inputs(step.features, step.params_size),
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, outputs])], [shape])


def hidden_layer_inference(step: SgdStep, hidden: int, outputs: int,
                           name: str) -> onnx.GraphProto:
    """The inference graph of a one-hidden-layer family whose params are [W1 [h, d + 1], W2
    [outputs, h + 1]] flattened: logits = [relu(x W1^T) 1] W2^T."""
    inits = [
        *hidden_layer_shapes(step, hidden, (outputs, hidden + 1)),
        numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
    ]
    nodes = [
        *hidden_layer_forward("x", "one"),
        helper.make_node("Transpose", ["second"], ["second_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["hidden_design", "second_t"], ["logits"]),
    ]
    return helper.make_graph(
        nodes, name, inference_inputs(step.features, step.params_size),
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, outputs])], inits)


def hidden_layer_shapes(step: SgdStep, hidden: int,
                        second_shape: tuple[int, int]) -> list[onnx.TensorProto]:
    """The constants that split a one-hidden-layer family's params into W1 [h, d + 1] and the
    output layer's `second_shape`: `split_sizes`, `first_shape`, `second_shape`."""
    first_size = hidden * (step.features + 1)
    return [
        numpy_helper.from_array(np.array([first_size, step.params_size - first_size], np.int64),
                                "split_sizes"),
        numpy_helper.from_array(np.array([hidden, step.features + 1], np.int64), "first_shape"),
        numpy_helper.from_array(np.array(second_shape, np.int64), "second_shape"),
    ]


def hidden_layer_forward(design: str, ones: str) -> list[onnx.NodeProto]:
    """Nodes that split the params into `first` (W1) and `second` and run the hidden layer on
    the rows `design` ([X 1]): `pre_activations` A = [X 1] W1^T and `hidden_design` [relu(A) 1]
    (`ones` a column of ones)."""
    return [
        helper.make_node("Split", [PARAMS_INPUT, "split_sizes"], ["first_flat", "second_flat"],
                         axis=1),
        helper.make_node("Reshape", ["first_flat", "first_shape"], ["first"]),
        helper.make_node("Reshape", ["second_flat", "second_shape"], ["second"]),
        helper.make_node("Transpose", ["first"], ["first_t"], perm=[1, 0]),
        helper.make_node("MatMul", [design, "first_t"], ["pre_activations"]),
        helper.make_node("Relu", ["pre_activations"], ["hidden"]),
        helper.make_node("Concat", ["hidden", ones], ["hidden_design"], axis=1),
    ]


def hidden_layer_gradient() -> list[onnx.NodeProto]:
    """Nodes from the errors at the hidden units (`hidden_errors`) and the output layer's
    gradient (`second_gradient`) to the flat gradient `gradient_sum` [G1, G2], G1 = (
    hidden_errors * [A > 0])^T [X 1] (needs the constants `zero`, `first_flat_shape` and
    `second_flat_shape`)."""
    return [
        helper.make_node("Greater", ["pre_activations", "zero"], ["active_bool"]),
        helper.make_node("Cast", ["active_bool"], ["active"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hidden_errors", "active"], ["pre_errors"]),
        helper.make_node("Transpose", ["pre_errors"], ["pre_errors_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["pre_errors_t", "design"], ["first_gradient"]),
        helper.make_node("Reshape", ["first_gradient", "first_flat_shape"], ["g1"]),
        helper.make_node("Reshape", ["second_gradient", "second_flat_shape"], ["g2"]),
        helper.make_node("Concat", ["g1", "g2"], ["gradient_sum"], axis=1),
    ]


def check_step_shape(features: int, batch: int, learning_rate: float) -> None:
    """InvalidInput unless a step's features, batch and learning rate are in range."""
    if not 1 <= features <= MAX_FEATURES:
        raise InvalidInput(f"features must lie in 1..{MAX_FEATURES}, not {features}")
    if not 1 <= batch <= MAX_STEP_BATCH:
        raise InvalidInput(f"batch must lie in 1..{MAX_STEP_BATCH}, not {batch}")
    if not 0 < learning_rate <= 16:
        raise InvalidInput(f"learning rate must lie in (0, 16], not {learning_rate}")


def check_finite(array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{what} hold NaN or infinite values")


def binary_design(features: int) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto]]:
    """Constants and nodes that turn the binary families' `rows` [x, y] into `design` rows
    [x, 1] (the label column zeroed, then a one added there: the bias input) and the `labels`
    column."""
    width = features + 1
    keep = np.ones((1, width), np.float32)
    keep[0, features] = 0.0
    bias_column = np.zeros((1, width), np.float32)
    bias_column[0, features] = 1.0
    label = np.zeros((width, 1), np.float32)
    label[features, 0] = 1.0
    inits = [numpy_helper.from_array(keep, "keep_features"),
             numpy_helper.from_array(bias_column, "bias_column"),
             numpy_helper.from_array(label, "label_selector")]
    nodes = [helper.make_node("Mul", ["rows", "keep_features"], ["features"]),
             helper.make_node("Add", ["features", "bias_column"], ["design"]),
             helper.make_node("MatMul", ["rows", "label_selector"], ["labels"])]
    return inits, nodes


def sigmoid_errors() -> list[onnx.NodeProto]:
    """Nodes from `logits` to the binary families' errors: the logits clipped to the sigmoid
    table's bounds, their sigmoid minus the labels (`errors`, a column) and its transpose
    (`errors_t`)."""
    return [
        helper.make_node("Clip", ["logits", "logit_min", "logit_max"], ["clipped_logits"]),
        helper.make_node("Sigmoid", ["clipped_logits"], ["probabilities"]),
        helper.make_node("Sub", ["probabilities", "labels"], ["errors"]),
        helper.make_node("Transpose", ["errors"], ["errors_t"], perm=[1, 0]),
    ]


def check_params_vector(theta: np.ndarray, size: int) -> np.ndarray:
    """Params as a flat vector of `size` finite values; InvalidInput otherwise."""
    flat = np.asarray(theta, dtype=np.float64).reshape(-1)
    if flat.size != size:
        raise InvalidInput(f"params have {flat.size} values; the step takes {size}")
    check_finite(flat, "params")
    return flat


def check_row_batch(rows: np.ndarray, batch: int, width: int, row_text: str) -> np.ndarray:
    """One batch as (batch, width) finite values; InvalidInput naming what a row holds
    (`row_text`) otherwise."""
    array = np.asarray(rows, dtype=np.float64)
    if array.shape != (batch, width):
        raise InvalidInput(f"rows have shape {list(array.shape)}; the step takes {batch} rows "
                           f"of {row_text}")
    check_finite(array, "rows")
    return array


def check_binary_labels(array: np.ndarray) -> None:
    if not np.all(np.isin(array[:, -1], (0.0, 1.0))):
        raise InvalidInput("labels (the last value of each row) must be 0 or 1")


@dataclass(frozen=True)
class SgdStep:
    """What every family's step shares: `batch` rows of `features` values per step, and
    `learning_rate / batch` as the constant the graph multiplies the summed gradient by (a power
    of two keeps it exact in fixed point)."""

    features: int
    batch: int
    learning_rate: float

    logit_bound = LOGIT_BOUND

    def __post_init__(self) -> None:
        check_step_shape(self.features, self.batch, self.learning_rate)

    @property
    def params_size(self) -> int:
        raise NotImplementedError

    @property
    def step_size(self) -> float:
        return self.learning_rate / self.batch

    @property
    def row_width(self) -> int:
        raise NotImplementedError

    def check_params(self, theta: np.ndarray) -> np.ndarray:
        return check_params_vector(theta, self.params_size)

    def step_graph(self, name: str, inits: list[onnx.TensorProto], body: list[onnx.NodeProto],
                   gradient: str) -> bytes:
        """A family's step graph, serialized: the params and the batch's rows in, the new
        params out. `body` goes from the rows concatenated (`rows`) to the summed gradient
        (`gradient`, shaped like the params) and may use the clip bounds (`logit_min`,
        `logit_max`); this adds the concatenation and the update, params - step * gradient."""
        rows = [get_row_input_name(i) for i in range(self.batch)]
        shared = [
            numpy_helper.from_array(np.array([self.step_size], np.float32), "step_size"),
            numpy_helper.from_array(np.array(-self.logit_bound, np.float32), "logit_min"),
            numpy_helper.from_array(np.array(self.logit_bound, np.float32), "logit_max"),
        ]
        nodes = [
            helper.make_node("Concat", rows, ["rows"], axis=0),
            *body,
            helper.make_node("Mul", [gradient, "step_size"], ["update"]),
            helper.make_node("Sub", [PARAMS_INPUT, "update"], [NEW_PARAMS_OUTPUT]),
        ]
        params = [1, self.params_size]
        inputs = [helper.make_tensor_value_info(PARAMS_INPUT, TensorProto.FLOAT, params)]
        inputs += [helper.make_tensor_value_info(r, TensorProto.FLOAT, [1, self.row_width])
                   for r in rows]
        graph = helper.make_graph(
            nodes, name, inputs,
            [helper.make_tensor_value_info(NEW_PARAMS_OUTPUT, TensorProto.FLOAT, params)],
            [*inits, *shared])
        return finish_model(graph)


@dataclass(frozen=True)
class LogisticStep(SgdStep):
    """One SGD step of binary logistic regression on `batch` rows of `features` values."""

    name = "logistic"

    @property
    def width(self) -> int:
        """Values in the params and in one row: d weights + bias, d features + label."""
        return self.features + 1

    @property
    def params_size(self) -> int:
        return self.width

    @property
    def row_width(self) -> int:
        return self.width

    @property
    def outputs(self) -> int:
        return 1

    def make_graph(self) -> bytes:
        """The ONNX step graph (see the module docstring)."""
        inits, design = binary_design(self.features)
        nodes = [
            *design,
            helper.make_node("Transpose", [PARAMS_INPUT], ["theta_column"], perm=[1, 0]),
            helper.make_node("MatMul", ["design", "theta_column"], ["logits"]),
            *sigmoid_errors(),
            helper.make_node("MatMul", ["errors_t", "design"], ["gradient_sum"]),
        ]
        return self.step_graph("logistic_sgd_step", inits, nodes, "gradient_sum")

    def make_inference_graph(self) -> bytes:
        """The inference graph of every version: params `theta` and one augmented row
        [x_1 .. x_d, 1] (the 1 multiplies the bias) as inputs, the logit as output.

        The params are an input, as in the step graph, not an initializer: hashed, they show
        the same commitment as the step proof that made them, and the circuit's key is one
        per architecture by construction. (ezkl's hashed params gave the same key for other
        weights too, but their proofs failed to verify about half the time: docs/training.md.)
        """
        inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, self.width])
                  for name in (PARAMS_INPUT, "x")]
        graph = helper.make_graph(
            [helper.make_node("Transpose", [PARAMS_INPUT], ["theta_column"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "theta_column"], ["logit"])],
            "logistic_logit", inputs,
            [helper.make_tensor_value_info("logit", TensorProto.FLOAT, [1, 1])],
        )
        return finish_model(graph)

    def step(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The float reference step (float64): new params from params and one batch of rows."""
        theta = self.check_params(theta).astype(np.float64)
        rows = self.check_rows(rows).astype(np.float64)
        design = np.concatenate([rows[:, :-1], np.ones((self.batch, 1))], axis=1)
        logits = np.clip(design @ theta, -LOGIT_BOUND, LOGIT_BOUND)
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        gradient_sum = design.T @ (probabilities - rows[:, -1])
        result: np.ndarray = theta - self.step_size * gradient_sum
        return result

    def logits(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The float logits [n, 1] of params `theta` for rows of features."""
        theta = self.check_params(theta).astype(np.float64)
        x = np.asarray(features, dtype=np.float64)
        result: np.ndarray = (x @ theta[:-1] + theta[-1]).reshape(-1, 1)
        return result

    def predict(self, theta: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class predictions (0 or 1) of params `theta` for rows of features."""
        predictions: np.ndarray = (self.logits(theta, features)[:, 0] > 0).astype(np.int64)
        return predictions

    def check_rows(self, rows: np.ndarray) -> np.ndarray:
        """One batch as (batch, width) finite values with labels 0 or 1; InvalidInput otherwise."""
        array = check_row_batch(rows, self.batch, self.width, f"{self.features} features and a "
                                                             "label")
        check_binary_labels(array)
        return array


def make_labelled_rows(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rows [x_1 .. x_d, y] as a step graph takes them (float32)."""
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise InvalidInput(f"{x.shape[0] if x.ndim else 0} feature rows and {y.shape[0]} labels")
    return np.concatenate([x, y], axis=1)


def load_standardized(dataset: str, features: int) -> tuple[np.ndarray, ...]:
    """The examples' fixed split of `dataset`, standardized with the training rows' mean and
    deviation, keeping the first `features` columns: (x_train, y_train, x_test, y_test)."""
    from flavum.ml.examples import load_split  # scikit-learn: only for example data

    split = load_split(dataset)
    x_train, x_test = standardize(split.x_train, split.x_test)
    return x_train[:, :features], split.y_train, x_test[:, :features], split.y_test


def load_pooled_digits() -> tuple[np.ndarray, ...]:
    """The examples' fixed split of digits with every 2x2 block of pixels averaged (8x8 images
    to 4x4: 16 features), standardized as `load_standardized` does."""
    from flavum.ml.examples import load_split  # scikit-learn: only for example data

    split = load_split("digits")

    def pool(x: np.ndarray) -> np.ndarray:
        blocks: np.ndarray = x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)
        return blocks

    x_train, x_test = standardize(pool(split.x_train), pool(split.x_test))
    return x_train, split.y_train, x_test, split.y_test


def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both parts scaled with the training part's mean and deviation (a constant column is
    only centred)."""
    mean = x_train.mean(axis=0)
    deviation = np.where(x_train.std(axis=0) > 0, x_train.std(axis=0), 1.0)
    return (x_train - mean) / deviation, (x_test - mean) / deviation


def make_batches(rows: np.ndarray, batch: int, steps: int, seed: int = 0) -> list[np.ndarray]:
    """`steps` batches of `batch` rows: passes over `rows` in fixed-seed shuffled orders."""
    rng = np.random.default_rng(seed)
    passes = -(-steps * batch // len(rows))
    order = np.concatenate([rng.permutation(len(rows)) for _ in range(passes)])
    return [rows[order[i * batch:(i + 1) * batch]] for i in range(steps)]
