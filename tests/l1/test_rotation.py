"""Sequencer rotation (FlavumRollup's roles), played on the embedded EVM by an admin in a hurry,
a user leaving, the old and the new sequencer: the admin alone proposes, the new sequencer
takes over only after a delay longer than the forced and challenge windows (a withdrawal
asked for when the rotation is proposed is paid before), the old one is refused from then on,
and a proposal can be withdrawn. A lie the old sequencer posts just before the new one takes
over still costs the bond, whoever posts after it."""

import pytest

from flavum.challenger import Challenger
from flavum.core.batch import (
    BatchHeader,
    TxCommitment,
    Withdrawal,
    compute_batch_header,
    compute_withdrawal_leaf,
)
from flavum.core.genesis import Genesis
from flavum.core.merkle import compute_tree_proof
from flavum.core.state import compute_state_root
from flavum.core.stf import process_transaction
from flavum.core.transactions import Transfer, Withdraw, address_of, compute_tx_hash
from flavum.core.types import NO_OBJECT, ZERO_HASH, Amount
from flavum.l1.errors import BondShort, LedgerError, NotSequencer
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_abi import header_tuple
from flavum.l1.evm_client import embedded_web3
from flavum.l1.evm_deploy import ROTATION_MARGIN
from flavum.l1.evm_identity import read_domain
from flavum.node.watcher import make_deposit_transaction

from .conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    DEPLOYER_KEY,
    FUNDED,
    SEQUENCER,
    SEQUENCER_KEY,
    deploy,
)
from .helpers import mine
from .test_challenge import CHALLENGER_KEY, ETH, Rollup, balance, native, signed
from .test_identity import _deploy_raw

ADMIN_KEY = DEPLOYER_KEY  # the deployer is the admin unless the deployment names another
NEW_KEY = b"\x36" * 32
NEW = address_of(NEW_KEY)
CHALLENGE_WINDOW = 10
FORCED_WINDOW = 5
DELAY = CHALLENGE_WINDOW + FORCED_WINDOW + 1  # the shortest the contract takes


def reason(err: pytest.ExceptionInfo[LedgerError]) -> str:
    return str(err.value.reason)


@pytest.fixture
def rollup() -> Rollup:
    """Alice's 5 ETH deposited and credited (batch 0, by the first sequencer)."""
    w3 = embedded_web3((*FUNDED, NEW_KEY, CHALLENGER_KEY))
    ledger = deploy(w3, forced_window=FORCED_WINDOW, challenge_window=CHALLENGE_WINDOW,
                    rotation_delay=DELAY)
    r = Rollup(ledger, Genesis(read_domain(w3, ledger.deployment.rollup)).state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(r.state.domain, ledger.ledger_id, event)])
    return r


def test_only_the_admin_proposes_and_the_rotation_waits_out_its_delay(rollup):
    r = rollup
    old, new = r.ledger, EvmLedger(r.ledger.w3, r.ledger.deployment, NEW_KEY)
    roles = old.sequencer_roles()
    assert (roles.admin, roles.sequencer, roles.pending) == (address_of(ADMIN_KEY), SEQUENCER,
                                                             None)
    for intruder in (old.sequencer_key, ALICE_KEY, NEW_KEY):  # the sequencer is no admin
        with pytest.raises(LedgerError) as err:
            old.propose_sequencer(NEW, intruder)
        assert reason(err) == "only the admin rotates the sequencer"

    old.propose_sequencer(NEW, ADMIN_KEY)
    roles = old.sequencer_roles()
    proposed_at = roles.head
    assert (roles.pending, roles.pending_at_block) == (NEW, proposed_at + DELAY)
    # Alice, who would rather leave than trust the new sequencer, withdraws at once: the old
    # sequencer still posts (its batch is the only one that can hold her withdrawal).
    withdraw = signed(ALICE_KEY, 0, Withdraw(old.ledger_id, ALICE, native(), Amount(2 * ETH),
                                             NO_OBJECT))
    withdrawal = process_transaction(r.state.copy(), withdraw).withdrawal
    assert withdrawal is not None
    r.post([withdraw])
    with pytest.raises(LedgerError) as err:
        new.activate_sequencer(NEW_KEY)
    assert reason(err) == "the rotation delay is not over"
    with pytest.raises(NotSequencer, match="is proposed from block"):
        new.post_batch(*_next_batch(r))
    # Her batch is final, and she is paid, before the new sequencer can take over.
    old.mine_to(old.final_at_block(1))
    before = balance(old, ALICE)
    old.finalize_withdrawal(withdrawal, 1, 0, compute_tree_proof(
        [compute_withdrawal_leaf(withdrawal)], 0), ALICE_KEY)
    assert balance(old, ALICE) > before + 2 * ETH * 99 // 100
    assert old.head() < proposed_at + DELAY, "paid while the old sequencer still posts"

    old.mine_to(proposed_at + DELAY)
    new.activate_sequencer(ALICE_KEY)  # anyone may, once the delay is over
    roles = old.sequencer_roles()
    assert (roles.sequencer, roles.pending, roles.pending_at_block) == (NEW, None, None)
    assert not roles.may_post and new.sequencer_roles().may_post
    with pytest.raises(NotSequencer, match="is not the sequencer"):
        old.post_batch(*_next_batch(r))
    with pytest.raises(LedgerError) as err:  # sent anyway: the contract refuses it
        old._transact("raw submit", old.sequencer_key, old.rollup.functions.submitBatch(
            *_raw_args(r)), gas=3_000_000)
    assert reason(err) == "only the sequencer posts batches"
    r.ledger = new
    r.post([signed(ALICE_KEY, 1, Transfer(BOB, native(), Amount(ETH)))])
    assert new.next_batch_number() == 3
    assert new.bond().amount == new.bond().minimum, "the bond stays the rollup's"


