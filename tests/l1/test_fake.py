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
