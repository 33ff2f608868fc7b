"""Inference on trained versions for every family: one key per architecture, and an inference
proof whose params commitment is the one the last step proof of the version ended with (real
ezkl proofs; logistic regression's is in test_training.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from flavum.core.errors import InvalidProof
from flavum.ml.errors import InvalidInput
from flavum.ml.mlp_step import MlpStep
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import SoftmaxStep, make_one_hot_rows
from flavum.ml.training import load_pooled_digits, load_standardized, make_labelled_rows
from flavum.zk.srs import SrsStore
from flavum.zk.training import build_step_circuit, prove_step, run_step, verify_step
from flavum.zk.versions import (
    build_version_key,
    load_version_proof,
    prove_version,
    run_version,
    verify_version,
)

SCALE = 8  # small tables: proofs in seconds

Family = SoftmaxStep | MlpStep | SoftmaxMlpStep
FAMILIES = [  # softmax regression in the default suite; the MLPs' circuits take longer
    SoftmaxStep(features=4, classes=3, batch=2, learning_rate=0.5),
    pytest.param(MlpStep(features=4, hidden=3, batch=2, learning_rate=0.5),
                 marks=pytest.mark.slow),
    pytest.param(SoftmaxMlpStep(features=16, hidden=4, classes=10, batch=2, learning_rate=0.5),
                 marks=pytest.mark.slow),
]


def first_rows(step: Family) -> tuple[np.ndarray, np.ndarray]:
    """(a batch of training rows for `step`, a test row's features)."""
    if isinstance(step, SoftmaxMlpStep):
        x_train, y_train, x_test, _ = load_pooled_digits()
        return make_one_hot_rows(x_train[:2], y_train[:2], 10), x_test[0]
    if isinstance(step, SoftmaxStep):
        x_train, y_train, x_test, _ = load_standardized("iris", 4)
        return make_one_hot_rows(x_train[:2], y_train[:2], 3), x_test[0]
    x_train, y_train, x_test, _ = load_standardized("breast_cancer", 4)
    return make_labelled_rows(x_train[:2], y_train[:2]), x_test[0]


def start(step: Family) -> np.ndarray:
    return np.zeros(step.params_size) if isinstance(step, SoftmaxStep) else step.initial_params()


@pytest.mark.parametrize("step", FAMILIES, ids=["softmax", "mlp", "softmax-mlp"])
def test_inference_on_a_trained_version_binds_to_its_last_step_proof(
    step: Family, srs_store: SrsStore, zk_root: Path, tmp_path: Path,
) -> None:
    circuit = build_step_circuit(step, srs_store, scale=SCALE, cache_dir=zk_root / "train-steps")
    key = build_version_key(step, srs_store, scale=SCALE, cache_dir=zk_root / "train-versions")
    rows, x = first_rows(step)
    parent = start(step)
    step_run = run_step(circuit, parent, rows, tmp_path / "step")
    last_step = verify_step(circuit, prove_step(circuit, step_run))
    trained = step_run.new_params_values

    run = run_version(key, trained, x, tmp_path / "trained")
    proof = load_version_proof(prove_version(key, run).to_json())
    values = verify_version(key, proof)
    assert values.params_commitment == last_step.new_params_commitment
    assert values.logits == run.logits and len(values.logits) == step.outputs
    np.testing.assert_allclose(np.array(values.logits) / 2**SCALE,
                               step.logits(trained, x[None, :])[0], atol=0.1)

    # The same key proves the parent version: another params commitment, the step's input one.
    parent_values = verify_version(key, prove_version(key, run_version(key, parent, x,
                                                                       tmp_path / "parent")))
    assert parent_values.params_commitment == last_step.params_commitment
    assert parent_values.params_commitment != values.params_commitment
    # The trained version's proof rewritten to show the parent's commitment does not verify.
    forged = dataclasses.replace(proof, instances=(last_step.params_commitment.value,)
                                 + proof.instances[1:])
    with pytest.raises(InvalidProof, match="verif"):
        verify_version(key, forged)
    with pytest.raises(InvalidInput):
        run_version(key, trained, np.append(x, 0.0), tmp_path / "bad")
