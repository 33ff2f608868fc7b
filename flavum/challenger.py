"""The challenger: the verifier's answer to a bad batch on a ledger that settles by fraud proofs.

It follows the ledger's accepted batches from genesis with a full replica of the rollup state,
replaying each batch's posted transactions (read from the ledger itself) one by one. At the
first transaction that the rules refuse, or whose committed post-state root or emissions are
not what it does, or at the first forced request the batch refused where it was valid, it
builds the one-step witness (core/step_witness.py) on the state there and submits the fraud
proof. A batch still in its window is challenged; the
ledger reverts it and every later one. Inference executions come from the proofs posted with
the batch (their public values: input commitment and outputs, checked by the ledger at
posting), so the challenger needs nothing but the ledger: not the batch data, which a lying
sequencer may withhold or forge. `replay` alone (no key) follows the ledger to its last
batch: the escape hatch (escape.py) rebuilds the final state with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from flavum.core.batch import BatchHeader, TraceEntry, compute_tx_commitment
from flavum.core.errors import FlavumError, InvalidTransaction
from flavum.core.state import State, compute_state_root
from flavum.core.step_witness import compute_step_witness
from flavum.core.stf import Execution, process_transaction
from flavum.core.transactions import decode_transaction
from flavum.core.types import Hash32
from flavum.l1.interface import BatchTx, ForcedInclusion, Ledger


@dataclass(frozen=True)
class Fraud:
    """The first bad transaction of batch `number`, and why."""

    number: int
    index: int  # the transaction, or the position of a wrongly refused forced request
    reason: str
    challenge_tx: Hash32 | None = None  # the ledger transaction that proved it, once sent
    refusal: ForcedInclusion | None = None  # the refused request, for a wrong refusal


class Challenger:
    """Replays every accepted batch of `ledger` on a replica of the state from `genesis`;
    `key` sends the challenges (None: replay only)."""

    def __init__(self, ledger: Ledger, genesis: State, key: bytes | None) -> None:
        self.ledger = ledger
        self.state = genesis.copy()
        self.key = key
        self.next_number = 0

    def run(self) -> list[Fraud]:
        """Check every batch not checked yet; challenge the first bad one (the ledger reverts
        it and all later ones, so checking stops there). Returns the frauds found."""
        found = self._find()
        if found is None:
            return []
        fraud, posting = found
        posted = self.ledger.posted_batch(fraud.number)
        if posted is None or posted.header is None:
            raise FlavumError(f"the ledger holds no header of batch {fraud.number}")
        return [self._challenge(fraud, posted.header, posting)]

    def replay(self) -> Fraud | None:
        """Apply every batch not applied yet to the replica, up to the first bad one, which is
        returned (the replica stays at the state before it)."""
        found = self._find()
        return None if found is None else found[0]

    def _find(self) -> tuple[Fraud, _Posting] | None:
        """`replay`, with the bad batch's posting as read (the challenge reuses it)."""
        while self.next_number < self.ledger.next_batch_number():
            number = self.next_number
            posting = self._posting(number)
            start = self.state.copy()
            fraud = self._replay(number, posting)
            if fraud is not None:
                self.state = start  # the batch does not stand
                return fraud, posting
            self.next_number += 1
        return None

    def _posting(self, number: int) -> _Posting:
        """Batch `number` as posted: its transactions, each Infer's proven execution, and its
        refusals of forced requests."""
        txs = self.ledger.posted_txs(number)
        proven = self.ledger.posted_executions(number)
        return _Posting(txs, [proven.get(tx.commitment.tx_hash) for tx in txs],
                        self._refusals(number))

    def _refusals(self, number: int) -> dict[int, list[tuple[ForcedInclusion, bytes]]]:
        """The forced requests batch `number` refused, with their transactions, by position."""
        if not self.ledger.capabilities.forced_inclusion:
            return {}
        refused = [f for f in self.ledger.posted_forced(number) if not f.included]
        if not refused:
            return {}
        raws = {r.request_id: r.raw_tx for r in self.ledger.forced_requests(only_pending=False)}
        by_position: dict[int, list[tuple[ForcedInclusion, bytes]]] = {}
        for f in refused:
            by_position.setdefault(f.tx_index, []).append((f, raws[f.request_id]))
        return by_position

    def _replay(self, number: int, posting: _Posting) -> Fraud | None:
        """Apply batch `number`'s transactions to the replica, up to the first bad one (a
        transaction, or a refusal of a forced request that is valid where it was refused)."""
        txs, executions = posting.txs, posting.executions
        for index in range(len(txs) + 1):
            for refusal, raw in posting.refusals.get(index, []):
                if _valid(self.state, raw):
                    return Fraud(number, index, "a valid forced transaction was refused",
                                 refusal=refusal)
            if index == len(txs):
                return None
            reason = self._apply(txs[index], executions[index])
            if reason is not None:
                return Fraud(number, index, reason)
        return None

    def _apply(self, posted: BatchTx, execution: Execution | None) -> str | None:
        try:
            tx = decode_transaction(posted.raw)
            outcome = process_transaction(self.state, tx, execution)
        except InvalidTransaction as exc:
            return f"the rules refuse it: {exc}"
        mine = compute_tx_commitment(outcome.tx_hash, compute_state_root(self.state),
                                     outcome.trace, outcome.withdrawal)
        committed = posted.commitment
        if mine.post_state_root != committed.post_state_root:
            return "wrong post-state root"
        if (mine.withdrawal_leaf, mine.trace_leaf) != (committed.withdrawal_leaf,
                                                        committed.trace_leaf):
            return "wrong emission"
        return None

    def _challenge(self, fraud: Fraud, header: BatchHeader, posting: _Posting) -> Fraud:
        index = fraud.index
        txs, executions = posting.txs, posting.executions
        pre = self.state.copy()  # the batch's pre-state, then the transactions before `index`
        for tx, execution in zip(txs[:index], executions[:index], strict=True):
            process_transaction(pre, decode_transaction(tx.raw), execution)
        if self.key is None:
            raise FlavumError("this challenger has no key to send a challenge with")
        if fraud.refusal is not None:
            raw = next(r for f, r in posting.refusals[index] if f == fraud.refusal)
            witness = compute_step_witness(pre, decode_transaction(raw), None)
            sent = self.ledger.challenge_refusal(header, txs, fraud.refusal, raw, witness,
                                                 self.key)
            return replace(fraud, challenge_tx=sent)
        witness = compute_step_witness(pre, decode_transaction(txs[index].raw), executions[index])
        trace = _committed_trace(pre, txs[index], executions[index])
        sent = self.ledger.challenge(header, txs, index, witness, trace, self.key)
        return replace(fraud, challenge_tx=sent)


class _Posting(NamedTuple):
    txs: list[BatchTx]
    executions: list[Execution | None]
    refusals: dict[int, list[tuple[ForcedInclusion, bytes]]]  # by position


def _valid(state: State, raw: bytes) -> bool:
    """Whether the rules take transaction `raw` on `state` (which is left as it is)."""
    try:
        process_transaction(state.copy(), decode_transaction(raw))
    except InvalidTransaction:
        return False
    return True


def _committed_trace(pre: State, posted: BatchTx, execution: Execution | None
                     ) -> TraceEntry | None:
    """The trace entry behind the committed trace leaf: what the honest rules give for this
    inference (if its leaf is another, the executor finds the fraud in the claim)."""
    if execution is None:
        return None
    state = pre.copy()
    try:
        outcome = process_transaction(state, decode_transaction(posted.raw), execution)
    except InvalidTransaction:
        return None
    return outcome.trace
