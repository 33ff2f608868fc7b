"""The ledger watcher: bridge deposits become Deposit transactions, exactly once each.

Each poll reads the deposits in the blocks that have `confirmations` blocks on top of them and
submits one Deposit system transaction per event, keyed by its event id. The watcher keeps its
own cursor in SQLite: the next block to scan, the hashes of the blocks it scanned, and the
events it submitted, so a restarted watcher resumes where it was, and a replayed event is
skipped (and would be refused by the state anyway: DepositAlreadyApplied).

A ledger that numbers its deposits (an inbox: `DepositEvent.index`, the EVM bridge) is credited
in index order only, as the rollup contract consumes the inbox: when deposit k+2 shows up
before k+1, the watcher waits, rescanning from the block of the last deposit it credited.

Reorgs: a deposit in a block that is not yet confirmed is never read, so a reorg shallower than
`confirmations` cannot credit a vanished deposit. If a scanned block's hash changes (a reorg
deeper than the confirmations), the cursor moves back to the last block whose hash still
matches and the reorg is counted in `deep_reorgs`. An id does not depend on the block (the
inbox index on the EVM, the txid on Litecoin), so a deposit the reorg re-mines is the same
deposit and is credited once. A deposit credited from dropped blocks that is not on the new
chain cannot be taken back: the poll raises DepositReorged (and unwinds nothing) for as long as
the chain lacks it, which is why `confirmations` must exceed the deepest reorg the ledger can
have.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavum.core.codec import to_hex
from flavum.core.errors import DepositAlreadyApplied
from flavum.core.state import Domain
from flavum.core.transactions import Deposit, Transaction, compute_tx_hash
from flavum.core.types import ZERO_ADDRESS, Hash32, Nonce
from flavum.l1.errors import DepositReorged
from flavum.l1.interface import DepositEvent, Ledger

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (ledger BLOB PRIMARY KEY, next_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scanned (ledger BLOB, number INTEGER, hash BLOB NOT NULL,
                                    PRIMARY KEY (ledger, number));
CREATE TABLE IF NOT EXISTS events (event_id BLOB PRIMARY KEY, ledger BLOB NOT NULL,
                                   block_number INTEGER NOT NULL, deposit_index INTEGER,
                                   tx_hash BLOB);
"""
KEEP_SCANNED = 64  # hashes of the last scanned blocks, to detect (and unwind) deep reorgs


def make_deposit_transaction(domain: Domain, ledger: Hash32, event: DepositEvent) -> Transaction:
    """The Deposit system transaction mirroring one bridge event of `ledger`."""
    body = Deposit(
        ledger=ledger, event_id=event.event_id, recipient=event.recipient, token=event.token,
        amount=event.amount, data_commitment=event.data_commitment,
        metadata_hash=event.metadata_hash,
    )
    return Transaction(domain.chain_id, domain.rollup_id, ZERO_ADDRESS, Nonce(0), body)


@dataclass(frozen=True)
class PollResult:
    scanned_to: int | None  # last block scanned; None: nothing confirmed yet, or a deposit missing
    submitted: int
    skipped: int  # events already submitted (or refused as already applied)


