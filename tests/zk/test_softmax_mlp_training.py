"""Proven multi-class MLP training on digits (4x4 pooled, 10 classes): one pass of canonical
fixed-point steps ends within a point of float SGD's accuracy, and a real step proof passes the
chain check. Slow: the step circuit has logrows 16 (about 52,000 rows); the default suite checks
the graph against the float step (tests/ml/test_softmax_mlp_step.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flavum.core.errors import InvalidProof
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import make_one_hot_rows
from flavum.ml.training import load_pooled_digits, make_batches
from flavum.zk.srs import SrsStore
from flavum.zk.training import (
    build_step_circuit,
    check_training_chain,
    compute_params_commitment,
    compute_row_commitment,
    prove_step,
    run_step,
)

STEP = SoftmaxMlpStep(features=16, hidden=16, classes=10, batch=8, learning_rate=0.25)
STEPS = 168  # one pass over digits' 1,347 training rows


@pytest.mark.slow
def test_proven_mlp_training_on_digits_matches_float_sgd(srs_store: SrsStore, zk_root: Path,
                                                        tmp_path: Path) -> None:
    circuit = build_step_circuit(STEP, srs_store, cache_dir=zk_root / "train-steps")
    assert circuit.logrows == 16
    x_train, y_train, x_test, y_test = load_pooled_digits()
    batches = make_batches(make_one_hot_rows(x_train, y_train, STEP.classes), STEP.batch, STEPS)
    runs = []
    proven = float_theta = STEP.initial_params()
    for i, rows in enumerate(batches):
        runs.append(run_step(circuit, proven, rows, tmp_path / f"step{i}"))
        proven = runs[-1].new_params_values
        float_theta = STEP.step(float_theta, rows, clip=False)  # plain softmax, no clip
    float_accuracy = np.mean(STEP.predict(float_theta, x_test) == y_test)
    proven_accuracy = np.mean(STEP.predict(proven, x_test) == y_test)
    assert float_accuracy > 0.8
    assert abs(proven_accuracy - float_accuracy) <= 0.01
    assert np.abs(proven - float_theta).max() < 0.2

    for before, after in zip(runs, runs[1:], strict=False):
        assert after.params_commitment == before.new_params_commitment
    proof = prove_step(circuit, runs[-1])  # the last step: the one the new version ends with
    start = compute_params_commitment(circuit, runs[-2].new_params_values)
    last_rows = tuple(compute_row_commitment(circuit, r) for r in batches[-1])
    check_training_chain(circuit, start, [proof], [last_rows], runs[-1].new_params_commitment)
    with pytest.raises(InvalidProof, match="new version"):
        check_training_chain(circuit, start, [proof], [last_rows], runs[-2].new_params_commitment)
