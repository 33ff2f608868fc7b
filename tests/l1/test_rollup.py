"""Rollup contract rules, driven from Python: every rejection, and the accepted batch."""

from dataclasses import replace

import pytest

from flavum.core.assets import compute_asset_id
from flavum.core.batch import Withdrawal, compute_withdrawal_leaf
from flavum.core.encoding import keccak256
from flavum.core.merkle import compute_tree_root
from flavum.core.transactions import Transfer, encode_transaction
from flavum.core.types import ZERO_HASH, Amount, AssetId, Hash32, ObjectId
from flavum.l1.errors import LedgerError, LedgerUnreachable, NotSequencer
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_abi import header_tuple
from flavum.l1.evm_client import rpc_web3
from flavum.l1.evm_posting import encode_posted_txs
from flavum.l1.interface import ModelLayout

from .conftest import ALICE_KEY, BOB, BOB_KEY, GENESIS_ROOT, _free_port
from .helpers import (
    bind_model,
    h,
    header_of,
    make_batch,
    nonce_of,
    one_inference,
    register,
    registration_arg,
    send_registration,
    signed,
    trace_of,
    tx_tuples,
)

MODEL = ObjectId(h("model"))


@pytest.fixture
def bound(tiny):
    """The tiny model deployed as MODEL, committed to its own verifier."""
    return bind_model(tiny, MODEL)


@pytest.fixture
def registered(ledger, bound):
    """Batch 0 shows MODEL in its state root; Bob (anyone) binds it to its verifier. The
    tests' batches follow, from batch 1."""
    register(ledger, bound)
    return ledger


def reason(exc_info) -> str:
    return exc_info.value.reason


