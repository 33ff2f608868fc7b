"""The escape hatch on the embedded EVM, played as users and attackers would: the sequencer
stops, the escape delay passes and the rollup freezes. Then users leave with nothing but the
ledger: the state is replayed from the posted batches, and each balance and DATA/RESULT object
leaf of the last final state root is paid by inclusion proof, once, to the account it names;
a deposit no batch consumed is refunded. Before the freeze, and for any leaf the escape root
does not hold, the Bridge pays nothing; after it, the rollup takes no batch (a deposit made
then is refunded)."""

from dataclasses import dataclass

import pytest

from flavum.challenger import Challenger
from flavum.core.batch import compute_tx_commitment
from flavum.core.genesis import DEV_ASSET
from flavum.core.merkle import SmtProof
from flavum.core.state import (
    State,
    compute_balance_key,
    compute_object_key,
    compute_state_root,
    get_state_proof,
    increase_balance,
)
from flavum.core.stf import (
    Execution,
    compute_deposit_object_id,
    compute_object_id,
    process_transaction,
)
from flavum.core.transactions import Infer, Transfer, address_of, compute_tx_hash
from flavum.core.types import Amount, Nonce, ObjectKind
from flavum.escape import (
    PAYABLE,
    SPENT,
    compute_final_state,
    execute_escape,
    plan_escape,
)
from flavum.l1.errors import LedgerError, NotEscaped
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import embedded_web3
from flavum.l1.evm_step import proof_arg
from flavum.l1.interface import EscapeBalance, proven_inference
from flavum.node.watcher import make_deposit_transaction

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, DOMAIN, FUNDED, GENESIS, deploy
from .test_challenge import (
    CHALLENGER_KEY,
    Rollup,
    balance,
    deploy_model,
    native,
    registration_in,
    signed,
)

WINDOW = 5  # blocks
DELAY = 40  # blocks without an accepted batch before the freeze
ETH = 10**18
CAROL = address_of(CHALLENGER_KEY)  # holds nothing in the rollup


@dataclass
class World:
    """Three honest batches: Alice's 5 ETH deposit; her data point and model; her inference
    (a RESULT she owns) and 1 ETH to Bob. Then Bob deposits 2 ETH that no batch takes."""

    r: Rollup
    after_first: State  # the state after batch 0 (final, but not the last)
    data_id: bytes
    model_id: bytes
    result_id: bytes

    @property
    def ledger(self) -> EvmLedger:
        return self.r.ledger


@pytest.fixture
def world(tiny) -> World:
    ledger = deploy(embedded_web3((*FUNDED, CHALLENGER_KEY)), challenge_window=WINDOW,
                    escape_delay=DELAY)
    r = Rollup(ledger, GENESIS.state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (deposit,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, deposit)])
    after_first = r.state.copy()
    ledger.deposit_data(ALICE_KEY, ALICE, tiny.execution.input_commitment.be_bytes, b"a row")
    event = ledger.deposits(0, ledger.head())[-1]
    header, _ = r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, event),
                        deploy_model(tiny)])
    model_id = compute_object_id(ALICE, Nonce(0))
    ledger.register_model(header, registration_in(r.state, tiny, model_id), BOB_KEY)
    data_id = compute_deposit_object_id(event.event_id)
    infer = signed(ALICE_KEY, 1, Infer(model_id, data_id, Amount(0)))
    proven = Execution(tiny.execution.input_commitment.be_bytes, tuple(tiny.execution.outputs))
    result_id = compute_object_id(ALICE, Nonce(1))
    inference = proven_inference(model_id, tiny.proof, [(compute_tx_hash(infer), result_id)])
    r.post([infer, signed(ALICE_KEY, 2, Transfer(BOB, native(), Amount(ETH)))],
           executions={0: proven}, inferences=[inference])
    ledger.deposit_eth(BOB_KEY, BOB, 2 * ETH)  # never taken in: the sequencer stops here
    return World(r, after_first, data_id, model_id, result_id)


def freeze(ledger: EvmLedger) -> None:
    """Mine up to the first block of escape mode."""
    ledger.mine_to(ledger.escape_status().escape_at_block)
    assert ledger.escape_status().escaped


def send_balance(ledger: EvmLedger, leaf: EscapeBalance, proof: SmtProof, key: bytes) -> None:
    """escapeWithdrawBalance straight to the Bridge, past the Python checks."""
    fn = ledger.bridge.functions.escapeWithdrawBalance(
        ledger.w3.to_checksum_address(leaf.account), leaf.asset, leaf.amount, proof_arg(proof))
    ledger._transact("escape withdrawal", key, fn, gas=400_000)


