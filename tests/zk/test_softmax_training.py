"""Proven softmax-regression training on iris: canonical fixed-point steps end at float SGD's
accuracy, chain by weight commitments, and a real step proof passes the chain check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flavum.core.errors import InvalidProof
from flavum.ml.softmax_step import SoftmaxStep, make_one_hot_rows
from flavum.ml.training import load_standardized, make_batches
from flavum.zk.srs import SrsStore
from flavum.zk.training import (
    build_step_circuit,
    check_training_chain,
    compute_params_commitment,
    compute_row_commitment,
    prove_step,
    run_step,
)

STEP = SoftmaxStep(features=4, classes=3, batch=8, learning_rate=0.5)
SCALE = 10  # the exp table spans +-4 * 2**10: logrows 14
STEPS = 28  # two passes over iris's 112 training rows


def test_proven_softmax_training_on_iris_matches_float_sgd(srs_store: SrsStore, zk_root: Path,
                                                           tmp_path: Path) -> None:
    circuit = build_step_circuit(STEP, srs_store, scale=SCALE, cache_dir=zk_root / "train-steps")
    assert circuit.logrows == 14
    x_train, y_train, x_test, y_test = load_standardized("iris", STEP.features)
    batches = make_batches(make_one_hot_rows(x_train, y_train, STEP.classes), STEP.batch, STEPS)
    runs = []
    proven = float_theta = np.zeros(STEP.params_size)
    for i, rows in enumerate(batches):
        runs.append(run_step(circuit, proven, rows, tmp_path / f"step{i}"))
        proven = runs[-1].new_params_values
        float_theta = STEP.step(float_theta, rows, clip=False)  # plain softmax regression
    float_accuracy = np.mean(STEP.predict(float_theta, x_test) == y_test)
    proven_accuracy = np.mean(STEP.predict(proven, x_test) == y_test)
    assert float_accuracy > 0.75
    assert abs(proven_accuracy - float_accuracy) <= 0.01
    assert np.abs(proven - float_theta).max() < 0.02

    # Consecutive steps chain by commitments; one real proof (logrows 14 proofs take seconds).
    for before, after in zip(runs, runs[1:], strict=False):
        assert after.params_commitment == before.new_params_commitment
    proof = prove_step(circuit, runs[0])
    parent = compute_params_commitment(circuit, np.zeros(STEP.params_size))
    first_rows = tuple(compute_row_commitment(circuit, r) for r in batches[0])
    check_training_chain(circuit, parent, [proof], [first_rows], runs[0].new_params_commitment)
    # A row's label is in its commitment: the same features with another class are other DATA.
    relabelled = batches[0].copy()
    relabelled[0, STEP.features:] = np.roll(relabelled[0, STEP.features:], 1)
    with pytest.raises(InvalidProof, match="other rows"):
        check_training_chain(circuit, parent, [proof],
                             [tuple(compute_row_commitment(circuit, r) for r in relabelled)],
                             runs[0].new_params_commitment)
