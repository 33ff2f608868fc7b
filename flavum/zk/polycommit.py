"""KZG commitments of input rows: ezkl's `polycommit` input visibility.

With input_visibility "polycommit" a circuit exposes no public value for its input: each input
tensor sits in its own unblinded advice column, and the proof carries that column's KZG
commitment (a BN254 G1 point) as one of its first points. For a batched model (one input per
row, flavum.ml.batching) that is one point per row, in row order, at the very start of the
proof bytes: row i's point is proof[64 i : 64 i + 64], x then y, 32 bytes big-endian each
(the layout ezkl's EVM verifier reads). The commitment is deterministic: `ezkl.kzg_commit` of
the row's quantized values, with the circuit's verifying key, settings and SRS, gives the same
point without proving. It depends on the circuit's size (the SRS's Lagrange basis of 2**logrows
points), so a row has one point per circuit size, not one for every circuit.

A point is 64 bytes; what a DATA object and the chain compare is its keccak256
(`compute_point_digest`): one word, cheap to hash on an EVM. `compute_data_commitment` gives a
row's DATA commitment for any circuit: this digest, the keccak of a public row's values, or
the Poseidon hash of a hashed input.
"""

from __future__ import annotations

from typing import Any

from flavum.core.encoding import keccak256
from flavum.core.errors import InvalidProof
from flavum.core.field import POINT_BYTES
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts, call_ezkl
from flavum.zk.execution import compute_input_commitment, prepare_row
from flavum.zk.public_rows import compute_public_row_data_commitment


def compute_row_point(artifacts: CircuitArtifacts, row: Any) -> bytes:
    """The KZG commitment (64 bytes, x || y big-endian) a polycommit circuit puts in its proof
    for `row` (one row of a batched model, or the whole input of a one-row model)."""
    import ezkl

    if artifacts.config.input_visibility != "polycommit":
        raise InvalidInput("the circuit does not commit to its inputs with KZG (polycommit)")
    flat = prepare_row(artifacts, row)
    felts = [ezkl.float_to_felt(float(x), artifacts.input_scale, ezkl.PyInputType.F32)
             for x in flat]
    points = call_ezkl(
        "kzg_commit", InvalidInput, ezkl.kzg_commit,
        felts, str(artifacts.vk_path), str(artifacts.settings_path), str(artifacts.srs_path),
    )
    if len(points) != 1:
        # More values than one column holds would be split over several points.
        raise InvalidInput(f"kzg_commit gave {len(points)} points for one row, expected 1")
    # ezkl renders the coordinates as little-endian hex; the proof holds them big-endian.
    return _coordinate(points[0].x) + _coordinate(points[0].y)


def _coordinate(le_hex: str) -> bytes:
    raw = bytes.fromhex(le_hex.removeprefix("0x"))
    if len(raw) != 32:
        raise InvalidInput(f"a G1 coordinate is 32 bytes, got {len(raw)}")
    return raw[::-1]


def compute_point_digest(point: bytes) -> Hash32:
    """What a DATA object records and the rollup contract compares: keccak256(x || y)."""
    if len(point) != POINT_BYTES:
        raise InvalidInput(f"a commitment point is {POINT_BYTES} bytes, not {len(point)}")
    return keccak256(point)


def read_proof_points(proof_bytes: bytes, count: int) -> tuple[bytes, ...]:
    """The first `count` commitment points of a polycommit proof: one per input row."""
    if len(proof_bytes) < POINT_BYTES * count:
        raise InvalidProof(f"proof of {len(proof_bytes)} bytes holds no {count} input points")
    return tuple(proof_bytes[POINT_BYTES * i: POINT_BYTES * (i + 1)] for i in range(count))


def compute_data_commitment(artifacts: CircuitArtifacts, row: Any) -> Hash32:
    """The DATA commitment of `row` for the circuit: keccak256 of its KZG point (polycommit),
    the keccak256 of its public values (public rows, flavum.zk.public_rows), else the Poseidon
    hash the circuit exposes (32 bytes big-endian)."""
    if artifacts.config.input_visibility == "polycommit":
        return compute_point_digest(compute_row_point(artifacts, row))
    if artifacts.config.input_visibility == "public":
        return compute_public_row_data_commitment(artifacts, row)
    return compute_input_commitment(artifacts, row).be_bytes
