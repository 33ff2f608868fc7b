"""Proves every trace entry in the background and records its proof status.

A receipt with a trace entry is queued here (the sequencer never waits for a proof). `poll`,
called by the node's ticker, hands queued entries to the prover pool and collects finished
jobs: a proof is verified against the model's verifying key and the trace entry before it is
stored as "proven"; a job that failed after the pool's retries is stored as "failed" with the
reason. On restart, entries still queued or proving are proven again.
"""

import threading
from collections import deque
from pathlib import Path

from flavum.core.batch import TraceEntry
from flavum.core.errors import FlavumError
from flavum.core.types import Hash32, ObjectId
from flavum.node.models import ModelService
from flavum.node.sequencer import Receipt, Sequencer
from flavum.node.store import Store, hx
from flavum.zk.execution import run_witness
from flavum.zk.pool import JobState, ProverPool
from flavum.zk.proof import make_proof_job


class ProofManager:
    def __init__(self, store: Store, sequencer: Sequencer, models: ModelService,
                 pool: ProverPool, proofs_dir: Path) -> None:
        self.store = store
        self.sequencer = sequencer
        self.models = models
        self.pool = pool
        self.proofs_dir = proofs_dir
        self._incoming: deque[TraceEntry] = deque()
        self._jobs: dict[str, Hash32] = {}  # pool job id -> trace tx hash
        self._lock = threading.Lock()
        sequencer.listeners.append(self.on_receipt)
        for record in store.traces_with_status("queued", "proving"):
            self._incoming.append(record.entry)

    def on_receipt(self, receipt: Receipt) -> None:
        if receipt.outcome.trace is not None:
            self._incoming.append(receipt.outcome.trace)

    def poll(self) -> None:
        """Submit queued entries, record finished jobs. Never raises for a single entry."""
        with self._lock:
            while self._incoming:
                self._submit(self._incoming.popleft())
            for job_id, tx_hash in list(self._jobs.items()):
                self._collect(job_id, tx_hash)

    def all_done(self, first_seq: int, last_seq: int) -> bool:
        """Every trace entry of these transactions is proven or has failed for good."""
        records = self.store.trace_records_in(first_seq, last_seq)
        return all(r.proof_status in ("proven", "failed") for r in records)

    @property
    def busy(self) -> bool:
        return bool(self._incoming or self._jobs)

    def _submit(self, trace: TraceEntry) -> None:
        try:
            vk_hash = self._vk_hash(trace.model_id)
            data = self.models.data_values(trace.input_commitment)
            artifacts = self.models.artifacts(vk_hash)
            execution = run_witness(artifacts, data[1])
            proof_path = self.proofs_dir / f"{hx(trace.tx_hash)}.json"
            job_id = self.pool.submit(make_proof_job(artifacts, execution, proof_path))
        except FlavumError as exc:
            self.store.set_proof_status(trace.tx_hash, "failed", str(exc))
            return
        self.store.set_proof_status(trace.tx_hash, "queued")
        self._jobs[job_id] = trace.tx_hash

    def _collect(self, job_id: str, tx_hash: Hash32) -> None:
        status = self.pool.status(job_id)
        if status.state == JobState.PROVING:
            self.store.set_proof_status(tx_hash, "proving")
            return
        if status.state == JobState.QUEUED:
            return
        del self._jobs[job_id]
        if status.state == JobState.FAILED:
            self.store.set_proof_status(tx_hash, "failed", status.reason)
            return
        record = self.store.get_trace(tx_hash)
        try:
            proof = self.pool.result(job_id, timeout=0)
            if record is None:
                raise FlavumError(f"trace {hx(tx_hash)} vanished from the store")
            vk_hash = self._vk_hash(record.entry.model_id)
            self.models.verify_trace(record.entry, vk_hash, proof.to_json())
        except FlavumError as exc:
            self.store.set_proof_status(tx_hash, "failed", f"proof rejected: {exc}")
            return
        self.store.set_proof(tx_hash, proof.to_json())

    def _vk_hash(self, model_id: ObjectId) -> Hash32:
        model = self.sequencer.object(model_id)
        if model is None:
            raise FlavumError(f"model {hx(model_id)} no longer exists on this rollup")
        return model.vk_hash
