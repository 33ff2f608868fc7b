"""The ledger watcher: each bridge event becomes one Deposit, after its confirmations, across
restarts and reorgs, in inbox order (the fake ledger, and anvil with snapshot/revert)."""

import pytest

from flavum.core.assets import compute_asset_id
from flavum.core.encoding import keccak256
from flavum.core.genesis import Genesis
from flavum.core.state import Domain, get_balance, get_object
from flavum.core.stf import compute_deposit_object_id, process_transaction
from flavum.core.types import ChainId, Hash32
from flavum.l1.errors import DepositReorged
from flavum.l1.fake import FakeLedger
from flavum.node.watcher import LedgerWatcher

from .conftest import ALICE, ALICE_KEY, BOB, SEQUENCER, deploy
from .helpers import mine

DOMAIN = Domain(ChainId(31337), Hash32(b"\x11" * 32))


class Rollup:
    """The core state as the watcher's target: it refuses a replayed deposit by itself."""

    def __init__(self):
        self.state = Genesis(DOMAIN).state()
        self.applied = []

    def submit(self, tx):
        outcome = process_transaction(self.state, tx)
        self.applied.append(tx.body.event_id)
        return outcome


def test_deposit_waits_for_confirmations_then_applies_once(tmp_path):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=3)
    event = ledger.deposit(ALICE, BOB, 50, data_commitment=keccak256(b"input"))
    assert watcher.poll().submitted == 0
    ledger.mine(2)
    assert watcher.poll().submitted == 0  # 2 blocks on top, 3 needed
    ledger.mine(1)
    assert watcher.poll().submitted == 1
    assert watcher.poll().submitted == 0
    asset = compute_asset_id(ledger.ledger_id)
    assert get_balance(rollup.state, BOB, asset) == 50
    data = get_object(rollup.state, compute_deposit_object_id(event.event_id))
    assert data.owner == BOB and data.commitment == keccak256(b"input")


def test_restart_does_not_apply_twice(tmp_path):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    first = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    ledger.deposit(ALICE, BOB, 5)
    ledger.mine()
    assert first.poll().submitted == 1
    first.close()
    ledger.deposit(ALICE, BOB, 7)
    ledger.mine()
    again = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    assert again.poll().submitted == 1
    assert len(rollup.applied) == 2
    # A watcher that lost its cursor rescans, and the state refuses the replays.
    fresh = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "other.db", confirmations=1)
    result = fresh.poll()
    assert (result.submitted, result.skipped) == (0, 2)
    assert len(rollup.applied) == 2


def test_shallow_reorg_drops_an_unconfirmed_deposit(tmp_path):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=3)
    ledger.deposit(ALICE, BOB, 5)
    ledger.mine(1)
    watcher.poll()
    ledger.reorg(2)  # the deposit's block is gone
    ledger.mine(5)
    assert watcher.poll().submitted == 0
    assert rollup.applied == []


def test_deep_reorg_moves_the_cursor_back(tmp_path):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    ledger.mine(5)
    watcher.poll()
    ledger.reorg(3)
    ledger.deposit(ALICE, BOB, 9)
    ledger.mine()
    assert watcher.poll().submitted == 1
    assert watcher.deep_reorgs == 1


def test_deposit_remined_by_a_deep_reorg_is_credited_once(tmp_path):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    ledger.mine(3)
    event = ledger.deposit(ALICE, BOB, 9)
    ledger.mine()
    assert watcher.poll().submitted == 1
    ledger.reorg(2, remine=True)  # deeper than the confirmations: already credited
    ledger.mine()
    moved = ledger.deposits(0, ledger.head())
    assert len(moved) == 1 and moved[0].block_hash != event.block_hash
    assert moved[0].event_id == event.event_id  # the id is the inbox index's: same deposit
    result = watcher.poll()
    assert watcher.deep_reorgs == 1 and (result.submitted, result.skipped) == (0, 1)
    # A watcher that lost its cursor reads it again: the state refuses it.
    fresh = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "other.db", confirmations=1)
    assert (fresh.poll().submitted, len(rollup.applied)) == (0, 1)
    assert get_balance(rollup.state, BOB, compute_asset_id(ledger.ledger_id)) == 9


