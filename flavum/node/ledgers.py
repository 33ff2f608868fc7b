"""The node's ledgers: every sealed batch is posted to each one; deposits and forced requests
come back from them.

A `LedgerLink` drives one ledger: its watcher turns bridge deposits into Deposit transactions,
forced requests queued on the ledger are submitted to the sequencer, and sealed batches are
posted in order. On a ledger that verifies proofs (an EVM rollup contract) a batch waits until
every inference in it is proven; a model the batch proves that the ledger has not bound to its
verifier yet is bound by the same posting (shown in the batch's state root; no registrar). A
ledger that only anchors gets the header as soon as the batch is sealed; a ledger that pays
withdrawals itself (a Litecoin federation) pays those of each anchored batch. What a ledger does
is read from its capabilities, never from its type. Each link runs on its own, so a ledger that
is down never holds up the others; its backlog is posted when it returns.

On a ledger that settles by fraud proofs, a link follows reverts: the node's batches the ledger
no longer holds are recorded "reverted". If a fraud proof reverted the node's own batch, the
node's execution disagrees with the ledger's one-step executor: posting to that ledger stops
(re-posting would lose the bond again). A revert of a batch the node did not make (posted with
its key by someone else) changes nothing: the node posts its own batches from there on.
A node whose key the rollup's admin rotated away (or a proposed sequencer not activated yet)
posts nothing and says so ("replaced"); it posts again once its key is the sequencer, a
proposed key activating itself when its delay is over.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flavum.core.batch import Trace, TraceEntry, TrainingTrace, compute_withdrawal_leaf
from flavum.core.codec import to_hex
from flavum.core.errors import DuplicateTransaction, FlavumError
from flavum.core.merkle import compute_tree_proof
from flavum.core.transactions import compute_tx_hash, decode_transaction
from flavum.core.types import NO_OBJECT, ZERO_HASH, Hash32, ObjectId
from flavum.l1.errors import (
    BondShort,
    ChainReset,
    DepositReorged,
    LedgerError,
    LedgerUnreachable,
    NotSequencer,
    WithdrawalRefused,
)
from flavum.l1.interface import (
    BatchRevert,
    BatchTx,
    CircuitFiles,
    ForcedInclusion,
    Ledger,
    ModelRegistration,
    ProvenInference,
    compute_layout,
    proven_inference,
)
from flavum.node.failpoints import crash_point
from flavum.node.models import ModelService
from flavum.node.publisher import load_model_proof
from flavum.node.sequencer import Sequencer
from flavum.node.store import BatchRecord, Store, TraceRecord
from flavum.node.training import TrainingService
from flavum.node.version_inference import VersionInference
from flavum.node.watcher import LedgerWatcher

log = logging.getLogger(__name__)


@dataclass(eq=False)
class LedgerLink:
    """One ledger the node posts to: its watcher, and why it cannot be posted to now."""

    name: str
    ledger: Ledger
    watcher: LedgerWatcher
    store: Store
    sequencer: Sequencer
    models: ModelService
    workdir: Path
    confirmations: int = 0
    training: TrainingService | None = None  # the node's step circuits, if it trains
    versions: VersionInference | None = None  # the node's inference circuits of versions
    last_error: str | None = field(default=None, init=False)
    # The first fraud proof that reverted one of this node's own batches: posting stops.
    reverted: BatchRevert | None = field(default=None, init=False)
    frozen: bool = field(default=False, init=False)  # the rollup froze in escape mode
    replaced: bool = field(default=False, init=False)  # our key is not the rollup's sequencer
    # Why the ledger cannot be posted to now (None: it can): "unreachable", "chain_reset",
    # "deposit_reorged", or "error" (an exception nothing expected).
    fault: str | None = field(default=None, init=False)

    @property
    def state(self) -> str:
        """posting, or why not: a fault of the ledger (unreachable, chain_reset,
        deposit_reorged, error) or a stop the ledger decided (reverted, frozen, replaced)."""
        if self.fault is not None:
            return self.fault
        return ("reverted" if self.reverted else "frozen" if self.frozen
                else "replaced" if self.replaced else "posting")

    def tick(self) -> None:
        """Deposits in, forced requests in, reverts followed, batches out. A ledger error is
        recorded, not raised: the next tick tries again."""
        try:
            self._tick()
            self.fault = None
        except ChainReset as exc:
            self._fault("chain_reset", f"{exc}: posting to {self.name} is stopped; the node "
                        "re-deploys nothing by itself (restore the chain, or deploy a new "
                        "rollup)")
        except DepositReorged as exc:
            self._fault("deposit_reorged", f"{exc}: posting to {self.name} is stopped")
        except LedgerUnreachable as exc:
            self._fault("unreachable", f"{exc}; retrying, the backlog is posted when it "
                        "answers again")
        except NotSequencer as exc:
            self.fault = None
            if not self.replaced:  # said once, not at every tick
                log.error("ledger %s: %s", self.name, exc)
            self.replaced = True
            self.last_error = (f"{exc}; posting to {self.name} is stopped until this node's key "
                               f"is the sequencer (`flavum l1 roles --ledger {self.name}`)")
        except BondShort as exc:
            self.fault = None
            self.last_error = (f"{exc}; top it up with `flavum l1 bond --ledger {self.name} "
                               "--top-up AMOUNT`")
            log.warning("ledger %s: %s", self.name, self.last_error)
        except LedgerError as exc:
            self.fault = None
            self.last_error = str(exc)
            log.warning("ledger %s: %s", self.name, exc)

    def _tick(self) -> None:
        caps = self.ledger.capabilities
        self.ledger.check_deployment()
        if caps.settles_by_fraud_proofs:
            self.follow_reverts()
        self.check_not_forgotten()
        self.watcher.poll()
        if caps.forced_inclusion:
            self.include_forced_requests()
        if self.reverted is not None:
            self.last_error = self.stopped_message(self.reverted)
            return
        self.frozen = caps.escape_hatch and self.ledger.escape_status().escaped
        if self.frozen:
            self.last_error = (f"the rollup on {self.name} is frozen in escape mode (no "
                               "batch for its escape delay): it takes no batch again; "
                               f"users leave with `flavum escape --ledger {self.name}`")
            return
        self.post_pending()
        self.track_confirmed()
        self.replaced = False
        if caps.pays_withdrawals:
            self.pay_federated_withdrawals()
        self.last_error = None

    def _fault(self, fault: str, message: str) -> None:
        """Put the link in a fault state, said in the log once per fault, not at every tick."""
        if fault != self.fault:
            log.error("ledger %s: %s", self.name, message)
        self.fault = fault
        self.last_error = message

    def fail(self, exc: Exception) -> None:
        """An exception nothing expected: the link shows it (state "error") and the next tick
        tries again; its traceback is logged once."""
        message = f"unexpected {type(exc).__name__}: {exc} (traceback in the node's log)"
        if message != self.last_error:
            log.exception("ledger %s: %s", self.name, message)
        self.fault = "error"
        self.last_error = message

    # --- what the ledger must still hold ---

    def check_not_forgotten(self) -> None:
        """ChainReset when the ledger no longer holds a batch this node saw accepted beyond
        the confirmation depth (a batch it lacks that was shallower is simply posted again)."""
        confirmed = self._confirmed_through()
        if confirmed < 0:
            return
        next_number = self.ledger.next_batch_number()
        if next_number <= confirmed:
            raise ChainReset(
                f"ledger {self.name} forgot accepted batch {next_number} (it holds batches "
                f"below {next_number} only; batches through {confirmed} were more than "
                f"{self.confirmations} blocks deep): the chain was reset or reorganised "
                "beyond the confirmation depth")

    def track_confirmed(self) -> None:
        """Remember the newest batch the ledger holds beyond the confirmation depth."""
        confirmed = self._confirmed_through()
        for number in range(self.ledger.next_batch_number() - 1, confirmed, -1):
            depth = self.ledger.batch_depth(number)
            if depth is not None and depth > self.confirmations:
                self.store.set_meta(self._confirmed_key, str(number))
                return

    def forget_chain(self) -> None:
        """The ledger is a new chain (an in-process EVM deployed afresh): nothing on it is
        expected to remain from before."""
        self.store.set_meta(self._confirmed_key, "-1")
        self.store.set_meta(self._reverts_key, "0")

    @property
    def _confirmed_key(self) -> str:
        return f"confirmed_through:{self.name}"

    @property
    def _reverts_key(self) -> str:
        return f"reverts_seen:{self.name}"

    def _confirmed_through(self) -> int:
        return int(self.store.get_meta(self._confirmed_key) or -1)

    def confirmed_batch(self) -> int | None:
        """The newest batch seen deeper than the confirmations on this ledger (None: none)."""
        confirmed = self._confirmed_through()
        return None if confirmed < 0 else confirmed

    def depth(self, number: int) -> int | None:
        """How deep batch `number` is on this ledger (None: not posted, or unknown)."""
        return self.ledger.batch_depth(number)

    # --- forced inclusion ---

    def include_forced_requests(self) -> None:
        for request in self.ledger.forced_requests(only_pending=True):
            if self.store.get_forced(self.name, request.request_id) is not None:
                continue
            try:
                receipt, seq = self.sequencer.submit_forced(request.raw_tx)
            except DuplicateTransaction:
                tx_hash = compute_tx_hash(decode_transaction(request.raw_tx))
                self.store.set_forced(self.name, request.request_id, tx_hash, True, None)
                continue
            if receipt is not None:
                self.store.set_forced(self.name, request.request_id, receipt.tx_hash, True, None)
            else:
                # Refused at this seq, and said so on the ledger with the position in its
                # batch: anyone can re-execute it there, and disprove a wrong refusal.
                self.store.set_forced(self.name, request.request_id, None, False,
                                      "invalid when processed", seq)

    def forced_for(self, first_seq: int, tx_hashes: list[Hash32]) -> list[ForcedInclusion]:
        """How the batch of `tx_hashes` (from seq `first_seq`) settles the pending forced
        requests, in queue order: each included one at its index, each refused one at the
        position it was refused at."""
        settled = []
        for request in self.ledger.forced_requests(only_pending=True):
            record = self.store.get_forced(self.name, request.request_id)
            if record is None:
                break  # not handled yet: later requests wait their turn
            if record.refused_at_seq is not None:
                # Requests are handled in queue order at rising seqs: a refusal is never
                # before the first batch it can settle in.
                position = record.refused_at_seq - first_seq
                if position > len(tx_hashes):
                    break  # refused while a later batch was open: settled there
                settled.append(ForcedInclusion(request.request_id, False, position))
            elif record.tx_hash in tx_hashes:
                index = tx_hashes.index(record.tx_hash)
                settled.append(ForcedInclusion(request.request_id, True, index))
            else:
                break  # included in a later batch
        return settled

    # --- reverts (capabilities.settles_by_fraud_proofs) ---

    def follow_reverts(self) -> None:
        """Record the node's batches a fraud proof took off the ledger as "reverted", and find
        whether a fraud proof reverted one of the node's own batches: then posting stops, for
        as long as the node's store holds that batch (derived from the ledger at every tick,
        so a restart does not resume it)."""
        reverts = self.ledger.batch_reverts()
        seen = int(self.store.get_meta(self._reverts_key) or 0)
        if len(reverts) > seen:  # a fraud proof took batches off: not a chain that forgot them
            lowest = min(r.number for r in reverts[seen:])
            self.store.set_meta(self._confirmed_key,
                                str(min(self._confirmed_through(), lowest - 1)))
            self.store.set_meta(self._reverts_key, str(len(reverts)))
        own = [r for r in reverts if self._is_own(r)]
        if own and self.reverted is None:
            log.error("ledger %s: %s", self.name, self.stopped_message(own[0]))
        self.reverted = own[0] if own else None
        if not reverts:
            return
        for number in self.store.ledger_batches(self.name, "accepted",
                                                self.ledger.next_batch_number()):
            covering = [r for r in reverts if r.number <= number]
            if covering:  # else gone without a fraud proof (an L1 reorg): simply re-posted
                self._record(number, "reverted", None, _revert_detail(number, covering[-1]))

    def _is_own(self, revert: BatchRevert) -> bool:
        batch = self.store.get_batch(revert.number)
        return batch is not None and batch.batch_hash == revert.batch_hash

    def stopped_message(self, revert: BatchRevert) -> str:
        return (f"batch {revert.number}, transaction {revert.tx_index}, was proven fraudulent "
                f"on ledger {self.name} ({revert.reason}): posting to this ledger is stopped: "
                "this node's execution disagrees with the ledger's one-step executor, and "
                "re-posting the batch would lose the bond again")

    # --- batches ---

    def post_pending(self) -> None:
        batches = self.store.batches()
        for batch in batches[self.ledger.next_batch_number():]:
            if not self.post(batch):
                return

    def post(self, batch: BatchRecord) -> bool:
        """Post one batch; False when it must wait (its proofs are not all made yet)."""
        number = batch.header.number
        first, last = self.store.batch_seq_span(batch)
        inferences: list[ProvenInference] = []
        registrations: list[ModelRegistration] = []
        if self.ledger.capabilities.verifies_proofs:
            records = self.store.trace_records_in(first, last)
            waiting = [r for r in records if r.proof_status != "proven"]
            if waiting:
                failed = [r for r in waiting if r.proof_status == "failed"]
                state = "blocked" if failed else "waiting for proofs"
                detail = (f"proof failed for trace {to_hex(failed[0].entry.tx_hash)}: "
                          f"{failed[0].reason}" if failed else f"{len(waiting)} proofs to go")
                self._record(number, state, None, detail)
                return False
            registrations = self.registrations(number, records)
            inferences = self._proven_inferences(records)
        txs = [BatchTx(stored.raw, commitment) for stored, commitment in
               zip(self.store.txs_in(first, last), self.store.commitments(first, last),
                   strict=True)]
        tx_hashes = [t.commitment.tx_hash for t in txs]
        forced = (self.forced_for(first, tx_hashes) if self.ledger.capabilities.forced_inclusion
                  else [])
        tx_hash = self.ledger.post_batch(batch.header, txs, inferences, forced, registrations)
        crash_point("posted")
        state = "accepted" if self.ledger.capabilities.verifies_proofs else "anchored"
        self._record(number, state, tx_hash, None)
        return True

    def pay_federated_withdrawals(self) -> None:
        """A ledger that pays withdrawals itself (Litecoin: from a federation's custody) pays
        them once their batch is anchored deep enough. Each is paid once (the adapter finds
        earlier payouts on chain); a batch whose payouts cannot all be made yet (not final,
        custody short) is retried on the next tick, and later batches wait for it."""
        ledger = self.ledger
        cursor_key = f"paid_through:{self.name}"
        paid_through = int(self.store.get_meta(cursor_key) or -1)
        for batch in self.store.batches()[paid_through + 1: ledger.next_batch_number()]:
            withdrawals = self.store.withdrawals_in(*self.store.batch_seq_span(batch))
            leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
            for index, withdrawal in enumerate(withdrawals):
                if withdrawal.ledger != ledger.ledger_id:
                    continue
                try:
                    ledger.pay_withdrawal(batch.header, withdrawal, index,
                                          compute_tree_proof(leaves, index),
                                          confirmations=self.confirmations)
                except WithdrawalRefused as exc:  # never payable here: say so, go on
                    log.warning("ledger %s refuses withdrawal %s: %s", self.name,
                                to_hex(withdrawal.withdrawal_id), exc)
            self.store.set_meta(cursor_key, str(batch.header.number))

    def registrations(self, number: int, records: list[TraceRecord]
                      ) -> list[ModelRegistration]:
        """What binds each model batch `number` proves that has no standing registration on
        this ledger yet: the model shown in this batch's state root, with its binding."""
        if not self.ledger.capabilities.registers_models:
            return []
        registrations = []
        for model_id in dict.fromkeys(_proven_model(r.entry) for r in records):
            registered = self.ledger.model(model_id)
            if registered is not None and registered.standing:
                continue
            model, proof = load_model_proof(self.store, number, model_id)
            if self.versions is not None and self.versions.is_inference_circuit(model.vk_hash):
                circuit = self.versions.circuit_files(model.vk_hash)  # the version layout
                binding = self.versions.training.record(model.vk_hash).binding
                registrations.append(ModelRegistration(model, binding, proof, circuit))
                continue
            if self.training is not None and self.training.is_step(model.vk_hash):
                step = self.training.circuit(model.vk_hash)
                binding = self.training.record(model.vk_hash).binding  # the training-step layout
                registrations.append(ModelRegistration(model, binding, proof, CircuitFiles(
                    step.vk_path, step.settings_path, step.srs_path, step.directory,
                    compute_layout(binding))))
                continue
            artifacts = self.models.artifacts(model.vk_hash)
            binding = self.models.record(model.vk_hash).binding
            circuit = CircuitFiles(artifacts.vk_path, artifacts.settings_path, artifacts.srs_path,
                                   artifacts.directory, compute_layout(binding))
            registrations.append(ModelRegistration(model, binding, proof, circuit))
        return registrations

    def _proven_inferences(self, records: list[TraceRecord]) -> list[ProvenInference]:
        """One verifier call per proof, in trace order. A batched proof covers a contiguous run
        of entries (the prover packs them so): its rows name them, padding rows are zero."""
        from flavum.zk.proof import load_proof

        inferences = []
        seen: set[bytes] = set()
        for record in records:
            proof_json = record.proof or b""
            if isinstance(record.entry, TrainingTrace):
                inferences += self._step_proofs(record.entry, proof_json)
                continue
            if proof_json in seen:
                continue
            seen.add(proof_json)
            if record.entry.circuit_id != NO_OBJECT:
                inferences.append(self._version_proof(record.entry, proof_json))
                continue
            model = self.sequencer.object(record.entry.model_id)
            if model is None:
                raise LedgerError(f"model {to_hex(record.entry.model_id)} is gone: cannot read its "
                                  "proof")
            artifacts = self.models.artifacts(model.vk_hash)
            proof = load_proof(artifacts, proof_json)
            if artifacts.batch_size == 1:
                rows = [(record.entry.tx_hash, record.entry.result_id)]
                inferences.append(proven_inference(model.object_id, proof, rows))
                continue
            members = {r.row: r.entry for r in records if r.proof == proof_json}
            padding = (ZERO_HASH, ObjectId(ZERO_HASH))
            rows = [(members[i].tx_hash, members[i].result_id) if i in members else padding
                    for i in range(artifacts.batch_size)]
            inferences.append(proven_inference(model.object_id, proof, rows))
        return inferences

    def _version_proof(self, entry: TraceEntry, proof_json: bytes) -> ProvenInference:
        """An Infer on a trainable version: one call of its inference circuit's verifier."""
        if self.versions is None:
            raise LedgerError("this node runs no trained versions: cannot read the proof of "
                              f"{to_hex(entry.tx_hash)}")
        return proven_inference(entry.circuit_id, self.versions.load_proof(proof_json),
                                [(entry.tx_hash, entry.result_id)])

    def _step_proofs(self, trace: TrainingTrace, proof_json: bytes) -> list[ProvenInference]:
        """A training's step proofs, in order, each one verifier call of the step model."""
        from flavum.zk.training import load_step_proof

        step_model = self.sequencer.object(trace.step_model_id)
        if step_model is None or self.training is None:
            raise LedgerError(f"step model {to_hex(trace.step_model_id)} is unknown here: "
                              "cannot read its proofs")
        circuit = self.training.circuit(step_model.vk_hash)
        return [proven_inference(trace.step_model_id,
                                 load_step_proof(circuit, json.dumps(step).encode()),
                                 [(trace.tx_hash, trace.version_id)])
                for step in json.loads(proof_json)]

    def _record(self, batch: int, state: str, tx_hash: bytes | None, detail: str | None) -> None:
        self.store.set_ledger_post(self.name, batch, state, tx_hash, detail, time.time())


def _proven_model(entry: Trace) -> ObjectId:
    """The MODEL whose verifier checks a trace entry's proofs."""
    if isinstance(entry, TrainingTrace):
        return entry.step_model_id
    # An inference on a trainable version is proven by its inference circuit.
    return entry.model_id if entry.circuit_id == NO_OBJECT else entry.circuit_id


def _revert_detail(number: int, cause: BatchRevert) -> str:
    """Why batch `number` is reverted: `cause` proved it (or an earlier batch) fraudulent."""
    proof = (f"transaction {cause.tx_index} proven fraudulent ({cause.reason}); the bond "
             f"({cause.prize} wei) went to {to_hex(cause.challenger)}")
    return proof if number == cause.number else f"reverted with batch {cause.number}: {proof}"


class LedgerRunner:
    """Ticks each ledger link in its own thread. No exception ends a thread: the link shows
    it, and a link in a fault state is retried less often (doubling up to `max_backoff_s`)."""

    def __init__(self, links: list[LedgerLink], interval_s: float = 0.5,
                 max_backoff_s: float = 8.0) -> None:
        self.links = links
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(link,), daemon=True,
                                          name=f"ledger-{link.name}") for link in links]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, link: LedgerLink) -> None:
        delay = self.interval_s
        while not self._stop.wait(delay):
            try:
                link.tick()
            except FlavumError as exc:  # e.g. a model the node cannot build a verifier for
                link.last_error = str(exc)
                log.warning("ledger %s: %s", link.name, exc)
            except Exception as exc:  # noqa: BLE001 - shown on the link; the thread lives on
                link.fail(exc)
            delay = (self.interval_s if link.fault is None
                     else min(self.max_backoff_s, delay * 2))
