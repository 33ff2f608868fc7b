"""Publishing batch data: at seal time the node builds the batch's blob and stores it in its
data store (local directory, S3, IPFS); the blob's digest becomes the header's data pointer.
It also keeps, for each model the batch runs, the MODEL object's proof in the batch's state
root: what binds the model to its verifier on a ledger that registers models."""

import json
from collections.abc import Sequence
from pathlib import Path

from flavum.core.batch import BatchHeader, TrainingTrace
from flavum.core.codec import from_hex, object_from_json, object_to_json, to_hex
from flavum.core.merkle import SmtProof
from flavum.core.state import Object, State, compute_object_key, get_object, get_state_proof
from flavum.core.stf import AnyExecution
from flavum.core.transactions import Infer, Train, Transaction, encode_transaction
from flavum.core.types import NO_OBJECT, Hash32, ObjectId
from flavum.core.witness_build import compute_batch_witness
from flavum.da.batch_data import BatchData, CircuitData, TraceProof, encode_model_record
from flavum.da.interface import DataStore, digest_from_cid
from flavum.node.failpoints import crash_point
from flavum.node.models import ModelService
from flavum.node.store import Store
from flavum.node.training import TrainingService
from flavum.node.version_inference import VersionInference
from flavum.zk.circuit import CircuitDirectory
from flavum.zk.srs import compute_file_sha256


class BatchPublisher:
    def __init__(self, store: Store, models: ModelService, data_store: DataStore,
                 training: TrainingService | None = None) -> None:
        self.store = store
        self.models = models
        self.data_store = data_store
        self.training = training
        self.versions: VersionInference | None = None  # set by the node: inference on versions

    def publish(self, header: BatchHeader, pre_state: State, live_state: State,
                txs: Sequence[Transaction], executions: Sequence[AnyExecution | None],
                span: tuple[int, int]) -> Hash32:
        """Store the batch's data and return its pointer. `pre_state` is the state before the
        batch (for the witness); `live_state` knows every model its proofs need."""
        witness = compute_batch_witness(pre_state, txs, executions)
        proofs = []
        circuits: dict[Hash32, CircuitData] = {}
        records: dict[Hash32, bytes] = {}
        for record in self.store.trace_records_in(*span):
            entry = record.entry
            if isinstance(entry, TrainingTrace):
                # The step proofs (a JSON list), the step circuit and its record.
                proofs.append(TraceProof(entry.tx_hash, entry.step_model_id, record.proof_status,
                                         record.proof, record.reason, record.row))
                step_model = live_state.objects.get(entry.step_model_id)
                if step_model is not None and self.training is not None:
                    step = self.training.circuit(step_model.vk_hash)
                    circuits[step_model.vk_hash] = self._files(step, step.srs_path, step.logrows)
                    records[step_model.metadata_hash] = encode_model_record(
                        self.training.record(step_model.vk_hash).to_json())
                continue
            proofs.append(TraceProof(entry.tx_hash, entry.model_id, record.proof_status,
                                     record.proof, record.reason, record.row))
            if entry.circuit_id != NO_OBJECT:  # an inference on a trainable version
                self._publish_version_circuit(live_state.objects.get(entry.circuit_id),
                                              circuits, records)
                continue
            model = live_state.objects.get(entry.model_id)
            if model is not None and model.vk_hash not in circuits:
                circuits[model.vk_hash] = self._circuit(model.vk_hash)
            if model is not None and model.metadata_hash not in records:
                records[model.metadata_hash] = encode_model_record(
                    self.models.record(model.vk_hash).to_json())
        data = BatchData(
            number=header.number, prev_state_root=header.prev_state_root,
            state_root=header.state_root, tx_root=header.tx_root, trace_root=header.trace_root,
            withdrawal_root=header.withdrawal_root, chain_id=live_state.domain.chain_id,
            rollup_id=live_state.domain.rollup_id,
            txs=tuple(encode_transaction(tx) for tx in txs), executions=tuple(executions),
            witness=witness, proofs=tuple(proofs), circuits=circuits, records=records,
        )
        pointer = digest_from_cid(self.data_store.put(data.to_bytes()))
        crash_point("published")
        return pointer

    def _publish_version_circuit(self, circuit: Object | None,
                                 circuits: dict[Hash32, CircuitData],
                                 records: dict[Hash32, bytes]) -> None:
        """The inference circuit of a trainable architecture and its record."""
        if circuit is None or self.versions is None or circuit.vk_hash in circuits:
            return
        key = self.versions.key(circuit.vk_hash)
        circuits[circuit.vk_hash] = self._files(key, key.srs_path, key.logrows)
        records[circuit.metadata_hash] = encode_model_record(
            self.versions.training.record(circuit.vk_hash).to_json())

    def _circuit(self, vk_hash: Hash32) -> CircuitData:
        artifacts = self.models.artifacts(vk_hash)
        return self._files(artifacts, artifacts.srs_path, artifacts.logrows)

    def _files(self, circuit: CircuitDirectory, srs_path: Path, logrows: int) -> CircuitData:
        return CircuitData(
            vk=circuit.vk_path.read_bytes(),
            settings=circuit.settings_path.read_bytes(),
            srs_cid=self._file_cid(srs_path),
            srs_logrows=logrows,
            model_cid=self._file_cid(circuit.model_path),
        )

    def _file_cid(self, path: Path) -> str:
        """A file (an SRS, a circuit's ONNX) in the data store, put there once (its id kept in
        the store's meta)."""
        key = "file_cid:" + compute_file_sha256(path)
        cid = self.store.get_meta(key)
        if cid is None or not self.data_store.has(cid):
            cid = self.data_store.put(path.read_bytes())
            self.store.set_meta(key, cid)
        return cid

    def keep_model_proofs(self, number: int, post_state: State,
                          txs: Sequence[Transaction]) -> None:
        """Keep the proof, in batch `number`'s state root (`post_state`'s), of every model
        its Infers run and of every step circuit its Trains run."""
        used = dict.fromkeys(tx.body.model_id for tx in txs if isinstance(tx.body, Infer))
        for model_id in list(used):
            # An Infer on a trainable version is proven by its inference circuit's MODEL.
            model = get_object(post_state, model_id)
            if model is not None and model.model_id != NO_OBJECT:
                used[ObjectId(model.vk_hash)] = None
        for tx in txs:
            # A Train's proofs are checked by its step circuit's MODEL (the version names it).
            version = get_object(post_state, tx.body.model_id) if isinstance(
                tx.body, Train) else None
            if version is not None:
                used[version.model_id] = None
        for model_id in used:
            model = get_object(post_state, model_id)
            if model is None:
                continue
            proof = get_state_proof(post_state, compute_object_key(model_id))
            self.store.set_meta(_model_proof_key(number, model_id), json.dumps({
                "model": object_to_json(model),
                "siblings": [to_hex(s) for s in proof.siblings],
            }))


def load_model_proof(store: Store, number: int, model_id: ObjectId) -> tuple[Object, SmtProof]:
    """A model as it stands in batch `number`'s state root, with its leaf's proof there."""
    text = store.get_meta(_model_proof_key(number, model_id))
    if text is None:
        raise KeyError(f"no proof of model {to_hex(model_id)} kept for batch {number}")
    data = json.loads(text)
    # An inclusion proof: the path ends at the model's own leaf, never at another.
    return (object_from_json(data["model"]),
            SmtProof(tuple(Hash32(from_hex(s, 32)) for s in data["siblings"])))


def _model_proof_key(number: int, model_id: ObjectId) -> str:
    return f"model_proof:{number}:{to_hex(model_id)}"
