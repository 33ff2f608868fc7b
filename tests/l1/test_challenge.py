"""A lying sequencer on the embedded EVM, played by this test (never a node option): it posts
batches whose transactions the rules refuse or whose committed results are wrong. In each
case a challenger who holds nothing but the posted data proves the fraud with one
transaction's re-execution (FlavumStep), the batch and all later ones are reverted, no
withdrawal from them can finalize, the Bridge keeps every deposited wei and the sequencer's
bond goes to the challenger. An honest batch cannot be challenged."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from flavum.challenger import Challenger
from flavum.core.batch import (
    BatchHeader,
    TxCommitment,
    Withdrawal,
    compute_batch_header,
    compute_tx_commitment,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import keccak256
from flavum.core.merkle import compute_tree_proof
from flavum.core.model_binding import compute_model_binding_hash
from flavum.core.state import (
    Domain,
    State,
    compute_object_key,
    compute_state_root,
    decrease_balance,
    get_state_proof,
    increase_balance,
)
from flavum.core.step_witness import compute_step_witness
from flavum.core.stf import (
    Execution,
    compute_deposit_object_id,
    compute_object_id,
    process_transaction,
)
from flavum.core.transactions import (
    DeployModel,
    Infer,
    Transaction,
    Transfer,
    Withdraw,
    address_of,
    compute_tx_hash,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import NO_OBJECT, ZERO_HASH, Access, Amount, ChainId, Hash32, Nonce
from flavum.l1.errors import LedgerError
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import embedded_web3
from flavum.l1.evm_deploy import DEFAULT_BOND_WEI
from flavum.l1.interface import (
    BatchTx,
    ForcedInclusion,
    ModelRegistration,
    ProvenInference,
    proven_inference,
)
from flavum.node.watcher import make_deposit_transaction

from .conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    DOMAIN,
    FUNDED,
    GENESIS,
    SEQUENCER_KEY,
    deploy,
)
from .helpers import mine, model_binding

WINDOW = 20  # blocks
ETH = 10**18
SEQUENCER = address_of(SEQUENCER_KEY)
CHALLENGER_KEY = b"\x77" * 32


@dataclass
class Rollup:
    """The chain and the true rollup state the lying sequencer departs from."""

    ledger: EvmLedger
    state: State
    batches: list[list[BatchTx]] = field(default_factory=list)

    def post(self, txs: list[Transaction], lie: dict[int, TxCommitment] | None = None,
             executions: dict[int, Execution] | None = None,
             inferences: Sequence[ProvenInference] = (),
             forced: Sequence[ForcedInclusion] = (),
             registrations: Sequence[ModelRegistration] = ()
             ) -> tuple[BatchHeader, list[BatchTx]]:
        """Post the next batch (`seal`) with the proofs of its traces and the registrations
        of models its state root shows."""
        header, posted = self.seal(txs, lie, executions)
        self.ledger.post_batch(header, posted, inferences, forced, registrations)
        self.batches.append(posted)
        return header, posted

    def seal(self, txs: list[Transaction], lie: dict[int, TxCommitment] | None = None,
             executions: dict[int, Execution] | None = None) -> tuple[BatchHeader, list[BatchTx]]:
        """The next batch, applied to the state: each tx's true commitment, or the lie given
        for its index (the state then follows the lie no further: later batches build on the
        truth), with the Infers' `executions` by index."""
        prev_root = compute_state_root(self.state)
        posted = []
        for i, tx in enumerate(txs):
            if lie and i in lie:
                posted.append(BatchTx(encode_transaction(tx), lie[i]))
                continue
            outcome = process_transaction(self.state, tx, (executions or {}).get(i))
            posted.append(BatchTx(encode_transaction(tx), compute_tx_commitment(
                outcome.tx_hash, compute_state_root(self.state), outcome.trace,
                outcome.withdrawal)))
        header = compute_batch_header(len(self.batches), prev_root,
                                      [t.commitment for t in posted], h("data"))
        return header, posted


def h(label: str) -> Hash32:
    return keccak256(label.encode())


def make_rollup() -> Rollup:
    """Alice deposits 5 ETH on L1; batch 0 (honest) credits it from the inbox."""
    w3 = embedded_web3((*FUNDED, CHALLENGER_KEY))
    ledger = deploy(w3, challenge_window=WINDOW)
    r = Rollup(ledger, GENESIS.state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, event)])
    return r


@pytest.fixture
def rollup() -> Rollup:
    return make_rollup()


