"""A node whose key the admin rotated away, on the embedded EVM (deployed by the node's key,
so that key is also the admin): it posts nothing and says so ("replaced", in its status) in
place of sending batches the rollup refuses; rotated back, its key activates itself on its
next post after the delay and the node posts its backlog."""

from fastapi.testclient import TestClient

from flavum.api.app import create_app
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import Transfer, address_of
from flavum.core.types import Amount
from flavum.node.config import LedgerSpec

from .conftest import ALICE, BOB, BOB_KEY
from .test_inference import send
from .test_ledgers import SEQUENCER_KEY, open_node

NEW_KEY = b"\x36" * 32
# Batches final at once, forced requests due within 2 blocks: the rotation takes 3 blocks.
SPEC = LedgerSpec(name="evm", kind="evm", confirmations=0, forced_window=2, rotation_delay=3)


def test_a_node_rotated_away_stops_posting_and_resumes_when_rotated_back(tmp_path, shared_srs):
    node = open_node(tmp_path, shared_srs, SPEC)
    try:
        link = node.ledger("evm")
        ledger = link.ledger
        send(node, BOB_KEY, BOB, Transfer(ALICE, DEV_ASSET, Amount(1)))
        node.sequencer.seal_batch()
        link.tick()
        assert ledger.next_batch_number() == 1

        ledger.propose_sequencer(address_of(NEW_KEY), SEQUENCER_KEY)  # the node's key: admin
        ledger.mine_to(ledger.sequencer_roles().pending_at_block)
        ledger.activate_sequencer(SEQUENCER_KEY)
        send(node, BOB_KEY, BOB, Transfer(ALICE, DEV_ASSET, Amount(2)))
        node.sequencer.seal_batch()
        sent = ledger.w3.eth.get_transaction_count(
            ledger.w3.to_checksum_address(address_of(SEQUENCER_KEY)))
        for _ in range(3):
            link.tick()
        assert ledger.next_batch_number() == 1 and link.replaced
        assert ledger.w3.eth.get_transaction_count(ledger.w3.to_checksum_address(
            address_of(SEQUENCER_KEY))) == sent, "nothing sent to be refused"
        assert "is not the sequencer" in link.last_error
        assert "posting to evm is stopped" in link.last_error
        (info,) = TestClient(create_app(node)).get("/v1/ledgers").json()
        assert info["state"] == "replaced" and "is not the sequencer" in info["last_error"]

        ledger.propose_sequencer(address_of(SEQUENCER_KEY), SEQUENCER_KEY)
        link.tick()
        assert link.replaced and "is proposed from block" in link.last_error
        ledger.mine_to(ledger.sequencer_roles().pending_at_block)
        link.tick()  # due: the node's key activates itself and posts batch 1
        assert ledger.next_batch_number() == 2 and not link.replaced
        assert link.last_error is None
        assert ledger.sequencer_roles().sequencer == address_of(SEQUENCER_KEY)
    finally:
        node.close()
