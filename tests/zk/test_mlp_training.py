"""Proven one-hidden-layer MLP training on breast_cancer: canonical fixed-point steps end at
float SGD's accuracy, and real step proofs chain by weight commitments."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flavum.ml.mlp_step import MlpStep
from flavum.ml.training import load_standardized, make_batches, make_labelled_rows
from flavum.zk.srs import SrsStore
from flavum.zk.training import (
    build_step_circuit,
    check_training_chain,
    compute_params_commitment,
    compute_row_commitment,
    prove_step,
    run_step,
)

STEP = MlpStep(features=8, hidden=4, batch=8, learning_rate=0.5)
SCALE = 8  # logrows 13: a proof in seconds
STEPS = 60


def test_proven_mlp_training_on_breast_cancer_matches_float_sgd(
    srs_store: SrsStore, zk_root: Path, tmp_path: Path,
) -> None:
    circuit = build_step_circuit(STEP, srs_store, scale=SCALE, cache_dir=zk_root / "train-steps")
    assert circuit.logrows == 13
    x_train, y_train, x_test, y_test = load_standardized("breast_cancer", STEP.features)
    batches = make_batches(make_labelled_rows(x_train, y_train), STEP.batch, STEPS)
    runs = []
    proven = float_theta = STEP.initial_params()
    for i, rows in enumerate(batches):
        runs.append(run_step(circuit, proven, rows, tmp_path / f"step{i}"))
        proven = runs[-1].new_params_values
        float_theta = STEP.step(float_theta, rows, clip=False)  # plain SGD
    float_accuracy = np.mean(STEP.predict(float_theta, x_test) == y_test)
    proven_accuracy = np.mean(STEP.predict(proven, x_test) == y_test)
    assert float_accuracy > 0.85
    assert abs(proven_accuracy - float_accuracy) <= 0.01
    assert np.abs(proven - float_theta).max() < 0.1

    proofs = [prove_step(circuit, run) for run in runs[:2]]
    parent = compute_params_commitment(circuit, STEP.initial_params())
    rows_committed = [tuple(compute_row_commitment(circuit, r) for r in b) for b in batches[:2]]
    check_training_chain(circuit, parent, proofs, rows_committed, runs[1].new_params_commitment)