def test_a_lie_posted_just_before_the_rotation_still_costs_the_bond(rollup):
    """The old sequencer steals through a withdrawal leaf in the last block before the new one
    takes over, and the new one builds on it: once the lie is proven, both batches are
    reverted, the bond (the rollup's, not either sequencer's) goes to the challenger, nothing
    is paid, and the new sequencer must restore the bond to post."""
    r = rollup
    old, new = r.ledger, EvmLedger(r.ledger.w3, r.ledger.deployment, NEW_KEY)
    standing = compute_state_root(r.state)  # after batch 0, the last honest one
    old.propose_sequencer(NEW, ADMIN_KEY)
    at = old.sequencer_roles().pending_at_block
    old.mine_to(at - 2)
    cover = signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(0)))
    stolen = Withdrawal(compute_tx_hash(cover), old.ledger_id, SEQUENCER, native(),
                        Amount(5 * ETH), NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)
    after = r.state.copy()
    process_transaction(after, cover)  # the post-state root is true: only the leaf lies
    lie = TxCommitment(compute_tx_hash(cover), compute_state_root(after),
                       compute_withdrawal_leaf(stolen))
    r.post([cover], lie={0: lie})
    r.state = after
    assert old.head() == at - 1 and not old.sequencer_roles().due
    new.activate_sequencer(NEW_KEY)
    r.ledger = new
    r.post([signed(BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))])
    assert new.next_batch_number() == 3

    before = balance(new, address_of(CHALLENGER_KEY))
    (fraud,) = Challenger(new, Genesis(r.state.domain).state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index, fraud.reason) == (1, 0, "wrong emission")
    assert new.next_batch_number() == 1, "the new sequencer's batch is reverted with the lie"
    assert balance(new, address_of(CHALLENGER_KEY)) > before + ETH * 9 // 10
    assert new.bond().is_short and new.sequencer_roles().sequencer == NEW
    with pytest.raises(BondShort):
        new.post_batch(compute_batch_header(1, standing, [], ZERO_HASH))
    new.mine_to(at + CHALLENGE_WINDOW + 1)
    with pytest.raises(LedgerError, match="batch not accepted"):
        new.finalize_withdrawal(stolen, 1, 0, [], SEQUENCER_KEY)


def test_a_proposal_can_be_withdrawn_by_the_admin_only(rollup):
    ledger = rollup.ledger
    ledger.propose_sequencer(NEW, ADMIN_KEY)
    at = ledger.sequencer_roles().pending_at_block
    with pytest.raises(LedgerError) as err:
        ledger.cancel_sequencer(NEW_KEY)
    assert reason(err) == "only the admin rotates the sequencer"
    ledger.cancel_sequencer(ADMIN_KEY)
    assert ledger.sequencer_roles().pending is None
    ledger.mine_to(at)
    with pytest.raises(LedgerError) as err:
        ledger.activate_sequencer(NEW_KEY)
    assert reason(err) == "no sequencer rotation is pending"
    with pytest.raises(LedgerError) as err:
        ledger.cancel_sequencer(ADMIN_KEY)
    assert reason(err) == "no sequencer rotation is pending"
    # A new proposal counts its delay again, from its own block.
    mine(ledger, 3)
    ledger.propose_sequencer(NEW, ADMIN_KEY)
    roles = ledger.sequencer_roles()
    assert roles.pending_at_block == roles.head + DELAY and not roles.due
    assert roles.sequencer == SEQUENCER


def test_a_proposed_key_activates_itself_when_it_posts_after_the_delay(rollup):
    """The new sequencer's node needs no separate call: its first post activates it."""
    r = rollup
    r.ledger.propose_sequencer(NEW, ADMIN_KEY)
    r.ledger.mine_to(r.ledger.sequencer_roles().pending_at_block)
    r.ledger = EvmLedger(r.ledger.w3, r.ledger.deployment, NEW_KEY)
    r.post([signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))])
    assert r.ledger.sequencer_roles().sequencer == NEW and r.ledger.next_batch_number() == 2


def test_the_rotation_delay_must_exceed_the_forced_and_challenge_windows():
    w3 = embedded_web3(FUNDED)
    with pytest.raises(LedgerError, match="must exceed the forced and challenge windows"):
        deploy(w3, forced_window=FORCED_WINDOW, challenge_window=CHALLENGE_WINDOW,
               rotation_delay=CHALLENGE_WINDOW + FORCED_WINDOW)
    # The contract's own rule, for a deployer who skips Python's (its other checks come after).
    nobody = w3.to_checksum_address(ALICE)
    args = (nobody, nobody, CHALLENGE_WINDOW + FORCED_WINDOW, nobody, b"", FORCED_WINDOW,
            nobody, nobody, CHALLENGE_WINDOW, CHALLENGE_WINDOW + 1)
    with pytest.raises(LedgerError) as err:
        _deploy_raw(w3, "FlavumRollup", args, value=ETH)
    assert reason(err) == "the rotation delay must exceed the forced and challenge windows"
    # The default: both windows and a day's margin.
    ledger = deploy(w3, forced_window=FORCED_WINDOW, challenge_window=CHALLENGE_WINDOW)
    assert ledger.sequencer_roles().rotation_delay == (CHALLENGE_WINDOW + FORCED_WINDOW
                                                       + ROTATION_MARGIN)


def _next_batch(r: Rollup) -> tuple[BatchHeader, tuple[()]]:
    """The next batch, an empty one."""
    return compute_batch_header(len(r.batches), compute_state_root(r.state), [], bytes(32)), ()


def _raw_args(r: Rollup) -> tuple[object, ...]:
    header, _ = _next_batch(r)
    return header_tuple(header), b"", [], [], []
