"""The sequencer: orders transactions, applies them at once, produces blocks and seals batches.

A submitted transaction is checked and applied to the live state immediately; if it is valid
it is written to the store before the receipt is returned (a soft confirmation), otherwise the
caller gets the typed error and nothing changes. Signers are recovered before that, in worker
processes when many transactions come at once (recovery.py).

Group commit: concurrent submissions queue up; one submitting thread at a time (the leader)
applies what is queued, transaction by transaction, each with the state root after it, and
writes the accepted ones in one SQL transaction; only then does each submitter get its receipt,
or its typed error (a refused transaction changes nothing, the others go on). The leader then
hands the lead to the first submission still waiting. A lone transaction is committed at once,
by its own thread: groups form by themselves under load, no timer holds anything back.

Accepted transactions wait in the mempool (accepted, not yet in a block) until a block is
produced, by count or by time; blocks are sealed into batches, by count or by time, each with
its header of roots.

On start the sequencer rebuilds the state by replaying the stored log from genesis and checks
every stored block root on the way, so a node killed at any point resumes where it was.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from flavum.core import types
from flavum.core.batch import (
    BatchHeader,
    compute_batch_hash,
    compute_batch_header,
    compute_tx_commitment,
)
from flavum.core.codec import to_hex
from flavum.core.encoding import compute_tag, keccak256
from flavum.core.errors import (
    ConfigError,
    DuplicateTransaction,
    InvalidTransaction,
    MalformedTransaction,
    StateRootMismatch,
)
from flavum.core.genesis import DEV_ASSET
from flavum.core.state import (
    Object,
    State,
    compute_state_root,
    get_balance,
    get_nonce,
    get_object,
)
from flavum.core.stf import (
    AnyExecution,
    Execution,
    Outcome,
    TrainingExecution,
    apply_block,
    process_recovered,
    process_transaction,
)
from flavum.core.transactions import (
    DeployModel,
    DeployTrainable,
    Infer,
    Recovered,
    SubmitData,
    Train,
    Transaction,
    decode_transaction,
    encode_transaction,
    recover_transaction,
)
from flavum.core.types import ZERO_HASH, Address, Amount, AssetId, Hash32, Nonce, ObjectId
from flavum.ml.errors import InvalidInput
from flavum.node.config import NodeConfig
from flavum.node.failpoints import crash_point
from flavum.node.recovery import SignerRecovery
from flavum.node.store import AcceptedTx, BatchRecord, BlockRecord, StateChanges, Store

DATA_POINTER_TAG = compute_tag("batch.data")


class Publisher(Protocol):
    """Stores a batch's data and returns its pointer (see publisher.py)."""

    def publish(self, header: BatchHeader, pre_state: State, live_state: State,
                txs: Sequence[Transaction], executions: Sequence[AnyExecution | None],
                span: tuple[int, int]) -> Hash32: ...

    def keep_model_proofs(self, number: int, post_state: State,
                          txs: Sequence[Transaction]) -> None: ...


class InferenceExecutor(Protocol):
    """The node's ML side: runs a model on a data point the canonical way (the circuit's
    witness generation), and checks that it can, before a model or data object is created."""

    def check_deploy(self, body: DeployModel) -> None: ...

    def check_data(self, body: SubmitData) -> None: ...

    def execute(self, model: Object, data: Object) -> Execution: ...


class TrainingExecutor(Protocol):
    """The node's training side (flavum/node/training.py): step circuits, the values behind a
    trainable model's commitments, and a Train's canonical execution."""

    def is_step(self, vk_hash: Hash32) -> bool: ...

    def check_deploy(self, body: DeployModel) -> None: ...

    def check_trainable(self, body: DeployTrainable) -> None: ...

    def execute(self, parent: Object, step_model: Object, rows: list[Object],
                steps: int) -> TrainingExecution: ...


