"""Tree ensembles: skl2onnx's TreeEnsemble exports become MatMul/Greater graphs that compute the
same thing as onnxruntime on the original, are refused up front when too large, and prove."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from flavum.ml.errors import ModelRejected
from flavum.ml.examples import (
    ExampleModel,
    load_split,
    train_boosted_trees,
    train_lightgbm_categorical,
    train_sklearn_trees,
)
from flavum.ml.normalize import normalize
from flavum.ml.onnx_check import STANDARD_DOMAINS, SUPPORTED_OPS, IntakeLimits
from flavum.ml.reference import apply_postprocess, run_float
from flavum.ml.trees import EnsembleTooLarge

CASES = [
    ("decision_tree", "iris"),
    ("decision_tree", "breast_cancer"),
    ("decision_tree", "diabetes"),
    ("random_forest", "iris"),
    ("random_forest", "breast_cancer"),
    ("random_forest", "diabetes"),
    ("extra_trees", "wine"),
    ("extra_trees", "diabetes"),
    ("gradient_boosting", "iris"),
    ("gradient_boosting", "breast_cancer"),
    ("gradient_boosting", "wine"),
    ("gradient_boosting", "diabetes"),
]


@functools.cache
def trained(family: str, dataset: str, n_estimators: int = 5, max_depth: int = 3) -> ExampleModel:
    return train_sklearn_trees(family, dataset, n_estimators=n_estimators, max_depth=max_depth)


def original_scores(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """onnxruntime on the export: probabilities read from ZipMap's dicts, or the regression."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: inputs})
    last = outputs[-1]
    if isinstance(last, list):
        return np.array([[row[k] for k in sorted(row)] for row in last], np.float32)
    return np.asarray(last, np.float32)


@pytest.mark.parametrize("family, dataset", CASES)
def test_rewritten_ensemble_equals_onnxruntime_on_held_out_rows(family: str, dataset: str) -> None:
    case = trained(family, dataset)
    result = normalize(case.onnx_bytes, case.samples)
    model = onnx.load_from_string(result.model_bytes)
    assert [o.domain for o in model.opset_import] == [""]
    for node in model.graph.node:
        assert node.domain in STANDARD_DOMAINS and node.op_type in SUPPORTED_OPS, node.op_type
    assert any("TreeEnsemble" in r for r in result.rewrites)
    derived = apply_postprocess(run_float(result.model_bytes, case.test_inputs), result.postprocess)
    expected = original_scores(case.onnx_bytes, case.test_inputs).reshape(derived.shape)
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert np.max(np.abs(derived - expected)) <= 1e-5 * scale
    if dataset != "diabetes":
        assert np.mean(derived.argmax(axis=1) == case.test_labels) > 0.8
    if family == "gradient_boosting" and dataset != "diabetes":
        # Boosting ends in a sigmoid/softmax: cut, proven at its logits as for linear models.
        assert result.proven_output == "logits"
        assert result.postprocess == ("sigmoid" if dataset == "breast_cancer" else "softmax")
    elif dataset == "diabetes":
        assert (result.proven_output, result.postprocess) == ("values", "none")
    else:
        # Trees and forests vote with the class fractions of their leaves: probabilities.
        assert (result.proven_output, result.postprocess) == ("probabilities", "none")
        assert np.allclose(derived.sum(axis=1), 1.0, atol=1e-5) and derived.min() >= 0


BOOSTED = [(library, dataset) for library in ("xgboost", "lightgbm")
           for dataset in ("iris", "breast_cancer", "diabetes")]


@pytest.mark.parametrize("library, dataset", BOOSTED)
def test_xgboost_and_lightgbm_exports_equal_onnxruntime(library: str, dataset: str) -> None:
    # onnxmltools writes what skl2onnx does not: XGBoost BRANCH_LT with base_values (and no
    # standard opset at all), LightGBM BRANCH_LEQ with missing-value tracking, its outputs
    # renamed through Identity nodes, a Cast on the label and a ZipMap.
    case = train_boosted_trees(library, dataset)
    original = onnx.load_from_string(case.onnx_bytes)
    tree = next(n for n in original.graph.node if n.op_type.startswith("TreeEnsemble"))
    modes = {m.decode() for a in tree.attribute if a.name == "nodes_modes" for m in a.strings}
    assert modes == {"BRANCH_LT" if library == "xgboost" else "BRANCH_LEQ", "LEAF"}
    result = normalize(case.onnx_bytes, case.samples)
    model = onnx.load_from_string(result.model_bytes)
    assert [o.domain for o in model.opset_import] == [""]
    for node in model.graph.node:
        assert node.domain in STANDARD_DOMAINS and node.op_type in SUPPORTED_OPS, node.op_type
    derived = apply_postprocess(run_float(result.model_bytes, case.test_inputs), result.postprocess)
    expected = original_scores(case.onnx_bytes, case.test_inputs).reshape(derived.shape)
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert np.max(np.abs(derived - expected)) <= 1e-5 * scale
    if dataset == "diabetes":
        assert (result.proven_output, result.postprocess) == ("values", "none")
    else:
        # Boosting's SOFTMAX / LOGISTIC post_transform is cut: the circuit proves the logits.
        assert result.proven_output == "logits"
        assert result.postprocess == ("sigmoid" if dataset == "breast_cancer" else "softmax")
        assert np.mean(derived.argmax(axis=1) == case.test_labels) > 0.9