def signed(key: bytes, nonce: int, body) -> Transaction:
    tx = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, address_of(key), Nonce(nonce), body)
    return sign_transaction(tx, key)


def balance(ledger: EvmLedger, address: bytes) -> int:
    return int(ledger.w3.eth.get_balance(ledger.w3.to_checksum_address(address)))


def challenge(r: Rollup, header, posted: list[BatchTx], index: int) -> None:
    """What a challenger does with the posted transactions and the state it re-executed."""
    witness = compute_step_witness(r.state, decode_transaction(posted[index].raw), None)
    r.ledger.challenge(header, posted, index, witness, None, CHALLENGER_KEY)


def withdrawal_to_self(tx: Transaction, amount: int) -> Withdrawal:
    return Withdrawal(compute_tx_hash(tx), r_ledger_id(), SEQUENCER, native(), Amount(amount),
                      NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)


def r_ledger_id() -> Hash32:
    from flavum.core.assets import compute_ledger_id

    return compute_ledger_id("evm")


def native():
    from flavum.core.assets import compute_asset_id

    return compute_asset_id(r_ledger_id())


def assert_reverted_and_paid(r: Rollup, before: int, withdrawal: Withdrawal | None) -> None:
    ledger = r.ledger
    assert ledger.next_batch_number() == 1, "the forged batch is reverted"
    assert balance(ledger, address_of(CHALLENGER_KEY)) > before + DEFAULT_BOND_WEI * 9 // 10
    assert balance(ledger, bytes.fromhex(ledger.deployment.bridge[2:])) == 5 * ETH
    if withdrawal is not None:
        mine(ledger, WINDOW + 1)
        leaf_index = 0
        with pytest.raises(LedgerError, match="batch not accepted"):
            ledger.finalize_withdrawal(withdrawal, 1, leaf_index,
                                       compute_tree_proof([compute_withdrawal_leaf(withdrawal)], 0),
                                       SEQUENCER_KEY)
        assert balance(ledger, bytes.fromhex(ledger.deployment.bridge[2:])) == 5 * ETH


def test_theft_through_the_withdrawal_root_is_challenged(rollup):
    r = rollup
    # The sequencer withdraws the Bridge's 5 ETH to itself: it never deposited anything.
    theft = signed(SEQUENCER_KEY, 0, Withdraw(r.ledger.ledger_id, SEQUENCER, native(),
                                              Amount(5 * ETH), NO_OBJECT))
    paid = withdrawal_to_self(theft, 5 * ETH)
    lie = TxCommitment(compute_tx_hash(theft), h("any root"), compute_withdrawal_leaf(paid))
    header, posted = r.post([theft], lie={0: lie})
    with pytest.raises(LedgerError, match="not final yet"):
        r.ledger.finalize_withdrawal(paid, 1, 0, [], SEQUENCER_KEY)
    before = balance(r.ledger, address_of(CHALLENGER_KEY))
    challenge(r, header, posted, 0)
    assert_reverted_and_paid(r, before, paid)


def test_wrong_transfer_amount_is_challenged(rollup):
    r = rollup
    honest = signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))
    # Committed as if Bob had received 2 ETH: the post-state root is the lie.
    lying_state = r.state.copy()
    process_transaction(lying_state, signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(2 * ETH))))
    lie = TxCommitment(compute_tx_hash(honest), compute_state_root(lying_state))
    header, posted = r.post([honest], lie={0: lie})
    before = balance(r.ledger, address_of(CHALLENGER_KEY))
    challenge(r, header, posted, 0)
    assert_reverted_and_paid(r, before, None)


def test_an_honest_batch_cannot_be_challenged_and_becomes_final(rollup):
    r = rollup
    pre = r.state.copy()
    header, posted = r.post([signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))])
    r.state, truth = pre, r.state  # the challenger re-executes from the batch's pre-state
    with pytest.raises(LedgerError, match="no fraud"):
        challenge(r, header, posted, 0)
    r.state = truth
    mine(r.ledger, WINDOW)
    assert r.ledger.next_batch_number() == 2
    with pytest.raises(LedgerError, match="challenge window is over"):
        challenge(r, header, posted, 0)


