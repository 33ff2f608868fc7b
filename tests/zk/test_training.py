"""Proven training steps: real ezkl proofs of SGD steps that chain by weight commitments, and a
verifier that refuses a chain with another batch, a skipped step or a wrong final version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from flavum.core.errors import InvalidProof
from flavum.ml.errors import InvalidInput
from flavum.ml.training import LogisticStep, load_standardized, make_batches, make_labelled_rows
from flavum.zk.execution import FieldElement
from flavum.zk.proof import Proof
from flavum.zk.srs import SrsStore
from flavum.zk.training import (
    StepCircuit,
    StepRun,
    build_step_circuit,
    check_training_chain,
    compute_params_commitment,
    compute_row_commitment,
    load_step_proof,
    make_step,
    prove_step,
    run_step,
    verify_step,
)
from flavum.zk.versions import (
    VersionKey,
    build_version_key,
    load_version_proof,
    prove_version,
    run_version,
    verify_version,
)

SMALL = LogisticStep(features=4, batch=4, learning_rate=0.5)
SMALL_SCALE = 8  # a sigmoid table of 2 * 8 * 2**8 + 1 rows: logrows 13, proofs in seconds


@pytest.fixture(scope="module")
def small_circuit(srs_store: SrsStore, zk_root: Path) -> StepCircuit:
    return build_step_circuit(SMALL, srs_store, scale=SMALL_SCALE,
                              cache_dir=zk_root / "train-steps")


@pytest.fixture(scope="module")
def small_batches() -> list[np.ndarray]:
    x_train, y_train, _, _ = load_standardized("breast_cancer", SMALL.features)
    return make_batches(make_labelled_rows(x_train, y_train), SMALL.batch, steps=3)


def run_chain(circuit: StepCircuit, batches: list[np.ndarray], workdir: Path) -> list[StepRun]:
    theta = np.zeros(circuit.step.width)
    runs = []
    for i, rows in enumerate(batches):
        run = run_step(circuit, theta, rows, workdir / f"step{i}")
        runs.append(run)
        theta = run.new_params_values
    return runs


def commitments(circuit: StepCircuit, rows: np.ndarray) -> tuple[FieldElement, ...]:
    return tuple(compute_row_commitment(circuit, row) for row in rows)


@pytest.fixture(scope="module")
def proven_chain(small_circuit: StepCircuit, small_batches: list[np.ndarray],
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[list[StepRun], list[Proof]]:
    """Two proven steps from zero params (the third batch is left for attacks)."""
    runs = run_chain(small_circuit, small_batches[:2], tmp_path_factory.mktemp("chain"))
    return runs, [prove_step(small_circuit, run) for run in runs]


def test_step_circuit_is_small_and_deterministic(small_circuit: StepCircuit, srs_store: SrsStore,
                                                 tmp_path: Path) -> None:
    assert small_circuit.logrows == 13
    again = build_step_circuit(SMALL, srs_store, scale=SMALL_SCALE, cache_dir=tmp_path)
    assert again.vk_hash == small_circuit.vk_hash  # no calibration data: one step, one key


def test_canonical_step_follows_the_float_step(small_circuit: StepCircuit,
                                               small_batches: list[np.ndarray],
                                               tmp_path: Path) -> None:
    runs = run_chain(small_circuit, small_batches, tmp_path)
    theta = np.zeros(SMALL.width)
    for run, rows in zip(runs, small_batches, strict=True):
        theta = SMALL.step(theta, rows)
        # a few quanta of 2**-8 per step
        np.testing.assert_allclose(run.new_params_values, theta, atol=0.02)
    # Commitments outside the circuit are the ones the circuit shows.
    assert runs[0].params_commitment == compute_params_commitment(small_circuit,
                                                                  np.zeros(SMALL.width))
    assert runs[1].params_commitment == runs[0].new_params_commitment
    assert runs[1].params_commitment == compute_params_commitment(small_circuit,
                                                                  runs[0].new_params_values)
    assert runs[2].row_commitments == commitments(small_circuit, small_batches[2])


def test_proven_steps_chain_and_verify(small_circuit: StepCircuit,
                                       small_batches: list[np.ndarray],
                                       proven_chain: tuple[list[StepRun], list[Proof]]) -> None:
    runs, proofs = proven_chain
    values = verify_step(small_circuit, proofs[0])
    assert values.params_commitment == runs[0].params_commitment
    assert values.row_commitments == commitments(small_circuit, small_batches[0])
    assert values.new_params_commitment == runs[0].new_params_commitment
    received = [load_step_proof(small_circuit, p.to_json()) for p in proofs]
    check_training_chain(
        small_circuit, compute_params_commitment(small_circuit, np.zeros(SMALL.width)), received,
        [commitments(small_circuit, b) for b in small_batches[:2]], runs[1].new_params_commitment,
    )


def test_attacks_on_the_chain_are_refused(small_circuit: StepCircuit,
                                          small_batches: list[np.ndarray],
                                          proven_chain: tuple[list[StepRun], list[Proof]]) -> None:
    runs, proofs = proven_chain
    parent = compute_params_commitment(small_circuit, np.zeros(SMALL.width))
    batches = [commitments(small_circuit, b) for b in small_batches[:2]]
    final = runs[1].new_params_commitment
    # The trainer claims it trained on batch 2's DATA, but proved step 0 on batch 0.
    with pytest.raises(InvalidProof, match="other rows"):
        check_training_chain(small_circuit, parent, proofs[:1],
                             [commitments(small_circuit, small_batches[2])],
                             runs[0].new_params_commitment)
    # Step 0 left out: step 1 does not start from the parent's params.
    with pytest.raises(InvalidProof, match="skipped"):
        check_training_chain(small_circuit, parent, proofs[1:], batches[1:], final)
    # Steps swapped.
    with pytest.raises(InvalidProof, match="skipped"):
        check_training_chain(small_circuit, parent, proofs[::-1], batches[::-1], final)
    # A new version whose weights are not what the last step output.
    with pytest.raises(InvalidProof, match="new version"):
        check_training_chain(small_circuit, parent, proofs, batches,
                             runs[0].new_params_commitment)
    # A proof whose public output commitment is rewritten to other weights does not verify.
    forged = dataclasses.replace(
        proofs[1], instances=proofs[1].instances[:-1] + (runs[0].new_params_commitment.value,))
    with pytest.raises(InvalidProof, match="verif"):
        check_training_chain(small_circuit, parent, [proofs[0], forged], batches,
                             runs[0].new_params_commitment)
    # Rows swapped inside the batch: the order of the DATA objects is part of the step.
    with pytest.raises(InvalidProof, match="other rows"):
        check_training_chain(small_circuit, parent, proofs[:1], [batches[0][::-1]],
                             runs[0].new_params_commitment)
    with pytest.raises(InvalidProof, match="2 step proofs for 1 batches"):
        check_training_chain(small_circuit, parent, proofs, batches[:1], final)


def test_a_proof_of_another_step_circuit_is_refused(
    small_circuit: StepCircuit, srs_store: SrsStore, zk_root: Path,
    proven_chain: tuple[list[StepRun], list[Proof]],
) -> None:
    # Same shapes, another learning rate: another verifying key.
    other = build_step_circuit(dataclasses.replace(SMALL, learning_rate=0.25), srs_store,
                               scale=SMALL_SCALE, cache_dir=zk_root / "train-steps")
    assert other.vk_hash != small_circuit.vk_hash
    with pytest.raises(InvalidProof):
        verify_step(other, proven_chain[1][0])


def test_rows_outside_the_step_are_refused(small_circuit: StepCircuit, tmp_path: Path) -> None:
    theta = np.zeros(SMALL.width)
    with pytest.raises(InvalidInput, match="labels"):
        run_step(small_circuit, theta, np.c_[np.zeros((4, 4)), [0, 1, 2, 0]], tmp_path)
    with pytest.raises(InvalidInput, match="shape"):
        run_step(small_circuit, theta, np.zeros((3, 5)), tmp_path)


@pytest.fixture(scope="module")
def version_key(srs_store: SrsStore, zk_root: Path) -> VersionKey:
    return build_version_key(SMALL, srs_store, scale=SMALL_SCALE,
                             cache_dir=zk_root / "train-versions")


def test_inference_on_a_trained_version_binds_to_its_step_chain(
    version_key: VersionKey, small_circuit: StepCircuit,
    proven_chain: tuple[list[StepRun], list[Proof]], tmp_path: Path,
) -> None:
    runs, _ = proven_chain
    parent, trained = np.zeros(SMALL.width), runs[-1].new_params_values
    row = np.array([0.5, -1.0, 0.25, 2.0])
    proofs = {}
    for name, weights in (("parent", parent), ("trained", trained)):
        run = run_version(version_key, weights, row, tmp_path / name)
        proofs[name] = load_version_proof(prove_version(version_key, run).to_json())
        values = verify_version(version_key, proofs[name])  # one key for every version
        assert values.logit == run.logit
        assert values.row_commitment == run.row_commitment
    # The trained version's inference shows the weight commitment the last step proved.
    assert verify_version(version_key, proofs["trained"]).params_commitment == (
        runs[-1].new_params_commitment)
    assert verify_version(version_key, proofs["parent"]).params_commitment == (
        compute_params_commitment(small_circuit, parent))
    expected = float(row @ trained[:-1] + trained[-1])
    logit = verify_version(version_key, proofs["trained"]).logit / 2**SMALL_SCALE
    assert abs(logit - expected) < 0.05
    # The parent's proof passed off as the trained version's: another weight commitment.
    assert verify_version(version_key, proofs["parent"]).params_commitment != (
        runs[-1].new_params_commitment)
    # Rewriting the params commitment in the proof does not verify.
    forged = dataclasses.replace(proofs["parent"], instances=(
        runs[-1].new_params_commitment.value,) + proofs["parent"].instances[1:])
    with pytest.raises(InvalidProof, match="verif"):
        verify_version(version_key, forged)


@pytest.mark.slow
def test_proven_training_on_breast_cancer_matches_float_sgd(srs_store: SrsStore, zk_root: Path,
                                                            tmp_path: Path) -> None:
    """8 features, batches of 8, lr 0.5, scale 2**-10: 60 canonical steps (one pass) end within
    a point of float SGD's test accuracy; the first 3 are proven and chain."""
    step = LogisticStep(features=8, batch=8, learning_rate=0.5)
    circuit = build_step_circuit(step, srs_store, cache_dir=zk_root / "train-steps")
    x_train, y_train, x_test, y_test = load_standardized("breast_cancer", step.features)
    batches = make_batches(make_labelled_rows(x_train, y_train), step.batch, steps=60)
    runs = run_chain(circuit, batches, tmp_path)
    theta = np.zeros(step.width)
    for rows in batches:
        theta = plain_logistic_step(step, theta, rows)
    float_accuracy = np.mean(step.predict(theta, x_test) == y_test)
    proven_accuracy = np.mean(step.predict(runs[-1].new_params_values, x_test) == y_test)
    assert float_accuracy > 0.85
    assert abs(proven_accuracy - float_accuracy) <= 0.01
    proofs = [prove_step(circuit, run) for run in runs[:3]]
    check_training_chain(circuit, compute_params_commitment(circuit, np.zeros(step.width)),
                         proofs, [commitments(circuit, b) for b in batches[:3]],
                         runs[2].new_params_commitment)


