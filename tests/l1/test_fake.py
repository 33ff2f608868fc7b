"""The in-memory FakeLedger refuses what the rollup contract refuses at posting: a header whose
roots do not follow from the posted transactions, a raw transaction that is not canonically
encoded (both as LedgerError, like a revert), and accepts the honest batch."""

from dataclasses import replace

import pytest

from flavum.l1.errors import LedgerError
from flavum.l1.fake import FakeLedger

from .conftest import GENESIS_ROOT, SEQUENCER
from .helpers import h, make_batch


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


def test_the_forced_queue_takes_what_the_contract_takes(fake):
    from flavum.core.transactions import Infer, Transfer, encode_transaction
    from flavum.core.types import Amount, AssetId, ObjectId

    from .conftest import ALICE_KEY, BOB
    from .helpers import signed

    transfer = signed(Transfer(BOB, AssetId(h("asset")), Amount(1)), 0)
    assert fake.queue_forced_transaction(encode_transaction(transfer), ALICE_KEY) == 0
    forged = replace(transfer, sender=BOB)
    infer = signed(Infer(ObjectId(h("model")), ObjectId(h("data")), Amount(0)), 1)
    for raw, reason in [(encode_transaction(forged), "bad signature"),
                        (encode_transaction(infer), "not forcible"),
                        (b"\x01garbage", None)]:
        with pytest.raises(LedgerError) as err:
            fake.queue_forced_transaction(raw, ALICE_KEY)
        assert reason is None or err.value.reason == reason
    assert len(fake.forced_requests()) == 1