def test_batch_with_a_real_proof_is_accepted(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    tx_hash = registered.post_batch(header, txs, [inference])
    status = registered.batch_status(1)
    assert status.accepted and status.tx_hash == tx_hash
    assert registered.next_batch_number() == 2
    model = registered.model(MODEL)
    assert (model.vk_hash, model.batch_number, model.standing) == (tiny.artifacts.vk_hash, 0,
                                                                   True)
    # The next batch chains from the state root just accepted.
    registered.post_batch(*make_batch(2, prev_root=header.state_root))
    assert registered.next_batch_number() == 3


def test_a_model_is_bound_by_the_posting_that_first_proves_it(ledger, bound, tiny):
    """No step before the batch: its state root shows the model, its posting binds it."""
    header, txs, inference = one_inference(tiny, MODEL, state_root=bound.root)
    ledger.post_batch(header, txs, [inference], registrations=[bound.registration()])
    assert ledger.batch_status(0).accepted
    model = ledger.model(MODEL)
    assert (model.batch_number, model.standing, model.reusable) == (0, True, False)
    code = ledger.w3.eth.get_code(ledger.w3.to_checksum_address(model.verifier))
    assert keccak256(bytes(code)) == bound.binding.verifier_code_hash


def test_posting_is_idempotent(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    first = registered.post_batch(header, txs, [inference])
    block = registered.head()
    assert registered.post_batch(header, txs, [inference]) == first
    assert registered.head() == block  # nothing sent
    with pytest.raises(LedgerError) as err:
        registered.post_batch(replace(header, data_pointer=h("other")), txs, [inference])
    assert reason(err) == "batch hash mismatch"


def test_wrong_previous_root(ledger):
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(*make_batch(0, prev_root=h("not genesis")))
    assert reason(err) == "previous state root mismatch"


def test_batch_number_out_of_order(ledger):
    fn = ledger.rollup.functions.submitBatch(
        (1, *[h(str(i)) for i in range(6)]), b"", [], [], [])
    with pytest.raises(LedgerError) as err:
        ledger._transact("raw submit", ledger.sequencer_key, fn)
    assert reason(err) == "batch number out of order"


# --- the header's roots follow from the transactions posted with it ------------------------


def refused(ledger, header, txs, inferences=()) -> str:
    """Post a batch that must be refused; nothing is recorded. Returns the reason."""
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(header, txs, inferences)
    number = header.number
    assert ledger.next_batch_number() == number and not ledger.batch_status(number).accepted
    return reason(err)


def transfer(amount: int, index: int = 0):
    return signed(Transfer(BOB, AssetId(h("asset")), Amount(amount)), nonce_of(0, index))


def test_tx_root_must_follow_from_the_transactions(ledger):
    header, txs = make_batch(0, txs=[transfer(1, 0), transfer(2, 1)])
    why = "tx root does not follow from the transactions"
    assert refused(ledger, replace(header, tx_root=h("garbage")), txs) == why
    # The header commits other transactions than those posted: one swapped for another, one
    # missing, none at all, one too many.
    swapped = (txs[0], replace(txs[1], raw=encode_transaction(transfer(3, 1))))
    extra = make_batch(0, txs=[transfer(4, 2)]).txs
    for posted in (swapped, txs[1:], (), txs + extra):
        assert refused(ledger, header, posted) == why
    # Or the same transactions, one said to leave another state root (not the last one: the
    # header's state root still is the last post-state root).
    moved = (replace(txs[0], commitment=replace(txs[0].commitment,
                                                post_state_root=h("elsewhere"))), txs[1])
    assert refused(ledger, header, moved) == why
    ledger.post_batch(header, txs)
    assert ledger.batch_status(0).accepted


def test_state_root_must_be_the_last_post_state_root(ledger):
    header, txs = make_batch(0, txs=[transfer(1, 0), transfer(2, 1)])
    why = "state root is not the last transaction's post-state root"
    # Neither the last transaction's nor an earlier one's post-state root.
    for root in (h("garbage"), txs[0].commitment.post_state_root):
        assert refused(ledger, replace(header, state_root=root), txs) == why
    # An empty batch leaves the state as it was.
    empty = header_of(0, GENESIS_ROOT, ())
    assert empty.state_root == GENESIS_ROOT
    assert refused(ledger, replace(empty, state_root=h("state0")), ()) == why
    ledger.post_batch(header, txs)
    assert ledger.batch_status(0).accepted


def test_withdrawal_root_must_follow_from_the_transactions(ledger):
    none = ObjectId(ZERO_HASH)
    w = Withdrawal(h("w0"), ledger.ledger_id, BOB, compute_asset_id(ledger.ledger_id),
                   Amount(1), none, 0, ZERO_HASH, none)
    header, txs = make_batch(0, withdrawals=[w])
    assert header.withdrawal_root == compute_tree_root([compute_withdrawal_leaf(w)])
    why = "withdrawal root does not follow from the transactions"
    # The header hides the withdrawal its transaction emitted, or claims another.
    for root in (ZERO_HASH, h("garbage")):
        assert refused(ledger, replace(header, withdrawal_root=root), txs) == why
    # A withdrawal that no transaction emitted: the header of a plain transfer claiming it.
    plain, plain_txs = make_batch(0)
    assert refused(ledger, replace(plain, withdrawal_root=header.withdrawal_root),
                   plain_txs) == why
    ledger.post_batch(header, txs)
    assert ledger.batch_status(0).withdrawal_root == header.withdrawal_root


def test_trace_root_must_follow_from_the_transactions(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    why = "trace root does not follow from the transactions"
    assert refused(registered, replace(header, trace_root=h("garbage")), txs,
                   [inference]) == why
    # A trace that no transaction emitted, proven or not: the Infer committed as emitting
    # none, under a header that still claims its trace.
    [tx] = txs
    silent = (replace(tx, commitment=replace(tx.commitment, trace_leaf=ZERO_HASH)),)
    claimed = replace(header_of(1, bound.root, silent), trace_root=header.trace_root)
    assert refused(registered, claimed, silent, [inference]) == why
    registered.post_batch(header, txs, [inference])
    assert registered.batch_status(1).accepted


def test_transactions_must_be_canonically_encoded(ledger):
    header, txs = make_batch(0)
    [tx] = txs
    # The same transaction with trailing bytes: abi.decode reads it, its encoding is not this.
    padded = (replace(tx, raw=tx.raw + bytes(32)),)
    assert refused(ledger, header, padded) == "transaction is not canonically encoded"
    ledger.post_batch(header, txs)
    assert ledger.batch_status(0).accepted


def test_unauthorised_poster(registered, bound, tiny):
    """Refused before sending (nothing is spent), and by the contract when sent anyway."""
    intruder = EvmLedger(registered.w3, registered.deployment, sequencer_key=ALICE_KEY)
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    with pytest.raises(NotSequencer, match="is not the sequencer"):
        intruder.post_batch(header, txs, [inference])
    assert reason(_raw_submit(intruder, header, txs)) == "only the sequencer posts batches"


def _raw_submit(ledger: EvmLedger, header, txs) -> pytest.ExceptionInfo[LedgerError]:
    """submitBatch sent as it is, with no check before sending."""
    fn = ledger.rollup.functions.submitBatch(header_tuple(header), encode_posted_txs(txs), [],
                                             [], [])
    with pytest.raises(LedgerError) as err:
        ledger._transact("raw submit", ledger.sequencer_key, fn, gas=3_000_000)
    return err


def test_bad_proof_byte(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    proof = bytearray(inference.proof)
    proof[100] ^= 0x01
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, txs, [replace(inference, proof=bytes(proof))])
    assert reason(err) == "proof rejected by the verifier"
    assert registered.next_batch_number() == 1


def test_public_values_not_matching_the_trace_leaves(registered, bound, tiny):
    _, _, inference = one_inference(tiny, MODEL, 1, bound.root)
    [(tx_hash, result_id)] = inference.rows
    outputs = list(tiny.execution.outputs)
    outputs[0] += 1
    lying = make_batch(1, prev_root=bound.root,
                       traces=[trace_of(tiny, MODEL, tx_hash, result_id, outputs)])
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*lying, [inference])
    assert reason(err) == "trace root mismatch"
    # Nor can the poster bend the proof's public values to the lie: the verifier refuses.
    felts = list(inference.instances)
    felts[1] += 1
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*lying, [replace(inference, instances=tuple(felts))])
    assert reason(err) == "proof rejected by the verifier"


def test_trace_root_mismatch(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    # The transaction is said to emit another trace leaf than the proof gives.
    [tx] = txs
    garbage = (replace(tx, commitment=replace(tx.commitment, trace_leaf=h("garbage"))),)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header_of(1, header.prev_state_root, garbage), garbage, [inference])
    assert reason(err) == "trace root mismatch"
    # A proven inference whose row is another transaction than the header's trace says.
    other = replace(inference, rows=((h("another tx"), inference.rows[0][1]),))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, txs, [other])
    assert reason(err) == "trace root mismatch"


