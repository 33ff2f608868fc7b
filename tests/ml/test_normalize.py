"""Normalization: plain exports become standard-ONNX graphs that compute the same thing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from flavum.ml import examples
from flavum.ml import normalize as normalize_module
from flavum.ml.errors import InvalidInput, ModelRejected, UnsupportedOperator
from flavum.ml.examples import ExampleModel
from flavum.ml.normalize import normalize
from flavum.ml.onnx_check import STANDARD_DOMAINS, SUPPORTED_OPS
from flavum.ml.reference import apply_postprocess, run_float

CASES = [
    ("sklearn_logreg", "digits"),
    ("sklearn_logreg", "breast_cancer"),
    ("sklearn_logreg", "iris"),
    ("sklearn_logreg", "wine"),
    ("sklearn_mlp", "digits"),
    ("sklearn_mlp", "breast_cancer"),
    ("sklearn_mlp", "iris"),
    ("torch_mlp", "digits"),
    ("torch_mlp", "breast_cancer"),
    ("torch_mlp", "wine"),
    ("torch_cnn", "digits"),
]

ExampleFn = Callable[..., ExampleModel]


def original_probabilities(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """The original export's probabilities, read from ZipMap's dicts when it has one."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: inputs})
    for output in outputs:
        if isinstance(output, list):  # ZipMap: one {class: probability} per row
            return np.array([[row[k] for k in sorted(row)] for row in output], np.float32)
    floats = [o for o in outputs if o.dtype == np.float32]
    assert len(floats) == 1
    return floats[0]


def assert_provable(model_bytes: bytes) -> None:
    model = onnx.load_from_string(model_bytes)
    assert [o.domain for o in model.opset_import] == [""]
    for node in model.graph.node:
        assert node.domain in STANDARD_DOMAINS and node.op_type in SUPPORTED_OPS, node.op_type
    assert len(model.graph.input) == 1 and len(model.graph.output) == 1


@pytest.mark.parametrize("family, dataset", CASES)
def test_logits_model_derives_the_original_probabilities(
    example: ExampleFn, family: str, dataset: str
) -> None:
    case = example(family, dataset)
    result = normalize(case.onnx_bytes, case.samples)
    assert_provable(result.model_bytes)
    assert result.proven_output == "logits"
    assert result.postprocess in ("softmax", "sigmoid")
    assert result.input_shape == case.test_inputs.shape[1:]
    logits = run_float(result.model_bytes, case.test_inputs)
    assert logits.shape[1:] == result.output_shape
    expected = original_probabilities(case.onnx_bytes, case.test_inputs)
    derived = apply_postprocess(logits, result.postprocess)
    assert np.max(np.abs(derived - expected)) < 1e-5
    assert np.array_equal(logits.argmax(axis=1), expected.argmax(axis=1))
    assert np.mean(logits.argmax(axis=1) == case.test_labels) > 0.85
    ops = {n.op_type for n in onnx.load_from_string(result.model_bytes).graph.node}
    assert not ops & {"Softmax", "Sigmoid"}, "the final activation must be cut"


@pytest.mark.parametrize("family, dataset", CASES)
def test_probabilities_model_matches_the_original(
    example: ExampleFn, family: str, dataset: str
) -> None:
    case = example(family, dataset)
    result = normalize(case.onnx_bytes, case.samples, proven_output="probabilities")
    assert_provable(result.model_bytes)
    assert (result.proven_output, result.postprocess) == ("probabilities", "none")
    probabilities = run_float(result.model_bytes, case.test_inputs)
    expected = original_probabilities(case.onnx_bytes, case.test_inputs)
    assert np.max(np.abs(probabilities - expected)) < 1e-5


def test_rewrites_are_reported(example: ExampleFn) -> None:
    case = example("sklearn_logreg", "iris")
    rewrites = " | ".join(normalize(case.onnx_bytes, case.samples).rewrites)
    for expected in ("ZipMap", "Scaler", "LinearClassifier", "Normalizer", "cut the final softmax"):
        assert expected in rewrites