class LedgerWatcher:
    """Polls one ledger. `submit` takes a Deposit transaction (e.g. Sequencer.submit_system)."""

    def __init__(
        self, ledger: Ledger, submit: Callable[[Transaction], Any], domain: Domain,
        cursor_path: Path | str, *, confirmations: int, start_block: int = 0,
        max_range: int = 2_000,
    ) -> None:
        if confirmations < 0:
            raise ValueError("confirmations must be >= 0")
        self.ledger = ledger
        self.submit = submit
        self.domain = domain
        self.confirmations = confirmations
        self.start_block = start_block
        self.max_range = max_range
        self.deep_reorgs = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(cursor_path), check_same_thread=False)
        self._db.executescript(SCHEMA)
        self._key = ledger.ledger_id
        if self._next_block() is None:
            self._db.execute("INSERT INTO cursor VALUES (?, ?)", (self._key, start_block))
            self._db.commit()

    def close(self) -> None:
        self._db.close()

    def _next_block(self) -> int | None:
        row = self._db.execute("SELECT next_block FROM cursor WHERE ledger = ?",
                               (self._key,)).fetchone()
        return None if row is None else int(row[0])

    def is_submitted(self, event_id: bytes) -> bool:
        return self._db.execute("SELECT 1 FROM events WHERE event_id = ?",
                                (event_id,)).fetchone() is not None

    def poll(self) -> PollResult:
        """Scan newly confirmed blocks (at most max_range of them) and submit their deposits."""
        with self._lock:
            self._unwind_deep_reorg()
            start = self._next_block()
            if start is None:
                raise RuntimeError("the watcher's cursor row is missing")
            safe = self.ledger.head() - self.confirmations
            if safe < start:
                return PollResult(None, 0, 0)
            end = min(safe, start + self.max_range - 1)
            submitted = skipped = 0
            expected = self._next_deposit_index()
            for event in self.ledger.deposits(start, end):
                if event.index is not None and event.index > expected:
                    self._wait_for_deposit(expected, event.index)
                    return PollResult(None, submitted, skipped)
                if self._submit_once(event):
                    submitted += 1
                else:
                    skipped += 1
                if event.index == expected:
                    expected += 1
            self._record_scanned(start, end)
            return PollResult(end, submitted, skipped)

    def _next_deposit_index(self) -> int:
        """The inbox index to credit next: one past the highest recorded."""
        row = self._db.execute("SELECT MAX(deposit_index) FROM events WHERE ledger = ?",
                               (self._key,)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def _wait_for_deposit(self, expected: int, seen: int) -> None:
        """Deposit `seen` came before `expected`: the rollup contract would refuse it out of
        order. Rescan from the block of the last deposit credited until `expected` shows up."""
        row = self._db.execute(
            "SELECT block_number FROM events WHERE ledger = ? AND deposit_index = ?",
            (self._key, expected - 1)).fetchone()
        resume = self.start_block if row is None else int(row[0])
        log.warning("ledger %s: deposit %d seen before deposit %d; waiting for it from block %d",
                    self.ledger.name, seen, expected, resume)
        self._db.execute("UPDATE cursor SET next_block = ? WHERE ledger = ?",
                         (resume, self._key))
        self._db.commit()

    def _submit_once(self, event: DepositEvent) -> bool:
        if self.is_submitted(event.event_id):
            return False
        tx = make_deposit_transaction(self.domain, self.ledger.ledger_id, event)
        fresh = True
        try:
            receipt = self.submit(tx)
            tx_hash = getattr(receipt, "tx_hash", None)
        except DepositAlreadyApplied:
            # Submitted before a crash that came before our record of it.
            tx_hash, fresh = None, False
        self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                         (event.event_id, self._key, event.block_number, event.index, tx_hash))
        self._db.commit()
        return fresh

    def _record_scanned(self, start: int, end: int) -> None:
        rows = []
        for number in range(max(start, end - KEEP_SCANNED + 1), end + 1):
            block_hash = self.ledger.block_hash(number)
            if block_hash is not None:
                rows.append((self._key, number, block_hash))
        self._db.executemany("INSERT OR REPLACE INTO scanned VALUES (?, ?, ?)", rows)
        self._db.execute("UPDATE cursor SET next_block = ? WHERE ledger = ?", (end + 1, self._key))
        self._db.execute("DELETE FROM scanned WHERE ledger = ? AND number < ?",
                         (self._key, end + 1 - KEEP_SCANNED))
        self._db.commit()

    def _unwind_deep_reorg(self) -> None:
        """Move the cursor back past scanned blocks whose hash changed (reorg > confirmations)."""
        rows = self._db.execute(
            "SELECT number, hash FROM scanned WHERE ledger = ? ORDER BY number DESC",
            (self._key,)).fetchall()
        unwind_to = None
        for number, block_hash in rows:
            if self.ledger.block_hash(number) == bytes(block_hash):
                break
            unwind_to = number
        if unwind_to is None:
            return
        self._check_credited_deposits_kept(unwind_to)
        self.deep_reorgs += 1
        log.warning("ledger %s reorganised below the confirmation depth, back to block %d",
                    self.ledger.name, unwind_to)
        self._db.execute("DELETE FROM scanned WHERE ledger = ? AND number >= ?",
                         (self._key, unwind_to))
        self._db.execute("UPDATE cursor SET next_block = ? WHERE ledger = ?",
                         (unwind_to, self._key))
        self._db.commit()

    def _check_credited_deposits_kept(self, from_block: int) -> None:
        """DepositReorged when a deposit credited from a block at or after `from_block` is no
        longer on the ledger as it was credited (gone, or another deposit under its inbox
        index). Nothing is unwound then: the check is made again at the next poll, and passes
        if the chain brings the deposit back."""
        credited = self._db.execute(
            "SELECT event_id, block_number, tx_hash FROM events WHERE ledger = ? AND "
            "block_number >= ? ORDER BY block_number", (self._key, from_block)).fetchall()
        if not credited:
            return
        head = self.ledger.head()
        now: dict[bytes, DepositEvent] = (
            {e.event_id: e for e in self.ledger.deposits(from_block, head)}
            if head >= from_block else {})
        for event_id, block, tx_hash in credited:
            event = now.get(bytes(event_id))
            changed = event is not None and tx_hash is not None and compute_tx_hash(
                make_deposit_transaction(self.domain, self.ledger.ledger_id, event)) != tx_hash
            if event is None or changed:
                raise DepositReorged(
                    f"ledger {self.ledger.name} reorganised below the confirmation depth (from "
                    f"block {from_block}) and {'changed' if changed else 'dropped'} deposit "
                    f"{to_hex(bytes(event_id))}, credited from block {block}: a credit cannot "
                    f"be taken back (confirmations = {self.confirmations} is below this "
                    "reorg's depth)")
