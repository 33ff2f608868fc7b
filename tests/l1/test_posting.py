"""The packed posting of a batch's transactions (flavum/l1/evm_posting.py): what is read back
is what was posted, and what the rollup contract cannot take is refused before sending."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flavum.core.batch import TraceEntry, Withdrawal
from flavum.core.transactions import (
    Deposit,
    Transaction,
    Transfer,
    compute_tx_hash,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Amount, AssetId, ChainId, Nonce, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.evm_posting import decode_posted_txs, encode_posted_txs
from flavum.l1.interface import BatchTx

from .conftest import ALICE, ALICE_KEY, BOB, DOMAIN
from .helpers import batch_of, h, make_batch, signed

TRANSFER = Transfer(BOB, AssetId(h("asset")), Amount(1))


def test_round_trip_keeps_every_transaction_and_commitment():
    withdrawal = Withdrawal(h("w"), h("ledger"), ALICE, AssetId(h("asset")), Amount(5),
                            ObjectId(ZERO_HASH), 0, ZERO_HASH, ObjectId(ZERO_HASH))
    deposit = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ZERO_ADDRESS, Nonce(0),
                          Deposit(h("ledger"), h("event"), BOB, ZERO_ADDRESS, Amount(3),
                                  ZERO_HASH, ZERO_HASH))
    trace = TraceEntry(h("tx"), ObjectId(h("model")), ObjectId(h("data")), h("input"), (1, -2),
                       ObjectId(h("result")))
    _, txs = batch_of(0, h("genesis"), [
        (signed(TRANSFER, 1), None, None), (deposit, None, None),
        (signed(TRANSFER, 2), trace, withdrawal), (signed(TRANSFER, 3), trace, None),
    ])
    assert decode_posted_txs(encode_posted_txs(txs)) == list(txs)
    assert encode_posted_txs([]) == b"" and decode_posted_txs(b"") == []


def test_what_the_contract_cannot_take_is_refused():
    [tx] = make_batch(0).txs
    with pytest.raises(LedgerError, match="not canonically encoded"):
        encode_posted_txs([replace(tx, raw=tx.raw + bytes(32))])


def test_a_transaction_of_another_domain_names_its_own():
    """Posted to be challenged (the rules refuse it): its record carries its domain."""
    [tx] = make_batch(0).txs
    other = sign_transaction(Transaction(ChainId(1), DOMAIN.rollup_id, ALICE, Nonce(1),
                                         TRANSFER), ALICE_KEY)
    txs = [tx, BatchTx(encode_transaction(other), replace(tx.commitment,
                                                           tx_hash=compute_tx_hash(other)))]
    data = encode_posted_txs(txs)
    assert len(data) == len(encode_posted_txs([tx, tx])) + 64
    assert decode_posted_txs(data) == txs


def test_malformed_packing_is_refused_on_reading_back():
    data = encode_posted_txs(make_batch(0).txs)
    # Cut short, a trailing byte, a count of zero, an announced leaf that is zero.
    for bad in _malformed(data):
        with pytest.raises(LedgerError):
            decode_posted_txs(bad)


def test_the_rollup_refuses_malformed_packing(ledger):
    batch = make_batch(0)
    data = encode_posted_txs(batch.txs)
    header = (batch.header.number, batch.header.prev_state_root, batch.header.state_root,
              batch.header.tx_root, batch.header.trace_root, batch.header.withdrawal_root,
              batch.header.data_pointer)
    for bad in _malformed(data):
        fn = ledger.rollup.functions.submitBatch(header, bad, [], [], [])
        with pytest.raises(LedgerError) as err:
            ledger._transact("raw submit", ledger.sequencer_key, fn)
        assert err.value.reason == "packed transactions are malformed"
    ledger._transact("submit", ledger.sequencer_key,
                     ledger.rollup.functions.submitBatch(header, data, [], [], []))
    assert ledger.posted_txs(0) == list(batch.txs)


def _malformed(data: bytes) -> list[bytes]:
    """`data` (one record, no leaves) cut short, with a trailing byte, with a count of zero,
    with an announced trace leaf that is zero, with unknown flags, naming the batch's own
    domain as its own, naming another domain as its own (the first record's domain is the
    batch's: one encoding per batch)."""
    record = data[68:]
    other = (1).to_bytes(32, "big") + data[32:64]
    return [data[:-1], data + b"\x00", data[:64] + bytes(4) + record,
            data[:68] + b"\x02" + record[1:] + bytes(32), data[:68] + b"\x08" + record[1:],
            data[:68] + b"\x04" + data[:64] + record[1:],
            data[:68] + b"\x04" + other + record[1:]]