def test_binary_mlp_logits_are_two_columns(example: ExampleFn) -> None:
    case = example("sklearn_mlp", "breast_cancer")
    result = normalize(case.onnx_bytes, case.samples)
    assert (result.output_shape, result.postprocess) == ((2,), "sigmoid")


def _with_post_transform(model_bytes: bytes, post: str) -> bytes:
    model = onnx.load_from_string(model_bytes)
    for node in model.graph.node:
        if node.op_type == "LinearClassifier":
            for attr in node.attribute:
                if attr.name == "post_transform":
                    attr.s = post.encode()
    return model.SerializeToString()


def test_one_vs_rest_logistic_with_normalizer(example: ExampleFn) -> None:
    # LOGISTIC scores + Normalizer(L1): the one-vs-rest form of skl2onnx's logistic regression.
    case = example("sklearn_logreg", "wine")
    ovr = _with_post_transform(case.onnx_bytes, "LOGISTIC")
    result = normalize(ovr, case.samples)
    assert (result.proven_output, result.postprocess) == ("logits", "sigmoid_l1")
    derived = apply_postprocess(run_float(result.model_bytes, case.test_inputs), "sigmoid_l1")
    assert np.max(np.abs(derived - original_probabilities(ovr, case.test_inputs))) < 1e-5
    probabilities = normalize(ovr, case.samples, proven_output="probabilities")
    assert "Div" in {n.op_type for n in onnx.load_from_string(probabilities.model_bytes).graph.node}


def _binary_linear_classifier(post: str, rows: int) -> bytes:
    rng = np.random.default_rng(3)
    node = helper.make_node(
        "LinearClassifier",
        ["x"],
        ["label", "scores"],
        domain="ai.onnx.ml",
        coefficients=rng.normal(size=3 * rows).tolist(),
        intercepts=rng.normal(size=rows).tolist(),
        classlabels_ints=[0, 1],
        post_transform=post,
    )
    graph = helper.make_graph(
        [node],
        "binary",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 2]),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("rows", [1, 2])
def test_binary_linear_classifier_with_one_or_two_score_columns(post: str, rows: int) -> None:
    data = _binary_linear_classifier(post, rows)
    inputs = np.random.default_rng(4).normal(size=(32, 3)).astype(np.float32) * 3
    expected = ort.InferenceSession(data).run(["scores"], {"x": inputs})[0]
    for proven in ("logits", "probabilities"):
        result = normalize(data, inputs[:4], proven_output=proven)
        assert_provable(result.model_bytes)
        derived = apply_postprocess(run_float(result.model_bytes, inputs), result.postprocess)
        assert np.max(np.abs(derived - expected)) < 1e-5


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer_and_linear_regressor(norm: str) -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    x, y = load_diabetes(return_X_y=True)
    x = x.astype(np.float32)  # standardized: negative values exercise the norms
    pipeline = make_pipeline(Normalizer(norm=norm), LinearRegression()).fit(x, y)
    data = to_onnx(pipeline, x[:1]).SerializeToString()
    result = normalize(data, x[:8])
    assert_provable(result.model_bytes)
    assert (result.proven_output, result.postprocess) == ("values", "none")
    expected = ort.InferenceSession(data).run(None, {"X": x})[0]
    assert np.max(np.abs(run_float(result.model_bytes, x) - expected)) < 1e-3


def test_foreign_operator_is_refused_by_name() -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_wine
    from sklearn.svm import SVC

    x, y = load_wine(return_X_y=True)
    x = x.astype(np.float32)
    data = to_onnx(SVC().fit(x, y), x[:1]).SerializeToString()
    with pytest.raises(UnsupportedOperator, match="ai.onnx.ml:SVMClassifier"):
        normalize(data, x[:4])


