"""The deposits check's ledger reading (flavum/ledger_deposits.py) on the in-memory ledger:
the watcher's confirmation rule, every credited field, other ledgers left alone, reads kept
and extended, and a reorg that drops a deposit (the real-ledger cases are in test_verifier.py
for the EVM and test_litecoin.py for Litecoin)."""

from dataclasses import replace

from flavum.core.codec import to_hex
from flavum.core.transactions import Deposit, Transaction, Transfer
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Address, Amount, ChainId, Hash32, Nonce
from flavum.l1.fake import FakeLedger
from flavum.l1.interface import DepositEvent
from flavum.ledger_deposits import LedgerDeposits

ALICE, BOB = Address(b"\xa1" * 20), Address(b"\xb0" * 20)
ROLLUP = Hash32(b"\x01" * 32)


def deposit_tx(on: FakeLedger, event: DepositEvent, **changes: object) -> Transaction:
    """The Deposit the watcher makes of `event` on ledger `on`, with `changes` a liar makes."""
    body = Deposit(on.ledger_id, event.event_id, event.recipient, event.token, event.amount,
                   event.data_commitment, event.metadata_hash)
    return Transaction(ChainId(1), ROLLUP, ZERO_ADDRESS, Nonce(0), replace(body, **changes))


class CountingLedger(FakeLedger):
    def __init__(self) -> None:
        super().__init__(ALICE, ZERO_HASH)
        self.reads: list[tuple[int, int]] = []

    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        self.reads.append((from_block, to_block))
        return super().deposits(from_block, to_block)


def test_confirmed_as_the_watcher_credits():
    ledger = CountingLedger()
    ledger.mine(2)
    event = ledger.deposit(ALICE, BOB, 50)  # block 3
    deposits = LedgerDeposits(ledger, confirmations=2, start_block=1)
    tx = deposit_tx(ledger, event)
    transfer = Transaction(ChainId(1), ROLLUP, ALICE, Nonce(0), Transfer(BOB, ZERO_HASH,
                                                                          Amount(1)))
    assert deposits.refusal([transfer]) is None and ledger.reads == []  # nothing to read
    ledger.mine(1)  # one block on top: the watcher does not credit it yet
    assert deposits.refusal([transfer, tx]) == (
        f"transaction 1 credits 50 to {to_hex(BOB)} for deposit {to_hex(event.event_id)}, "
        "which ledger evm does not hold with 2 blocks on top (blocks 1..2)")
    ledger.mine(1)
    assert deposits.refusal([tx]) is None
    assert ledger.reads == [(1, 2), (3, 3)]  # kept, then extended by the block confirmed since
    assert deposits.refusal([tx]) is None and ledger.reads == [(1, 2), (3, 3)]

    for field, lie in [("recipient", ALICE), ("token", BOB), ("amount", Amount(51)),
                       ("data_commitment", Hash32(b"\x02" * 32)),
                       ("metadata_hash", Hash32(b"\x03" * 32))]:
        made = getattr(event, field)
        shown = (to_hex(made), to_hex(lie)) if isinstance(lie, bytes) else (made, lie)
        credited = lie if field == "amount" else 50
        recipient = lie if field == "recipient" else BOB
        assert deposits.refusal([deposit_tx(ledger, event, **{field: lie})]) == (
            f"transaction 0 credits {credited} to {to_hex(recipient)} for deposit "
            f"{to_hex(event.event_id)}: ledger evm's deposit has {field} {shown[0]}, the "
            f"transaction {shown[1]}")
    # Another ledger's deposit credits another asset: not this ledger's to vouch for.
    assert deposits.refusal([deposit_tx(ledger, event, ledger=Hash32(b"\x04" * 32),
                                        event_id=Hash32(b"\x05" * 32))]) is None


def test_a_reorg_that_drops_the_deposit_is_seen():
    ledger = CountingLedger()
    event = ledger.deposit(ALICE, BOB, 50)  # block 1
    ledger.mine(1)
    deposits = LedgerDeposits(ledger, confirmations=1)
    assert deposits.refusal([deposit_tx(ledger, event)]) is None
    ledger.reorg(2)  # deeper than the confirmations: the deposit is gone
    ledger.mine(1)
    assert deposits.refusal([deposit_tx(ledger, event)]) == (
        f"transaction 0 credits 50 to {to_hex(BOB)} for deposit {to_hex(event.event_id)}, "
        "which ledger evm does not hold with 1 blocks on top (blocks 0..2)")
    assert ledger.reads == [(0, 1), (0, 2)]  # the last block read changed: read again
