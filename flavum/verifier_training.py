"""The independent verifier's checks of trainable models' trace entries: a training's step
proofs against the step circuit published with the batch and their chain over the Train's rows,
and an inference on a version against its architecture's inference circuit (docs/training.md)."""

from __future__ import annotations

import json

from flavum.core.batch import TraceEntry, TrainingTrace, compute_rows_hash
from flavum.core.encoding import keccak256
from flavum.core.errors import FlavumError, InvalidProof
from flavum.core.state import Object
from flavum.core.types import Hash32
from flavum.da.batch_data import BatchData, TraceProof
from flavum.verifier import ArtifactCache, VerificationFailed, _show, model_binding


def check_training(data: BatchData, trace: TrainingTrace, entry: TraceProof,
                   models: dict[Hash32, Object], artifacts: ArtifactCache, where: str) -> None:
    """A training's step proofs: each verifies under the step circuit's published key, and
    they chain (check_training_chain) from the parent's params to the version's over exactly
    the rows the Train named (their hash is the trace's) in `steps` steps."""
    from flavum.zk.execution import FieldElement
    from flavum.zk.training import StepCircuit, check_training_chain, load_step_proof, make_step

    model = models.get(trace.step_model_id)
    if model is None or entry.model_id != trace.step_model_id:
        raise VerificationFailed("proofs", f"{where}: the step model is not the trace's")
    if entry.status != "proven" or entry.proof is None:
        raise VerificationFailed("proofs", f"{where}: no proof ({entry.status}: "
                                           f"{entry.reason})", "invalid_proof")
    binding = model_binding(data, model, where)
    circuit = data.circuits.get(model.vk_hash)
    if circuit is None or keccak256(circuit.vk) != model.vk_hash:
        raise VerificationFailed("proofs", f"{where}: the batch data has no step circuit for "
                                           f"vk hash {_show(model.vk_hash)}", "invalid_proof")
    try:
        record = json.loads(data.records[model.metadata_hash])
        files = artifacts.artifacts(model.vk_hash, circuit, binding.srs_hash)
        step = StepCircuit(files.directory, make_step(record["family"], record["options"]),
                           int(record["scale"]), files.logrows, files.srs_path, "",
                           model.vk_hash)
        proofs = [load_step_proof(step, json.dumps(p).encode())
                  for p in json.loads(entry.proof)]
        if len(proofs) != trace.steps:
            raise InvalidProof(f"{len(proofs)} step proofs for a training of {trace.steps}")
        batches = [tuple(FieldElement(v) for v in p.instances[1:-1]) for p in proofs]
        rows = [c.be_bytes for batch in batches for c in batch]
        if compute_rows_hash(rows) != trace.rows_hash:
            raise InvalidProof("the step proofs were made on other rows than the Train's")
        check_training_chain(step, FieldElement(int.from_bytes(trace.params_in, "big")),
                             proofs, batches,
                             FieldElement(int.from_bytes(trace.params_out, "big")))
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("proofs", f"{where}: malformed training proofs: {exc!r}",
                                 "malformed_batch_data") from exc
    except FlavumError as exc:
        raise VerificationFailed("proofs", f"{where}: {exc}", exc.code) from exc


def check_version_inference(data: BatchData, trace: TraceEntry, entry: TraceProof,
                            models: dict[Hash32, Object], artifacts: ArtifactCache,
                            where: str) -> None:
    """An Infer on a trainable version: its proof verifies under the inference circuit's
    published key, was made with the version's weights (the trace's H(θ)) on the Infer's row,
    and shows the receipt's logits."""
    from flavum.zk.training import make_step
    from flavum.zk.versions import VersionKey, verify_version_trace

    model = models.get(trace.circuit_id)
    if model is None or entry.model_id != trace.model_id:
        raise VerificationFailed("proofs", f"{where}: the inference circuit is not the trace's")
    if entry.status != "proven" or entry.proof is None:
        raise VerificationFailed("proofs", f"{where}: no proof ({entry.status}: "
                                           f"{entry.reason})", "invalid_proof")
    binding = model_binding(data, model, where)
    circuit = data.circuits.get(model.vk_hash)
    if circuit is None or keccak256(circuit.vk) != model.vk_hash:
        raise VerificationFailed("proofs", f"{where}: the batch data has no inference circuit "
                                           f"for vk hash {_show(model.vk_hash)}", "invalid_proof")
    try:
        record = json.loads(data.records[model.metadata_hash])
        files = artifacts.artifacts(model.vk_hash, circuit, binding.srs_hash)
        key = VersionKey(files.directory, make_step(record["family"], record["options"]),
                         int(record["scale"]), files.logrows, files.srs_path, model.vk_hash)
        verify_version_trace(key, entry.proof, trace)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("proofs", f"{where}: malformed inference proof: {exc!r}",
                                 "malformed_batch_data") from exc
    except FlavumError as exc:
        raise VerificationFailed("proofs", f"{where}: {exc}", exc.code) from exc