def test_disagreement_is_refused(example: ExampleFn, monkeypatch: pytest.MonkeyPatch) -> None:
    case = example("sklearn_logreg", "iris")
    monkeypatch.setattr(normalize_module, "EQUIVALENCE_TOLERANCE", -1.0)
    with pytest.raises(ModelRejected, match="disagrees"):
        normalize(case.onnx_bytes, case.samples)


def test_bad_samples_and_arguments_are_refused(example: ExampleFn) -> None:
    case = example("sklearn_logreg", "iris")
    bad = case.samples.copy()
    bad[1, 2] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        normalize(case.onnx_bytes, bad)
    with pytest.raises(InvalidInput, match="shape"):
        normalize(case.onnx_bytes, case.samples[:, :3])
    with pytest.raises(ValueError, match="proven_output"):
        normalize(case.onnx_bytes, case.samples, proven_output="labels")
    with pytest.raises(ModelRejected):
        normalize(case.onnx_bytes[:100], case.samples)


OLD_VERSIONS = [(3, 6), (3, 7), (3, 8), (4, 9), (5, 10), (6, 11), (7, 12)]


@pytest.mark.parametrize("ir_version, opset", OLD_VERSIONS)
@pytest.mark.parametrize("kind", ["mlp", "softmax", "one_node"])
def test_old_ir_and_opsets_normalize_to_the_same_function(
    ir_version: int, opset: int, kind: str
) -> None:
    case = examples.old_onnx_model(ir_version, opset, kind)
    result = normalize(case.onnx_bytes, case.samples)
    assert_provable(result.model_bytes)
    upgraded = any("upgraded opset" in r for r in result.rewrites)
    assert upgraded == (opset < 7)  # onnxruntime runs opset 7 and later as they are
    derived = apply_postprocess(run_float(result.model_bytes, case.test_inputs),
                                result.postprocess)
    reference = ort.InferenceSession(onnx.version_converter.convert_version(
        onnx.load_from_string(case.onnx_bytes), 12).SerializeToString()).run(
        None, {"x": case.test_inputs[:1]})[0]  # one row: the old graphs fix the batch at 1
    assert np.max(np.abs(derived[:1] - reference)) < 1e-5
    if kind == "one_node":  # nothing before the softmax: it stays, proven
        assert (result.proven_output, result.postprocess) == ("probabilities", "none")
    elif kind == "softmax":
        assert (result.proven_output, result.postprocess) == ("logits", "softmax")
    else:
        assert (result.proven_output, result.postprocess) == ("logits", "none")
        assert np.mean(derived.argmax(axis=1) == case.test_labels) > 0.85


def test_an_old_opset_the_converter_cannot_upgrade_is_refused() -> None:
    # Gemm before opset 6 infers no shapes, which the converter needs for the next Gemm.
    case = examples.old_onnx_model(3, 5, "mlp")
    with pytest.raises(ModelRejected, match="opset 5 is older than 7 and the onnx version "
                                            "converter cannot upgrade it"):
        normalize(case.onnx_bytes, case.samples)
    upgraded = normalize(examples.old_onnx_model(3, 5, "softmax").onnx_bytes, case.samples)
    assert "upgraded opset 5 -> 12 (onnx version converter)" in upgraded.rewrites


def test_output_kinds_name_what_is_proven() -> None:
    from skl2onnx import to_onnx
    from sklearn.svm import LinearSVC

    torch_logits = examples.train_torch_mlp("wine", softmax=False)
    logits = normalize(torch_logits.onnx_bytes, torch_logits.samples)
    assert (logits.proven_output, logits.postprocess) == ("logits", "none")  # no softmax: none
    split = examples.load_split("wine")
    svc = LinearSVC().fit(split.x_train / 100, split.y_train)
    scores = normalize(to_onnx(svc, split.x_train[:1]).SerializeToString(), split.x_train[:8])
    assert (scores.proven_output, scores.postprocess) == ("scores", "none")  # decision function
