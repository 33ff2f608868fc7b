"""Bridge rules: deposits of ETH, ERC-20 and data; withdrawals paid once against accepted roots;
forced inclusion of queued transactions."""

from dataclasses import replace

import pytest

from flavum.core.assets import compute_asset_id, compute_deposit_id
from flavum.core.batch import Withdrawal, compute_withdrawal_leaf
from flavum.core.encoding import keccak256
from flavum.core.merkle import compute_tree_proof
from flavum.core.transactions import (
    Transaction,
    Transfer,
    Withdraw,
    compute_tx_hash,
    encode_body,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_HASH, Amount, ChainId, Nonce, ObjectId, ObjectKind
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import call_mapped
from flavum.l1.interface import ForcedInclusion
from flavum.node.watcher import make_deposit_transaction

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, DOMAIN
from .helpers import h, make_batch, mine

ETH = 10**18


def test_deposits_emit_one_event_each(ledger):
    token = ledger.deploy_test_token(ALICE_KEY)
    ledger.mint_test_token(ALICE_KEY, token, ALICE, 1_000)
    ledger.deposit_eth(ALICE_KEY, BOB, 2 * ETH)
    ledger.deposit_erc20(ALICE_KEY, token, 300, BOB)
    ledger.deposit_data(ALICE_KEY, BOB, h("commitment"), b"payload bytes")
    events = ledger.deposits(0, ledger.head())
    assert [e.amount for e in events] == [2 * ETH, 300, 0]
    assert events[0].asset == compute_asset_id(ledger.ledger_id)
    assert events[1].asset == compute_asset_id(ledger.ledger_id, bytes.fromhex(token[2:]))
    assert events[2].data_commitment == h("commitment")
    assert events[2].payload == b"payload bytes" and events[2].metadata_hash != ZERO_HASH
    assert all(e.recipient == BOB and e.depositor == ALICE for e in events)
    assert len({e.event_id for e in events}) == 3
    assert ledger.erc20_balance(token, bytes.fromhex(ledger.deployment.bridge[2:])) == 300
    with pytest.raises(LedgerError) as err:
        ledger.deposit_data(ALICE_KEY, BOB, ZERO_HASH)
    assert err.value.reason == "a data deposit needs a commitment"


def test_inbox_stores_each_deposits_body_hash_by_index(ledger):
    token = ledger.deploy_test_token(ALICE_KEY)
    ledger.mint_test_token(ALICE_KEY, token, ALICE, 1_000)
    receipts = [ledger.deposit_eth(ALICE_KEY, BOB, ETH),
                ledger.deposit_erc20(ALICE_KEY, token, 300, BOB),
                ledger.deposit_data(ALICE_KEY, BOB, h("commitment"), b"payload", value=5)]
    events = ledger.deposits(0, ledger.head())
    assert ledger.deposits(0, ledger.head()) == events  # read again: the same ids
    assert [e.index for e in events] == [0, 1, 2]
    for event, receipt in zip(events, receipts, strict=True):
        assert event.event_id == compute_deposit_id(ledger.ledger_id, event.index)
        body = make_deposit_transaction(DOMAIN, ledger.ledger_id, event).body
        assert body.asset == event.asset  # the asset the bridge named follows from the token
        stored = ledger.bridge.functions.deposit(event.index).call()
        assert (bytes(stored[0]), stored[1]) == (keccak256(encode_body(body)),
                                                 receipt["blockNumber"])
    with pytest.raises(LedgerError) as err:
        call_mapped("deposit", ledger.bridge.functions.deposit(3).call)
    assert err.value.reason == "no such deposit"
    # The inbox's two stores (about 44k gas) keep a deposit well inside its gas limit.
    assert receipts[0]["gasUsed"] < 100_000


def _withdrawals(ledger, token: str) -> list[Withdrawal]:
    eth = compute_asset_id(ledger.ledger_id)
    tok = compute_asset_id(ledger.ledger_id, bytes.fromhex(token[2:]))
    none = ObjectId(ZERO_HASH)
    return [
        Withdrawal(h("w0"), ledger.ledger_id, BOB, eth, Amount(ETH), none, 0, ZERO_HASH, none),
        Withdrawal(h("w1"), ledger.ledger_id, BOB, tok, Amount(120), none, 0, ZERO_HASH, none),
        Withdrawal(h("w2"), ledger.ledger_id, BOB, eth, Amount(0), ObjectId(h("result")),
                   int(ObjectKind.RESULT), h("outputs hash"), ObjectId(h("model"))),
        Withdrawal(h("w3"), ledger.ledger_id, BOB, eth, Amount(0), ObjectId(h("model obj")),
                   int(ObjectKind.MODEL), h("onnx"), ObjectId(ZERO_HASH)),
    ]


@pytest.fixture
def funded(ledger):
    token = ledger.deploy_test_token(ALICE_KEY)
    ledger.mint_test_token(ALICE_KEY, token, ALICE, 1_000)
    ledger.deposit_eth(ALICE_KEY, ALICE, 3 * ETH)
    ledger.deposit_erc20(ALICE_KEY, token, 500, ALICE)
    withdrawals = _withdrawals(ledger, token)
    ledger.post_batch(*make_batch(0, withdrawals=withdrawals))
    return ledger, token, withdrawals


def _proof(withdrawals, index):
    return compute_tree_proof([compute_withdrawal_leaf(w) for w in withdrawals], index)


def test_finalize_pays_eth_tokens_and_mints_objects(funded):
    ledger, token, ws = funded
    before = ledger.eth_balance(BOB)
    ledger.finalize_withdrawal(ws[0], 0, 0, _proof(ws, 0), ALICE_KEY)  # anyone may relay
    assert ledger.eth_balance(BOB) == before + ETH
    ledger.finalize_withdrawal(ws[1], 0, 1, _proof(ws, 1), BOB_KEY)
    assert ledger.erc20_balance(token, BOB) == 120
    ledger.finalize_withdrawal(ws[2], 0, 2, _proof(ws, 2), BOB_KEY)
    assert ledger.object_owner(ws[2].object_id) == BOB
    assert ledger.object_info(ws[2].object_id) == (3, h("outputs hash"), h("model"))
    assert all(ledger.is_withdrawal_finalized(w) for w in ws[:3])


def test_double_finalize_is_refused(funded):
    ledger, _, ws = funded
    ledger.finalize_withdrawal(ws[0], 0, 0, _proof(ws, 0), BOB_KEY)
    with pytest.raises(LedgerError) as err:
        ledger.finalize_withdrawal(ws[0], 0, 0, _proof(ws, 0), BOB_KEY)
    assert err.value.reason == "withdrawal already finalized"


def test_bad_withdrawal_merkle_path(funded):
    ledger, _, ws = funded
    proof = list(_proof(ws, 0))
    proof[1] = h("wrong sibling")
    for bad in [(ws[0], 0, proof), (ws[0], 1, _proof(ws, 0)),
                (replace(ws[0], amount=Amount(2 * ETH)), 0, _proof(ws, 0))]:
        with pytest.raises(LedgerError) as err:
            ledger.finalize_withdrawal(bad[0], 0, bad[1], bad[2], BOB_KEY)
        assert err.value.reason == "bad withdrawal proof"


def test_finalize_refusals(funded):
    ledger, _, ws = funded
    with pytest.raises(LedgerError) as err:
        ledger.finalize_withdrawal(ws[0], 1, 0, _proof(ws, 0), BOB_KEY)
    assert err.value.reason == "batch not accepted"
    with pytest.raises(LedgerError) as err:
        ledger.finalize_withdrawal(replace(ws[0], ledger=h("ledger.other")), 0, 0, _proof(ws, 0),
                                   BOB_KEY)
    assert err.value.reason == "withdrawal is for another ledger"
    with pytest.raises(LedgerError) as err:
        ledger.finalize_withdrawal(ws[3], 0, 3, _proof(ws, 3), BOB_KEY)
    assert err.value.reason == "this object kind is not withdrawable"


# --- forced inclusion ---------------------------------------------------------------------

def _signed(body, nonce: int = 0) -> Transaction:
    tx = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ALICE, Nonce(nonce), body)
    return sign_transaction(tx, ALICE_KEY)


