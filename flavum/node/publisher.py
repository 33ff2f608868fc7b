"""Publishing batch data: at seal time the node builds the batch's blob and stores it in its
data store (local directory, S3, IPFS); the blob's digest becomes the header's data pointer."""

from collections.abc import Sequence
from pathlib import Path

from flavum.core.batch import BatchHeader
from flavum.core.state import State
from flavum.core.stf import Execution
from flavum.core.transactions import Transaction, encode_transaction
from flavum.core.types import Hash32
from flavum.core.witness_build import compute_batch_witness
from flavum.da.batch_data import BatchData, CircuitData, TraceProof
from flavum.da.interface import DataStore, digest_from_cid
from flavum.node.models import ModelService
from flavum.node.store import Store
from flavum.zk.srs import compute_file_sha256


class BatchPublisher:
    def __init__(self, store: Store, models: ModelService, data_store: DataStore) -> None:
        self.store = store
        self.models = models
        self.data_store = data_store

    def publish(self, header: BatchHeader, pre_state: State, live_state: State,
                txs: Sequence[Transaction], executions: Sequence[Execution | None],
                span: tuple[int, int]) -> Hash32:
        """Store the batch's data and return its pointer. `pre_state` is the state before the
        batch (for the witness); `live_state` knows every model its proofs need."""
        witness = compute_batch_witness(pre_state, txs, executions)
        proofs = []
        circuits: dict[Hash32, CircuitData] = {}
        for record in self.store.trace_records_in(*span):
            entry = record.entry
            proofs.append(TraceProof(entry.tx_hash, entry.model_id, record.proof_status,
                                     record.proof, record.reason, record.row))
            model = live_state.objects.get(entry.model_id)
            if model is not None and model.vk_hash not in circuits:
                circuits[model.vk_hash] = self._circuit(model.vk_hash)
        data = BatchData(
            number=header.number, prev_state_root=header.prev_state_root,
            state_root=header.state_root, tx_root=header.tx_root, trace_root=header.trace_root,
            withdrawal_root=header.withdrawal_root, chain_id=live_state.domain.chain_id,
            rollup_id=live_state.domain.rollup_id,
            txs=tuple(encode_transaction(tx) for tx in txs), executions=tuple(executions),
            witness=witness, proofs=tuple(proofs), circuits=circuits,
        )
        return digest_from_cid(self.data_store.put(data.to_bytes()))

    def _circuit(self, vk_hash: Hash32) -> CircuitData:
        artifacts = self.models.artifacts(vk_hash)
        return CircuitData(
            vk=artifacts.vk_path.read_bytes(),
            settings=artifacts.settings_path.read_bytes(),
            srs_cid=self._srs_cid(artifacts.srs_path),
            srs_logrows=artifacts.logrows,
        )

    def _srs_cid(self, srs: Path) -> str:
        """The SRS file in the data store, put there once (its id kept in the store's meta)."""
        key = "srs_cid:" + compute_file_sha256(srs)
        cid = self.store.get_meta(key)
        if cid is None or not self.data_store.has(cid):
            cid = self.data_store.put(srs.read_bytes())
            self.store.set_meta(key, cid)
        return cid
