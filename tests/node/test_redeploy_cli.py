"""The double deploy, as an attacker would try it, on anvil through the CLI: a second
`flavum l1 deploy` is refused; with --force it is a new rollup (a new rollup id), the home's
old state moves aside, the node posts nothing old to the new contracts and refuses to run on
the old store, and a withdrawal finalized on the old contracts cannot be finalized on the new
ones, even with ETH in the new Bridge."""

import json
import time
from pathlib import Path

import pytest

from flavum.client import Client
from flavum.core.codec import from_hex, withdrawal_from_json
from flavum.core.transactions import address_of
from flavum.core.types import Hash32
from flavum.l1.errors import LedgerError
from flavum.l1.evm_deployment import read_deployment
from flavum.node.config import LedgerSpec, load_config, native_asset
from tests.l1.conftest import ANVIL, Anvil

from .conftest import ALICE, BOB, NodeProcess, make_config
from .test_cli_and_restart import flavum
from .test_cli_anvil import SEQUENCER_KEY, batch_state, cli_deploy, wait_for

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def test_a_second_deploy_is_a_new_rollup_and_replays_nothing(tmp_path):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json", confirmations=0, challenge_window=0)
        home = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0).home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for address in (ALICE, BOB):
            anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        old_config = load_config(home)
        old = read_deployment(home / "evm-deployment.json")

        # On the first deployment: Bob deposits 2 ETH and withdraws 0.5 ETH, finalized on L1.
        node = NodeProcess(old_config)
        node.start()
        try:
            out = flavum("deposit", "eth", "2eth", "--from", "bob", "--json", home=home)
            assert out.returncode == 0, out.stderr
            eth = "0x" + native_asset().hex()
            wait_for(lambda: json.loads(flavum("account", "show", "bob", "--json", home=home)
                                        .stdout)["balances"].get(eth), "the deposit")
            withdrawal_id = json.loads(flavum("withdraw", "eth", "0.5eth", "--from", "bob",
                                              "--json", home=home).stdout)["withdrawal_id"]
            number = json.loads(flavum("batch", "seal", "--json", home=home).stdout)["batch"][
                "number"]
            wait_for(lambda: batch_state(home, number) == "accepted", "the withdrawal batch")
            done = flavum("withdraw", "finalize", withdrawal_id, "--from", "bob", home=home)
            assert done.returncode == 0, done.stderr
            claim = Client(old_config.api_url).withdrawal_proof(withdrawal_id)
        finally:
            node.stop()

        # A second deploy is refused: nothing deployed, nothing of the home changed.
        sequencer = anvil.w3.to_checksum_address(address_of(SEQUENCER_KEY))
        nonce = anvil.w3.eth.get_transaction_count(sequencer)
        again = cli_deploy(home)
        assert again.returncode == 1 and "--force" in again.stdout, again.stdout
        assert read_deployment(home / "evm-deployment.json") == old
        assert load_config(home).domain == old_config.domain
        assert anvil.w3.eth.get_transaction_count(sequencer) == nonce

        # --force: new contracts, a new rollup id, the old state aside.
        forced = cli_deploy(home, "--force")
        assert forced.returncode == 0, forced.stderr
        retired = Path(json.loads(forced.stdout)["retired"])
        config = load_config(home)
        new = read_deployment(home / "evm-deployment.json")
        assert new.rollup != old.rollup and config.domain != old_config.domain
        assert json.loads(forced.stdout)["rollup_id"] == "0x" + config.domain.rollup_id.hex()
        assert not (home / "node.db").exists()
        assert retired.parent == home and (retired / "node.db").exists()
        assert (retired / "evm-deployment.json").exists()  # the old deployment, kept

        # The node runs from genesis and posts nothing old to the new contracts.
        node = NodeProcess(config)
        node.start()
        try:
            out = flavum("deposit", "eth", "1eth", "--from", "alice", "--json", home=home)
            assert out.returncode == 0, out.stderr  # the new Bridge holds ETH now
            time.sleep(3)  # a few ticks
            from flavum.cli_ledgers import open_evm

            ledger = open_evm(home, "evm")
            assert ledger.next_batch_number() == 0, "nothing of the old store was posted"
            unknown = flavum("withdraw", "finalize", withdrawal_id, "--from", "bob", home=home)
            assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
        finally:
            node.stop()

        # The attacker's own call, with the proof from the old rollup: refused.
        withdrawal = withdrawal_from_json(claim["withdrawal"])
        proof = [Hash32(from_hex(p)) for p in claim["proof"]]
        bob_key = bytes.fromhex((home / "keys" / "bob.key").read_text()[2:])
        with pytest.raises(LedgerError):
            ledger.finalize_withdrawal(withdrawal, claim["batch"], claim["index"], proof,
                                       bob_key)

        # The old store, put back, is refused: its transactions are signed for the old rollup.
        for path in home.glob("node.db*"):
            path.unlink()
        for path in retired.glob("node.db*"):  # with its write-ahead log
            path.rename(home / path.name)
        with pytest.raises(RuntimeError, match="signed for that rollup"):
            NodeProcess(config).start()
        assert ledger.next_batch_number() == 0
    finally:
        anvil.stop()
