"""Verifying from Litecoin anchors: the OP_RETURN carries the batch number, data pointer and
batch hash; the verifier rebuilds each header from its blob and checks it against the hash.
It reads the anchors with a handle that holds no key (as a federation signer does). Litecoin
checks no deposit: the verifier checks each LTC deposit a batch credits against the chain."""

import json

import pytest

from flavum.core.batch import compute_batch_hash
from flavum.core.codec import to_hex
from flavum.core.transactions import Deposit, Transaction, Withdraw
from flavum.core.types import NO_OBJECT, ZERO_ADDRESS, ZERO_HASH, Amount, Nonce
from flavum.da.interface import cid_from_digest
from flavum.l1.litecoin import LitecoinLedger
from flavum.l1.litecoin_script import compute_public_key
from flavum.ledger_deposits import LedgerDeposits
from flavum.node.node import Node
from flavum.verifier import LedgerHeaders, Verifier
from flavum.zk.pool_inline import InlineProverPool
from tests.l1.helpers import h
from tests.l1.litecoin_node import (
    ANCHOR_KEY,
    LITECOIND,
    RPC_PASSWORD,
    RPC_USER,
    THRESHOLD,
    LitecoinNode,
    make_ledger,
)
from tests.l1.test_litecoin_signers import federation
from tests.node.conftest import ALICE, ALICE_KEY, BOB
from tests.node.test_cli_and_restart import flavum
from tests.node.test_inference import send

from .test_verifier import ALL_CHECKS

LTC = 10**8

pytestmark = pytest.mark.skipif(LITECOIND is None,
                                reason="litecoind is not installed (apt-get install litecoind)")


def test_verify_from_litecoin_anchors(chain, tmp_path):
    node = LitecoinNode(tmp_path / "litecoin")
    node.start_bootstrapped()
    try:
        ledger = make_ledger(node)
        node.send(ledger.anchor_address, LTC)
        node.mine(1)
        for header in chain.headers:
            ledger.post_batch(header)
            node.mine(1)
        assert ledger.anchor(2).batch_hash == compute_batch_hash(chain.headers[2])
        reader = LitecoinLedger(node.url, RPC_USER, RPC_PASSWORD, threshold=THRESHOLD,
                                federation_public_keys=list(ledger.custody.public_keys),
                                anchor_public_key=compute_public_key(ANCHOR_KEY))
        with Verifier(LedgerHeaders(reader), chain.copy_store(), chain.domain,
                      genesis_root=chain.node.sequencer.genesis_root,
                      deposits=LedgerDeposits(reader, 2)) as verifier:
            reports = list(verifier.run(0))
        assert [r.ok for r in reports] == [True, True, True], [r.describe() for r in reports]
        assert all(r.checks == ALL_CHECKS for r in reports)  # no LTC deposit to check
        assert [r.state_root for r in reports] == [h.state_root for h in chain.headers]

        store = chain.copy_store()
        del store.objects[cid_from_digest(chain.headers[1].data_pointer)]
        with Verifier(LedgerHeaders(reader), store, chain.domain) as verifier:
            reports = list(verifier.run(0))
        assert [(r.ok, r.check, r.code) for r in reports] == [
            (True, None, None), (False, "data", "data_unavailable"), (True, None, None)]
    finally:
        node.stop()


def test_verify_refuses_a_batch_crediting_a_deposit_nobody_made(tmp_path):
    """The attack of tests/l1/test_litecoin_signers.py, seen by `flavum verify`: a lying
    sequencer, with the node's own code, credits itself 2 LTC for a deposit nobody made and
    withdraws them (batch 1), then credits a real 1 LTC deposit as 10 LTC before its watcher
    does (batch 2). Both batches are anchored, header and data agree and re-execution finds
    nothing wrong; the verifier finds no such deposit on Litecoin. Batch 0, crediting a real
    deposit as it was made, verifies."""
    litecoind = LitecoinNode(tmp_path / "litecoin")
    litecoind.start_bootstrapped()
    try:
        config, _, _ = federation(tmp_path, litecoind, [0, 1])  # no signer runs: none is paid
        start = config.ledgers[0].options["start_height"]
        domain = config.domain
        node = Node.open(config, pool=InlineProverPool())
        try:
            link = node.ledger("litecoin")
            ledger = link.ledger
            litecoind.send(ledger.anchor_address, LTC)
            litecoind.new_wallet("bob", 5 * LTC)
            ledger.deposit_from_wallet("bob", BOB, 3 * LTC)
            litecoind.mine(3)
            link.tick()  # the watcher credits it
            node.sequencer.seal_batch()
            link.tick()

            fake = Deposit(ledger.ledger_id, h("nobody paid this"), ALICE, ZERO_ADDRESS,
                           Amount(2 * LTC), ZERO_HASH, ZERO_HASH)
            node.sequencer.submit_system(Transaction(domain.chain_id, domain.rollup_id,
                                                     ZERO_ADDRESS, Nonce(0), fake))
            thief = ledger.compute_recipient(litecoind.new_wallet("thief"))
            send(node, ALICE_KEY, ALICE, Withdraw(ledger.ledger_id, thief, ledger.asset,
                                                  Amount(2 * LTC), NO_OBJECT))
            node.sequencer.seal_batch()
            link.tick()

            txid = ledger.deposit_from_wallet("bob", BOB, LTC)
            litecoind.mine(3)
            (real,) = [e for e in ledger.deposits(start, ledger.head())
                       if e.payload.hex() == txid]
            inflated = Deposit(ledger.ledger_id, real.event_id, BOB, ZERO_ADDRESS,
                               Amount(10 * LTC), ZERO_HASH, ZERO_HASH)
            node.sequencer.submit_system(Transaction(domain.chain_id, domain.rollup_id,
                                                     ZERO_ADDRESS, Nonce(0), inflated))
            link.tick()  # the watcher's own Deposit of it is refused: already applied
            node.sequencer.seal_batch()
            link.tick()
            litecoind.mine(2)
            assert ledger.next_batch_number() == 3
            last = ledger.head() - 2
        finally:
            node.close()

        out = flavum("verify", "--ledger", "litecoin", "--json", home=config.home)
        assert out.returncode == 1, out.stderr
        batches = json.loads(out.stdout)["batches"]
        assert [(b["ok"], b["check"]) for b in batches] == [
            (True, None), (False, "deposits"), (False, "deposits")], batches
        assert batches[0]["checks"] == list(ALL_CHECKS)
        assert batches[1]["checks"] == batches[2]["checks"] == list(ALL_CHECKS[:-2])
        assert batches[1]["reason"] == (
            f"transaction 0 credits {2 * LTC} to {to_hex(ALICE)} for deposit "
            f"{to_hex(fake.event_id)}, which ledger litecoin does not hold with 2 blocks on top "
            f"(blocks {start}..{last})")
        assert batches[2]["reason"] == (
            f"transaction 0 credits {10 * LTC} to {to_hex(BOB)} for deposit "
            f"{to_hex(real.event_id)}: ledger litecoin's deposit has amount {LTC}, the "
            f"transaction {10 * LTC}")
    finally:
        litecoind.stop()
