"""A node posting to an EVM ledger, end to end: deposits in, proven batches out, withdrawals.

Deposit ETH and a data payload on L1 -> deploy a model -> infer on the deposited data -> prove
-> the batch is accepted on L1 with the proof verified there -> withdraw ETH and the RESULT as an
ERC-721 -> balances and token ownership are right on L1. On the embedded EVM and on anvil.
"""

import pytest

from flavum.core import errors
from flavum.core.batch import compute_outputs_hash
from flavum.core.genesis import DEV_ASSET
from flavum.core.stf import compute_deposit_object_id
from flavum.core.transactions import Infer, Withdraw
from flavum.core.types import NO_OBJECT, Amount, ObjectKind
from flavum.l1.errors import LedgerError
from flavum.ml import examples
from flavum.node.config import LedgerSpec, native_asset
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config
from .test_inference import deploy, send, submit_data, wait_proven

ETH = native_asset()
SEQUENCER_KEY = b"\x05" * 32


def open_node(tmp_path, shared_srs, spec: LedgerSpec) -> Node:
    config = make_config(tmp_path / "home", prover="inline", ledgers=(spec,))
    (config.home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
    (config.home / "srs").symlink_to(shared_srs)
    return Node.open(config, pool=InlineProverPool())


def run_round_trip(node: Node) -> None:
    link = node.ledger("evm")
    ledger = link.ledger
    example = examples.train_sklearn_logreg("iris")
    _, model_id = deploy(node, example)
    vk_hash = node.sequencer.object(model_id).vk_hash
    commitment = node.models.commit_data(vk_hash, example.test_inputs[0])

    # L1 -> L2: Bob deposits 1 ETH and his data point.
    ledger.deposit_eth(BOB_KEY, BOB, 10**18)
    ledger.deposit_data(BOB_KEY, BOB, commitment, b"digits row 0")
    link.tick()
    assert node.sequencer.account(BOB)[1][ETH] == 10**18  # genesis gave only dev funds
    event = ledger.deposits(0, ledger.head())[-1]
    data_id = compute_deposit_object_id(event.event_id)
    data = node.sequencer.object(data_id)
    assert (data.kind, data.owner, data.commitment) == (ObjectKind.DATA, BOB, commitment)

    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    assert wait_proven(node, receipt.tx_hash).proof_status == "proven"
    first = node.sequencer.seal_batch()
    link.tick()  # registers the model's verifier, posts the batch with its proof
    posts = node.store.ledger_posts(first.header.number)
    assert posts[0].state == "accepted", posts
    assert ledger.batch_status(first.header.number).accepted

    # L2 -> L1: Bob withdraws 0.4 ETH and his RESULT.
    w_eth = send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, BOB, ETH, Amount(4 * 10**17),
                                              NO_OBJECT)).outcome.withdrawal
    w_nft = send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, BOB, ETH, Amount(0),
                                              receipt.outcome.object_id)).outcome.withdrawal
    node.sequencer.seal_batch()
    link.tick()
    before = ledger.eth_balance(BOB)
    for withdrawal in (w_eth, w_nft):
        w, batch, index, proof = node.withdrawal_proof(withdrawal.withdrawal_id)
        ledger.finalize_withdrawal(w, batch, index, proof, BOB_KEY)
    gained = ledger.eth_balance(BOB) - before
    assert 4 * 10**17 - 10**16 < gained <= 4 * 10**17  # minus the gas of two finalizations
    assert ledger.object_owner(receipt.outcome.object_id) == BOB
    kind, token_commitment, token_model = ledger.object_info(receipt.outcome.object_id)
    assert (kind, token_model) == (ObjectKind.RESULT, model_id)
    assert token_commitment == compute_outputs_hash(receipt.outcome.trace.outputs)
    with pytest.raises(LedgerError):
        w, batch, index, proof = node.withdrawal_proof(w_eth.withdrawal_id)
        ledger.finalize_withdrawal(w, batch, index, proof, BOB_KEY)
    assert node.sequencer.object(receipt.outcome.object_id) is None  # burnt on L2


def test_round_trip_on_the_embedded_evm(tmp_path, shared_srs):
    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0))
    try:
        run_round_trip(node)
    finally:
        node.close()