def test_forced_request_must_be_processed_within_the_window(ledger):
    eth = compute_asset_id(ledger.ledger_id)
    tx = _signed(Withdraw(ledger.ledger_id, ALICE, eth, Amount(5), ObjectId(ZERO_HASH)))
    request_id = ledger.queue_forced_transaction(encode_transaction(tx), ALICE_KEY)
    [request] = ledger.forced_requests()
    assert (request.request_id, request.tx_hash) == (request_id, compute_tx_hash(tx))
    # Within the window a batch may leave it for later.
    b0 = make_batch(0)
    ledger.post_batch(*b0)
    mine(ledger, 6)  # the window is 5 blocks
    other = _signed(Transfer(BOB, eth, Amount(1)), nonce=1)
    b1 = make_batch(1, prev_root=b0.header.state_root, txs=[other, tx])
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(*b1)
    assert err.value.reason == "batch skips an overdue forced request"
    # Included as a transaction of the batch that is not the forced one, or past the last.
    for index in (0, 2):
        with pytest.raises(LedgerError) as err:
            ledger.post_batch(*b1, forced=[ForcedInclusion(request_id, True, index)])
        assert err.value.reason == "forced transaction not in the batch"
    ledger.post_batch(*b1, forced=[ForcedInclusion(request_id, True, 1)])
    assert ledger.forced_requests() == []
    assert ledger.forced_requests(only_pending=False)[0].processed