def test_rows_are_the_registered_ones(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root)
    two_rows = replace(inference, rows=inference.rows * 2)  # the model's proofs have 1 row
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, txs, [two_rows])
    assert reason(err) == "rows differ from the model's registration"
    # Bound with 2 rows (by the posting), the same circuit's 3 outputs do not split into them.
    two = bind_model(tiny, ObjectId(h("two-row model")), ModelLayout(2))
    header2, txs2, _ = one_inference(tiny, two.model_id, 1, bound.root, state_root=two.root)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header2, txs2, [replace(two_rows, model_id=two.model_id)],
                              registrations=[two.registration()])
    assert reason(err) == "outputs do not split into the rows"
    # No binding without rows.
    none = bind_model(tiny, ObjectId(h("no rows")), ModelLayout(0))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*make_batch(1, prev_root=bound.root, state_root=none.root),
                              registrations=[none.registration()])
    assert reason(err) == "a model's proofs have at least one row"
    assert registered.next_batch_number() == 1


def test_unregistered_model(registered, bound, tiny):
    header, txs, inference = one_inference(tiny, ObjectId(h("unknown model")), 1, bound.root)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, txs, [inference])
    assert reason(err) == "model not registered"


def test_model_registration_is_permanent_and_open(registered, bound, tiny):
    """Bob, neither the sequencer nor the owner, bound the model (the fixture); a standing
    binding is never replaced, and only the rollup binds models while posting."""
    batch0 = make_batch(0, state_root=bound.root)  # the fixture's registration batch
    again = registered.register_model(batch0.header, bound.registration(), ALICE_KEY)
    assert again == registered.model(MODEL)  # idempotent: the standing binding is returned
    verifier = registered.w3.to_checksum_address(again.verifier)
    with pytest.raises(LedgerError) as err:
        send_registration(registered, batch0.header,
                          registration_arg(registered, bound.registration(), verifier))
    assert reason(err) == "model already registered"
    # Nor can a posting bind it again, from its own state root.
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root, state_root=bound.root)
    fn = registered.rollup.functions.submitBatch(
        header_tuple(header), tx_tuples(txs),
        [(MODEL, inference.proof, list(inference.instances), [], [inference.rows[0][0]],
          [inference.rows[0][1]])], [],
        [registration_arg(registered, bound.registration(), verifier)])
    with pytest.raises(LedgerError) as err:
        registered._transact("submit", registered.sequencer_key, fn, gas=5_000_000)
    assert reason(err) == "model already registered"
    fn = registered.registry.functions.registerAt(
        1, h("batch"), bound.root, registration_arg(registered, bound.registration(), verifier))
    with pytest.raises(LedgerError) as err:
        registered._transact("registerAt", BOB_KEY, fn, gas=1_000_000)
    assert reason(err) == "only the rollup registers while posting"


