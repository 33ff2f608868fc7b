"""KZG input commitments (polycommit): one point per row in the proof, computable from the row."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from flavum.core.encoding import keccak256
from flavum.core.errors import InvalidProof
from flavum.ml.batching import make_batched
from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import FieldElement, compute_input_commitment, run_witness
from flavum.zk.polycommit import (
    POINT_BYTES,
    compute_point_digest,
    compute_row_point,
    read_proof_points,
)
from flavum.zk.proof import check_public_row, prove, verify, verify_inference
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

N = 3


@pytest.fixture(scope="module")
def poly(srs_store: SrsStore, zk_root: Path) -> CircuitArtifacts:
    """Gemm 4-8-3 batched by 3, inputs committed with KZG."""
    return build_circuit(make_batched(make_mlp_model((4, 8, 3)), N), make_calibration(4, rows=12),
                         CircuitConfig(input_visibility="polycommit"), srs_store,
                         cache_dir=zk_root / "circuits")


@pytest.fixture(scope="module")
def proven(poly: CircuitArtifacts, tmp_path_factory: pytest.TempPathFactory):
    rows = make_calibration(4, rows=N, seed=7)
    execution = run_witness(poly, rows, workdir=tmp_path_factory.mktemp("poly-run"))
    return rows, execution, prove(poly, execution)


def test_each_row_has_its_own_point_in_the_proof(poly: CircuitArtifacts, proven) -> None:
    rows, _, proof = proven
    assert poly.num_input_instances == 0 and poly.commits_rows  # no public value for inputs
    verify(poly, proof)
    points = [compute_row_point(poly, row) for row in rows]
    assert len(set(points)) == N and all(len(p) == POINT_BYTES for p in points)
    # Computed from the row alone, before any proof: the points the proof carries, in order.
    assert read_proof_points(proof.proof_bytes, N) == tuple(points)


def test_a_row_point_follows_the_row_not_its_slot(poly: CircuitArtifacts, proven,
                                                  tmp_path: Path) -> None:
    rows, _, proof = proven
    swapped = run_witness(poly, rows[[1, 0, 2]], workdir=tmp_path)
    other = prove(poly, swapped)
    first, second = read_proof_points(other.proof_bytes, 2)
    assert (first, second) == read_proof_points(proof.proof_bytes, 2)[::-1]


def test_each_row_binds_its_data_commitment(poly: CircuitArtifacts, proven) -> None:
    rows, execution, proof = proven
    for r, row in enumerate(rows):
        digest = compute_point_digest(compute_row_point(poly, row))
        assert digest == keccak256(proof.proof_bytes[64 * r: 64 * r + 64])
        verify_inference(poly, proof.to_json(), r, digest,
                         [execution.outputs[3 * r + i] for i in range(3)])
    # Another row's commitment, or another data point's, is refused.
    other = compute_point_digest(compute_row_point(poly, rows[1]))
    with pytest.raises(InvalidProof, match="row 0"):
        check_public_row(poly, proof, 0,
                         input_commitment=FieldElement(int.from_bytes(other, "big")))
    changed = compute_point_digest(compute_row_point(poly, rows[0] + np.float32(0.25)))
    with pytest.raises(InvalidProof, match="row 0"):
        verify_inference(poly, proof.to_json(), 0, changed, execution.outputs[:3])


def test_a_proof_with_another_rows_point_does_not_verify(poly: CircuitArtifacts, proven) -> None:
    """The attacker's move: put row 1's point where row 0's is (so row 0 would claim DATA 1)."""
    _, _, proof = proven
    b = proof.proof_bytes
    forged = dataclasses.replace(proof, proof_bytes=b[64:128] + b[0:64] + b[128:])
    with pytest.raises(InvalidProof):
        verify(poly, forged)


def test_hash_commitments_are_refused_for_a_polycommit_circuit(poly: CircuitArtifacts) -> None:
    with pytest.raises(InvalidInput, match="does not hash"):
        compute_input_commitment(poly, make_calibration(4, rows=1)[0])


def test_a_point_is_for_polycommit_circuits_only(tiny_artifacts: CircuitArtifacts) -> None:
    with pytest.raises(InvalidInput, match="KZG"):
        compute_row_point(tiny_artifacts, make_calibration(4, rows=1)[0])
    with pytest.raises(InvalidInput, match="64 bytes"):
        compute_point_digest(b"\x01" * 32)
    with pytest.raises(InvalidProof, match="holds no"):
        read_proof_points(b"\x00" * 100, 2)



def test_the_independent_verifier_binds_polycommit_rows(poly: CircuitArtifacts, proven,
                                                        tmp_path: Path) -> None:
    """flavum verify rebuilds the circuit's layout from its published vk and settings alone."""
    from flavum.da.batch_data import CircuitData
    from flavum.verifier import circuit_artifacts

    rows, execution, proof = proven
    published = CircuitData(poly.vk_path.read_bytes(), poly.settings_path.read_bytes(), "", 0, "")
    rebuilt = circuit_artifacts(tmp_path, poly.vk_hash, published, poly.srs_path)
    assert rebuilt.config.input_visibility == "polycommit" and rebuilt.batch_size == N
    digests = [compute_point_digest(compute_row_point(poly, row)) for row in rows]
    verify_inference(rebuilt, proof.to_json(), 2, digests[2], execution.outputs[6:9])
    with pytest.raises(InvalidProof, match="row 2"):
        verify_inference(rebuilt, proof.to_json(), 2, digests[1], execution.outputs[6:9])