class VersionExecutor(Protocol):
    """Inference on trainable versions (flavum/node/version_inference.py)."""

    def execute(self, version: Object, circuit: Object, data: Object) -> Execution: ...


@dataclass(frozen=True)
class Receipt:
    """The soft confirmation of an accepted transaction."""

    tx_hash: Hash32
    seq: int
    outcome: Outcome
    execution: AnyExecution | None


class _Submission:
    """A transaction waiting in the group-commit queue, and what came of it."""

    __slots__ = ("done", "execution", "finished", "forced", "result", "recovered", "refused_at")

    def __init__(self, recovered: Recovered | InvalidTransaction | None,
                 execution: AnyExecution | None, forced: bool) -> None:
        # Or why its bytes were refused before any state was read; None until recovered.
        self.recovered = recovered
        self.execution = execution
        self.forced = forced
        self.finished = False
        self.result: Receipt | BaseException  # set before it is finished
        self.refused_at: int | None = None  # forced and refused: the seq it would have taken
        # Held until the submission is finished or handed the lead: its thread blocks on it.
        self.done = threading.Lock()
        self.done.acquire()


class _LoggedTable(dict[Any, Any]):
    """A live state table that notes the key of every write (set or removal) in `written`,
    in the order of first write. The state writes its tables only with [] and pop (see
    State._write and State.rollback)."""

    def __init__(self, entries: dict[Any, Any], written: dict[Any, None]) -> None:
        super().__init__(entries)
        self._written = written

    def __setitem__(self, key: Any, value: Any) -> None:
        self._written[key] = None
        super().__setitem__(key, value)

    def pop(self, key: Any, *default: Any) -> Any:
        self._written[key] = None
        return super().pop(key, *default)


class WriteLog:
    """Which readable entries (nonces, balances, objects) of the live state were written since
    the last block: the store refreshes its readable tables from them."""

    def __init__(self, state: State) -> None:
        # The entries already there (genesis) are new to the store too.
        self.nonces: dict[Address, None] = dict.fromkeys(state.nonces)
        self.balances: dict[tuple[Address, AssetId], None] = dict.fromkeys(state.balances)
        self.objects: dict[ObjectId, None] = dict.fromkeys(state.objects)
        state.nonces = _LoggedTable(state.nonces, self.nonces)
        state.balances = _LoggedTable(state.balances, self.balances)
        state.objects = _LoggedTable(state.objects, self.objects)

    def drain(self, state: State) -> StateChanges:
        """The written entries with their values now, in the order of first write; the log
        starts empty again."""
        changes = StateChanges(
            nonces={address: get_nonce(state, address) for address in self.nonces},
            balances={key: get_balance(state, *key) for key in self.balances},
            objects={object_id: get_object(state, object_id) for object_id in self.objects},
        )
        self.nonces.clear()
        self.balances.clear()
        self.objects.clear()
        return changes


