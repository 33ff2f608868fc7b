"""Intake checks: malformed, over-size and unsupported models are refused with a clear reason."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from flavum.ml.errors import ModelRejected, ModelTooLarge, UnsupportedOperator
from flavum.ml.examples import ExampleModel
from flavum.ml.onnx_check import (
    check_supported_ops,
    get_input_spec,
    load_model,
    name_prover_refusal,
)

ExampleFn = Callable[..., ExampleModel]


def _graph_model(nodes, inputs, inits=(), output_shape=("n", 3), opset=17) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        list(inits),
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)]
    ).SerializeToString()


def _gemm_model(input_shape=("n", 4), elem=TensorProto.FLOAT) -> bytes:
    weight = numpy_helper.from_array(np.ones((3, 4), np.float32), "W")
    node = helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)
    return _graph_model(
        [node], [helper.make_tensor_value_info("x", elem, list(input_shape))], [weight]
    )


def test_accepts_a_plain_model_and_reports_its_input() -> None:
    model = load_model(_gemm_model())
    spec = get_input_spec(model)
    assert (spec.name, spec.shape, spec.batch) == ("x", (4,), None)
    check_supported_ops(model)


def test_static_batch_is_reported() -> None:
    assert get_input_spec(load_model(_gemm_model(input_shape=(1, 4)))).batch == 1


def test_accepts_a_real_export(example: ExampleFn) -> None:
    spec = get_input_spec(load_model(example("torch_cnn").onnx_bytes))
    assert spec.shape == (1, 8, 8)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"\x00\x01garbage\xff" * 7, "ONNX"),
        (np.random.default_rng(1).bytes(4096), "ONNX"),
    ],
)
def test_refuses_garbage(data: bytes, reason: str) -> None:
    with pytest.raises(ModelRejected, match=reason):
        load_model(data)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9, 0.99])
def test_refuses_truncated_files(example: ExampleFn, fraction: float) -> None:
    data = example("sklearn_logreg", "iris").onnx_bytes
    with pytest.raises(ModelRejected):
        load_model(data[: int(len(data) * fraction)])


def test_refuses_oversize_files() -> None:
    data = _gemm_model()
    with pytest.raises(ModelRejected, match="limit"):
        load_model(data, max_bytes=len(data) - 1)


def test_refuses_checker_failures() -> None:
    node = helper.make_node("Gemm", ["x", "missing"], ["y"])
    data = _graph_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])])
    with pytest.raises(ModelRejected, match="checker"):
        load_model(data)


def test_refuses_two_inputs() -> None:
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", 3]) for n in ("a", "b")]
    data = _graph_model([helper.make_node("Add", ["a", "b"], ["y"])], inputs)
    with pytest.raises(ModelRejected, match="exactly one input tensor, found 2: a, b"):
        load_model(data)


def test_refuses_dynamic_feature_dimensions_and_shows_the_shape() -> None:
    with pytest.raises(ModelRejected, match=r"\[\?, \?\]"):
        load_model(_gemm_model(input_shape=("n", "features")))


def test_refuses_input_without_batch_dimension() -> None:
    with pytest.raises(ModelRejected, match="batch"):
        load_model(_gemm_model(input_shape=(4,)))


def test_refuses_non_float_input() -> None:
    inputs = [helper.make_tensor_value_info("x", TensorProto.INT64, ["n", 3])]
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    with pytest.raises(ModelRejected, match="INT64"):
        load_model(_graph_model([node], inputs))


def test_unsupported_foreign_operator_is_named() -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x.astype(np.float32), y)
    model = load_model(to_onnx(tree, x[:1].astype(np.float32)).SerializeToString())
    with pytest.raises(UnsupportedOperator, match="ai.onnx.ml:TreeEnsembleClassifier"):
        check_supported_ops(model)


def test_standard_operators_are_left_to_the_prover() -> None:
    # ezkl compiles Softplus, Elu, Hardmax ... that Flavum never tested: not refused up front.
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])]
    node = helper.make_node("Softplus", ["x"], ["y"], name="act1")
    check_supported_ops(load_model(_graph_model([node], inputs)))


def _gelu_then_relu() -> bytes:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])]
    nodes = [helper.make_node("Relu", ["x"], ["h"], name="first"),
             helper.make_node("Gelu", ["h"], ["y"], name="act1")]
    return _graph_model(nodes, inputs, opset=20)


@pytest.mark.parametrize("message, named", [
    # tract's own words name the node it could not translate
    ('calibration failed: [graph] [tract] Translating node #2 "act1" Unimplemented(Gelu)',
     "operator Gelu (node 'act1')"),
    # a refusal naming no node: the first operator outside the tested ones
    ("compile_circuit failed: [halo2] General synthesis error", "operator Gelu (node 'act1')"),
])
def test_a_prover_refusal_names_the_operator_and_node(message: str, named: str) -> None:
    refusal = name_prover_refusal(_gelu_then_relu(), ModelRejected(message))
    assert isinstance(refusal, UnsupportedOperator)
    assert str(refusal).startswith(named + " cannot be proven") and message in str(refusal)


def test_other_refusals_are_kept() -> None:
    too_large = ModelTooLarge("too large")
    assert name_prover_refusal(_gelu_then_relu(), too_large) is too_large
    tested_only = ModelRejected("compile_circuit failed: no idea")
    assert name_prover_refusal(_gemm_model(), tested_only) is tested_only
