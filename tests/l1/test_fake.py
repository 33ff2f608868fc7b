"""The in-memory FakeLedger refuses what the rollup contract refuses at posting: a header whose
roots do not follow from the posted transactions, a raw transaction that is not canonically
encoded (both as LedgerError, like a revert), transactions of several domains (the EVM posting
carries one), and accepts the honest batch."""

from dataclasses import replace

import pytest

from flavum.core.transactions import Transaction, Transfer, sign_transaction
from flavum.core.types import Amount, AssetId, ChainId, Nonce
from flavum.l1.errors import LedgerError
from flavum.l1.fake import FakeLedger

from .conftest import ALICE, ALICE_KEY, BOB, DOMAIN, GENESIS_ROOT, SEQUENCER
from .helpers import batch_of, h, make_batch, signed


@pytest.fixture
def fake() -> FakeLedger:
    return FakeLedger(SEQUENCER, GENESIS_ROOT)


def test_roots_must_follow_from_the_transactions(fake):
    header, txs = make_batch(0)
    for field in ("tx_root", "state_root", "withdrawal_root", "trace_root"):
        with pytest.raises(LedgerError, match="do not follow from the transactions"):
            fake.post_batch(replace(header, **{field: h("wrong")}), txs)
    with pytest.raises(LedgerError, match="not canonically encoded"):
        fake.post_batch(header, [replace(txs[0], raw=txs[0].raw + b"\x00" * 32)])
    assert fake.next_batch_number() == 0
    fake.post_batch(header, txs)
    assert fake.next_batch_number() == 1


def test_transactions_of_several_domains_are_refused(fake):
    body = Transfer(BOB, AssetId(h("asset")), Amount(1))
    other = sign_transaction(Transaction(ChainId(1), DOMAIN.rollup_id, ALICE, Nonce(2), body),
                             ALICE_KEY)
    header, txs = batch_of(0, GENESIS_ROOT, [(signed(body, 1), None, None), (other, None, None)])
    with pytest.raises(LedgerError) as err:
        fake.post_batch(header, txs)
    assert err.value.reason == "transactions of several domains"
    assert fake.next_batch_number() == 0
