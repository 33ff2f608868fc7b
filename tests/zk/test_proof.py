"""Proofs: real prove + verify on the tiny model; tampering is rejected with a reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from flavum.core.errors import InvalidProof
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import FIELD_MODULUS, CircuitRun, FieldElement, run_witness
from flavum.zk.proof import (
    Proof,
    check_public_values,
    load_proof,
    prove,
    public_values,
    verify,
)
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

SAMPLE = np.array([0.3, -0.6, 0.1, 0.9], dtype=np.float32)


@pytest.fixture(scope="module")
def execution(tiny_artifacts: CircuitArtifacts) -> CircuitRun:
    return run_witness(tiny_artifacts, SAMPLE)


@pytest.fixture(scope="module")
def proof(tiny_artifacts: CircuitArtifacts, execution: CircuitRun) -> Proof:
    return prove(tiny_artifacts, execution)


def test_mock_accepts_witness(tiny_artifacts: CircuitArtifacts, execution: CircuitRun) -> None:
    import ezkl

    assert ezkl.mock(str(execution.witness_path), str(tiny_artifacts.compiled_path))


def test_proof_verifies_and_exposes_execution(
    tiny_artifacts: CircuitArtifacts, execution: CircuitRun, proof: Proof
) -> None:
    verify(tiny_artifacts, proof)
    values = public_values(proof)
    assert values.input_commitments == (execution.input_commitment,)
    assert values.outputs == execution.outputs
    check_public_values(proof, input_commitment=execution.input_commitment,
                        outputs=execution.outputs)


def test_proof_round_trips_through_json(tiny_artifacts: CircuitArtifacts, proof: Proof) -> None:
    again = load_proof(tiny_artifacts, proof.to_json())
    assert again == proof
    verify(tiny_artifacts, again)


def test_tampered_proof_byte_rejected(tiny_artifacts: CircuitArtifacts, proof: Proof) -> None:
    raw = bytearray(proof.proof_bytes)
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(InvalidProof, match="verification failed: .+"):
        verify(tiny_artifacts, dataclasses.replace(proof, proof_bytes=bytes(raw)))


def test_changed_output_rejected(tiny_artifacts: CircuitArtifacts, proof: Proof) -> None:
    instances = list(proof.instances)
    instances[-1] = (instances[-1] + 1) % FIELD_MODULUS
    with pytest.raises(InvalidProof, match="constraint system is not satisfied"):
        verify(tiny_artifacts, dataclasses.replace(proof, instances=tuple(instances)))


def test_changed_input_commitment_rejected(
    tiny_artifacts: CircuitArtifacts, proof: Proof
) -> None:
    instances = list(proof.instances)
    instances[0] = (instances[0] + 1) % FIELD_MODULUS
    with pytest.raises(InvalidProof, match="constraint system is not satisfied"):
        verify(tiny_artifacts, dataclasses.replace(proof, instances=tuple(instances)))


def test_tampered_json_file_rejected(tiny_artifacts: CircuitArtifacts, proof: Proof) -> None:
    data = json.loads(proof.to_json())
    data["instances"][0][1] = FieldElement(12345).to_le_hex()
    with pytest.raises(InvalidProof):
        verify(tiny_artifacts, load_proof(tiny_artifacts, json.dumps(data).encode()))
    with pytest.raises(InvalidProof, match="malformed"):
        load_proof(tiny_artifacts, b"{not json")
    data["instances"][0][1] = "zz"
    with pytest.raises(InvalidProof, match="malformed"):
        load_proof(tiny_artifacts, json.dumps(data).encode())


def test_wrong_number_of_public_values(tiny_artifacts: CircuitArtifacts, proof: Proof) -> None:
    with pytest.raises(InvalidProof, match="3 public values; the circuit has 4"):
        verify(tiny_artifacts, dataclasses.replace(proof, instances=proof.instances[:3]))


def test_public_values_bound_to_objects(proof: Proof, execution: CircuitRun) -> None:
    with pytest.raises(InvalidProof, match="input commitment"):
        check_public_values(proof, input_commitment=FieldElement(1))
    wrong = list(execution.outputs)
    wrong[0] += 1
    with pytest.raises(InvalidProof, match="outputs"):
        check_public_values(proof, outputs=wrong)


def test_proof_of_other_circuit_rejected(
    proof: Proof, srs_store: SrsStore, zk_root: Path
) -> None:
    other = build_circuit(
        make_mlp_model((4, 8, 3), seed=11), make_calibration(4), CircuitConfig(), srs_store,
        cache_dir=zk_root / "circuits",
    )
    with pytest.raises(InvalidProof):
        verify(other, proof)


def test_public_input_circuit(srs_store: SrsStore, zk_root: Path) -> None:
    artifacts = build_circuit(
        make_mlp_model((4, 8, 3)), make_calibration(4), CircuitConfig(input_visibility="public"),
        srs_store, cache_dir=zk_root / "circuits",
    )
    execution = run_witness(artifacts, SAMPLE)
    assert execution.input_commitments == ()
    p = prove(artifacts, execution)
    verify(artifacts, p)
    values = public_values(p)
    assert values.input_commitments == ()
    assert np.allclose(np.array(values.inputs) / 2.0**artifacts.input_scale, SAMPLE, atol=1e-3)
    assert values.outputs == execution.outputs
