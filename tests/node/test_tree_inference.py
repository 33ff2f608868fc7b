"""Tree ensembles on a node, end to end: deploy (skl2onnx defaults; XGBoost and LightGBM through
onnxmltools, LightGBM also with a categorical feature) -> data -> infer -> prove -> verify, with
the circuit's top-1 agreement with onnxruntime on the test split."""

import numpy as np
import pytest

from flavum.core.transactions import Infer
from flavum.core.types import Amount
from flavum.ml.examples import train_boosted_trees, train_lightgbm_categorical, train_sklearn_trees
from flavum.ml.normalize import normalize
from flavum.ml.reference import run_float
from flavum.node.models import interpret_outputs
from flavum.zk.execution import run_witness

from .conftest import BOB, BOB_KEY
from .test_inference import deploy, node, send, submit_data, wait_proven

__all__ = ["node"]  # the fixture, shared with test_inference

FAMILIES = [("decision_tree", "breast_cancer"), ("random_forest", "wine"),
            ("gradient_boosting", "iris"), ("xgboost", "breast_cancer"),
            ("lightgbm", "wine"),  # ~20 s each
            ("lightgbm_categorical", "wine")]  # category sets: chains of BRANCH_EQ


@pytest.mark.parametrize("family, dataset", FAMILIES)
def test_tree_family_end_to_end(node, family, dataset):
    boosted = family in ("xgboost", "lightgbm", "lightgbm_categorical")
    if family == "lightgbm_categorical":
        example = train_lightgbm_categorical()
    else:
        example = (train_boosted_trees if boosted else train_sklearn_trees)(family, dataset)
    record, model_id = deploy(node, example, fee=0)
    assert any("TreeEnsembleClassifier" in r for r in record.rewrites)
    assert record.accuracy["top1_agreement"] >= 0.9  # on the calibration rows
    if boosted:
        # Boosting's sigmoid/softmax is cut and applied outside the circuit to the proven logits.
        assert record.proven_output == "logits"
    row = example.test_inputs[0]
    data_id = submit_data(node, model_id, row)
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    trace = receipt.outcome.trace
    normalized = normalize(example.onnx_bytes, example.samples)
    reference = run_float(normalized.model_bytes, example.test_inputs).argmax(axis=1)
    assert interpret_outputs(record, trace.outputs)["prediction"] == [int(reference[0])]
    proven = wait_proven(node, receipt.tx_hash)
    assert proven.proof_status == "proven", proven.reason
    node.models.verify_trace(trace, node.sequencer.object(model_id).vk_hash, proven.proof)
    # Top-1 agreement of the circuit with onnxruntime on (the first rows of) the test split.
    artifacts = node.models.artifacts(node.sequencer.object(model_id).vk_hash)
    rows = example.test_inputs[:20]
    circuit = [np.argmax(run_witness(artifacts, x).rescaled_outputs) for x in rows]
    agreement = float(np.mean(np.array(circuit) == reference[:20]))
    print(f"{family}:{dataset} circuit vs onnxruntime top-1 on 20 test rows: {agreement:.0%}")
    assert agreement >= 0.9