def test_a_forged_deposit_is_refused_at_posting(rollup):
    from dataclasses import replace as change

    from flavum.core.assets import compute_deposit_id
    from flavum.core.transactions import Deposit

    r = rollup
    forged = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, bytes(20), Nonce(0), Deposit(
        r.ledger.ledger_id, compute_deposit_id(r.ledger.ledger_id, 1), SEQUENCER, bytes(20),
        Amount(5 * ETH), ZERO_HASH, ZERO_HASH))
    truth = r.state.copy()
    with pytest.raises(LedgerError, match="no such deposit"):
        r.post([forged])
    # A real deposit, its body altered (another recipient): not the inbox's body.
    r.state = truth.copy()
    r.ledger.deposit_eth(ALICE_KEY, ALICE, ETH)
    (_, event) = r.ledger.deposits(0, r.ledger.head())
    real = make_deposit_transaction(DOMAIN, r.ledger.ledger_id, event)
    with pytest.raises(LedgerError, match="deposit does not match the inbox"):
        r.post([change(real, body=change(real.body, recipient=SEQUENCER))])
    r.state = truth
    r.post([real])  # the real one is taken
    assert r.ledger.next_batch_number() == 2


def test_a_batch_cannot_skip_an_overdue_deposit(rollup):
    r = rollup
    r.ledger.deposit_eth(ALICE_KEY, ALICE, ETH)
    mine(r.ledger, 6)  # the deploy's forced window is 5 blocks
    with pytest.raises(LedgerError, match="skips an overdue deposit"):
        r.post([signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(1)))])


def test_the_challenger_finds_and_proves_the_first_bad_transaction(rollup):
    """flavum.challenger on its own: it replays every batch from genesis with nothing but
    the ledger, finds the theft (transaction 1 of batch 1, after an honest transfer) and
    proves it."""

    r = rollup
    honest = signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))
    theft = signed(SEQUENCER_KEY, 0, Withdraw(r.ledger.ledger_id, SEQUENCER, native(),
                                              Amount(4 * ETH), NO_OBJECT))
    paid = withdrawal_to_self(theft, 4 * ETH)
    lie = TxCommitment(compute_tx_hash(theft), h("root"), compute_withdrawal_leaf(paid))
    r.post([honest, theft], lie={1: lie})
    before = balance(r.ledger, address_of(CHALLENGER_KEY))
    challenger = Challenger(r.ledger, State(DOMAIN), CHALLENGER_KEY)
    (fraud,) = challenger.run()
    assert (fraud.number, fraud.index) == (1, 1)
    assert "insufficient" in fraud.reason.lower() or "holds" in fraud.reason
    assert fraud.challenge_tx is not None
    assert_reverted_and_paid(r, before, None)
    assert challenger.run() == []  # batch 0 alone is left, and it is honest

# --- a RESULT unlike its proven trace; a refused transaction included ---------------------
# Each lie is found by the challenger `flavum verify --challenge` runs, from the ledger alone.
# A RESULT whose outputs differ from the proven trace: the inference's ZK proof is checked at
# posting, but the state commits a RESULT object holding other outputs (withdrawn, an ERC-721
# vouching for them). A transaction the rules refuse: a transfer signed for another rollup
# (replayed), committed as if it had paid the sequencer.

CHALLENGER = address_of(CHALLENGER_KEY)


def bridge_of(r: Rollup) -> bytes:
    return bytes.fromhex(r.ledger.deployment.bridge[2:])


def challenge_all(r: Rollup, number: int, index: int = 0) -> str:
    """Run the challenger from genesis; it must find transaction `index` of batch `number`
    and revert it. Returns the fraud's reason."""
    before = balance(r.ledger, CHALLENGER)
    (fraud,) = Challenger(r.ledger, GENESIS.state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index) == (number, index) and fraud.challenge_tx is not None
    assert r.ledger.next_batch_number() == number, "the lying batch is reverted"
    assert balance(r.ledger, CHALLENGER) > before + DEFAULT_BOND_WEI * 9 // 10
    assert balance(r.ledger, bridge_of(r)) == 5 * ETH
    return fraud.reason


def deploy_model(tiny, nonce: int = 0) -> Transaction:
    """Alice's DeployModel of the tiny model, committed to its binding (its own verifier)."""
    return signed(ALICE_KEY, nonce, DeployModel(
        h("onnx"), tiny.artifacts.vk_hash, compute_model_binding_hash(model_binding(tiny)),
        Access.COMMON, native(), Amount(0)))


def registration_in(state: State, tiny, model_id) -> ModelRegistration:
    """What binds the tiny model `model_id` shown in `state`'s root."""
    return ModelRegistration(state.objects[model_id], model_binding(tiny),
                             get_state_proof(state, compute_object_key(model_id)),
                             tiny.circuit())