def test_sealing_waits_for_proofs_and_a_failed_proof_blocks_the_ledger(tmp_path, shared_srs):
    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0))
    try:
        link = node.ledger("evm")
        example = examples.train_sklearn_logreg("iris")
        _, model_id = deploy(node, example)
        data_id = submit_data(node, model_id, example.test_inputs[0])
        receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
        assert node.sequencer.seal_batch() is None  # the proof is not made yet
        node.store.set_proof_status(receipt.tx_hash, "failed", "prover crashed")
        batch = node.sequencer.seal_batch()
        link.tick()
        assert link.ledger.next_batch_number() == 0
        post = node.store.ledger_posts(batch.header.number)[0]
        assert post.state == "blocked" and "prover crashed" in post.detail
    finally:
        node.close()


def test_withdrawal_proof_needs_a_sealed_batch(tmp_path, shared_srs):
    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0))
    try:
        ledger_id = node.ledger("evm").ledger.ledger_id
        w = send(node, BOB_KEY, BOB, Withdraw(ledger_id, ALICE, DEV_ASSET, Amount(5), NO_OBJECT))
        with pytest.raises(errors.NotFound, match="sealed"):
            node.withdrawal_proof(w.outcome.withdrawal.withdrawal_id)
    finally:
        node.close()


def test_forced_requests_are_included_or_refused_in_the_next_batch(tmp_path, shared_srs):
    from flavum.core.transactions import Transaction, encode_transaction, sign_transaction
    from flavum.core.types import Nonce

    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0))
    try:
        link = node.ledger("evm")
        ledger = link.ledger
        config = node.config

        def signed_withdraw(nonce: int) -> bytes:
            tx = Transaction(config.domain.chain_id, config.domain.rollup_id, BOB, Nonce(nonce),
                             Withdraw(ledger.ledger_id, BOB, ETH, Amount(10**17), NO_OBJECT))
            return encode_transaction(sign_transaction(tx, BOB_KEY))

        ledger.deposit_eth(BOB_KEY, BOB, 10**18)
        # The escape hatch: Bob asks L1 to force his withdrawal; the second one is invalid.
        ledger.queue_forced_transaction(signed_withdraw(0), BOB_KEY)
        ledger.queue_forced_transaction(signed_withdraw(7), BOB_KEY)
        link.tick()
        assert node.sequencer.account(BOB)[0] == 1  # the valid one was applied on L2
        refused = node.store.get_forced("evm", 1)  # the bad nonce: refused, after the deposit
        assert (refused.included, refused.refused_at_seq) == (False, 3)  # and the withdrawal
        node.sequencer.seal_batch()
        link.tick()
        assert ledger.batch_status(0).accepted
        assert ledger.forced_requests(only_pending=True) == []  # both settled on L1
        # Posted refused at the batch's end (position 2), where it is invalid: no challenge.
        assert [(f.request_id, f.included, f.tx_index) for f in ledger.posted_forced(0)] == [
            (0, True, 1), (1, False, 2)]
        from flavum.challenger import Challenger

        assert Challenger(ledger, config.genesis_state.state(), ALICE_KEY).run() == []
    finally:
        node.close()


def test_batch_detail_says_how_long_until_final(tmp_path, shared_srs):
    """With a challenge window, `batch show` (the API's batch detail) says the batch is not
    final, how many blocks are left and from which block; then that it is final."""
    from fastapi.testclient import TestClient

    from flavum.api.app import create_app
    from flavum.core.transactions import Transfer

    spec = LedgerSpec(name="evm", kind="evm", confirmations=0, challenge_window=4)
    node = open_node(tmp_path, shared_srs, spec)
    try:
        link = node.ledger("evm")
        send(node, BOB_KEY, BOB, Transfer(ALICE, DEV_ASSET, Amount(1)))
        batch = node.sequencer.seal_batch()
        link.tick()
        client = TestClient(create_app(node))
        (post,) = client.get(f"/v1/batches/{batch.header.number}").json()["ledgers"]
        final_at = link.ledger.final_at_block(batch.header.number)
        assert post["state"] == "accepted" and post["final"] is False
        assert post["final_at_block"] == final_at
        assert post["blocks_to_final"] == final_at - link.ledger.head() > 0
        link.ledger.mine_to(final_at)
        (post,) = client.get(f"/v1/batches/{batch.header.number}").json()["ledgers"]
        assert (post["final"], post["blocks_to_final"]) == (True, 0)
    finally:
        node.close()