@pytest.mark.parametrize("replaced", [False, True])
def test_a_reorg_that_takes_a_credited_deposit_away_is_refused(tmp_path, replaced):
    """Deeper than the confirmations, a reorg drops a credited deposit (and, `replaced`, puts
    another one under its inbox index): the poll says so, for as long as the chain lacks it,
    and unwinds nothing."""
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    ledger.mine(3)
    event = ledger.deposit(ALICE, BOB, 9)
    ledger.mine()
    assert watcher.poll().submitted == 1
    ledger.reorg(2)
    if replaced:
        assert ledger.deposit(ALICE, ALICE, 1).event_id == event.event_id
    ledger.mine()
    for _ in range(2):
        with pytest.raises(DepositReorged, match="changed" if replaced else "dropped"):
            watcher.poll()
    assert watcher.deep_reorgs == 0 and rollup.applied == [event.event_id]


class GappyLedger(FakeLedger):
    """A fake whose log reads leave out some deposits, as a lagging RPC backend may."""

    hidden: frozenset[int] = frozenset()

    def deposits(self, from_block, to_block):
        return [e for e in super().deposits(from_block, to_block) if e.index not in self.hidden]


def test_deposits_are_credited_in_index_order_only(tmp_path):
    ledger = GappyLedger(SEQUENCER, Hash32(b"\x01" * 32))
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1)
    events = [ledger.deposit(ALICE, BOB, amount) for amount in (1, 2, 3)]
    ledger.mine()
    ledger.hidden = frozenset({1})
    result = watcher.poll()  # deposit 2 before deposit 1: credit 0, then wait
    assert (result.scanned_to, result.submitted) == (None, 1)
    assert watcher.poll().submitted == 0  # still missing: still waiting
    ledger.hidden = frozenset()
    assert watcher.poll().submitted == 2
    assert rollup.applied == [e.event_id for e in events]
    assert get_balance(rollup.state, BOB, compute_asset_id(ledger.ledger_id)) == 6


def test_anvil_reorg_and_restart(anvil, tmp_path):
    ledger = deploy(anvil.w3)
    rollup = Rollup()
    path = tmp_path / "w.db"
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, path, confirmations=2,
                            start_block=ledger.deployment.deployed_at_block)
    snapshot = anvil.rpc("evm_snapshot", [])
    ledger.deposit_eth(ALICE_KEY, BOB, 11)
    mine(ledger, 1)
    assert watcher.poll().submitted == 0  # one confirmation of two
    anvil.rpc("evm_revert", [snapshot])  # the deposit vanishes in a reorg
    mine(ledger, 4)
    assert watcher.poll().submitted == 0
    ledger.deposit_eth(ALICE_KEY, BOB, 22)
    ledger.deposit_data(ALICE_KEY, BOB, keccak256(b"x"), b"meta")
    mine(ledger, 2)
    assert watcher.poll().submitted == 2
    watcher.close()
    restarted = LedgerWatcher(ledger, rollup.submit, DOMAIN, path, confirmations=2)
    mine(ledger, 3)
    assert restarted.poll().submitted == 0
    asset = compute_asset_id(ledger.ledger_id)
    assert get_balance(rollup.state, BOB, asset) == 22
    assert len(rollup.applied) == 2


@pytest.mark.parametrize("confirmations", [-1])
def test_confirmations_must_be_non_negative(tmp_path, confirmations):
    ledger = FakeLedger(SEQUENCER, Hash32(b"\x01" * 32))
    with pytest.raises(ValueError):
        LedgerWatcher(ledger, lambda tx: None, DOMAIN, tmp_path / "w.db",
                      confirmations=confirmations)
