"""A long honest run: 30 batches of random transfers (new accounts, emptied accounts) with a
model deployed and a few proven inferences. The verifier agrees with the node on every batch."""

import random

from flavum.core.transactions import Transfer, address_of
from flavum.core.types import Amount
from flavum.ml import examples
from flavum.verifier import LedgerHeaders, Verifier
from tests.node.test_inference import deploy, send, submit_data

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, ETH, infer, open_node, seal_and_post

BATCHES = 30


def test_verifier_agrees_with_the_node_on_a_long_run(tmp_path, shared_srs, shared_circuits):
    node = open_node(tmp_path / "home", shared_srs, shared_circuits)
    try:
        rng = random.Random(7)
        keys = {ALICE: ALICE_KEY, BOB: BOB_KEY}
        for i in range(4):
            key = bytes([0x40 + i]) * 32
            keys[address_of(key)] = key
        example = examples.train_sklearn_logreg("iris")
        _, model_id = deploy(node, example)
        data_ids = [submit_data(node, model_id, example.test_inputs[i]) for i in range(3)]
        for number in range(BATCHES):
            for _ in range(rng.randint(1, 5)):
                sender = rng.choice(list(keys))
                balance = node.sequencer.account(sender)[1].get(ETH, 0)
                if balance == 0:
                    continue
                # Now and then a sender empties its account: the leaf is deleted.
                amount = balance if rng.random() < 0.15 and sender not in (ALICE, BOB) else \
                    rng.randint(1, min(balance, 10**6))
                to = rng.choice([a for a in keys if a != sender])
                send(node, keys[sender], sender, Transfer(to, ETH, Amount(amount)))
            if number % 10 == 5:
                infer(node, model_id, rng.choice(data_ids))
            seal_and_post(node)
        ledger = node.ledger("evm").ledger
        with Verifier(LedgerHeaders(ledger), node.sequencer.publisher.data_store,
                      node.config.domain, genesis_root=node.sequencer.genesis_root) as verifier:
            reports = list(verifier.run(0))
        node_batches = node.store.batches()
        assert len(reports) == len(node_batches) == BATCHES
        assert [r.describe() for r in reports if not r.ok] == []
        assert [r.state_root for r in reports] == [b.header.state_root for b in node_batches]
        assert [ledger.batch_header(b.header.number) for b in node_batches] == \
            [b.header for b in node_batches]
        assert sum(r.inferences for r in reports) == 3
    finally:
        node.close()
