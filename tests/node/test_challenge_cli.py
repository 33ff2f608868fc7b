"""`flavum verify --challenge` against a real anvil node: a lying sequencer (this test, with
the sequencer's key; never a node option) posts a batch that withdraws the Bridge's ETH to
itself. The CLI, with nothing but the ledger, proves it on chain: the batch is reverted, the
withdrawal cannot finalize, the Bridge keeps every wei and the challenger gets the bond. Then
the operator's side: `flavum l1 bond` restores the bond and the node process posts again."""

import json

import pytest

from flavum.core.batch import (
    TxCommitment,
    Withdrawal,
    compute_batch_header,
    compute_tx_commitment,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import keccak256
from flavum.core.genesis import DEV_ASSET
from flavum.core.state import compute_state_root
from flavum.core.stf import process_transaction
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
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import rpc_web3
from flavum.l1.evm_deployment import read_deployment
from flavum.l1.interface import BatchTx
from flavum.node.config import LedgerSpec, load_config, native_asset
from flavum.node.watcher import make_deposit_transaction
from tests.l1.conftest import ANVIL, Anvil

from .conftest import ALICE, ALICE_KEY, BOB, NodeProcess, make_config
from .test_cli_and_restart import flavum
from .test_cli_anvil import batch_state, cli_deploy, wait_for

SEQUENCER_KEY = b"\x05" * 32
ETH = 10**18

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def test_verify_challenge_proves_a_theft_on_anvil(tmp_path):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=0, challenge_window=50)
        config = make_config(tmp_path / "home", ledgers=(spec,))
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for address in (ALICE, BOB):
            anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        config = load_config(home)  # the domain is the deployed contracts'
        w3 = rpc_web3(anvil.url)
        ledger = EvmLedger(w3, read_deployment(home / "evm-deployment.json"), SEQUENCER_KEY)
        bridge = bytes.fromhex(ledger.deployment.bridge[2:])

        # Batch 0, honest: Alice's 2 ETH deposit from the inbox.
        state = config.genesis_state.state()
        ledger.deposit_eth(ALICE_KEY, ALICE, 2 * ETH)
        (event,) = ledger.deposits(0, ledger.head())
        deposit = make_deposit_transaction(config.domain, ledger.ledger_id, event)
        genesis_root = compute_state_root(state)
        outcome = process_transaction(state, deposit)
        honest = BatchTx(encode_transaction(deposit), compute_tx_commitment(
            outcome.tx_hash, compute_state_root(state), None, None))
        ledger.post_batch(compute_batch_header(0, genesis_root, [honest.commitment],
                                               keccak256(b"d0")), [honest])

        # Batch 1, a lie: the sequencer withdraws the Bridge's 2 ETH it never had.
        thief = address_of(SEQUENCER_KEY)
        theft = sign_transaction(Transaction(
            config.domain.chain_id, config.domain.rollup_id, thief, Nonce(0),
            Withdraw(ledger.ledger_id, thief, native_asset(), Amount(2 * ETH), NO_OBJECT)),
            SEQUENCER_KEY)
        paid = Withdrawal(compute_tx_hash(theft), ledger.ledger_id, thief, native_asset(),
                          Amount(2 * ETH), NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)
        lie = TxCommitment(compute_tx_hash(theft), keccak256(b"made up"),
                           compute_withdrawal_leaf(paid))
        ledger.post_batch(compute_batch_header(1, compute_state_root(state), [lie],
                                               keccak256(b"d1")),
                          [BatchTx(encode_transaction(theft), lie)])
        assert ledger.next_batch_number() == 2

        bob_before = int(w3.eth.get_balance(w3.to_checksum_address(BOB)))
        out = flavum("verify", "--challenge", "--key", "bob", "--json", home=home)
        assert out.returncode == 1, out.stderr  # the batches' data is nowhere: not verified
        (fraud,) = json.loads(out.stdout)["challenged"]
        assert (fraud["number"], fraud["index"]) == (1, 0)
        assert "insufficient" in fraud["reason"].lower() or "holds" in fraud["reason"]
        assert ledger.next_batch_number() == 1, "the theft batch is reverted"
        assert int(w3.eth.get_balance(w3.to_checksum_address(BOB))) > bob_before + ETH * 9 // 10
        for _ in range(60):
            anvil.rpc("evm_mine", [])
        with pytest.raises(LedgerError, match="batch not accepted"):
            ledger.finalize_withdrawal(paid, 1, 0, [], SEQUENCER_KEY)
        assert int(w3.eth.get_balance(w3.to_checksum_address(bridge))) == 2 * ETH
    finally:
        anvil.stop()