def test_canonical_training_on_breast_cancer_matches_float_sgd(small_circuit: StepCircuit,
                                                               tmp_path: Path) -> None:
    """The short form of the quality check: 60 canonical steps of the small circuit (4
    features, scale 2**-8) end within a point of plain float SGD's test accuracy."""
    x_train, y_train, x_test, y_test = load_standardized("breast_cancer", SMALL.features)
    batches = make_batches(make_labelled_rows(x_train, y_train), SMALL.batch, steps=60)
    proven = run_chain(small_circuit, batches, tmp_path)[-1].new_params_values
    theta = np.zeros(SMALL.width)
    for rows in batches:
        theta = plain_logistic_step(SMALL, theta, rows)
    float_accuracy = np.mean(SMALL.predict(theta, x_test) == y_test)
    assert float_accuracy > 0.85
    assert abs(np.mean(SMALL.predict(proven, x_test) == y_test) - float_accuracy) <= 0.01


def plain_logistic_step(step: LogisticStep, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Float SGD with the plain sigmoid (no clip)."""
    design = np.c_[rows[:, :-1], np.ones(step.batch)]
    errors = 1.0 / (1.0 + np.exp(-(design @ theta))) - rows[:, -1]
    result: np.ndarray = theta - step.step_size * design.T @ errors
    return result


def test_make_step_knows_every_family_by_its_name() -> None:
    """A step record keeps the family's name: each name builds that family's step, unknown
    names and options that do not fit are refused."""
    options = {"logistic": {}, "softmax": {"classes": 3}, "mlp": {"hidden": 2},
               "softmax-mlp": {"hidden": 2, "classes": 3}}
    for family, extra in options.items():
        step = make_step(family, {"features": 4, "batch": 2, "learning_rate": 0.5, **extra})
        assert step.name == family
    with pytest.raises(InvalidInput, match="unknown training family"):
        make_step("tree", {})
    with pytest.raises(InvalidInput, match="do not fit"):
        make_step("softmax", {"features": 4, "batch": 2, "learning_rate": 0.5})
