"""Proving and verifying canonical executions, and reading a proof's public values.

A proof's public values are, in order: the input part (one Poseidon commitment for a hashed
input, the quantized values for a public one, nothing for a private one), then every output as
a field element. `public_values` reads them as the rollup needs them: a caller checks the input
commitment against the DATA object and the outputs against the RESULT (`check_public_values`).
A batched model's proof covers N inferences: N commitments (one per row), then the outputs of
all rows; `check_public_row` binds one of them (one trace entry) to its DATA and RESULT.

Proving is described by a `ProofJob`: plain paths and numbers, no live objects, so the same job
runs in this process (`prove`), in a worker process, or on another machine of a Ray cluster.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavum.core.errors import InvalidProof
from flavum.core.field import felt_to_signed, signed_to_felt
from flavum.core.model_binding import compute_public_row_commitment
from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts, CircuitDirectory, call_ezkl
from flavum.zk.errors import ProvingFailed
from flavum.zk.execution import CircuitRun, FieldElement, outputs_per_row
from flavum.zk.polycommit import compute_point_digest, read_proof_points


@dataclass(frozen=True)
class ProofJob:
    """Everything a prover needs, as paths: no shared memory with whoever submitted it."""

    compiled_path: str
    pk_path: str
    srs_path: str
    witness_path: str
    proof_path: str  # where the proof is written
    input_visibility: str  # how to read the proof's public values
    num_input_instances: int


@dataclass(frozen=True)
class Proof:
    """A proof with its public values (field elements in circuit order)."""

    proof_bytes: bytes
    instances: tuple[int, ...]
    input_visibility: str
    num_input_instances: int
    extra: tuple[tuple[str, Any], ...] = ()  # ezkl's other proof.json fields (version, ...)

    def to_json(self) -> bytes:
        """proof.json as ezkl reads it, built from exactly the fields this object holds."""
        data = dict(self.extra)
        data["instances"] = [[FieldElement(v).to_le_hex() for v in self.instances]]
        data["proof"] = list(self.proof_bytes)
        data["hex_proof"] = "0x" + self.proof_bytes.hex()
        return json.dumps(data).encode()


@dataclass(frozen=True)
class PublicValues:
    input_commitments: tuple[FieldElement, ...]  # hashed input
    inputs: tuple[int, ...]  # public input, signed fixed point
    outputs: tuple[int, ...]  # signed fixed point, all output tensors flattened


def circuit_proof_job(circuit: CircuitDirectory, srs_path: Path, witness_path: Path,
                      proof_path: Path | str | None, input_visibility: str,
                      num_input_instances: int) -> ProofJob:
    """The job that proves `witness_path` with `circuit`'s keys made with the SRS at
    `srs_path` (the proof beside the witness unless `proof_path` says otherwise)."""
    return ProofJob(
        compiled_path=str(circuit.compiled_path),
        pk_path=str(circuit.pk_path),
        srs_path=str(srs_path),
        witness_path=str(witness_path),
        proof_path=str(proof_path or witness_path.with_name("proof.json")),
        input_visibility=input_visibility,
        num_input_instances=num_input_instances,
    )


def make_proof_job(
    artifacts: CircuitArtifacts, execution: CircuitRun, proof_path: Path | str | None = None
) -> ProofJob:
    return circuit_proof_job(artifacts, artifacts.srs_path, execution.witness_path, proof_path,
                             artifacts.config.input_visibility, artifacts.num_input_instances)


def run_proof_job(job: ProofJob) -> None:
    """Prove `job` in this process, writing its proof file (temp name, then rename)."""
    import ezkl

    for name in ("compiled_path", "pk_path", "srs_path", "witness_path"):
        if not Path(getattr(job, name)).is_file():
            raise ProvingFailed(f"{name} {getattr(job, name)} does not exist")
    target = Path(job.proof_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        call_ezkl(
            "prove", ProvingFailed, ezkl.prove,
            job.witness_path, job.compiled_path, job.pk_path, str(tmp), srs_path=job.srs_path,
        )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def read_job_proof(job: ProofJob) -> Proof:
    """The proof a finished job wrote."""
    return parse_proof(
        Path(job.proof_path).read_bytes(), job.input_visibility, job.num_input_instances
    )


def prove(
    artifacts: CircuitArtifacts, execution: CircuitRun, *, proof_path: Path | str | None = None
) -> Proof:
    """Prove a canonical execution in this process (see pool.py for worker processes)."""
    job = make_proof_job(artifacts, execution, proof_path)
    run_proof_job(job)
    return read_job_proof(job)


def load_proof(artifacts: CircuitArtifacts, data: bytes) -> Proof:
    """A proof.json received from elsewhere, read with `artifacts`' public-value layout."""
    return parse_proof(data, artifacts.config.input_visibility, artifacts.num_input_instances)