def _lightgbm_export(rows: int, zipmap: bool) -> bytes:
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    split = load_split("iris")
    booster = lightgbm.LGBMClassifier(n_estimators=5, max_depth=3, num_leaves=8, verbose=-1)
    booster.fit(split.x_train[:rows], split.y_train[:rows])
    types = [("input", FloatTensorType([None, 4]))]
    return convert_lightgbm(booster, initial_types=types, zipmap=zipmap).SerializeToString()


@pytest.mark.parametrize("rows, zipmap", [(112, False), (30, True)])
def test_lightgbm_without_zipmap_or_splits_is_cut_at_its_logits(rows: int, zipmap: bool) -> None:
    # zipmap=False ends the graph in Mul(probabilities, 1) instead of ZipMap; on 30 rows
    # LightGBM (min_child_samples 20) splits nothing: every tree is one leaf, no internal node.
    exported = _lightgbm_export(rows, zipmap)
    model = onnx.load_from_string(exported)
    tree = next(n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier")
    modes = {m for a in tree.attribute if a.name == "nodes_modes" for m in a.strings}
    assert modes == ({b"LEAF"} if rows == 30 else {b"LEAF", b"BRANCH_LEQ"})
    assert ("Mul" in {n.op_type for n in model.graph.node}) == (not zipmap)
    x = load_split("iris").x_test
    result = normalize(exported, x[:8])
    assert (result.proven_output, result.postprocess) == ("logits", "softmax")
    derived = apply_postprocess(run_float(result.model_bytes, x), result.postprocess)
    assert np.max(np.abs(derived - original_scores(exported, x))) <= 1e-5


def test_boosted_ensemble_with_an_unsupported_aggregate_is_refused_by_name() -> None:
    model = onnx.load_from_string(train_boosted_trees("lightgbm", "diabetes").onnx_bytes)
    tree = next(n for n in model.graph.node if n.op_type == "TreeEnsembleRegressor")
    tree.attribute.append(helper.make_attribute("aggregate_function", "MAX"))
    with pytest.raises(ModelRejected, match="aggregate_function MAX is not supported"):
        normalize(model.SerializeToString(), np.zeros((2, 10), np.float32))


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("post", ["LOGISTIC", "NONE", "SOFTMAX"])
def test_binary_booster_reads_as_onnxruntime_whatever_the_signs(post: str, sign: float) -> None:
    # One score column s: onnxruntime writes sigmoid([-s, s]) for LOGISTIC whatever the signs
    # of the weights, else [1 - s, s] when all are non-negative and [-s, s] when not.
    model = onnx.load_from_string(train_boosted_trees("lightgbm", "breast_cancer").onnx_bytes)
    tree = next(n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier")
    weights = next(a for a in tree.attribute if a.name == "class_weights")
    weights.floats[:] = [sign * abs(w) / 10 for w in weights.floats]
    next(a for a in tree.attribute if a.name == "post_transform").s = post.encode()
    case = trained("decision_tree", "breast_cancer")
    result = normalize(model.SerializeToString(), case.samples)
    derived = apply_postprocess(run_float(result.model_bytes, case.test_inputs), result.postprocess)
    expected = original_scores(model.SerializeToString(), case.test_inputs)
    assert np.max(np.abs(derived - expected)) <= 1e-5
    assert result.postprocess == ("sigmoid" if post == "LOGISTIC" else "none")


def _one_tree(mode: str, threshold: float, true_ids: tuple[int, ...] = (1, 0, 0)) -> bytes:
    """x0 `mode` threshold -> class 1 (true) else class 0: a hand-written TreeEnsembleClassifier."""
    node = helper.make_node(
        "TreeEnsembleClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
        nodes_modes=[mode, "LEAF", "LEAF"], nodes_values=[threshold, 0.0, 0.0],
        nodes_truenodeids=list(true_ids), nodes_falsenodeids=[2, 0, 0],
        class_treeids=[0, 0, 0, 0], class_nodeids=[1, 1, 2, 2], class_ids=[0, 1, 0, 1],
        class_weights=[0.0, 1.0, 1.0, 0.0], classlabels_int64s=[0, 1],
    )
    graph = helper.make_graph(
        [node], "tree", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 2])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


@pytest.mark.parametrize("mode", MODES)
def test_every_comparison_mode_agrees_at_the_threshold(mode: str) -> None:
    model = _one_tree(mode, 0.5)
    # Values on, just below and just above the threshold tell the six modes apart.
    x = np.array([[0.5, 0], [0.25, 0], [0.75, 0], [0.5, 9], [-3, 0]], np.float32)
    result = normalize(model, x)
    assert np.array_equal(run_float(result.model_bytes, x), original_scores(model, x))


def test_an_unknown_mode_is_refused_naming_the_node() -> None:
    with pytest.raises(ModelRejected, match="node 0 of tree 0 has mode BRANCH_MEMBER, which is "
                                            "not supported"):
        normalize(_one_tree("BRANCH_MEMBER", 0.5), np.zeros((2, 2), np.float32))


@functools.cache
def lightgbm_categorical() -> ExampleModel:
    return train_lightgbm_categorical()


def test_lightgbm_categorical_splits_equal_onnxruntime() -> None:
    case = lightgbm_categorical()
    tree = next(n for n in onnx.load_from_string(case.onnx_bytes).graph.node
                if n.op_type == "TreeEnsembleClassifier")
    modes = [m.decode() for a in tree.attribute if a.name == "nodes_modes" for m in a.strings]
    assert "BRANCH_EQ" in modes  # the categorical splits
    result = normalize(case.onnx_bytes, case.samples)
    assert any("TreeEnsembleClassifier" in r for r in result.rewrites)
    for node in onnx.load_from_string(result.model_bytes).graph.node:
        assert node.domain in STANDARD_DOMAINS and node.op_type in SUPPORTED_OPS, node.op_type
    rows = np.concatenate([case.test_inputs, case.samples])
    derived = apply_postprocess(run_float(result.model_bytes, rows), result.postprocess)
    expected = original_scores(case.onnx_bytes, rows)
    assert np.max(np.abs(derived - expected)) <= 1e-5
    assert np.mean(derived[:len(case.test_labels)].argmax(axis=1) == case.test_labels) > 0.85


@pytest.mark.parametrize("true_ids, message", [((0, 0, 0), "unreachable from its root"),
                                               ((2, 0, 0), "exactly one root"),
                                               ((7, 0, 0), "exactly one root")])
def test_malformed_trees_are_refused(true_ids: tuple[int, ...], message: str) -> None:
    # A branch pointing back at its own root (a cycle), at the sibling leaf (leaving a node
    # no one points to), or at no node at all.
    with pytest.raises(ModelRejected, match=message):
        normalize(_one_tree("BRANCH_LEQ", 0.5, true_ids), np.zeros((2, 2), np.float32))


def test_too_large_forest_is_refused_with_the_estimate() -> None:
    case = trained("random_forest", "breast_cancer", n_estimators=200, max_depth=10)
    with pytest.raises(EnsembleTooLarge, match=r"circuit rows \(logrows \d+\).*n_estimators"):
        normalize(case.onnx_bytes, case.samples)
    small = IntakeLimits(max_logrows=10)
    with pytest.raises(EnsembleTooLarge, match="over the limit of 1,024"):
        normalize(trained("random_forest", "iris").onnx_bytes, case.samples[:, :4], limits=small)


@pytest.mark.parametrize("family, dataset", [("random_forest", "iris"),
                                             ("gradient_boosting", "diabetes")])
def test_tree_ensemble_is_proven_and_verified(tmp_path: Path, family: str, dataset: str) -> None:
    from flavum.zk.circuit import CircuitConfig, build_circuit
    from flavum.zk.execution import run_witness
    from flavum.zk.proof import prove, verify
    from flavum.zk.srs import SrsStore

    case = trained(family, dataset)
    normalized = normalize(case.onnx_bytes, case.samples)
    artifacts = build_circuit(normalized.model_bytes, case.samples, CircuitConfig(),
                              SrsStore(tmp_path / "srs"), cache_dir=tmp_path / "circuits")
    rows = case.test_inputs[:12]
    reference = run_float(normalized.model_bytes, rows).reshape(len(rows), -1)
    circuit = np.array([run_witness(artifacts, row, workdir=tmp_path / f"w{i}").rescaled_outputs
                        for i, row in enumerate(rows)]).reshape(reference.shape)
    if reference.shape[1] > 1:
        # A value within one fixed-point step of a threshold may take the other branch (iris:
        # a test row's 1.6 sits on the split between 1.5 and 1.7), so one tree's vote moves.
        assert np.mean(reference.argmax(axis=1) == circuit.argmax(axis=1)) >= 0.9
    else:
        assert np.max(np.abs(reference - circuit)) <= 1e-3 * float(np.abs(reference).max())
    proof = prove(artifacts, run_witness(artifacts, rows[0], workdir=tmp_path / "proof"))
    verify(artifacts, proof)