class Sequencer:
    def __init__(
        self,
        config: NodeConfig,
        store: Store,
        executor: InferenceExecutor | None = None,
        clock: Callable[[], float] = time.time,
        publisher: Publisher | None = None,
    ) -> None:
        self.config = config
        self.publisher = publisher
        # Sealing waits until this says the batch's transactions are ready (their proofs made).
        self.ready_to_seal: Callable[[int, int], bool] = lambda first, last: True
        self.listeners: list[Callable[[Receipt], None]] = []  # told of every accepted tx
        self.store = store
        self.executor = executor
        self.trainer: TrainingExecutor | None = None  # set by the node when it trains
        self.versions: VersionExecutor | None = None  # set by the node: inference on versions
        self.clock = clock
        self.recovery = SignerRecovery(config.recover_workers)
        self._lock = threading.RLock()  # the live state, blocks and batches
        self._queue: deque[_Submission] = deque()  # waiting for a group commit
        self._queue_lock = threading.Lock()  # the queue and the lead
        self._leading = False  # a submitter is committing groups
        self.genesis = config.genesis_state
        self.genesis_root = self.genesis.root
        self._check_genesis()
        self._load_state()
        now = clock()
        self._last_block_at = now
        self._last_batch_at = now

    # --- start-up ---

    def _check_genesis(self) -> None:
        domain = self.config.domain
        identity = f"{domain.chain_id}:{to_hex(domain.rollup_id)}:{to_hex(self.genesis_root)}"
        stored = self.store.get_meta("genesis")
        if stored is None:
            self.store.set_meta("genesis", identity)
        elif stored != identity:
            raise ConfigError(
                f"the store was made for {stored} (chain:rollup id:genesis root), the config is "
                f"for {identity}: its transactions are signed for that rollup, and are never "
                "posted to another (`flavum l1 deploy --force` moves a replaced rollup's store "
                "aside)")

    def _load_state(self) -> None:
        """The live state: genesis, then every stored transaction replayed."""
        self.state = self.genesis.state()
        self._written = WriteLog(self.state)
        # The state as of the last sealed batch: the pre-state of the next batch's witness.
        self.sealed_state = self.state.copy() if self.publisher is not None else None
        self.assets: set[AssetId] = {DEV_ASSET} if self.config.genesis else set()  # every asset
        self._pending = 0  # accepted transactions not yet in a block
        self._replay()
        self._next_seq = self.store.next_seq()

    def _replay(self) -> None:
        block_roots = {}
        last = self.store.last_block()
        if last is not None:
            block_roots = {b.last_seq: b for b in self.store.blocks(0, last.number)}
        batches = self.store.batches()
        sealed_up_to = self.store.batch_seq_span(batches[-1])[1] if batches else 0
        for stored in self.store.iter_txs():
            tx = decode_transaction(stored.raw)
            process_transaction(self.state, tx, stored.execution)
            if self.sealed_state is not None and stored.seq <= sealed_up_to:
                process_transaction(self.sealed_state, tx, stored.execution)
            self._note_asset(tx)
            block = block_roots.get(stored.seq)
            if block is not None and compute_state_root(self.state) != block.state_root:
                raise StateRootMismatch(f"replay diverges from stored block {block.number}")
            if stored.block is None:
                self._pending += 1

    # --- transactions ---

    def submit(self, raw: bytes) -> Receipt:
        """Accept a signed transaction in its wire encoding, or raise its typed error."""
        submission = _Submission(None, None, forced=False)
        recovered = self.recovery.recover(raw, submission.done,
                                          lambda r: self._take(submission, r))
        if recovered is None:  # a recovery worker queued it for the group commit
            return self._outcome(submission)
        if recovered.tx.is_system:
            raise MalformedTransaction("deposits come from a ledger watcher, not from users")
        submission.recovered = recovered
        submission.execution = self._execute(recovered.tx)
        return self._commit(submission)

    def submit_forced(self, raw: bytes) -> tuple[Receipt | None, int]:
        """Accept a transaction a user forced on a ledger: (its receipt, its seq), or (None,
        the seq it was refused at: the one the next transaction would take), refusals being
        judged on the state before that seq. Raises DuplicateTransaction if already taken."""
        item: Recovered | InvalidTransaction
        try:
            item = self.recovery.recover(raw)
        except InvalidTransaction as exc:
            item = exc  # refused in sequence, like any other refusal
        execution = None
        if isinstance(item, Recovered):
            if item.tx.is_system:
                item = MalformedTransaction("deposits come from a ledger watcher, not from users")
            else:
                execution = self._execute(item.tx)
        submission = _Submission(item, execution, forced=True)
        try:
            receipt = self._commit(submission)
        except DuplicateTransaction:
            raise
        except InvalidTransaction:
            if submission.refused_at is None:
                raise
            return None, submission.refused_at
        return receipt, receipt.seq

    def submit_system(self, tx: Transaction) -> Receipt:
        """Accept a system transaction (a deposit seen by a ledger watcher)."""
        return self._commit(_Submission(recover_transaction(encode_transaction(tx)), None,
                                        forced=False))

    def close(self) -> None:
        self.recovery.close()

    def _commit(self, submission: _Submission) -> Receipt:
        """Queue `submission` and return its receipt once its group is durable, or raise its
        error. The first submission to find nobody committing leads; a leader commits groups
        until its own submission is in one, then hands the lead to the first one waiting."""
        if not self._enqueue(submission):
            submission.done.acquire()  # finished, or handed the lead
        return self._outcome(submission)

    def _take(self, submission: _Submission, recovered: Recovered) -> bool:
        """In a recovery worker's feeder: queue a transaction that needs nothing more from its
        submitting thread, which then wakes only once (its group durable, or to lead)."""
        if recovered.tx.is_system or self._needs_executor(recovered.tx):
            return False
        submission.recovered = recovered
        if self._enqueue(submission):
            submission.done.release()  # nobody was leading: its thread leads
        return True

    def _enqueue(self, submission: _Submission) -> bool:
        """Queue `submission`; True if nobody was leading, so that its thread must lead."""
        with self._queue_lock:
            self._queue.append(submission)
            lead = not self._leading
            self._leading = True
        return lead

    def _outcome(self, submission: _Submission) -> Receipt:
        """The receipt of a woken submission, or its error; one woken to lead (not finished)
        commits groups until it is in one, then hands the lead on."""
        if not submission.finished:
            try:
                while not submission.finished:
                    self._commit_group()
            finally:  # even if a listener raised: the others must not wait for a leader
                with self._queue_lock:
                    if self._queue:
                        self._queue[0].done.release()  # the next leader
                    else:
                        self._leading = False
        if isinstance(submission.result, BaseException):
            raise submission.result
        return submission.result

    def _commit_group(self) -> None:
        """Apply the queued submissions (up to the room left in the block), write the accepted
        ones in one SQL transaction, then finish them all."""
        with self._lock:
            room = max(1, self.config.block_max_txs - self._pending)
            with self._queue_lock:
                group = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
            try:
                accepted = self._write_group(group)
                for _, row in accepted:
                    crash_point("accepted")
                    self._next_seq = row.seq + 1
                    self._pending += 1
                if self._pending >= self.config.block_max_txs:
                    self.produce_block()
                for receipt, _ in accepted:  # under the lock: listeners see sequence order
                    for listener in self.listeners:
                        listener(receipt)
            finally:
                for submission in group:
                    submission.finished = True
                    submission.done.release()

    def _write_group(self, group: list[_Submission]) -> list[tuple[Receipt, AcceptedTx]]:
        """Apply the group and write its accepted transactions durably. If either fails, the
        group's accepted ones get the error instead of a receipt, and the live state, which may
        have gone ahead of the store, is rebuilt from it."""
        try:
            accepted = self._apply_group(group)
            if accepted:
                self.store.add_txs([row for _, row in accepted])
            return accepted
        except Exception as exc:
            for submission in group:
                if not isinstance(getattr(submission, "result", None), Exception):
                    submission.result = exc
            self._load_state()
            return []

    def _apply_group(self, group: list[_Submission]) -> list[tuple[Receipt, AcceptedTx]]:
        """Apply each submission to the live state in turn: the accepted ones with their rows
        and receipts; a refused one gets its error and leaves the state as it was."""
        hashes = [s.recovered.tx_hash for s in group
                  if isinstance(s.recovered, Recovered) and not s.recovered.tx.is_system]
        taken = self.store.known_txs(hashes) if hashes else set()
        seq = self._next_seq
        accepted = []
        for submission in group:
            try:
                recovered = submission.recovered
                if not isinstance(recovered, Recovered):
                    raise recovered or MalformedTransaction("not recovered")  # never: queued
                tx = recovered.tx
                # A replayed deposit is refused by the state itself (DepositAlreadyApplied).
                if not tx.is_system and recovered.tx_hash in taken:
                    raise DuplicateTransaction("this transaction was already accepted")
                outcome = process_recovered(self.state, recovered, submission.execution)
            except Exception as exc:
                submission.result = exc
                if submission.forced and isinstance(exc, InvalidTransaction) and not isinstance(
                        exc, DuplicateTransaction):
                    submission.refused_at = seq
                continue
            taken.add(recovered.tx_hash)
            # Every transaction commits the state root after it: the one-step fraud proof
            # re-executes a single transaction between two such roots.
            commitment = compute_tx_commitment(outcome.tx_hash, compute_state_root(self.state),
                                               outcome.trace, outcome.withdrawal)
            row = AcceptedTx(seq, commitment, recovered.raw, tx.sender, tx.type.name,
                             submission.execution, outcome.object_id, outcome.trace,
                             outcome.withdrawal, self.clock())
            receipt = Receipt(outcome.tx_hash, seq, outcome, submission.execution)
            submission.result = receipt
            accepted.append((receipt, row))
            self._note_asset(tx)
            seq += 1
        return accepted

    def _needs_executor(self, tx: Transaction) -> bool:
        return self.executor is not None and isinstance(
            tx.body, DeployModel | SubmitData | Infer | DeployTrainable | Train)

    def _execute(self, tx: Transaction) -> AnyExecution | None:
        """Run an inference or a training outside the lock; the state transition re-checks
        everything.

        A model or data object is only created if this node can later execute it."""
        body = tx.body
        if self.executor is None:
            return None
        if isinstance(body, DeployTrainable | Train):
            return self._execute_training(body)
        if isinstance(body, DeployModel) and self.trainer and self.trainer.is_step(body.vk_hash):
            self.trainer.check_deploy(body)
        elif isinstance(body, DeployModel):
            self.executor.check_deploy(body)
        if isinstance(body, SubmitData):
            self.executor.check_data(body)
        if not isinstance(body, Infer):
            return None
        with self._lock:
            model = get_object(self.state, body.model_id)
            data = get_object(self.state, body.data_id)
        if model is None or data is None or model.kind != types.ObjectKind.MODEL:
            return None  # process_transaction raises the precise error
        if data.kind != types.ObjectKind.DATA:
            return None
        if model.model_id != types.NO_OBJECT:
            return self._execute_on_version(model, data)
        return self.executor.execute(model, data)

    def _execute_on_version(self, version: Object, data: Object) -> Execution | None:
        """An Infer on a trainable version: its architecture's inference circuit, on the
        version's weights."""
        if self.versions is None:
            raise InvalidInput("this node does not run trained versions")
        with self._lock:
            circuit = get_object(self.state, types.ObjectId(version.vk_hash))
        if circuit is None:
            return None  # process_transaction raises the precise error
        return self.versions.execute(version, circuit, data)

    def _execute_training(self, body: DeployTrainable | Train) -> TrainingExecution | None:
        if self.trainer is None:
            raise InvalidInput("this node does not train models")
        if isinstance(body, DeployTrainable):
            self.trainer.check_trainable(body)
            return None
        with self._lock:
            parent = get_object(self.state, body.model_id)
            step_model = None if parent is None else get_object(self.state, parent.model_id)
            rows = [get_object(self.state, data_id) for data_id in body.data_ids]
        if parent is None or step_model is None or any(
                r is None or r.kind != types.ObjectKind.DATA for r in rows):
            return None  # process_transaction raises the precise error
        return self.trainer.execute(parent, step_model, [r for r in rows if r], body.steps)

    # --- blocks and batches ---

    def produce_block(self) -> BlockRecord | None:
        """Put every pending transaction in a new block; None when there are none."""
        with self._lock:
            span = self.store.unblocked_seqs()
            if span is None:
                return None
            last = self.store.last_block()
            block = BlockRecord(
                number=0 if last is None else last.number + 1,
                first_seq=span[0],
                last_seq=span[1],
                state_root=compute_state_root(self.state),
                batch=None,
                created_at=self.clock(),
            )
            self.store.add_block(block, self._written.drain(self.state))
            self._pending = 0
            self._last_block_at = block.created_at
            return block

    def seal_batch(self) -> BatchRecord | None:
        """Seal every block not yet in a batch into the next batch. None when there are none,
        or when they are not ready yet (proofs still being made)."""
        with self._lock:
            self.produce_block()
            blocks = self.store.unbatched_blocks()
            if not blocks:
                return None
            first_seq, last_seq = blocks[0].first_seq, blocks[-1].last_seq
            if not self.ready_to_seal(first_seq, last_seq):
                return None
            batches = self.store.batches()
            prev_root = batches[-1].header.state_root if batches else self.genesis_root
            commitments = self.store.commitments(first_seq, last_seq)
            tx_hashes = [c.tx_hash for c in commitments]
            header = compute_batch_header(len(batches), prev_root, commitments, ZERO_HASH)
            header = replace(header, data_pointer=self._publish(header, first_seq, last_seq,
                                                                  tx_hashes))
            record = BatchRecord(
                header=header,
                batch_hash=compute_batch_hash(header),
                first_block=blocks[0].number,
                last_block=blocks[-1].number,
                tx_count=len(tx_hashes),
                sealed_at=self.clock(),
            )
            self.store.add_batch(record)
            self._last_batch_at = record.sealed_at
            return record

    def _publish(self, header: BatchHeader, first_seq: int, last_seq: int,
                 tx_hashes: list[Hash32]) -> Hash32:
        if self.publisher is None or self.sealed_state is None:
            return compute_data_pointer(tx_hashes)
        stored = self.store.txs_in(first_seq, last_seq)
        txs = [decode_transaction(s.raw) for s in stored]
        executions = [s.execution for s in stored]
        pointer = self.publisher.publish(header, self.sealed_state, self.state, txs, executions,
                                         (first_seq, last_seq))
        apply_block(self.sealed_state, txs, executions)
        self.publisher.keep_model_proofs(header.number, self.sealed_state, txs)
        return pointer

    def tick(self) -> None:
        """Produce a block and seal a batch when their time or size has come."""
        now = self.clock()
        with self._lock:
            if self._pending and now - self._last_block_at >= self.config.block_interval_s:
                self.produce_block()
            unbatched = self.store.unbatched_blocks()
            if not unbatched:
                return
            count = unbatched[-1].last_seq - unbatched[0].first_seq + 1
            due = now - self._last_batch_at >= self.config.batch_interval_s
            if due or count >= self.config.batch_max_txs:
                self.seal_batch()

    def _note_asset(self, tx: Transaction) -> None:
        asset = getattr(tx.body, "asset", None) or getattr(tx.body, "fee_asset", None)
        if asset:
            self.assets.add(asset)

    # --- reads of the live (soft-confirmed) state ---

    @property
    def pending(self) -> int:
        return self._pending

    def account(self, address: Address) -> tuple[Nonce, dict[AssetId, Amount]]:
        with self._lock:
            balances = {a: get_balance(self.state, address, a) for a in self.assets}
            return get_nonce(self.state, address), {a: v for a, v in balances.items() if v}

    def object(self, object_id: ObjectId) -> Object | None:
        with self._lock:
            return get_object(self.state, object_id)

    def state_root(self) -> Hash32:
        with self._lock:
            return compute_state_root(self.state)

    def snapshot(self) -> State:
        with self._lock:
            return self.state.copy()


def compute_data_pointer(tx_hashes: list[Hash32]) -> Hash32:
    """Content id of a batch's data. Until the trace-storage backends land, it commits to the
    ordered transaction hashes, whose transactions the node stores."""
    return keccak256(DATA_POINTER_TAG + b"".join(tx_hashes))

