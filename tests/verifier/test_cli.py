"""`flavum verify` as a user runs it: a node posts batches to anvil, the CLI reads them back
from the ledger (RPC URL + deployment file) and the blobs from the data store, with no node."""

import json
import os
import shutil
import stat

import pytest

from flavum.core.transactions import Transfer
from flavum.core.types import Amount
from flavum.da.interface import cid_from_digest
from flavum.da.local import LocalStore
from flavum.ml import examples
from flavum.node.config import LedgerSpec, load_config
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.l1.conftest import ANVIL, Anvil
from tests.node.conftest import make_config
from tests.node.test_cli_and_restart import flavum
from tests.node.test_cli_anvil import cli_deploy
from tests.node.test_inference import deploy, send, submit_data

from .conftest import ALICE, ALICE_KEY, BOB, ETH, SEQUENCER_KEY, infer, seal_and_post


def test_verify_refuses_the_embedded_evm(tmp_path):
    config = make_config(tmp_path / "home",
                         ledgers=(LedgerSpec(name="evm", kind="evm", confirmations=0),))
    (config.home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
    out = flavum("verify", "--json", home=config.home)
    assert out.returncode == 1
    error = json.loads(out.stdout)
    assert error["error"] == "config_error" and "in-process EVM" in error["message"]


@pytest.mark.skipif(not ANVIL.exists() or shutil.which("node") is None,
                    reason="npm ci installs anvil: run make")
def test_verify_batches_posted_to_anvil(tmp_path, shared_srs):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json")
        config = make_config(tmp_path / "home", prover="inline", ledgers=(spec,))
        home = config.home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        (home / "srs").symlink_to(shared_srs)
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr

        node = Node.open(load_config(home), pool=InlineProverPool())
        try:
            example = examples.train_sklearn_logreg("iris")
            send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(5)))
            _, model_id = deploy(node, example)
            data_id = submit_data(node, model_id, example.test_inputs[0])
            seal_and_post(node)
            infer(node, model_id, data_id)
            second = seal_and_post(node)
        finally:
            node.close()

        out = flavum("verify", "--json", home=home)
        assert out.returncode == 0, out.stdout + out.stderr
        result = json.loads(out.stdout)
        assert result["ok"] and [b["ok"] for b in result["batches"]] == [True, True]
        assert result["batches"][1]["inferences"] == 1
        queues = result["queues"]
        assert (queues["deposits"], queues["overdue_deposits"], queues["forced"]) == (0, [], [])
        # Every proven model re-derived from its published graph, and bound on the ledger.
        out = flavum("verify", "--models", "--json", home=home)
        assert out.returncode == 0, out.stdout + out.stderr
        (checked,) = json.loads(out.stdout)["models"]
        assert (checked["model_id"], checked["ok"], checked["registered"]) == (
            "0x" + model_id.hex(), True, "standing")
        out = flavum("verify", "--from-batch", "1", home=home)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.splitlines() == [
            "batch 1: OK (1 txs, 1 inferences proven, 0 withdrawals)",
            "1 batches verified, 0 failed",
            "inbox: 0 deposits, 0 taken by batches",
            "forced requests: 0 queued, 0 included"]

        # The blob of batch 1 rots in the data store: its content id gives it away.
        path = LocalStore(home / "da").path_for(cid_from_digest(second.data_pointer))
        os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
        path.write_bytes(path.read_bytes().replace(b'"proven"', b'"proven" ', 1))
        out = flavum("verify", home=home)
        assert out.returncode == 1
        lines = out.stdout.splitlines()
        assert lines[0].startswith("batch 0: OK")
        assert lines[1].startswith(f"batch 1: FAILED data: batch data "
                                   f"{cid_from_digest(second.data_pointer)}: local://")
        assert "do not hash to that content id" in lines[1]
        assert lines[2] == "2 batches verified, 1 failed: 1"
        # A store that holds nothing: every batch says its data is unavailable.
        out = flavum("verify", "--da", str(tmp_path / "nothing"), "--json", home=home)
        assert out.returncode == 1
        assert {b["code"] for b in json.loads(out.stdout)["batches"]} == {"data_unavailable"}
    finally:
        anvil.stop()
