"""Inference on the versions of a trainable model: one circuit and key per architecture, the
version's params a hashed input.

Every family (logistic and softmax regression, the binary and the multi-class MLP: any
`TrainedModel` of flavum.ml.training) has an inference graph that takes the params and one row
as inputs, so nothing of a version is in the circuit: one key serves every version, set up once.
An inference proof's public values are

    [H(params), H(row), logit_1, ..., logit_k]

where H(params) is the same commitment the last training step's proof shows for its output
(same Poseidon over the same values at the step's scale): the proof binds the inference to the
version that a chain of step proofs made. The row is the features with a 1 appended (the
bias's column), so H(row) commits to [x_1 .. x_d, 1].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.batch import TraceEntry
from flavum.core.errors import InvalidProof
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.training import TrainedModel
from flavum.zk.circuit import (
    CircuitDirectory,
    call_ezkl,
)
from flavum.zk.execution import FieldElement, felt_to_signed
from flavum.zk.fixed import build_fixed_circuit, hashed_input_run_args
from flavum.zk.proof import (
    Proof,
    circuit_proof_job,
    parse_proof,
    read_job_proof,
    run_proof_job,
    verify_against_key,
)
from flavum.zk.srs import SrsStore
from flavum.zk.training import DEFAULT_SCALE

NUM_INPUT_INSTANCES = 2  # the params' and the row's commitments
MIN_ROWS = 2**11  # logrows >= 12: smaller circuits failed to verify now and then (ezkl 23.0.5)


@dataclass(frozen=True)
class VersionKey(CircuitDirectory):
    """The inference circuit and keys of one trainable architecture (every version's)."""

    step: TrainedModel  # the architecture (a family's step: its inference graph and sizes)
    scale: int
    logrows: int
    srs_path: Path
    vk_hash: Hash32

    @property
    def num_instances(self) -> int:
        return NUM_INPUT_INSTANCES + self.step.outputs


class SingleLogit:
    """`logit`: the one logit of a binary family's inference."""

    logits: tuple[int, ...]

    @property
    def logit(self) -> int:
        if len(self.logits) != 1:
            raise InvalidInput(f"the inference has {len(self.logits)} logits, not one")
        return self.logits[0]


@dataclass(frozen=True)
class VersionRun(SingleLogit):
    """One canonical inference of a version: the commitments it shows and its logits."""

    params_commitment: FieldElement
    row_commitment: FieldElement
    logits: tuple[int, ...]  # value = integer / 2**scale
    witness_path: Path


@dataclass(frozen=True)
class VersionPublicValues(SingleLogit):
    params_commitment: FieldElement
    row_commitment: FieldElement
    logits: tuple[int, ...]


def build_version_key(step: TrainedModel, store: SrsStore, *, scale: int = DEFAULT_SCALE,
                      cache_dir: Path | str | None = None) -> VersionKey:
    """Set up the architecture's inference circuit (once; reused when built before)."""

    # The step's scale: the same params hash to the same value in both circuits.
    run_args = hashed_input_run_args(scale, "public")

    def check(settings: dict[str, Any]) -> None:
        if settings["model_output_scales"] != [scale]:
            raise ModelRejected(f"the logits have scale {settings['model_output_scales']}")

    root = Path(cache_dir) if cache_dir is not None else store.directory / "train-versions"
    fixed = build_fixed_circuit(f"{step.name}-version", step.make_inference_graph(), run_args,
                                MIN_ROWS, store, root, {"scale": scale}, check)
    return VersionKey(fixed.directory, step, scale, fixed.logrows, fixed.srs_path,
                      fixed.vk_hash)


def run_version(key: VersionKey, params: np.ndarray, features: np.ndarray,
                workdir: Path | str) -> VersionRun:
    """The canonical inference of the version `params` on one row of features (InvalidInput
    when they do not fit the architecture)."""
    import ezkl

    theta = key.step.check_params(params).astype(np.float32)
    x = np.asarray(features, dtype=np.float64).reshape(-1)
    if x.size != key.step.features or not np.all(np.isfinite(x)):
        raise InvalidInput(f"a row is {key.step.features} finite values")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    input_path, witness_path = workdir / "input.json", workdir / "witness.json"
    row = np.append(x, 1.0).astype(np.float32)
    input_path.write_text(json.dumps({"input_data": [theta.tolist(), row.tolist()]}))
    call_ezkl("witness generation of the inference", InvalidInput, ezkl.gen_witness,
              str(input_path), str(key.compiled_path), str(witness_path))
    pretty = json.loads(witness_path.read_text())["pretty_elements"]
    params_hash, row_hash = (FieldElement.from_hex(h) for t in pretty["processed_inputs"]
                             for h in t)
    logits = tuple(felt_to_signed(FieldElement.from_hex(h).value) for t in pretty["outputs"]
                   for h in t)
    return VersionRun(params_hash, row_hash, logits, witness_path)


def prove_version(key: VersionKey, run: VersionRun) -> Proof:
    """Prove a version's inference with the architecture's proving key."""
    job = circuit_proof_job(key, key.srs_path, run.witness_path, None, "hashed",
                            NUM_INPUT_INSTANCES)
    run_proof_job(job)
    return read_job_proof(job)


def load_version_proof(data: bytes) -> Proof:
    return parse_proof(data, "hashed", NUM_INPUT_INSTANCES)


def verify_version(key: VersionKey, proof: Proof) -> VersionPublicValues:
    """Check an inference proof against the architecture's key: its public values (the
    caller compares the params' commitment with the version's), or InvalidProof."""
    if len(proof.instances) != key.num_instances:
        raise InvalidProof(f"an inference proof of a version has {key.num_instances} public "
                           f"values, this one {len(proof.instances)}")
    verify_against_key(proof, key, key.srs_path, "the architecture's key")
    params, row, *logits = proof.instances
    return VersionPublicValues(FieldElement(params), FieldElement(row),
                               tuple(felt_to_signed(v) for v in logits))


def verify_version_trace(key: VersionKey, proof_json: bytes, trace: TraceEntry) -> None:
    """Check the proof of an Infer on a version against the architecture's key and bind it to
    the trace entry: the version's weights (H(θ)), the row (H(row)), the logits (InvalidProof)."""
    shown = verify_version(key, load_version_proof(proof_json))
    if shown.params_commitment.be_bytes != trace.weights:
        raise InvalidProof("the proof was made with other weights than the version's")
    if shown.row_commitment.be_bytes != trace.input_commitment:
        raise InvalidProof("the proof's row is not the inference's data")
    if shown.logits != trace.outputs:
        raise InvalidProof("the proof's logits are not the trace's outputs")