def test_users_exit_a_frozen_rollup_by_inclusion_proof(world):
    ledger = world.ledger
    bridge = bytes.fromhex(ledger.deployment.bridge[2:])
    assert balance(ledger, bridge) == 7 * ETH
    status = ledger.escape_status()
    assert not status.escaped and status.blocks_left > 0

    # Before the freeze: refused in Python (how long to wait) and by the Bridge itself.
    state = compute_final_state(ledger, GENESIS.state())
    assert compute_state_root(state) == compute_state_root(world.r.state)
    plan = plan_escape(ledger, state, ALICE)
    with pytest.raises(NotEscaped, match=f"{status.blocks_left} blocks from now") as refused:
        execute_escape(ledger, plan, ALICE_KEY)
    assert refused.value.blocks_left == status.blocks_left
    eth_claim = plan.claims[0]
    with pytest.raises(LedgerError, match="not in escape mode yet"):
        send_balance(ledger, eth_claim.leaf, eth_claim.proof, ALICE_KEY)

    freeze(ledger)
    assert ledger.escape_root() == compute_state_root(world.r.state)
    # Frozen: the sequencer cannot post again.
    with pytest.raises(LedgerError, match="frozen in escape mode"):
        world.r.post([signed(ALICE_KEY, 3, Transfer(BOB, native(), Amount(1)))])

    # Alice's leaves: 4 ETH, her DATA point and her RESULT (her MODEL stays in the rollup).
    assert [(type(c.leaf).__name__, c.status) for c in plan.claims] == [
        ("EscapeBalance", PAYABLE), ("Object", PAYABLE), ("Object", PAYABLE)]
    assert eth_claim.leaf == EscapeBalance(ALICE, native(), Amount(4 * ETH))
    assert {c.leaf.object_id: c.leaf.kind for c in plan.claims[1:]} == {
        world.data_id: ObjectKind.DATA, world.result_id: ObjectKind.RESULT}
    assert plan.refunds == ()

    # Bob sends Alice's exits (and pays their gas): they pay Alice, not Bob.
    alice_before, bob_before = balance(ledger, ALICE), balance(ledger, BOB)
    sent = execute_escape(ledger, plan, BOB_KEY)
    assert len(sent) == 3
    assert balance(ledger, ALICE) == alice_before + 4 * ETH
    assert balance(ledger, BOB) < bob_before
    assert ledger.object_owner(world.result_id) == ALICE
    assert ledger.object_owner(world.data_id) == ALICE
    kind, commitment, model_id = ledger.object_info(world.result_id)
    result = world.r.state.objects[world.result_id]
    assert (kind, commitment, model_id) == (ObjectKind.RESULT, result.commitment, world.model_id)

    # Each leaf pays once.
    again = plan_escape(ledger, state, ALICE)
    assert [c.status for c in again.claims] == [SPENT] * 3
    assert execute_escape(ledger, again, ALICE_KEY) == []
    with pytest.raises(LedgerError, match="already withdrawn"):
        send_balance(ledger, eth_claim.leaf, eth_claim.proof, BOB_KEY)
    with pytest.raises(LedgerError, match="already withdrawn"):
        ledger.escape_withdraw(plan.claims[2].leaf, plan.claims[2].proof, ALICE_KEY)

    # Bob: his 1 ETH on L2, his 2 ETH deposit no batch took and one he makes after the
    # freeze (no batch will ever take it), refunded.
    ledger.deposit_eth(BOB_KEY, BOB, ETH)
    bob_plan = plan_escape(ledger, state, BOB)
    assert [c.leaf for c in bob_plan.claims] == [EscapeBalance(BOB, native(), Amount(ETH))]
    assert [(d.index, d.amount) for d in bob_plan.refunds] == [(2, 2 * ETH), (3, ETH)]
    bob_before = balance(ledger, BOB)
    execute_escape(ledger, bob_plan, ALICE_KEY)
    assert balance(ledger, BOB) == bob_before + 4 * ETH
    assert plan_escape(ledger, state, BOB).refunds == ()
    with pytest.raises(LedgerError, match="already refunded"):
        ledger.escape_refund_deposit(bob_plan.refunds[0], BOB_KEY)
    assert balance(ledger, bridge) == 0  # every deposited wei went back to its owner