@pytest.fixture
def with_model(rollup, tiny):
    """Batch 1 (honest): Alice deposits her data point and deploys the tiny model; Bob binds
    it to its verifier on L1 (shown in batch 1's state root). Returns (rollup, model id, data
    id)."""
    r = rollup
    commitment = tiny.execution.input_commitment.be_bytes
    r.ledger.deposit_data(ALICE_KEY, ALICE, commitment, b"a row")
    event = r.ledger.deposits(0, r.ledger.head())[-1]
    header, _ = r.post([make_deposit_transaction(DOMAIN, r.ledger.ledger_id, event),
                        deploy_model(tiny)])
    model_id = compute_object_id(ALICE, Nonce(0))
    r.ledger.register_model(header, registration_in(r.state, tiny, model_id), BOB_KEY)
    return r, model_id, compute_deposit_object_id(event.event_id)


def test_a_result_whose_outputs_differ_from_the_proven_trace_is_challenged(with_model, tiny):
    r, model_id, data_id = with_model
    proven = Execution(tiny.execution.input_commitment.be_bytes, tuple(tiny.execution.outputs))
    forged = Execution(proven.input_commitment, tuple(v + 1000 for v in proven.outputs))
    infer = signed(ALICE_KEY, 1, Infer(model_id, data_id, Amount(0)))
    # The truth: the trace (proven on L1) and the RESULT both hold the proven outputs.
    true_state = r.state.copy()
    honest = process_transaction(true_state, infer, proven)
    # The lie: the RESULT holds other outputs; the committed trace leaf is the proven one (a
    # forged trace could not match the proof's trace root at posting).
    lying_state = r.state.copy()
    lying = process_transaction(lying_state, infer, forged)
    assert lying.object_id == honest.object_id
    lie = compute_tx_commitment(honest.tx_hash, compute_state_root(lying_state), honest.trace,
                                None)
    inference = proven_inference(model_id, tiny.proof, [(honest.tx_hash, honest.object_id)])
    r.post([infer], lie={0: lie}, inferences=[inference])
    assert r.ledger.next_batch_number() == 3  # accepted: its proof verified
    reason = challenge_all(r, 2)
    assert reason == "wrong post-state root"


def test_a_transaction_the_rules_refuse_is_challenged_when_included(rollup):
    """Signed for another chain, it cannot open a batch (a batch's domain is its first
    transaction's, and the rollup refuses another than its own at posting: test_identity.py),
    but it can follow one of this rollup's own transactions, to be challenged."""
    r = rollup
    other = Domain(ChainId(1), Hash32(b"\x99" * 32))  # another rollup's domain
    honest = signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(1)))
    replayed = sign_transaction(Transaction(other.chain_id, other.rollup_id, ALICE, Nonce(1),
                                            Transfer(SEQUENCER, native(), Amount(4 * ETH))),
                                ALICE_KEY)
    theft = signed(SEQUENCER_KEY, 0, Withdraw(r.ledger.ledger_id, SEQUENCER, native(),
                                              Amount(4 * ETH), NO_OBJECT))
    # As if the replayed transfer had paid the sequencer 4 of Alice's ETH, which it withdraws.
    lying_state = r.state.copy()
    process_transaction(lying_state, honest)
    decrease_balance(lying_state, ALICE, native(), Amount(4 * ETH))
    increase_balance(lying_state, SEQUENCER, native(), Amount(4 * ETH))
    first = compute_tx_commitment(compute_tx_hash(replayed), compute_state_root(lying_state),
                                  None, None)
    outcome = process_transaction(lying_state, theft)
    second = compute_tx_commitment(outcome.tx_hash, compute_state_root(lying_state), None,
                                   outcome.withdrawal)
    r.post([honest, replayed, theft], lie={1: first, 2: second})
    reason = challenge_all(r, 1, index=1)
    assert reason.startswith("the rules refuse it") and "signed for chain 1" in reason
    mine(r.ledger, WINDOW + 1)
    paid: Withdrawal = outcome.withdrawal
    with pytest.raises(LedgerError, match="batch not accepted"):
        r.ledger.finalize_withdrawal(paid, 1, 0, compute_tree_proof(
            [compute_withdrawal_leaf(paid)], 0), SEQUENCER_KEY)
    assert balance(r.ledger, bridge_of(r)) == 5 * ETH


