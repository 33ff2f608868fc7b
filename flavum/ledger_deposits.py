"""A ledger's confirmed deposits, and whether a batch's Deposit transactions are among them.

The state transition takes a Deposit transaction on the sequencer's word. On an EVM rollup the
contract checks each one against the bridge's inbox when the batch is posted; an anchoring
ledger (Litecoin) checks nothing, so the independent verifier (flavum/verifier.py, its
"deposits" check) and each federation signer (flavum/signer.py, through the verifier) check
them here, against the ledger itself, read through the Ledger interface only.
"""

from __future__ import annotations

from collections.abc import Sequence

from flavum.core.codec import to_hex
from flavum.core.transactions import Deposit, Transaction
from flavum.core.types import Hash32
from flavum.l1.interface import DepositEvent, Ledger

# What a Deposit transaction credits, each as the ledger's deposit event must have it.
DEPOSIT_FIELDS = ("recipient", "token", "amount", "data_commitment", "metadata_hash")


class LedgerDeposits:
    """The deposits a ledger holds confirmed, by the rule the node's watcher credits them with
    (flavum/node/watcher.py): in blocks `start_block` .. head - `confirmations`, i.e. with at
    least `confirmations` blocks on top. Read as a batch needs them and kept: a later read only adds
    the blocks confirmed since, while the last block read is still on the ledger's chain (a
    reorg below it changes that block's hash: everything is read again).

    Used on every ledger alike. On an EVM rollup the contract has already refused any Deposit
    its inbox does not hold, so there this is a second opinion; it costs one read of the
    deposits a run (none for batches crediting no deposit of the ledger), and the verifier's
    report means the same on every ledger. On an anchoring ledger nothing else checks it."""

    MAX_RANGE = 2_000  # blocks one read asks for (RPC providers cap log queries)

    def __init__(self, ledger: Ledger, confirmations: int, start_block: int = 0) -> None:
        self.ledger = ledger
        self.confirmations = confirmations
        self.start_block = start_block
        self._held: dict[Hash32, DepositEvent] = {}
        self._read_to = start_block - 1  # the last block read
        self._read_hash: Hash32 | None = None  # its hash when it was read

    def held(self) -> dict[Hash32, DepositEvent]:
        """Every deposit the ledger holds confirmed as of its head now, by event id."""
        ledger = self.ledger
        if (self._read_to >= self.start_block
                and ledger.block_hash(self._read_to) != self._read_hash):
            self._held, self._read_to = {}, self.start_block - 1
        last = ledger.head() - self.confirmations
        while self._read_to < last:
            end = min(last, self._read_to + self.MAX_RANGE)
            self._held.update((e.event_id, e) for e in ledger.deposits(self._read_to + 1, end))
            self._read_to, self._read_hash = end, ledger.block_hash(end)
        return self._held

    def refusal(self, txs: Sequence[Transaction]) -> str | None:
        """Why a batch of `txs` credits a deposit of this ledger that the ledger does not hold
        confirmed, as it was made; None when it credits none such. Deposits of another ledger
        credit another asset, which this ledger never pays: not its to vouch for. Reading the
        ledger may raise its errors (LedgerUnreachable, LedgerError)."""
        held: dict[Hash32, DepositEvent] | None = None
        name = self.ledger.name
        for index, tx in enumerate(txs):
            body = tx.body
            if not isinstance(body, Deposit) or body.ledger != self.ledger.ledger_id:
                continue
            if held is None:  # the ledger is read only for a batch crediting its deposits
                held = self.held()
            where = (f"transaction {index} credits {body.amount} to {to_hex(body.recipient)} "
                     f"for deposit {to_hex(body.event_id)}")
            event = held.get(body.event_id)
            if event is None:
                return (f"{where}, which ledger {name} does not hold with {self.confirmations} "
                        f"blocks on top (blocks {self.start_block}..{self._read_to})")
            for field in DEPOSIT_FIELDS:
                credited, made = getattr(body, field), getattr(event, field)
                if credited != made:
                    return (f"{where}: ledger {name}'s deposit has {field} {_show(made)}, the "
                            f"transaction {_show(credited)}")
        return None


def _show(value: object) -> str:
    return to_hex(value) if isinstance(value, bytes) else str(value)