def test_reusable_verifier_reads_only_the_models_vka(ledger, tiny):
    vka_model = bind_model(tiny, ObjectId(h("vka model")), own=False)
    batch0 = make_batch(0, state_root=vka_model.root)
    ledger.post_batch(*batch0)
    # Bound by hand: the reusable verifier with the VKA words its binding's digest names.
    send_registration(ledger, batch0.header, registration_arg(
        ledger, vka_model.registration(), ledger.reusable_verifier.address,
        tiny.verifier.vka))
    model = vka_model.model_id
    registered = ledger.model(model)
    assert registered.reusable and registered.vka_digest == tiny.verifier.vka_digest
    header, txs, inference = one_inference(tiny, model, 1, vka_model.root)
    ledger.post_batch(header, txs, [inference])
    assert ledger.batch_status(1).accepted
    # Anyone can register a VKA on the shared verifier; the rollup still refuses it for a
    # model whose binding does not name it.
    forged = list(tiny.verifier.vka) + [b"\x00" * 32]
    reusable = ledger.reusable_verifier.functions.registerVka(forged)
    ledger._transact("registerVka", ALICE_KEY, reusable, gas=2_000_000)
    header2, txs2, inference2 = one_inference(tiny, model, number=2,
                                              prev_root=header.state_root)
    fn = ledger.rollup.functions.submitBatch(
        header_tuple(header2), tx_tuples(txs2),
        [(model, inference2.proof, list(inference2.instances), forged,
          [inference2.rows[0][0]], [inference2.rows[0][1]])], [], [])
    with pytest.raises(LedgerError) as err:
        ledger._transact("submit", ledger.sequencer_key, fn, gas=5_000_000)
    assert reason(err) == "VKA not allowed for this model"


def test_unreachable_node_is_a_typed_error():
    with pytest.raises(LedgerUnreachable):
        rpc_web3(f"http://127.0.0.1:{_free_port()}", timeout_s=2)


def test_revert_reason_from_anvil(anvil):
    from .conftest import deploy

    ledger = deploy(anvil.w3)
    assert ledger.chain_id == 31337
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(*make_batch(0, prev_root=Hash32(b"\x09" * 32)))
    assert reason(err) == "previous state root mismatch"
    intruder = EvmLedger(anvil.w3, ledger.deployment, sequencer_key=ALICE_KEY)
    batch = make_batch(0)
    err = _raw_submit(intruder, batch.header, batch.txs)
    assert reason(err) == "only the sequencer posts batches"
