"""Inference on the versions of a trainable model, on the node: an ordinary Infer whose MODEL
is a version, proven by its architecture's inference circuit (flavum/zk/versions.py).

The version's weights are an input of that circuit: its proof shows [H(θ), H(row), logits],
and the Infer's trace leaf binds H(θ) through its model word (core: `compute_version_word`).
The DATA object of such an Infer is an **inference row**: the features with the bias
column's 1 appended, [x_1 .. x_d, 1], committed by `commit_row` (Poseidon at the step's
scale, as the circuit hashes it). A logistic training row [x, y] holds the label in the 1's
place: one labelled 0 is another vector (submit its features as an inference row), one
labelled 1 the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flavum.core.batch import TraceEntry
from flavum.core.codec import to_hex
from flavum.core.encoding import keccak256
from flavum.core.state import Object
from flavum.core.stf import Execution
from flavum.core.types import Hash32
from flavum.l1.interface import CircuitFiles, compute_layout
from flavum.ml.errors import InvalidInput
from flavum.node.training import TrainingService
from flavum.zk.execution import compute_poseidon_commitment
from flavum.zk.proof import Proof, ProofJob, circuit_proof_job
from flavum.zk.training import make_step
from flavum.zk.versions import (
    NUM_INPUT_INSTANCES,
    VersionKey,
    VersionRun,
    build_version_key,
    load_version_proof,
    run_version,
    verify_version_trace,
)


@dataclass(eq=False)
class VersionInference:
    """The inference circuits of the trainable architectures a node built, and the
    executions and proofs of Infers on their versions."""

    training: TrainingService
    _keys: dict[Hash32, VersionKey] = field(default_factory=dict, init=False)

    def is_inference_circuit(self, vk_hash: Hash32) -> bool:
        return self.training.is_step(vk_hash) and self.training.record(vk_hash).kind == "inference"

    def key(self, vk_hash: Hash32) -> VersionKey:
        """The inference circuit with this vk (built again from its record if need be)."""
        if vk_hash not in self._keys:
            record = self.training.record(vk_hash)
            if record.kind != "inference":
                raise InvalidInput(f"circuit {to_hex(vk_hash)} is no inference circuit")
            self._keys[vk_hash] = build_version_key(
                make_step(record.family, record.options), self.training.srs,
                scale=record.scale, cache_dir=self.training.directory / "versions")
        return self._keys[vk_hash]

    def circuit_files(self, vk_hash: Hash32) -> CircuitFiles:
        """What a ledger registers the inference circuit's MODEL with (the version layout)."""
        key = self.key(vk_hash)
        return CircuitFiles(key.vk_path, key.settings_path, key.srs_path, key.directory,
                            compute_layout(self.training.record(vk_hash).binding))

    def commit_row(self, vk_hash: Hash32, features: np.ndarray) -> Hash32:
        """Keep an inference row [x, 1] for the inference circuit `vk_hash`; its commitment
        (the DATA object's)."""
        key = self.key(vk_hash)
        x = np.asarray(features, dtype=np.float64).reshape(-1)
        if x.size != key.step.features or not np.all(np.isfinite(x)):
            raise InvalidInput(f"an inference row is {key.step.features} finite features")
        row = np.append(x, 1.0)
        commitment = compute_poseidon_commitment(row.astype(np.float32), key.scale).be_bytes
        self.training.store.put_data_input(commitment, vk_hash, json.dumps(row.tolist()))
        return commitment

    def _run(self, circuit: Object, weights: Hash32, row: Hash32, workdir: Path) -> VersionRun:
        key = self.key(circuit.vk_hash)
        values = self.training.values(row)
        if values.size != key.step.features + 1 or values[-1] != 1.0:
            raise InvalidInput("the data is no inference row [x, 1] of this architecture "
                               "(a training row holds a label)")
        return run_version(key, self.training.values(weights), values[:-1], workdir)

    def execute(self, version: Object, circuit: Object, data: Object) -> Execution:
        """The canonical execution of an Infer on `version` (its inference circuit's MODEL
        `circuit`) on `data`: the row's commitment and the logits."""
        run = self._run(circuit, version.commitment, data.commitment,
                        self._workdir(version.commitment, data.commitment))
        if run.params_commitment.be_bytes != version.commitment:
            raise InvalidInput("the kept params do not hash to the version's commitment")
        return Execution(run.row_commitment.be_bytes, run.logits)

    def proof_job(self, circuit: Object, trace: TraceEntry, proof_path: Path) -> ProofJob:
        """The job that proves a version's inference (its witness made again)."""
        run = self._run(circuit, trace.weights, trace.input_commitment,
                        self._workdir(trace.weights, trace.input_commitment))
        key = self.key(circuit.vk_hash)
        return circuit_proof_job(key, key.srs_path, run.witness_path, proof_path, "hashed",
                                 NUM_INPUT_INSTANCES)

    def load_proof(self, proof_json: bytes) -> Proof:
        return load_version_proof(proof_json)

    def verify_trace(self, circuit: Object, trace: TraceEntry, proof_json: bytes) -> None:
        """Check the proof of an Infer on a version against the inference circuit's key and
        bind it to the trace entry: the version's weights, the row, the logits (InvalidProof)."""
        verify_version_trace(self.key(circuit.vk_hash), proof_json, trace)

    def _workdir(self, weights: Hash32, row: Hash32) -> Path:
        return self.training.directory / "infer" / keccak256(weights + row).hex()