def test_forced_request_can_be_refused_publicly(ledger):
    eth = compute_asset_id(ledger.ledger_id)
    tx = _signed(Withdraw(ledger.ledger_id, ALICE, eth, Amount(10**30), ObjectId(ZERO_HASH)))
    request_id = ledger.queue_forced_transaction(encode_transaction(tx), ALICE_KEY)
    mine(ledger, 6)
    ledger.post_batch(*make_batch(0), forced=[ForcedInclusion(request_id, included=False)])
    events = ledger.rollup.events.ForcedRequestProcessed.get_logs(from_block=0)
    assert [(e["args"]["requestId"], e["args"]["included"]) for e in events] == [(0, False)]


def test_queues_show_what_batches_owe_and_how_they_settled_it(ledger):
    """What `flavum verify` reports from the ledger alone: inbox deposits taken and waiting
    (overdue past the window), forced requests included, refused, pending and overdue."""
    from flavum.node.watcher import make_deposit_transaction

    eth = compute_asset_id(ledger.ledger_id)
    ledger.deposit_eth(ALICE_KEY, ALICE, 10**18)
    included = _signed(Withdraw(ledger.ledger_id, ALICE, eth, Amount(5), ObjectId(ZERO_HASH)))
    refused = _signed(Withdraw(ledger.ledger_id, ALICE, eth, Amount(10**30), ObjectId(ZERO_HASH)),
                      nonce=1)
    for tx in (included, refused):
        ledger.queue_forced_transaction(encode_transaction(tx), ALICE_KEY)
    (event,) = ledger.deposits(0, ledger.head())
    deposit = make_deposit_transaction(DOMAIN, ledger.ledger_id, event)
    batch = make_batch(0, txs=[deposit, included])
    ledger.post_batch(*batch, forced=[ForcedInclusion(0, True, 1), ForcedInclusion(1, False)])
    ledger.deposit_eth(ALICE_KEY, BOB, 10**18)  # deposit 1: waiting
    late = _signed(Withdraw(ledger.ledger_id, ALICE, eth, Amount(1), ObjectId(ZERO_HASH)), 2)
    ledger.queue_forced_transaction(encode_transaction(late), ALICE_KEY)
    q = ledger.queues()
    assert (q.deposits, q.deposits_consumed, q.window) == (2, 1, 5)
    assert [(o.request_id, o.batch_number, o.included) for o in q.outcomes] == [
        (0, 0, True), (1, 0, False)]
    assert [r.processed for r in q.forced] == [True, True, False]
    assert q.overdue_deposits() == [] and q.overdue_forced() == []
    mine(ledger, 6)  # the window passes: the next batch must take deposit 1 and request 2
    q = ledger.queues()
    assert q.overdue_deposits() == [1] and q.overdue_forced() == [2]


def test_any_signed_transaction_of_this_rollup_can_be_forced_and_nothing_else(ledger):
    """The queue checks what it takes (FlavumStep.checkForcible): the rollup's domain and the
    sender's signature; Deposits come only from the bridge and Infers need the prover."""
    from dataclasses import replace

    from flavum.core.transactions import Deposit, Infer
    from flavum.core.types import ZERO_ADDRESS

    eth = compute_asset_id(ledger.ledger_id)
    transfer = _signed(Transfer(BOB, eth, Amount(1)))
    assert ledger.queue_forced_transaction(encode_transaction(transfer), ALICE_KEY) == 0
    other = Transaction(ChainId(1), DOMAIN.rollup_id, ALICE, Nonce(0), transfer.body)
    forged = replace(transfer, sender=BOB)  # Alice's signature, Bob named as the sender
    deposit = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ZERO_ADDRESS, Nonce(0), Deposit(
        ledger.ledger_id, ZERO_HASH, ALICE, ZERO_ADDRESS, Amount(1), ZERO_HASH, ZERO_HASH))
    infer = _signed(Infer(ObjectId(b"\x01" * 32), ObjectId(b"\x02" * 32), Amount(0)))
    for raw, reason in [
        (encode_transaction(sign_transaction(other, ALICE_KEY)), "wrong domain"),
        (encode_transaction(forged), "bad signature"),
        (encode_transaction(deposit), "a deposit comes from the bridge, not the forced queue"),
        (encode_transaction(infer), "an inference needs the sequencer's prover: it cannot be "
                                    "forced"),
        (encode_transaction(transfer) + b"\x00", "transaction is not canonically encoded"),
    ]:
        with pytest.raises(LedgerError) as err:
            ledger.queue_forced_transaction(raw, ALICE_KEY)
        assert err.value.reason == reason
    assert len(ledger.forced_requests()) == 1
