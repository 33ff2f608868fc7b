"""A node following a revert on the embedded EVM. Each lie is played by this test (a monkeypatch
of the sequencer, or a batch posted with the sequencer's key; never a node option) and proven
by flavum.challenger, as anyone watching the ledger would.

- The node's own batch is proven fraudulent: its execution disagrees with L1's one-step
  executor, so it records the batch "reverted" and stops posting to that ledger (re-posting
  would lose the bond again), even once the bond is restored.
- Someone else posts a forged batch with the sequencer's key before the node posts its own:
  once it is reverted and the bond topped up, the node posts its own batch and it is accepted.
"""

import pytest
from fastapi.testclient import TestClient

from flavum.api.app import create_app
from flavum.challenger import Challenger
from flavum.core.batch import (
    TxCommitment,
    Withdrawal,
    compute_batch_header,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import keccak256
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import (
    Transaction,
    Transfer,
    Withdraw,
    address_of,
    compute_tx_hash,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import NO_OBJECT, ZERO_HASH, Amount, Nonce
from flavum.l1.errors import LedgerError
from flavum.l1.interface import BatchTx
from flavum.node.config import LedgerSpec
from flavum.node.node import Node

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY
from .test_inference import send
from .test_ledgers import SEQUENCER_KEY, open_node

ETH = DEV_ASSET  # the genesis funds
SPEC = LedgerSpec(name="evm", kind="evm", confirmations=0, challenge_window=20)


def challenger_of(node: Node) -> Challenger:
    """Bob, watching the ledger with nothing but its posted batches and the genesis."""
    return Challenger(node.ledger("evm").ledger, node.config.genesis_state.state(), BOB_KEY)


def state_on_ledger(node: Node, number: int) -> tuple[str, str | None]:
    (post,) = node.store.ledger_posts(number)
    return post.state, post.detail


def test_a_node_whose_own_batch_is_proven_fraudulent_stops_posting(tmp_path, shared_srs,
                                                                    monkeypatch):
    import flavum.node.sequencer as sequencer_module

    node = open_node(tmp_path, shared_srs, SPEC)
    try:
        link = node.ledger("evm")
        ledger = link.ledger
        send(node, BOB_KEY, BOB, Transfer(ALICE, ETH, Amount(1)))
        node.sequencer.seal_batch()
        link.tick()  # batch 0, honest

        # The lie: the node's sequencer commits a made-up post-state root for one transfer.
        honest_commitment = sequencer_module.compute_tx_commitment
        with monkeypatch.context() as patch:
            patch.setattr(sequencer_module, "compute_tx_commitment",
                          lambda tx_hash, _root, trace, withdrawal: honest_commitment(
                              tx_hash, keccak256(b"not the state"), trace, withdrawal))
            send(node, BOB_KEY, BOB, Transfer(ALICE, ETH, Amount(2)))
        node.sequencer.seal_batch()
        link.tick()
        assert state_on_ledger(node, 1)[0] == "accepted"

        (fraud,) = challenger_of(node).run()
        assert (fraud.number, fraud.index, fraud.reason) == (1, 0, "wrong post-state root")
        assert ledger.next_batch_number() == 1

        send(node, BOB_KEY, BOB, Transfer(ALICE, ETH, Amount(3)))
        node.sequencer.seal_batch()  # batch 2: waits behind the reverted one
        ledger.top_up_bond(ledger.bond().minimum, ALICE_KEY)  # even with the bond restored
        for _ in range(3):
            link.tick()
        assert ledger.next_batch_number() == 1, "the node posted nothing more"
        assert state_on_ledger(node, 0)[0] == "accepted"
        state, detail = state_on_ledger(node, 1)
        assert state == "reverted" and "wrong post-state root" in detail
        assert node.store.ledger_posts(2) == []
        assert link.reverted is not None and link.reverted.number == 1
        assert "batch 1, transaction 0" in link.last_error
        assert "posting to this ledger is stopped" in link.last_error

        client = TestClient(create_app(node))
        (info,) = client.get("/v1/ledgers").json()
        assert (info["state"], info["reverted_batch"]) == ("reverted", 1)
        assert "posting to this ledger is stopped" in info["last_error"]
        (post,) = client.get("/v1/batches/1").json()["ledgers"]
        assert post["state"] == "reverted" and "wrong post-state root" in post["detail"]
    finally:
        node.close()


def test_a_forged_batch_is_reverted_and_the_node_posts_its_own(tmp_path, shared_srs):
    node = open_node(tmp_path, shared_srs, SPEC)
    try:
        link = node.ledger("evm")
        ledger = link.ledger
        send(node, BOB_KEY, BOB, Transfer(ALICE, ETH, Amount(1)))
        own = node.sequencer.seal_batch()  # batch 0: sealed, not posted yet

        # Someone holding the sequencer's key posts another batch 0 first: a theft.
        config = node.config
        thief = address_of(SEQUENCER_KEY)
        theft = sign_transaction(Transaction(
            config.domain.chain_id, config.domain.rollup_id, thief, Nonce(0),
            Withdraw(ledger.ledger_id, thief, ETH, Amount(10**18), NO_OBJECT)), SEQUENCER_KEY)
        paid = Withdrawal(compute_tx_hash(theft), ledger.ledger_id, thief, ETH, Amount(10**18),
                          NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)
        lie = TxCommitment(compute_tx_hash(theft), keccak256(b"made up"),
                           compute_withdrawal_leaf(paid))
        forged = compute_batch_header(0, node.sequencer.genesis_root, [lie], keccak256(b"f"))
        ledger.post_batch(forged, [BatchTx(encode_transaction(theft), lie)])
        assert ledger.next_batch_number() == 1

        (fraud,) = challenger_of(node).run()
        assert (fraud.number, fraud.index) == (0, 0)
        assert ledger.next_batch_number() == 0 and ledger.bond().is_short

        link.tick()  # the bond is gone: the ledger refuses, the node says what to do
        assert ledger.next_batch_number() == 0
        assert link.reverted is None, "the reverted batch was not the node's"
        assert "bond" in link.last_error and "flavum l1 bond" in link.last_error

        ledger.top_up_bond(ledger.bond().minimum, ALICE_KEY)
        link.tick()
        assert link.last_error is None, link.last_error
        assert ledger.batch_status(0).batch_hash == own.batch_hash
        assert state_on_ledger(node, 0)[0] == "accepted"
        ledger.mine_to(ledger.final_at_block(0))
        with pytest.raises(LedgerError, match="bad withdrawal proof"):  # the theft is gone
            ledger.finalize_withdrawal(paid, 0, 0, [], SEQUENCER_KEY)
    finally:
        node.close()


def test_a_node_stops_posting_once_the_ledger_is_frozen(tmp_path, shared_srs):
    """The node's batches stop for longer than the escape delay: the rollup freezes, and the
    node says so instead of posting (the ledger would refuse every batch)."""
    node = open_node(tmp_path, shared_srs, LedgerSpec(name="evm", kind="evm", confirmations=0,
                                                      challenge_window=2, escape_delay=10))
    try:
        link = node.ledger("evm")
        ledger = link.ledger
        send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(1)))
        node.sequencer.seal_batch()
        link.tick()
        assert ledger.next_batch_number() == 1 and link.last_error is None
        ledger.mine_to(ledger.escape_status().escape_at_block)
        send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(1)))
        node.sequencer.seal_batch()
        link.tick()
        assert ledger.next_batch_number() == 1
        assert "frozen in escape mode" in link.last_error and "flavum escape" in link.last_error
        (info,) = TestClient(create_app(node)).get("/v1/ledgers").json()
        assert (info["state"], info["reverted_batch"]) == ("frozen", None)
    finally:
        node.close()
