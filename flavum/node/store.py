"""The node's SQLite store (WAL mode): the durable record the node restarts from.

The log of accepted transactions (with the execution of each inference) is the source of truth:
a restarted node replays it to rebuild the state, and checks every stored block root on the way.
Blocks, batches, traces and withdrawals are recorded as they are produced; accounts, balances
and objects are kept as readable tables, refreshed at every block.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavum.core.batch import BatchHeader, Trace, TraceEntry, TxCommitment, Withdrawal
from flavum.core.codec import (
    execution_from_json,
    execution_to_json,
    header_from_json,
    header_to_json,
    object_from_json,
    object_to_json,
    trace_from_json,
    trace_to_json,
    withdrawal_from_json,
    withdrawal_to_json,
)
from flavum.core.state import Object
from flavum.core.stf import AnyExecution
from flavum.core.types import Address, Amount, AssetId, Hash32, Nonce, ObjectId, ObjectKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS txs (
    seq INTEGER PRIMARY KEY,
    hash BLOB UNIQUE NOT NULL,
    raw BLOB NOT NULL,
    execution TEXT,
    sender BLOB NOT NULL,
    type TEXT NOT NULL,
    object_id BLOB,
    block INTEGER,
    received_at REAL NOT NULL,
    post_state_root BLOB NOT NULL,
    withdrawal_leaf BLOB NOT NULL,
    trace_leaf BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_sender ON txs(sender);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    state_root BLOB NOT NULL,
    batch INTEGER,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    number INTEGER PRIMARY KEY,
    batch_hash BLOB NOT NULL,
    header TEXT NOT NULL,
    first_block INTEGER NOT NULL,
    last_block INTEGER NOT NULL,
    tx_count INTEGER NOT NULL,
    sealed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS traces (
    tx_hash BLOB PRIMARY KEY,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    batch INTEGER,
    proof_status TEXT NOT NULL DEFAULT 'queued',
    proof BLOB,
    reason TEXT,
    proof_row INTEGER NOT NULL DEFAULT 0,
    proved_at REAL,
    model_id BLOB,  -- the entry's ids and the Infer's sender, kept as columns for the
    data_id BLOB,   -- indexes that list an object's or an account's inferences
    result_id BLOB,
    sender BLOB
);
CREATE TABLE IF NOT EXISTS withdrawals (
    withdrawal_id BLOB PRIMARY KEY,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    batch INTEGER
);
CREATE TABLE IF NOT EXISTS accounts (
    address BLOB PRIMARY KEY,
    nonce INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS balances (
    address BLOB NOT NULL,
    asset BLOB NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (address, asset)
);
CREATE TABLE IF NOT EXISTS objects (
    object_id BLOB PRIMARY KEY,
    kind INTEGER NOT NULL,
    owner BLOB NOT NULL,
    entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    vk_hash BLOB PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS data_inputs (
    commitment BLOB PRIMARY KEY,
    vk_hash BLOB NOT NULL,
    input_values TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_posts (
    ledger TEXT NOT NULL,
    batch INTEGER NOT NULL,
    state TEXT NOT NULL,
    tx_hash BLOB,
    detail TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (ledger, batch)
);
CREATE TABLE IF NOT EXISTS forced_requests (
    ledger TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    tx_hash BLOB,
    included INTEGER NOT NULL,
    reason TEXT,
    refused_at_seq INTEGER,  -- a refusal is judged on the state before this seq
    PRIMARY KEY (ledger, request_id)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Created after `_migrate_traces` (a store made before them lacks the columns until then).
_TRACE_INDEXES = """
CREATE INDEX IF NOT EXISTS traces_model ON traces(model_id, seq);
CREATE INDEX IF NOT EXISTS traces_data ON traces(data_id, seq);
CREATE INDEX IF NOT EXISTS traces_result ON traces(result_id, seq);
CREATE INDEX IF NOT EXISTS traces_sender ON traces(sender, seq);
"""
TRACE_KEYS = ("model_id", "data_id", "result_id", "sender")
"""What trace entries can be listed by (`Store.traces_by`)."""
# The columns that the row readers at the end of this module (_stored_tx, _block, _batch,
# _trace) take, in their order.
_SELECT_TXS = "SELECT seq, hash, raw, execution, block FROM txs"
_SELECT_BLOCKS = "SELECT number, first_seq, last_seq, state_root, batch, created_at FROM blocks"
_SELECT_BATCHES = (
    "SELECT header, batch_hash, first_block, last_block, tx_count, sealed_at FROM batches"
)
# A proof's time: from the Infer's receipt to the proof recorded.
_SELECT_TRACES = ("SELECT entry, batch, proof_status, proof, reason, proof_row, proved_at - "
                  "(SELECT received_at FROM txs WHERE txs.hash = traces.tx_hash), seq FROM traces")


@dataclass(frozen=True)
class ForcedRecord:
    """How the node handled a forced request: included (as tx_hash), or refused at a seq."""

    tx_hash: Hash32 | None
    included: bool
    refused_at_seq: int | None


@dataclass(frozen=True)
class StoredTx:
    seq: int
    hash: Hash32
    raw: bytes
    execution: AnyExecution | None
    block: int | None


@dataclass(frozen=True)
class AcceptedTx:
    """An accepted transaction with what it produced, as `Store.add_txs` records it."""

    seq: int
    commitment: TxCommitment
    raw: bytes
    sender: Address
    tx_type: str
    execution: AnyExecution | None
    object_id: ObjectId | None
    trace: Trace | None
    withdrawal: Withdrawal | None
    received_at: float


@dataclass(frozen=True)
class BlockRecord:
    number: int
    first_seq: int
    last_seq: int
    state_root: Hash32
    batch: int | None
    created_at: float


@dataclass(frozen=True)
class TraceRecord:
    entry: Trace
    batch: int | None
    proof_status: str  # queued, proving, proven, failed
    proof: bytes | None  # ezkl proof.json
    reason: str | None  # why proving failed
    row: int = 0  # which inference of a batched proof this entry is
    proof_seconds: float | None = None  # from the receipt to the proof; None: not proven
    seq: int = 0  # the Infer's place in the log: the cursor of trace listings


@dataclass(frozen=True)
class LedgerPost:
    """A batch's state on one ledger: pending, blocked, posted, anchored, accepted, reverted
    (by a fraud proof) or error."""

    name: str  # the ledger's name in the node's config
    state: str
    tx_hash: bytes | None  # the ledger transaction that carried it
    detail: str | None
    updated_at: float


@dataclass(frozen=True)
class StateChanges:
    """The readable state entries written since the last block, with their values now
    (0 or None: the entry is gone). The sequencer hands them to `Store.add_block`."""

    nonces: dict[Address, Nonce]
    balances: dict[tuple[Address, AssetId], Amount]
    objects: dict[ObjectId, Object | None]


@dataclass(frozen=True)
class BatchRecord:
    header: BatchHeader
    batch_hash: Hash32
    first_block: int
    last_block: int
    tx_count: int
    sealed_at: float


class Store:
    """All SQL lives here. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsynced before it returns, so a receipt survives a power loss
        # too; the sequencer's group commit makes that one fsync per group of transactions.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(traces)")}
        if "proved_at" not in columns:  # a store made before proof times were kept
            self._conn.execute("ALTER TABLE traces ADD COLUMN proved_at REAL")
        if "model_id" not in columns:  # a store made before traces were listed by key
            self._migrate_traces()
        self._conn.executescript(_TRACE_INDEXES)

    def _migrate_traces(self) -> None:
        """Add the key columns to an older store's traces and fill them from each entry and
        its Infer's sender."""
        with self._atomic():
            for column in TRACE_KEYS:
                self._conn.execute(f"ALTER TABLE traces ADD COLUMN {column} BLOB")
            entries = [trace_from_json(json.loads(row[0]))
                       for row in self._conn.execute("SELECT entry FROM traces")]
            self._conn.executemany(
                "UPDATE traces SET model_id = ?, data_id = ?, result_id = ?, sender = (SELECT"
                " sender FROM txs WHERE txs.hash = traces.tx_hash) WHERE tx_hash = ?",
                [(*_trace_keys(e), e.tx_hash) for e in entries])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- meta ---

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- transactions ---

    def known_txs(self, tx_hashes: list[Hash32]) -> set[Hash32]:
        """Which of `tx_hashes` are already recorded."""
        marks = ", ".join("?" for _ in tx_hashes)
        rows = self._all(f"SELECT hash FROM txs WHERE hash IN ({marks})", tuple(tx_hashes))
        return {Hash32(bytes(r[0])) for r in rows}

    def add_txs(self, txs: list[AcceptedTx]) -> None:
        """Record a group of accepted transactions with what they produced, in one SQL
        transaction: all of them durable at once, or none."""
        with self._atomic():
            self._conn.executemany(
                "INSERT INTO txs(seq, hash, raw, execution, sender, type, object_id, received_at,"
                " post_state_root, withdrawal_leaf, trace_leaf)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(t.seq, t.commitment.tx_hash, t.raw, _dump_execution(t.execution), t.sender,
                  t.tx_type, t.object_id, t.received_at, t.commitment.post_state_root,
                  t.commitment.withdrawal_leaf, t.commitment.trace_leaf) for t in txs],
            )
            for t in txs:
                if t.trace is not None:
                    self._conn.execute(
                        "INSERT INTO traces(tx_hash, seq, entry, model_id, data_id, result_id,"
                        " sender) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (t.commitment.tx_hash, t.seq, json.dumps(trace_to_json(t.trace)),
                         *_trace_keys(t.trace), t.sender),
                    )
                if t.withdrawal is not None:
                    self._conn.execute(
                        "INSERT INTO withdrawals(withdrawal_id, seq, entry) VALUES (?, ?, ?)",
                        (t.withdrawal.withdrawal_id, t.seq,
                         json.dumps(withdrawal_to_json(t.withdrawal))),
                    )

    def iter_txs(self) -> Iterator[StoredTx]:
        for row in self._all(_SELECT_TXS + " ORDER BY seq", ()):
            yield _stored_tx(row)

    def txs_in(self, first_seq: int, last_seq: int) -> list[StoredTx]:
        rows = self._all(_SELECT_TXS + " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [_stored_tx(r) for r in rows]

    def get_tx(self, tx_hash: Hash32) -> StoredTx | None:
        row = self._one(_SELECT_TXS + " WHERE hash = ?", (tx_hash,))
        return None if row is None else _stored_tx(row)

    def commitments(self, first_seq: int, last_seq: int) -> list[TxCommitment]:
        """What each transaction in the span did: its leaf in the batch's tx root."""
        rows = self._all("SELECT hash, post_state_root, withdrawal_leaf, trace_leaf FROM txs"
                         " WHERE seq BETWEEN ? AND ? ORDER BY seq", (first_seq, last_seq))
        return [TxCommitment(*(Hash32(bytes(v)) for v in row)) for row in rows]

    def tx_hashes(self, first_seq: int, last_seq: int) -> list[Hash32]:
        rows = self._all("SELECT hash FROM txs WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [Hash32(r[0]) for r in rows]

    def unblocked_seqs(self) -> tuple[int, int] | None:
        row = self._one("SELECT MIN(seq), MAX(seq) FROM txs WHERE block IS NULL", ())
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def count_txs(self) -> int:
        row = self._one("SELECT COUNT(*) FROM txs", ())
        return int(row[0]) if row else 0

    # --- blocks ---

    def add_block(self, block: BlockRecord, changes: StateChanges) -> None:
        """Record a block, mark its transactions, and refresh the readable state tables with
        the entries written since the last block."""
        with self._atomic():
            self._conn.execute(
                "INSERT INTO blocks(number, first_seq, last_seq, state_root, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (block.number, block.first_seq, block.last_seq, block.state_root,
                 block.created_at),
            )
            self._conn.execute(
                "UPDATE txs SET block = ? WHERE seq BETWEEN ? AND ?",
                (block.number, block.first_seq, block.last_seq),
            )
            self._write_state_changes(changes)

    def _write_state_changes(self, changes: StateChanges) -> None:
        execute = self._conn.executemany  # one call per table: a block changes many rows
        execute("INSERT OR REPLACE INTO accounts(address, nonce) VALUES (?, ?)",
                list(changes.nonces.items()))
        balances = changes.balances.items()
        execute("INSERT OR REPLACE INTO balances(address, asset, amount) VALUES (?, ?, ?)",
                [(address, asset, str(amount)) for (address, asset), amount in balances if amount])
        execute("DELETE FROM balances WHERE address = ? AND asset = ?",
                [key for key, amount in balances if not amount])
        objects = changes.objects.items()
        execute("DELETE FROM objects WHERE object_id = ?",
                [(object_id,) for object_id, obj in objects if obj is None])
        execute("INSERT OR REPLACE INTO objects(object_id, kind, owner, entry) VALUES (?, ?, ?, ?)",
                [(object_id, int(obj.kind), obj.owner, json.dumps(object_to_json(obj)))
                 for object_id, obj in objects if obj is not None])

    def last_block(self) -> BlockRecord | None:
        row = self._one(_SELECT_BLOCKS + " ORDER BY number DESC LIMIT 1", ())
        return None if row is None else _block(row)

    def blocks(self, first: int, last: int) -> list[BlockRecord]:
        rows = self._all(_SELECT_BLOCKS + " WHERE number BETWEEN ? AND ? ORDER BY number",
                         (first, last))
        return [_block(r) for r in rows]

    def unbatched_blocks(self) -> list[BlockRecord]:
        rows = self._all(_SELECT_BLOCKS + " WHERE batch IS NULL ORDER BY number", ())
        return [_block(r) for r in rows]

    # --- batches ---

    def add_batch(self, batch: BatchRecord) -> None:
        first_seq, last_seq = self.batch_seq_span(batch)
        with self._atomic():
            self._conn.execute(
                "INSERT INTO batches(number, batch_hash, header, first_block, last_block,"
                " tx_count, sealed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (batch.header.number, batch.batch_hash,
                 json.dumps(header_to_json(batch.header)), batch.first_block,
                 batch.last_block, batch.tx_count, batch.sealed_at),
            )
            number = batch.header.number
            span = (batch.first_block, batch.last_block)
            self._conn.execute("UPDATE blocks SET batch = ? WHERE number BETWEEN ? AND ?",
                               (number, *span))
            for table in ("traces", "withdrawals"):
                self._conn.execute(f"UPDATE {table} SET batch = ? WHERE seq BETWEEN ? AND ?",
                                   (number, first_seq, last_seq))

    def batches(self) -> list[BatchRecord]:
        rows = self._all(_SELECT_BATCHES + " ORDER BY number", ())
        return [_batch(r) for r in rows]

    def get_batch(self, number: int) -> BatchRecord | None:
        row = self._one(_SELECT_BATCHES + " WHERE number = ?", (number,))
        return None if row is None else _batch(row)

    def traces_in(self, first_seq: int, last_seq: int) -> list[Trace]:
        rows = self._all("SELECT entry FROM traces WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [trace_from_json(json.loads(r[0])) for r in rows]

    def withdrawals_in(self, first_seq: int, last_seq: int) -> list[Withdrawal]:
        rows = self._all("SELECT entry FROM withdrawals WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [withdrawal_from_json(json.loads(r[0])) for r in rows]

    # --- proofs of trace entries ---

    def get_trace(self, tx_hash: Hash32) -> TraceRecord | None:
        row = self._one(_SELECT_TRACES + " WHERE tx_hash = ?", (tx_hash,))
        return None if row is None else _trace(row)

    def traces_with_status(self, *statuses: str) -> list[TraceRecord]:
        marks = ", ".join("?" for _ in statuses)
        rows = self._all(_SELECT_TRACES + f" WHERE proof_status IN ({marks}) ORDER BY seq",
                         statuses)
        return [_trace(r) for r in rows]

    def set_proof_status(self, tx_hash: Hash32, status: str, reason: str | None = None) -> None:
        self._exec("UPDATE traces SET proof_status = ?, reason = ? WHERE tx_hash = ?",
                   (status, reason, tx_hash))

    def set_proof(self, tx_hash: Hash32, proof: bytes, row: int = 0) -> None:
        self._exec("UPDATE traces SET proof_status = 'proven', proof = ?, reason = NULL,"
                   " proof_row = ?, proved_at = ? WHERE tx_hash = ?",
                   (proof, row, time.time(), tx_hash))

    # --- ledgers ---

    def set_ledger_post(self, ledger: str, batch: int, state: str, tx_hash: bytes | None,
                        detail: str | None, at: float) -> None:
        """Record a batch's state on a ledger: pending, blocked, posted, anchored, accepted,
        reverted (by a fraud proof), error."""
        self._exec("INSERT OR REPLACE INTO ledger_posts(ledger, batch, state, tx_hash, detail,"
                   " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                   (ledger, batch, state, tx_hash, detail, at))

    def ledger_posts(self, batch: int) -> list[LedgerPost]:
        rows = self._all("SELECT ledger, state, tx_hash, detail, updated_at FROM ledger_posts"
                         " WHERE batch = ? ORDER BY ledger", (batch,))
        return [LedgerPost(str(r[0]), str(r[1]), bytes(r[2]) if r[2] else None, r[3],
                           float(r[4])) for r in rows]

    def ledger_batches(self, ledger: str, state: str, from_batch: int) -> list[int]:
        """The batches from `from_batch` on whose state on `ledger` is `state`, in order."""
        rows = self._all("SELECT batch FROM ledger_posts WHERE ledger = ? AND state = ?"
                         " AND batch >= ? ORDER BY batch", (ledger, state, from_batch))
        return [int(r[0]) for r in rows]

    def set_forced(self, ledger: str, request_id: int, tx_hash: bytes | None, included: bool,
                   reason: str | None, refused_at_seq: int | None = None) -> None:
        self._exec("INSERT OR REPLACE INTO forced_requests(ledger, request_id, tx_hash, included,"
                   " reason, refused_at_seq) VALUES (?, ?, ?, ?, ?, ?)",
                   (ledger, request_id, tx_hash, int(included), reason, refused_at_seq))

    def get_forced(self, ledger: str, request_id: int) -> ForcedRecord | None:
        row = self._one("SELECT tx_hash, included, refused_at_seq FROM forced_requests WHERE"
                        " ledger = ? AND request_id = ?", (ledger, request_id))
        if row is None:
            return None
        return ForcedRecord(Hash32(row[0]) if row[0] else None, bool(row[1]),
                            None if row[2] is None else int(row[2]))

    def next_seq(self) -> int:
        """The seq the next accepted transaction takes."""
        row = self._one("SELECT COALESCE(MAX(seq), 0) + 1 FROM txs", ())
        return int(row[0]) if row else 1

    def batch_seq_span(self, batch: BatchRecord) -> tuple[int, int]:
        first = self.blocks(batch.first_block, batch.first_block)[0].first_seq
        last = self.blocks(batch.last_block, batch.last_block)[0].last_seq
        return first, last

    def raw_txs(self, first_seq: int, last_seq: int) -> list[bytes]:
        rows = self._all("SELECT raw FROM txs WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [bytes(r[0]) for r in rows]

    def trace_records_in(self, first_seq: int, last_seq: int) -> list[TraceRecord]:
        rows = self._all(_SELECT_TRACES + " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         (first_seq, last_seq))
        return [_trace(r) for r in rows]

    def find_withdrawal(self, withdrawal_id: Hash32) -> tuple[Withdrawal, int | None] | None:
        row = self._one("SELECT entry, batch FROM withdrawals WHERE withdrawal_id = ?",
                        (withdrawal_id,))
        return None if row is None else (withdrawal_from_json(json.loads(row[0])), row[1])

    # --- compiled models and raw data inputs (node-local, never on a ledger) ---

    def put_model_record(self, vk_hash: Hash32, record: str) -> None:
        self._exec("INSERT OR REPLACE INTO models(vk_hash, record) VALUES (?, ?)",
                   (vk_hash, record))

    def get_model_record(self, vk_hash: Hash32) -> str | None:
        row = self._one("SELECT record FROM models WHERE vk_hash = ?", (vk_hash,))
        return None if row is None else str(row[0])

    def put_data_input(self, commitment: Hash32, vk_hash: Hash32, values: str) -> None:
        self._exec("INSERT OR REPLACE INTO data_inputs(commitment, vk_hash, input_values)"
                   " VALUES (?, ?, ?)", (commitment, vk_hash, values))

    def get_data_input(self, commitment: Hash32) -> tuple[Hash32, str] | None:
        row = self._one("SELECT vk_hash, input_values FROM data_inputs WHERE commitment = ?",
                        (commitment,))
        return None if row is None else (Hash32(row[0]), str(row[1]))

    # --- readable state ---

    def account(self, address: Address) -> tuple[int, dict[AssetId, Amount]]:
        row = self._one("SELECT nonce FROM accounts WHERE address = ?", (address,))
        rows = self._all("SELECT asset, amount FROM balances WHERE address = ?", (address,))
        return (int(row[0]) if row else 0), {AssetId(a): Amount(int(v)) for a, v in rows}

    def objects(self, kind: ObjectKind, limit: int = 100) -> list[Object]:
        """Objects of a kind as of the last block, most recent first."""
        rows = self._all("SELECT entry FROM objects WHERE kind = ? ORDER BY rowid DESC LIMIT ?",
                         (int(kind), limit))
        return [object_from_json(json.loads(r[0])) for r in rows]

    def recent_traces(self, limit: int = 100) -> list[TraceRecord]:
        rows = self._all(_SELECT_TRACES + " ORDER BY seq DESC LIMIT ?", (limit,))
        return [_trace(r) for r in rows]

    def traces_by(self, key: str, value: bytes, before: int | None,
                  limit: int) -> list[TraceRecord]:
        """The trace entries whose `key` (one of TRACE_KEYS) is `value`, most recent first,
        from seq `before` down (exclusive; None: from the newest)."""
        if key not in TRACE_KEYS:
            raise ValueError(f"traces are listed by {TRACE_KEYS}, not {key!r}")
        rows = self._all(_SELECT_TRACES + f" WHERE {key} = ? AND seq < ? ORDER BY seq DESC"
                         " LIMIT ?", (value, 2**63 - 1 if before is None else before, limit))
        return [_trace(r) for r in rows]

    def recent_withdrawals(self, limit: int = 100) -> list[tuple[Withdrawal, int | None]]:
        rows = self._all("SELECT entry, batch FROM withdrawals ORDER BY seq DESC LIMIT ?",
                         (limit,))
        return [(withdrawal_from_json(json.loads(r[0])), r[1]) for r in rows]

    # --- helpers ---

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """One SQL transaction under the lock: committed at the end, rolled back on an error."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.execute(sql, params)


def _dump_execution(execution: AnyExecution | None) -> str | None:
    return None if execution is None else json.dumps(execution_to_json(execution))


def _load_execution(text: str | None) -> AnyExecution | None:
    return None if text is None else execution_from_json(json.loads(text))


def _trace_keys(trace: Trace) -> tuple[bytes, bytes | None, bytes]:
    """The ids a trace entry is listed by: its model, data and result; a training's step
    circuit and the version it made."""
    if isinstance(trace, TraceEntry):
        return trace.model_id, trace.data_id, trace.result_id
    return trace.step_model_id, None, trace.version_id


def _stored_tx(row: Any) -> StoredTx:
    return StoredTx(row[0], Hash32(row[1]), row[2], _load_execution(row[3]), row[4])


def _block(row: Any) -> BlockRecord:
    return BlockRecord(int(row[0]), int(row[1]), int(row[2]), Hash32(row[3]), row[4],
                       float(row[5]))


def _trace(row: Any) -> TraceRecord:
    return TraceRecord(trace_from_json(json.loads(row[0])), row[1], str(row[2]), row[3], row[4],
                       int(row[5]), None if row[6] is None else float(row[6]), int(row[7]))


def _batch(row: Any) -> BatchRecord:
    return BatchRecord(header_from_json(json.loads(row[0])), Hash32(row[1]), int(row[2]),
                       int(row[3]), int(row[4]), float(row[5]))