def parse_proof(data: bytes, input_visibility: str, num_input_instances: int) -> Proof:
    try:
        parsed = json.loads(data)
        columns = parsed["instances"]
        if len(columns) != 1:
            raise ValueError(f"{len(columns)} instance columns, expected 1")
        instances = tuple(FieldElement.from_le_hex(h).value for h in columns[0])
        proof_bytes = bytes(parsed["proof"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidProof(f"malformed proof: {exc}") from exc
    # pretty_public_inputs is ezkl's unverified rendering of the instances: not kept, so that
    # nothing can read public values from anywhere but the verified instances.
    dropped = ("instances", "proof", "hex_proof", "pretty_public_inputs")
    extra = tuple((k, v) for k, v in parsed.items() if k not in dropped)
    return Proof(
        proof_bytes=proof_bytes,
        instances=instances,
        input_visibility=input_visibility,
        num_input_instances=num_input_instances,
        extra=extra,
    )


def verify(artifacts: CircuitArtifacts, proof: Proof) -> None:
    """Check `proof` against the circuit's verifying key; InvalidProof with a reason if not."""
    if len(proof.instances) != artifacts.num_instances:
        raise InvalidProof(
            f"proof has {len(proof.instances)} public values; the circuit has "
            f"{artifacts.num_instances}"
        )
    if (proof.input_visibility, proof.num_input_instances) != (
        artifacts.config.input_visibility,
        artifacts.num_input_instances,
    ):
        raise InvalidProof("proof was read with another circuit's public-value layout")
    verify_against_key(proof, artifacts, artifacts.srs_path, "the circuit's verifying key")


def verify_against_key(proof: Proof, circuit: CircuitDirectory, srs_path: Path,
                       key_name: str) -> None:
    """ezkl's verification of `proof` with `circuit`'s settings and verifying key (made with
    the SRS at `srs_path`); InvalidProof naming the key (`key_name`) if it fails."""
    import ezkl

    with tempfile.TemporaryDirectory(prefix="flavum-verify-") as tmp:
        path = Path(tmp) / "proof.json"
        path.write_bytes(proof.to_json())
        ok = call_ezkl(
            "proof verification", InvalidProof, ezkl.verify,
            str(path), str(circuit.settings_path), str(circuit.vk_path),
            srs_path=str(srs_path), reduced_srs=False,
        )
    if ok is not True:
        raise InvalidProof(f"proof does not verify against {key_name}")


def public_values(proof: Proof) -> PublicValues:
    """The proof's public values: input commitment(s) or inputs, then outputs (signed ints)."""
    head = proof.instances[: proof.num_input_instances]
    outputs = tuple(felt_to_signed(v) for v in proof.instances[proof.num_input_instances :])
    if proof.input_visibility == "hashed":
        return PublicValues(tuple(FieldElement(v) for v in head), (), outputs)
    return PublicValues((), tuple(felt_to_signed(v) for v in head), outputs)


def check_public_values(
    proof: Proof,
    *,
    input_commitment: FieldElement | None = None,
    outputs: Sequence[int] | None = None,
) -> None:
    """InvalidProof unless the proof commits to `input_commitment` and exposes `outputs`.

    This binds a (verified) proof to rollup objects: the DATA commitment and the RESULT.
    """
    values = public_values(proof)
    if input_commitment is not None and values.input_commitments != (input_commitment,):
        raise InvalidProof(
            "proof's input commitment "
            f"{[c.hex for c in values.input_commitments]} is not {input_commitment.hex}"
        )
    if outputs is not None:
        expected = tuple(signed_to_felt(int(o)) for o in outputs)
        actual = tuple(signed_to_felt(o) for o in values.outputs)
        if expected != actual:
            raise InvalidProof(f"proof's outputs {values.outputs} are not {tuple(outputs)}")


def check_public_row(
    artifacts: CircuitArtifacts,
    proof: Proof,
    row: int,
    *,
    input_commitment: FieldElement | None = None,
    outputs: Sequence[int] | None = None,
) -> None:
    """InvalidProof unless inference `row` of the proof commits to `input_commitment` (its
    DATA object) and has the outputs `outputs` (its RESULT).

    For a batched circuit with one commitment per row; row 0 of a batch-1 circuit is the whole
    proof. Read the proof with `artifacts` (load_proof) and verify it before relying on this.
    """
    if (proof.input_visibility, proof.num_input_instances) != (
        artifacts.config.input_visibility,
        artifacts.num_input_instances,
    ):
        raise InvalidProof("proof was read with another circuit's public-value layout")
    if not 0 <= row < artifacts.batch_size:
        raise InvalidProof(f"row {row} is outside the proof's {artifacts.batch_size} rows")
    values = public_values(proof)
    if input_commitment is not None:
        if not artifacts.commits_rows:
            raise InvalidProof("this circuit does not expose one input commitment per row")
        actual = _row_commitment(artifacts, proof, values, row)
        if actual != input_commitment:
            raise InvalidProof(
                f"proof's input commitment for row {row} is {actual.hex}, not "
                f"{input_commitment.hex}"
            )
    if outputs is not None:
        try:
            rows = outputs_per_row(artifacts, values.outputs)
        except InvalidInput as exc:  # a count or shape that does not fit this circuit
            raise InvalidProof(f"proof's outputs do not fit the circuit: {exc}") from exc
        expected = tuple(signed_to_felt(int(o)) for o in outputs)
        if expected != tuple(signed_to_felt(o) for o in rows[row]):
            raise InvalidProof(f"proof's row {row} outputs {rows[row]} are not {tuple(outputs)}")


def _row_commitment(artifacts: CircuitArtifacts, proof: Proof, values: PublicValues,
                    row: int) -> FieldElement:
    """Row `row`'s input commitment as a 32-byte word: its Poseidon hash (a public value), or
    for a polycommit circuit the keccak256 of its KZG point in the proof bytes (a hash, not a
    field element: held in a FieldElement only to compare words); for public rows the keccak256
    of the row's public values (flavum.zk.public_rows)."""
    if artifacts.config.input_visibility == "polycommit":
        point = read_proof_points(proof.proof_bytes, artifacts.batch_size)[row]
        return FieldElement(int.from_bytes(compute_point_digest(point), "big"))
    if artifacts.config.input_visibility == "public":
        width = artifacts.row_size
        head = proof.instances[row * width: (row + 1) * width]
        return FieldElement(int.from_bytes(compute_public_row_commitment(head), "big"))
    return values.input_commitments[row]


def verify_inference(
    artifacts: CircuitArtifacts,
    proof_json: bytes,
    row: int,
    input_commitment: bytes,
    outputs: Sequence[int],
) -> Proof:
    """Read a proof.json, verify it and bind inference `row` of it to a DATA commitment
    (32 bytes, big-endian) and outputs: what the node and the independent verifier check of
    every trace entry. InvalidProof with a reason."""
    proof = load_proof(artifacts, proof_json)
    verify(artifacts, proof)
    check_public_row(
        artifacts, proof, row,
        input_commitment=FieldElement(int.from_bytes(input_commitment, "big")),
        outputs=outputs,
    )
    return proof