def test_only_leaves_of_the_escape_root_pay(world):
    ledger = world.ledger
    freeze(ledger)
    state = compute_final_state(ledger, GENESIS.state())
    key = compute_balance_key(ALICE, native())
    proof = get_state_proof(state, key)
    # A made-up amount with the true path.
    with pytest.raises(LedgerError, match="leaf not in the escape root"):
        send_balance(ledger, EscapeBalance(ALICE, native(), Amount(7 * ETH)), proof, ALICE_KEY)
    # Alice's 5 ETH after batch 0: a final root, but not the escape root.
    earlier = EscapeBalance(ALICE, native(), Amount(5 * ETH))
    with pytest.raises(LedgerError, match="leaf not in the escape root"):
        send_balance(ledger, earlier, get_state_proof(world.after_first, key), ALICE_KEY)
    # A made-up state in which Alice holds 100 ETH.
    forged = state.copy()
    increase_balance(forged, ALICE, native(), Amount(96 * ETH))
    with pytest.raises(LedgerError, match="leaf not in the escape root"):
        send_balance(ledger, EscapeBalance(ALICE, native(), Amount(100 * ETH)),
                     get_state_proof(forged, key), ALICE_KEY)
    # A zero balance: a non-inclusion proof pays nothing.
    carol_key = compute_balance_key(CAROL, native())
    with pytest.raises(LedgerError, match="leaf not in the escape root"):
        send_balance(ledger, EscapeBalance(CAROL, native(), Amount(0)),
                     get_state_proof(state, carol_key), ALICE_KEY)
    # A MODEL object, though in the root, is not withdrawable.
    model = state.objects[world.model_id]
    with pytest.raises(LedgerError, match="not withdrawable"):
        ledger.escape_withdraw(model, get_state_proof(state, compute_object_key(model.object_id)),
                               ALICE_KEY)
    # The dev asset of the genesis is not this Bridge's to pay.
    assert not ledger.pays_asset(DEV_ASSET)
    # The true leaf pays.
    ledger.escape_withdraw(EscapeBalance(ALICE, native(), Amount(4 * ETH)), proof, BOB_KEY)


def test_a_reverted_batch_neither_holds_off_the_freeze_nor_pays(world):
    """The sequencer posts a lying batch (Bob credited 100 ETH) just before the freeze; it is
    challenged and reverted: the freeze comes when it would have without it, and the lying
    batch's root pays nothing."""
    ledger, r = world.ledger, world.r
    honest = ledger.escape_status()
    ledger.mine_to(honest.escape_at_block - WINDOW - 3)
    # Bob's deposit is overdue: the batch must take it in.
    deposit = make_deposit_transaction(DOMAIN, ledger.ledger_id,
                                       ledger.deposits(0, ledger.head())[-1])
    tx = signed(ALICE_KEY, 3, Transfer(BOB, native(), Amount(1)))
    lying = r.state.copy()
    process_transaction(lying, deposit)
    process_transaction(lying, tx)
    increase_balance(lying, BOB, native(), Amount(100 * ETH))
    lie = compute_tx_commitment(compute_tx_hash(tx), compute_state_root(lying), None, None)
    r.post([deposit, tx], lie={1: lie})
    assert ledger.escape_status().escape_at_block > honest.escape_at_block  # the clock restarts
    (fraud,) = Challenger(ledger, GENESIS.state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index) == (3, 1) and ledger.next_batch_number() == 3
    assert ledger.escape_status().escape_at_block == honest.escape_at_block  # ... and goes back
    freeze(ledger)
    key = compute_balance_key(BOB, native())
    with pytest.raises(LedgerError, match="leaf not in the escape root"):
        send_balance(ledger, EscapeBalance(BOB, native(), lying.balances[(BOB, native())]),
                     get_state_proof(lying, key), BOB_KEY)
    state = compute_final_state(ledger, GENESIS.state())
    bob_before = balance(ledger, BOB)
    execute_escape(ledger, plan_escape(ledger, state, BOB), ALICE_KEY)
    assert balance(ledger, BOB) == bob_before + 3 * ETH  # his 1 ETH and his refunded deposit


def test_the_escape_delay_must_exceed_the_challenge_window():
    with pytest.raises(LedgerError, match="must exceed the challenge window"):
        deploy(embedded_web3(FUNDED), challenge_window=10, escape_delay=10)
