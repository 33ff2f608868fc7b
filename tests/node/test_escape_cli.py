"""`flavum escape` against a real anvil node: the sequencer posts one honest batch (Alice's
2 ETH deposit, 0.5 ETH of it to Bob) and stops. Before the freeze the CLI says how many blocks
remain and sends nothing; `--dry-run` lists what it would take. Once the escape delay has
passed, the CLI, with nothing but the ledger, replays the batch and withdraws Alice's balance
by inclusion proof; a second run finds it spent; Bob's leaf, sent with Alice's key, pays Bob."""

import json

import pytest

from flavum.core.batch import compute_batch_header, compute_tx_commitment
from flavum.core.encoding import keccak256
from flavum.core.state import compute_state_root
from flavum.core.stf import process_transaction
from flavum.core.transactions import (
    Transaction,
    Transfer,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import Amount, Nonce
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import rpc_web3
from flavum.l1.evm_deployment import read_deployment
from flavum.l1.interface import BatchTx
from flavum.node.config import LedgerSpec, load_config, native_asset
from flavum.node.watcher import make_deposit_transaction
from tests.l1.conftest import ANVIL, Anvil

from .conftest import ALICE, ALICE_KEY, BOB, make_config
from .test_cli_and_restart import flavum
from .test_cli_anvil import cli_deploy

SEQUENCER_KEY = b"\x05" * 32
ETH = 10**18
DELAY = 20

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def test_escape_withdraws_from_a_frozen_rollup_on_anvil(tmp_path):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=0, challenge_window=5,
                          escape_delay=DELAY)
        config = make_config(tmp_path / "home", ledgers=(spec,))
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for address in (ALICE, BOB):
            anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        config = load_config(home)  # the deploy fixed the rollup's domain
        w3 = rpc_web3(anvil.url)
        ledger = EvmLedger(w3, read_deployment(home / "evm-deployment.json"), SEQUENCER_KEY)

        def eth_of(address: bytes) -> int:
            return int(w3.eth.get_balance(w3.to_checksum_address(address)))

        # Batch 0, honest: Alice's 2 ETH deposit, then 0.5 ETH of it to Bob.
        state = config.genesis_state.state()
        genesis_root = compute_state_root(state)
        ledger.deposit_eth(ALICE_KEY, ALICE, 2 * ETH)
        (event,) = ledger.deposits(0, ledger.head())
        transfer = sign_transaction(Transaction(
            config.domain.chain_id, config.rollup_id, ALICE, Nonce(0),
            Transfer(BOB, native_asset(), Amount(ETH // 2))), ALICE_KEY)
        posted = []
        for tx in (make_deposit_transaction(config.domain, ledger.ledger_id, event), transfer):
            outcome = process_transaction(state, tx)
            posted.append(BatchTx(encode_transaction(tx), compute_tx_commitment(
                outcome.tx_hash, compute_state_root(state), None, None)))
        ledger.post_batch(compute_batch_header(0, genesis_root, [t.commitment for t in posted],
                                               keccak256(b"d0")), posted)

        early = flavum("escape", "--key", "alice", "--json", home=home)
        assert early.returncode == 1
        error = json.loads(early.stdout)
        assert error["error"] == "not_escaped" and "blocks from now" in error["message"]
        listed = json.loads(flavum("escape", "--key", "alice", "--dry-run", "--json",
                                   home=home).stdout)
        assert listed["escaped"] is False and listed["blocks_left"] > 0
        # Her genesis dev funds are listed, but no bridge pays them.
        assert {(w["kind"], w["amount"], w["status"]) for w in listed["withdrawals"]} == {
            ("balance", str(3 * ETH // 2), "payable"),
            ("balance", str(10**21), "not paid by this ledger")}

        for _ in range(DELAY + 1):
            anvil.rpc("evm_mine", [])
        before = eth_of(ALICE)
        out = flavum("escape", "--key", "alice", "--json", home=home)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["escaped"] is True and data["state_root"] == "0x" + compute_state_root(
            state).hex()
        (withdrawal,) = [w for w in data["withdrawals"] if "l1_tx" in w]
        assert withdrawal["amount"] == str(3 * ETH // 2)
        assert before + 3 * ETH // 2 - 10**16 < eth_of(ALICE) < before + 3 * ETH // 2

        again = json.loads(flavum("escape", "--key", "alice", "--json", home=home).stdout)
        assert sorted(w["status"] for w in again["withdrawals"]) == [
            "not paid by this ledger", "spent"]
        assert not any("l1_tx" in w for w in again["withdrawals"])

        bob_before = eth_of(BOB)
        text = flavum("escape", "--key", "alice", "--account", "bob", home=home)
        assert text.returncode == 0, text.stderr
        assert "frozen" in text.stdout and "sent: L1 tx" in text.stdout
        assert eth_of(BOB) == bob_before + ETH // 2  # Alice paid the gas
        assert eth_of(bytes.fromhex(ledger.deployment.bridge[2:])) == 0
    finally:
        anvil.stop()