def test_the_operator_tops_up_the_bond_after_a_revert_and_the_node_posts(tmp_path):
    """Someone with the sequencer's key posts a forged batch 0 before the node's own; `flavum
    verify --challenge` reverts it and takes the bond. The node process says its posts are
    refused for the bond; `flavum l1 bond` shows it short, refuses bad amounts, and tops it
    up; the node then posts its own batch 0 and it is accepted."""
    anvil = Anvil()
    node = None
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=0, challenge_window=50)
        config = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0)
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for address in (ALICE, BOB):
            anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        config = load_config(home)  # the domain is the deployed contracts'
        ledger = EvmLedger(rpc_web3(anvil.url), read_deployment(home / "evm-deployment.json"),
                           SEQUENCER_KEY)

        shown = json.loads(flavum("l1", "bond", "--json", home=home).stdout)
        assert (shown["bond"], shown["min_bond"], shown["can_post"]) == (str(ETH), str(ETH), True)

        # The forgery: a theft of 1 ETH, posted as batch 0 with the sequencer's key.
        genesis = config.genesis_state.state()
        thief = address_of(SEQUENCER_KEY)
        theft = sign_transaction(Transaction(
            config.domain.chain_id, config.domain.rollup_id, thief, Nonce(0),
            Withdraw(ledger.ledger_id, thief, native_asset(), Amount(ETH), NO_OBJECT)),
            SEQUENCER_KEY)
        paid = Withdrawal(compute_tx_hash(theft), ledger.ledger_id, thief, native_asset(),
                          Amount(ETH), NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)
        lie = TxCommitment(compute_tx_hash(theft), keccak256(b"made up"),
                           compute_withdrawal_leaf(paid))
        ledger.post_batch(compute_batch_header(0, compute_state_root(genesis), [lie],
                                               keccak256(b"forged")),
                          [BatchTx(encode_transaction(theft), lie)])
        out = flavum("verify", "--challenge", "--key", "bob", "--json", home=home)
        (fraud,) = json.loads(out.stdout)["challenged"]
        assert (fraud["number"], fraud["index"]) == (0, 0)

        for bad in ("lots", "1.5", "-1", "0", "0.0000000000000000001eth"):
            refused = flavum("l1", "bond", "--top-up", bad, "--json", home=home)
            assert refused.returncode == 1
            assert json.loads(refused.stdout)["error"] == "invalid_input", bad
        short = flavum("l1", "bond", home=home)
        assert short.returncode == 0, short.stderr
        assert "REFUSED" in short.stdout and "--top-up" in short.stdout

        node = NodeProcess(config)
        client = node.start()
        client.send(ALICE_KEY, ALICE, Transfer(BOB, DEV_ASSET, Amount(1)))
        assert client.seal_batch()["batch"]["number"] == 0
        error = wait_for(lambda: client.ledgers()[0]["last_error"], "the refused post")
        assert "bond" in error and "flavum l1 bond" in error
        assert client.ledgers()[0]["state"] == "posting", "the forged batch was not the node's"

        topped = flavum("l1", "bond", "--top-up", "1eth", "--key", "alice", "--json", home=home)
        assert topped.returncode == 0, topped.stderr
        data = json.loads(topped.stdout)
        assert (data["bond"], data["can_post"], data["top_up"]) == (str(ETH), True, str(ETH))
        wait_for(lambda: batch_state(home, 0) == "accepted", "the node's own batch 0")
        assert client.ledgers()[0]["last_error"] is None
    finally:
        if node is not None:
            node.stop()
        anvil.stop()
