"""Proves every trace entry in the background and records its proof status.

A receipt with a trace entry is queued here (the sequencer never waits for a proof). `poll`,
called by the node's ticker, hands work to the prover pool and collects finished jobs. A proof
is verified against the model's verifying key and bound to its trace entry before the entry is
recorded as "proven"; a job that failed after the pool's retries is recorded as "failed" with
the reason. On restart, entries still queued or proving are proven again.

Batched models (a circuit of N rows) prove N inferences at once: consecutive entries for the
same model wait in a pack until N are there, the oldest has waited `pack_wait_s`, or an entry
of another model comes (a pack is a contiguous run of the trace, so a ledger rebuilds the trace
leaves in order from the proofs); the rest of the N rows are then padding. The packed run's
outputs must equal each entry's receipt (rows do not influence each other), else that entry
fails with the reason.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from flavum.core.batch import Trace, TraceEntry, TrainingTrace
from flavum.core.codec import to_hex
from flavum.core.errors import FlavumError
from flavum.core.state import Object
from flavum.core.types import NO_OBJECT, Hash32, ObjectId
from flavum.node.failpoints import crash_point
from flavum.node.models import ModelService
from flavum.node.sequencer import Receipt, Sequencer
from flavum.node.store import Store
from flavum.node.training import TrainingService
from flavum.node.version_inference import VersionInference
from flavum.zk.circuit import CircuitArtifacts
from flavum.zk.execution import (
    CircuitRun,
    FieldElement,
    outputs_per_row,
    pad_rows,
    run_witness,
)
from flavum.zk.interface import JobState, ProverPool
from flavum.zk.proof import make_proof_job
from flavum.zk.training import StepCircuit, check_training_chain, make_step_proof_job


@dataclass(eq=False)
class ProofManager:
    """Queues the sequencer's trace entries, packs them per circuit, and records their proofs."""

    store: Store
    sequencer: Sequencer
    models: ModelService
    pool: ProverPool
    proofs_dir: Path
    pack_wait_s: float = 2.0
    training: TrainingService | None = None
    versions: VersionInference | None = None  # inference on trainable versions
    _incoming: deque[Trace] = field(default_factory=deque, init=False)
    _packing: dict[Hash32, list[tuple[TraceEntry, float]]] = field(  # by vk hash
        default_factory=dict, init=False)
    _jobs: dict[str, tuple[Hash32, list[tuple[Hash32, int]]]] = field(  # id -> vk, rows
        default_factory=dict, init=False)
    _trainings: dict[Hash32, tuple[TrainingTrace, StepCircuit, list[str],
                                   list[tuple[FieldElement, ...]]]] = field(
        default_factory=dict, init=False)  # tx hash -> the trace, its circuit, step jobs, rows
    _version_jobs: dict[str, TraceEntry] = field(default_factory=dict, init=False)  # id -> entry
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.sequencer.listeners.append(self.on_receipt)
        for record in self.store.traces_with_status("queued", "proving"):
            self._incoming.append(record.entry)

    def on_receipt(self, receipt: Receipt) -> None:
        if receipt.outcome.trace is not None:
            self._incoming.append(receipt.outcome.trace)

    def poll(self) -> None:
        """Route new entries, submit full or overdue packs, record finished jobs."""
        with self._lock:
            while self._incoming:
                self._route(self._incoming.popleft())
            now = time.monotonic()
            for vk_hash, waiting in list(self._packing.items()):
                if waiting and now - waiting[0][1] >= self.pack_wait_s:
                    self._submit(vk_hash, [entry for entry, _ in waiting])
                    del self._packing[vk_hash]
            for job_id, (vk_hash, rows) in list(self._jobs.items()):
                self._collect(job_id, vk_hash, rows)
            for tx_hash in list(self._trainings):
                self._collect_training(tx_hash)
            for job_id in list(self._version_jobs):
                self._collect_version(job_id)

    def all_done(self, first_seq: int, last_seq: int) -> bool:
        """Every trace entry of these transactions is proven or has failed for good."""
        records = self.store.trace_records_in(first_seq, last_seq)
        return all(r.proof_status in ("proven", "failed") for r in records)

    def _route(self, trace: Trace) -> None:
        if isinstance(trace, TrainingTrace):
            self._submit_training(trace)
            return
        if trace.circuit_id != NO_OBJECT:
            self._submit_version(trace)
            return
        try:
            vk_hash = self._vk_hash(trace.model_id)
            batch = self.models.artifacts(vk_hash).batch_size
        except FlavumError as exc:
            self.store.set_proof_status(trace.tx_hash, "failed", str(exc))
            return
        for other in [vk for vk in self._packing if vk != vk_hash]:
            self._submit(other, [entry for entry, _ in self._packing.pop(other)])
        if batch == 1:
            self._submit(vk_hash, [trace])
            return
        waiting = self._packing.setdefault(vk_hash, [])
        waiting.append((trace, time.monotonic()))
        if len(waiting) == batch:
            self._submit(vk_hash, [entry for entry, _ in waiting])
            del self._packing[vk_hash]

    def _submit(self, vk_hash: Hash32, traces: list[TraceEntry]) -> None:
        """One proof job for these entries (row i = traces[i]; the rest padding)."""
        try:
            artifacts = self.models.artifacts(vk_hash)
            values = {t.tx_hash: self.models.data_values(t.input_commitment)[1] for t in traces}
            execution, traces = self._execute(artifacts, traces, values)
            if not traces:
                return
            proof_path = self.proofs_dir / f"{to_hex(traces[0].tx_hash)}.json"
            job_id = self.pool.submit(make_proof_job(artifacts, execution, proof_path))
        except FlavumError as exc:
            for trace in traces:
                self.store.set_proof_status(trace.tx_hash, "failed", str(exc))
            return
        for trace in traces:
            self.store.set_proof_status(trace.tx_hash, "queued")
        self._jobs[job_id] = (vk_hash, [(t.tx_hash, i) for i, t in enumerate(traces)])

    def _execute(self, artifacts: CircuitArtifacts, traces: list[TraceEntry],
                 values: dict[Hash32, list[float]]) -> tuple[CircuitRun, list[TraceEntry]]:
        """The witness to prove, and the entries it proves. A packed run must give each entry
        the outputs of its receipt; an entry it does not fails, and the rest run again."""
        if artifacts.batch_size == 1:
            return run_witness(artifacts, values[traces[0].tx_hash]), traces
        while True:
            packed = run_witness(artifacts, pad_rows(artifacts, [values[t.tx_hash]
                                                                 for t in traces]))
            per_row = outputs_per_row(artifacts, packed.outputs)
            kept = [t for t, outputs in zip(traces, per_row, strict=False)
                    if tuple(outputs) == tuple(t.outputs)]
            for trace in traces:
                if trace not in kept:
                    self.store.set_proof_status(
                        trace.tx_hash, "failed",
                        "the packed batch's outputs differ from the receipt's for this row")
            if len(kept) == len(traces) or not kept:
                return packed, kept
            traces = kept

    def _collect(self, job_id: str, vk_hash: Hash32, rows: list[tuple[Hash32, int]]) -> None:
        status = self.pool.status(job_id)
        if status.state == JobState.QUEUED:
            return
        if status.state == JobState.PROVING:
            for tx_hash, _ in rows:
                self.store.set_proof_status(tx_hash, "proving")
            return
        del self._jobs[job_id]
        if status.state == JobState.FAILED:
            for tx_hash, _ in rows:
                self.store.set_proof_status(tx_hash, "failed", status.reason)
            return
        try:
            proof_json = self.pool.result(job_id, timeout=0).to_json()
        except FlavumError as exc:
            for tx_hash, _ in rows:
                self.store.set_proof_status(tx_hash, "failed", str(exc))
            return
        for tx_hash, row in rows:
            record = self.store.get_trace(tx_hash)
            try:
                if record is None or not isinstance(record.entry, TraceEntry):
                    raise FlavumError(f"trace {to_hex(tx_hash)} vanished from the store")
                self.models.verify_trace(record.entry, vk_hash, proof_json, row)
            except FlavumError as exc:
                self.store.set_proof_status(tx_hash, "failed", f"proof rejected: {exc}")
                continue
            crash_point("proven")
            self.store.set_proof(tx_hash, proof_json, row)

    def _submit_training(self, trace: TrainingTrace) -> None:
        """One proof job per step of a training."""
        try:
            if self.training is None:
                raise FlavumError("this node does not train models")
            circuit, runs, batches = self.training.step_runs(trace)
            jobs = [self.pool.submit(make_step_proof_job(
                circuit, run, self.proofs_dir / f"{to_hex(trace.tx_hash)}-step{i}.json"))
                for i, run in enumerate(runs)]
        except FlavumError as exc:
            self.store.set_proof_status(trace.tx_hash, "failed", str(exc))
            return
        self.store.set_proof_status(trace.tx_hash, "queued")
        self._trainings[trace.tx_hash] = (trace, circuit, jobs, batches)

    def _collect_training(self, tx_hash: Hash32) -> None:
        trace, circuit, jobs, batches = self._trainings[tx_hash]
        states = [self.pool.status(job).state for job in jobs]
        failed = [self.pool.status(job).reason for job in jobs
                  if self.pool.status(job).state == JobState.FAILED]
        if not failed and any(state != JobState.PROVEN for state in states):
            if JobState.PROVING in states:
                self.store.set_proof_status(tx_hash, "proving")
            return
        del self._trainings[tx_hash]
        if failed:
            self.store.set_proof_status(tx_hash, "failed", f"a step failed: {failed[0]}")
            return
        try:
            proofs = [self.pool.result(job, timeout=0) for job in jobs]
            check_training_chain(circuit, FieldElement(int.from_bytes(trace.params_in, "big")),
                                 proofs, batches,
                                 FieldElement(int.from_bytes(trace.params_out, "big")))
        except FlavumError as exc:
            self.store.set_proof_status(tx_hash, "failed", f"proof rejected: {exc}")
            return
        steps = [json.loads(proof.to_json()) for proof in proofs]
        self.store.set_proof(tx_hash, json.dumps(steps).encode())

    def _submit_version(self, trace: TraceEntry) -> None:
        """One proof job for an Infer on a trainable version (its inference circuit)."""
        try:
            if self.versions is None:
                raise FlavumError("this node does not run trained versions")
            job = self.versions.proof_job(self._circuit(trace), trace,
                                          self.proofs_dir / f"{to_hex(trace.tx_hash)}.json")
            job_id = self.pool.submit(job)
        except FlavumError as exc:
            self.store.set_proof_status(trace.tx_hash, "failed", str(exc))
            return
        self.store.set_proof_status(trace.tx_hash, "queued")
        self._version_jobs[job_id] = trace

    def _collect_version(self, job_id: str) -> None:
        trace = self._version_jobs[job_id]
        status = self.pool.status(job_id)
        if status.state in (JobState.QUEUED, JobState.PROVING):
            if status.state == JobState.PROVING:
                self.store.set_proof_status(trace.tx_hash, "proving")
            return
        del self._version_jobs[job_id]
        if status.state == JobState.FAILED:
            self.store.set_proof_status(trace.tx_hash, "failed", status.reason)
            return
        try:
            proof_json = self.pool.result(job_id, timeout=0).to_json()
            if self.versions is None:
                raise FlavumError("this node does not run trained versions")
            self.versions.verify_trace(self._circuit(trace), trace, proof_json)
        except FlavumError as exc:
            self.store.set_proof_status(trace.tx_hash, "failed", f"proof rejected: {exc}")
            return
        crash_point("proven")
        self.store.set_proof(trace.tx_hash, proof_json, 0)

    def _circuit(self, trace: TraceEntry) -> Object:
        circuit = self.sequencer.object(trace.circuit_id)
        if circuit is None:
            raise FlavumError(f"circuit {to_hex(trace.circuit_id)} no longer exists on this rollup")
        return circuit

    def _vk_hash(self, model_id: ObjectId) -> Hash32:
        model = self.sequencer.object(model_id)
        if model is None:
            raise FlavumError(f"model {to_hex(model_id)} no longer exists on this rollup")
        return model.vk_hash
