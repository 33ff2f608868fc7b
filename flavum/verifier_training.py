"""The independent verifier's checks of trainable models' trace entries: a training's step
proofs against the step circuit published with the batch and their chain over the Train's rows,
and an inference on a version against its architecture's inference circuit (docs/training.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from flavum.core.batch import TraceEntry, TrainingTrace, compute_rows_hash
from flavum.core.encoding import keccak256
from flavum.core.errors import FlavumError, InvalidProof
from flavum.core.state import Object
from flavum.core.types import Hash32, ObjectId
from flavum.da.batch_data import BatchData, TraceProof
from flavum.verifier import ArtifactCache, VerificationFailed, _show, model_binding

if TYPE_CHECKING:
    from flavum.zk.training import TrainableFamily


class PublishedCircuit(NamedTuple):
    """A trainable architecture's circuit as the batch data publishes it (its MODEL, its
    fetched artifacts, the family's step and the fixed-point scale) and the entry's proof."""

    model: Object
    files: Any
    step: TrainableFamily
    scale: int
    proof: bytes


@contextmanager
def _as_failure(where: str, malformed: str) -> Iterator[None]:
    """Turn what checking a proof raises into the verifier's failure: malformed data, or the
    FlavumError's own code."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("proofs", f"{where}: malformed {malformed}: {exc!r}",
                                 "malformed_batch_data") from exc
    except FlavumError as exc:
        raise VerificationFailed("proofs", f"{where}: {exc}", exc.code) from exc


def _published_circuit(data: BatchData, models: dict[Hash32, Object], circuit_id: ObjectId,
                       entry: TraceProof, entry_model_id: ObjectId, artifacts: ArtifactCache,
                       where: str, what: str, malformed: str) -> PublishedCircuit:
    """The circuit (`what`, MODEL `circuit_id`) a proven entry for `entry_model_id` is checked
    against: its binding and verifying key as published, its artifacts fetched."""
    from flavum.zk.training import make_step

    model = models.get(circuit_id)
    if model is None or entry.model_id != entry_model_id:
        raise VerificationFailed("proofs", f"{where}: the {what} is not the trace's")
    if entry.status != "proven" or entry.proof is None:
        raise VerificationFailed("proofs", f"{where}: no proof ({entry.status}: "
                                           f"{entry.reason})", "invalid_proof")
    binding = model_binding(data, model, where)
    circuit = data.circuits.get(model.vk_hash)
    if circuit is None or keccak256(circuit.vk) != model.vk_hash:
        raise VerificationFailed("proofs", f"{where}: the batch data has no {what} for vk hash "
                                           f"{_show(model.vk_hash)}", "invalid_proof")
    with _as_failure(where, malformed):
        record = json.loads(data.records[model.metadata_hash])
        files = artifacts.artifacts(model.vk_hash, circuit, binding.srs_hash)
        return PublishedCircuit(model, files, make_step(record["family"], record["options"]),
                                int(record["scale"]), entry.proof)


def check_training(data: BatchData, trace: TrainingTrace, entry: TraceProof,
                   models: dict[Hash32, Object], artifacts: ArtifactCache, where: str) -> None:
    """A training's step proofs: each verifies under the step circuit's published key, and
    they chain (check_training_chain) from the parent's params to the version's over exactly
    the rows the Train named (their hash is the trace's) in `steps` steps."""
    from flavum.zk.execution import FieldElement
    from flavum.zk.training import StepCircuit, check_training_chain, load_step_proof

    published = _published_circuit(data, models, trace.step_model_id, entry,
                                   trace.step_model_id, artifacts, where, "step circuit",
                                   "training proofs")
    files = published.files
    with _as_failure(where, "training proofs"):
        step = StepCircuit(files.directory, published.step, published.scale, files.logrows,
                           files.srs_path, "", published.model.vk_hash)
        proofs = [load_step_proof(step, json.dumps(p).encode())
                  for p in json.loads(published.proof)]
        if len(proofs) != trace.steps:
            raise InvalidProof(f"{len(proofs)} step proofs for a training of {trace.steps}")
        batches = [tuple(FieldElement(v) for v in p.instances[1:-1]) for p in proofs]
        rows = [c.be_bytes for batch in batches for c in batch]
        if compute_rows_hash(rows) != trace.rows_hash:
            raise InvalidProof("the step proofs were made on other rows than the Train's")
        check_training_chain(step, FieldElement(int.from_bytes(trace.params_in, "big")),
                             proofs, batches,
                             FieldElement(int.from_bytes(trace.params_out, "big")))


def check_version_inference(data: BatchData, trace: TraceEntry, entry: TraceProof,
                            models: dict[Hash32, Object], artifacts: ArtifactCache,
                            where: str) -> None:
    """An Infer on a trainable version: its proof verifies under the inference circuit's
    published key, was made with the version's weights (the trace's H(θ)) on the Infer's row,
    and shows the receipt's logits."""
    from flavum.zk.versions import VersionKey, verify_version_trace

    published = _published_circuit(data, models, trace.circuit_id, entry, trace.model_id,
                                   artifacts, where, "inference circuit", "inference proof")
    files = published.files
    with _as_failure(where, "inference proof"):
        key = VersionKey(files.directory, published.step, published.scale, files.logrows,
                         files.srs_path, published.model.vk_hash)
        verify_version_trace(key, published.proof, trace)
