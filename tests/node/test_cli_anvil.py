"""The whole round trip through the CLI, with a node process posting to a real anvil node:
deposit ETH and data on L1, deploy a model, infer, prove, batch accepted on L1 with its proof
verified there, withdraw ETH and the RESULT, finalize both on L1, check L1 balances and the NFT."""

import json
import time

import pytest

from flavum.core.codec import from_hex
from flavum.core.transactions import address_of
from flavum.core.types import ObjectId
from flavum.ml import examples
from flavum.node.config import LedgerSpec, load_config, native_asset
from tests.l1.conftest import ANVIL, Anvil

from .conftest import BOB, NodeProcess, make_config
from .test_cli_and_restart import flavum

SEQUENCER_KEY = b"\x05" * 32
ANVIL_ACCOUNT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def wait_for(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def cli_deploy(home, *args: str):
    """`flavum l1 deploy`, the sequencer funded by anvil's first account (its key in a file:
    keys never go on the command line)."""
    funder = home.parent / "anvil-account-0.key"
    funder.write_text(ANVIL_ACCOUNT_0)
    return flavum("l1", "deploy", "--fund-from", str(funder), "--json", *args, home=home)


def batch_state(home, number: int) -> str | None:
    out = flavum("batch", "show", str(number), "--json", home=home)
    if out.returncode != 0:
        return None
    ledgers = json.loads(out.stdout)["ledgers"]
    return ledgers[0]["state"] if ledgers else None


def test_cli_round_trip_on_anvil(tmp_path):
    anvil = Anvil()
    try:
        # No challenge window: the round trip withdraws at once (test_challenge covers it).
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=1, challenge_window=0)
        # The test seals its batches itself: no timed sealing racing its `batch seal`.
        config = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0)
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for key_file in ("alice.key", "bob.key"):
            address = address_of(bytes.fromhex((home / "keys" / key_file).read_text()[2:]))
            anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr

        node = NodeProcess(load_config(home))  # its domain is the deployed contracts'
        node.start()
        try:
            client_balance = lambda: json.loads(  # noqa: E731
                flavum("account", "show", "bob", "--json", home=home).stdout)["balances"]
            eth = "0x" + native_asset().hex()
            before = int(client_balance().get(eth, 0))
            out = flavum("deposit", "eth", "2eth", "--from", "bob", "--json", home=home)
            assert out.returncode == 0, out.stderr
            anvil.rpc("evm_mine", [])  # one confirmation
            wait_for(lambda: int(client_balance().get(eth, 0)) == before + 2 * 10**18,
                     "the deposit to be credited")

            example = examples.train_sklearn_logreg("iris")
            (tmp_path / "model.onnx").write_bytes(example.onnx_bytes)
            (tmp_path / "cal.json").write_text(json.dumps(example.samples.tolist()))
            (tmp_path / "x.json").write_text(json.dumps(example.test_inputs[0].tolist()))
            model = flavum("model", "deploy", str(tmp_path / "model.onnx"), "--calibration",
                           str(tmp_path / "cal.json"), "--common", "--from", "alice", "--json",
                           home=home)
            assert model.returncode == 0, model.stderr
            model_id = json.loads(model.stdout)["model_id"]
            deposit = flavum("deposit", "data", str(tmp_path / "x.json"), "--model", model_id,
                             "--from", "bob", "--json", home=home)
            assert deposit.returncode == 0, deposit.stderr
            anvil.rpc("evm_mine", [])
            commitment = json.loads(deposit.stdout)["commitment"]

            def deposited_data():
                listed = node_get(config, "/v1/data")
                return next((d["object_id"] for d in listed if d["commitment"] == commitment),
                            None)

            data_id = wait_for(deposited_data, "the deposited DATA object")
            inferred = flavum("infer", model_id, data_id, "--wait", "--from", "bob", "--json",
                              home=home)
            assert inferred.returncode == 0, inferred.stderr
            result_id = json.loads(inferred.stdout)["result_id"]
            sealed = json.loads(flavum("batch", "seal", "--json", home=home).stdout)
            number = sealed["batch"]["number"]
            wait_for(lambda: batch_state(home, number) == "accepted", "batch accepted on L1",
                     timeout=300)

            w_eth = json.loads(flavum("withdraw", "eth", "0.5eth", "--from", "bob", "--json",
                                      home=home).stdout)["withdrawal_id"]
            w_nft = json.loads(flavum("withdraw", "object", result_id, "--from", "bob",
                                      "--json", home=home).stdout)["withdrawal_id"]
            number = json.loads(flavum("batch", "seal", "--json", home=home).stdout)["batch"][
                "number"]
            wait_for(lambda: batch_state(home, number) == "accepted", "withdrawal batch")
            l1_before = anvil.w3.eth.get_balance(anvil.w3.to_checksum_address(BOB))
            finalized = {}
            for withdrawal_id in (w_eth, w_nft):
                done = flavum("withdraw", "finalize", withdrawal_id, "--from", "bob", "--json",
                              home=home)
                assert done.returncode == 0, done.stderr
                finalized[withdrawal_id] = json.loads(done.stdout)
            # The RESULT came out as an ERC-721: the CLI says which contract and token id.
            assert finalized[w_nft]["token_id"] == str(int(result_id, 16))
            assert "erc721" not in finalized[w_eth]
            l1_after = anvil.w3.eth.get_balance(anvil.w3.to_checksum_address(BOB))
            assert 5 * 10**17 - 10**16 < l1_after - l1_before <= 5 * 10**17
            again = flavum("withdraw", "finalize", w_eth, "--from", "bob", home=home)
            assert again.returncode == 1 and "Traceback" not in again.stderr
        finally:
            node.stop()
        from flavum.cli_ledgers import open_evm

        ledger = open_evm(home, "evm")
        assert ledger.object_owner(ObjectId(from_hex(result_id))) == BOB
        assert finalized[w_nft]["erc721"] == ledger.objects.address
    finally:
        anvil.stop()


def node_get(config, path: str):
    from flavum.client import Client

    return Client(config.api_url)._call("GET", path)


def test_a_deposit_waiting_on_an_anvil_that_makes_no_blocks_says_why(tmp_path):
    """anvil's default mines only when a transaction arrives: a deposit never gets the block on
    top of it that `confirmations = 1` asks for. `deposit eth --wait` says so, and the
    deposit is credited as soon as a block comes."""
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=1)
        config = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0)
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        anvil.rpc("anvil_setBalance", ["0x" + BOB.hex(), hex(10**21)])
        assert cli_deploy(home).returncode == 0
        node = NodeProcess(load_config(home))
        node.start()
        try:
            out = flavum("deposit", "eth", "1eth", "--wait", "--timeout", "3", "--from", "bob",
                         home=home)
            assert out.returncode == 1
            assert out.stderr == (
                "error: the deposit is not credited on L2 after 3 s: does the L1 make blocks (1 "
                "must follow it; anvil makes none while idle unless started with "
                "--block-time)?\n")
            anvil.rpc("evm_mine", [])
            eth = "0x" + native_asset().hex()
            wait_for(lambda: json.loads(flavum("account", "show", "bob", "--json", home=home)
                                        .stdout)["balances"].get(eth) == str(10**18),
                     "the deposit credited once a block is on top of it")
        finally:
            node.stop()
    finally:
        anvil.stop()