def test_a_revert_is_read_back_and_the_bond_must_be_topped_up(rollup):
    """After a fraud proof the ledger says which batch was reverted, why and for how much;
    the bond is gone, posting is refused (BondShort, nothing sent) until anyone tops it up."""
    from flavum.core.batch import compute_batch_hash
    from flavum.l1.errors import BondShort

    r = rollup
    assert r.ledger.batch_reverts() == []
    assert r.ledger.bond().amount == r.ledger.bond().minimum == DEFAULT_BOND_WEI
    truth = r.state.copy()
    honest = signed(ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))
    from flavum.core.transactions import compute_tx_hash

    lie = TxCommitment(compute_tx_hash(honest), h("made up root"))
    header, posted = r.post([honest], lie={0: lie})
    challenge(r, header, posted, 0)
    (revert,) = r.ledger.batch_reverts()
    assert (revert.number, revert.tx_index, revert.reason) == (1, 0, "wrong post-state root")
    assert revert.batch_hash == compute_batch_hash(header)
    assert revert.challenger == address_of(CHALLENGER_KEY)
    assert revert.prize == DEFAULT_BOND_WEI
    bond = r.ledger.bond()
    assert (bond.amount, bond.minimum, bond.is_short) == (0, DEFAULT_BOND_WEI, True)

    r.state, r.batches = truth.copy(), r.batches[:1]
    head = r.ledger.head()
    with pytest.raises(BondShort, match="bond is 0 wei"):
        r.post([honest])
    assert r.ledger.head() == head, "nothing was sent"
    r.state = truth.copy()
    r.ledger.top_up_bond(Amount(DEFAULT_BOND_WEI), ALICE_KEY)  # anyone may pay it
    assert not r.ledger.bond().is_short
    r.post([honest])
    assert r.ledger.next_batch_number() == 2


# --- censorship: a forced request refused where it is valid ---------------------------------


def test_a_valid_forced_request_refused_is_challenged(rollup):
    """The sequencer refuses Alice's forced withdrawal of 1 ETH although she holds 5: the
    challenger re-executes it where the batch says it refused it, finds it valid, and the
    batch is reverted. An honest refusal (a withdrawal of more than she holds) stands."""
    r = rollup
    valid = signed(ALICE_KEY, 0, Withdraw(r.ledger.ledger_id, ALICE, native(), Amount(ETH),
                                          NO_OBJECT))
    r.ledger.queue_forced_transaction(encode_transaction(valid), ALICE_KEY)
    honest = signed(BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))
    truth = r.state.copy()
    with pytest.raises(LedgerError, match="refusal position past the batch"):
        r.post([honest], forced=[ForcedInclusion(0, False, 2)])
    r.state = truth  # refused at posting: batch 1 is still to come
    r.post([honest], forced=[ForcedInclusion(0, False, 1)])
    assert r.ledger.next_batch_number() == 2
    before = balance(r.ledger, address_of(CHALLENGER_KEY))
    (fraud,) = Challenger(r.ledger, GENESIS.state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index, fraud.refusal) == (1, 1, ForcedInclusion(0, False, 1))
    assert fraud.reason == "a valid forced transaction was refused"
    assert r.ledger.next_batch_number() == 1, "the censoring batch is reverted"
    assert balance(r.ledger, address_of(CHALLENGER_KEY)) > before + DEFAULT_BOND_WEI * 9 // 10
    assert balance(r.ledger, bytes.fromhex(r.ledger.deployment.bridge[2:])) == 5 * ETH


def test_an_honest_refusal_of_a_forced_request_cannot_be_challenged(rollup):
    r = rollup
    too_much = signed(ALICE_KEY, 0, Withdraw(r.ledger.ledger_id, ALICE, native(),
                                             Amount(50 * ETH), NO_OBJECT))
    r.ledger.queue_forced_transaction(encode_transaction(too_much), ALICE_KEY)
    pre = r.state.copy()
    header, posted = r.post([], forced=[ForcedInclusion(0, False, 0)])
    assert Challenger(r.ledger, GENESIS.state(), CHALLENGER_KEY).run() == []
    witness = compute_step_witness(pre, too_much, None)
    with pytest.raises(LedgerError, match="no fraud: the refused transaction is invalid there"):
        r.ledger.challenge_refusal(header, posted, ForcedInclusion(0, False, 0),
                                   encode_transaction(too_much), witness, CHALLENGER_KEY)
    assert r.ledger.next_batch_number() == 2
