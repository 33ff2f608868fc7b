"""Float reference: input validation, batched inference and the accuracy report."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.ml.errors import InvalidInput
from flavum.ml.examples import ExampleModel
from flavum.ml.normalize import normalize
from flavum.ml.reference import accuracy_report, apply_postprocess, run_float, validate_input

ExampleFn = Callable[..., ExampleModel]


@pytest.mark.parametrize(
    "values, shape",
    [
        (np.zeros((2, 4)), (2, 4)),
        (np.zeros(4), (1, 4)),
        ([[0.0] * 4] * 3, (3, 4)),
        (np.zeros((5, 1, 2, 2)), (5, 1, 2, 2)),
        # ezkl's own layout: several samples back to back in one flat list, or in each row
        ([np.arange(12.0).tolist()], (3, 4)),
        (np.zeros(8), (2, 4)),
        (np.zeros((2, 8)), (4, 4)),
    ],
)
def test_validate_input_accepts_samples_batches_and_flat_rows(values: object, shape: tuple) -> None:
    sample_shape = shape[1:]
    result = validate_input(values, sample_shape)
    assert result.shape == shape and result.dtype == np.float32


def test_validate_input_accepts_flat_rows_for_images() -> None:
    assert validate_input(np.zeros((3, 16)), (1, 4, 4)).shape == (3, 1, 4, 4)


@pytest.mark.parametrize(
    "values, message",
    [
        (np.zeros(5), r"shape \[5\]; expected \[4\]"),
        (np.zeros((2, 3)), "expected"),
        ([], "empty"),
        ([[1.0, 2.0], [3.0]], "rectangular"),
        ([1.0, float("nan"), 0.0, 0.0], r"NaN at index \[1\]"),
        ([1.0, 0.0, float("inf"), 0.0], r"infinite value at index \[2\]"),
        ([1e39, 0.0, 0.0, 0.0], "overflows float32"),
        (["a", "b", "c", "d"], "rectangular array of numbers"),
    ],
)
def test_validate_input_refuses(values: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_input(values, (4,))


def test_run_float_batched_equals_one_by_one(example: ExampleFn) -> None:
    case = example("torch_cnn")
    model = normalize(case.onnx_bytes, case.samples).model_bytes
    batch = run_float(model, case.test_inputs[:16])
    single = np.concatenate([run_float(model, x) for x in case.test_inputs[:16]])
    assert batch.shape == (16, 10)
    assert np.allclose(batch, single, atol=1e-6)


def test_run_float_chunks_a_static_batch_of_one() -> None:
    weight = numpy_helper.from_array(np.eye(3, dtype=np.float32) * 2, "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    inputs = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert np.array_equal(run_float(model.SerializeToString(), inputs), inputs * 2)


def test_apply_postprocess() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert np.allclose(apply_postprocess(logits, "softmax").sum(axis=1), 1.0)
    assert np.allclose(apply_postprocess(logits, "sigmoid_l1").sum(axis=1), 1.0)
    assert np.allclose(apply_postprocess(np.zeros(2), "sigmoid"), 0.5)
    assert np.array_equal(apply_postprocess(logits, "none"), logits)
    with pytest.raises(ValueError):
        apply_postprocess(logits, "tanh")


def test_accuracy_report() -> None:
    reference = np.array([[0.0, 1.0], [2.0, 0.0], [0.5, 0.6]])
    circuit = np.array([[0.0, 1.001], [1.998, 0.0], [0.61, 0.6]])
    report = accuracy_report(reference, circuit, "softmax", proven_output="logits")
    assert report["samples"] == 3
    assert report["proven_output"] == "logits"
    assert report["top1_agreement"] == pytest.approx(2 / 3)
    assert report["max_abs_error"] == pytest.approx(0.11)
    assert 0 < report["max_abs_error_probabilities"] < 0.11
    assert accuracy_report(reference[:, :1], circuit[:, :1], "none")["top1_agreement"] is None
    with pytest.raises(InvalidInput, match="shapes differ"):
        accuracy_report(reference, circuit[:2], "none")


def test_ezkl_layout_keeps_the_samples_in_order() -> None:
    batch = np.arange(24.0).reshape(6, 4)
    flat = {"input_data": [batch.reshape([-1]).tolist()]}["input_data"]
    assert np.array_equal(validate_input(flat, (4,)), batch.astype(np.float32))
