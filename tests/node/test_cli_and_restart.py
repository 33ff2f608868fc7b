"""The CLI against a real node process; an abrupt kill loses no accepted transaction."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import Transaction, Transfer, sign_transaction
from flavum.core.types import Amount, Hash32, Nonce

from .conftest import ALICE, ALICE_KEY, BOB, NodeProcess, make_config


def flavum(*args: str, home=None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "flavum", *args]
    if home is not None:
        cmd += ["--home", str(home)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_init_and_accounts(tmp_path):
    home = tmp_path / "h"
    out = flavum("init", "--json", home=home)
    assert out.returncode == 0, out.stderr
    address = json.loads(out.stdout)["address"]
    again = flavum("init", home=home)
    assert again.returncode == 1 and again.stderr.startswith("error: ")
    assert "Traceback" not in again.stderr
    new = json.loads(flavum("account", "new", "--name", "bob", "--json", home=home).stdout)
    keys = json.loads(flavum("account", "list", "--json", home=home).stdout)
    assert keys["bob"] == new["address"] and keys["default"] == address
    assert set(keys) == {"bob", "default", "sequencer"}


def test_errors_are_one_line_and_non_zero(tmp_path):
    missing = flavum("status", home=tmp_path / "nowhere")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "flavum init" in missing.stderr
    as_json = flavum("status", "--json", home=tmp_path / "nowhere")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["error"] == "config_error"


def test_cli_against_a_running_node(tmp_path):
    # The test seals batch 0 itself: no timed sealing (10 s by default) may beat it to it on
    # a slow machine.
    node = NodeProcess(make_config(tmp_path / "home", batch_interval_s=3600.0))
    try:
        _cli_against(node)
    finally:
        node.stop()


def _cli_against(node) -> None:
    node.start()
    home = node.config.home
    sent = flavum("transfer", "bob", "1.5dev", "--from", "alice", "--json", home=home)
    assert sent.returncode == 0, sent.stderr
    bob = json.loads(flavum("account", "show", "bob", "--json", home=home).stdout)
    assert bob["balances"]["0x" + DEV_ASSET.hex()] == str(10**21 + 15 * 10**17)
    broke = flavum("transfer", "alice", "10000dev", "--from", "bob", home=home)
    assert broke.returncode == 1 and "holds" in broke.stderr and "Traceback" not in broke.stderr
    bad = flavum("transfer", "alice", "1.5", "--from", "bob", home=home)
    assert bad.returncode == 1 and "whole" in bad.stderr
    sealed = json.loads(flavum("batch", "seal", "--json", home=home).stdout)
    assert sealed["batch"]["number"] == 0
    listed = json.loads(flavum("batch", "list", "--json", home=home).stdout)
    shown = json.loads(flavum("batch", "show", "0", "--json", home=home).stdout)
    assert listed[0]["state_root"] == shown["state_root"] and shown["tx_hashes"] == [
        json.loads(sent.stdout)["tx_hash"]]
    status = json.loads(flavum("status", "--json", home=home).stdout)
    assert status["batches"] == 1 and status["transactions"] == 1
    missing = flavum("batch", "show", "9", home=home)
    assert missing.returncode == 1 and "no batch 9" in missing.stderr


def test_kill_restart_keeps_every_accepted_transaction(node):
    client = node.start()
    # The signer-recovery workers start at boot, before any transaction asks for them.
    assert wait_for_recovery_workers(node.proc.pid, node.config.recover_workers)
    status = client.status()
    domain = (status["chain_id"], Hash32(bytes.fromhex(status["rollup_id"][2:])))
    accepted = []
    for n in range(40):
        tx = Transaction(domain[0], domain[1], ALICE, Nonce(n),
                         Transfer(BOB, DEV_ASSET, Amount(n + 1)))
        accepted.append(client.submit(sign_transaction(tx, ALICE_KEY))["tx_hash"])
        if n == 25:
            client.seal_batch()
    before = client.status()
    node.kill()  # SIGKILL, mid-flight: 14 transactions not even in a block yet
    client = node.start()
    after = client.status()
    assert after["state_root"] == before["state_root"]
    assert after["transactions"] == 40 and after["batches"] == 1
    for tx_hash in accepted:
        assert client._call("GET", f"/v1/transactions/{tx_hash}")["tx_hash"] == tx_hash
    assert client.account(ALICE)["nonce"] == 40


def wait_for_recovery_workers(pid: int, count: int) -> bool:
    """Whether the process comes to have `count` recovery workers (it starts them in the
    background) within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = [child for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
        workers = [c for c in children
                   if b"flavum.node.recovery" in Path(f"/proc/{c}/cmdline").read_bytes()]
        if len(workers) == count:
            return True
        time.sleep(0.1)
    return False


def test_model_data_infer_proof_through_the_cli(node, tmp_path):
    from flavum.ml import examples

    node.start()
    home = node.config.home
    example = examples.train_sklearn_logreg("iris")
    (tmp_path / "model.onnx").write_bytes(example.onnx_bytes)
    (tmp_path / "cal.json").write_text(json.dumps({"input_data": example.samples.tolist()}))
    (tmp_path / "x.json").write_text(json.dumps(example.test_inputs[0].tolist()))
    (tmp_path / "nan.json").write_text("[1.0, NaN, 2.0, 3.0]")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")

    deployed = flavum("model", "deploy", str(tmp_path / "model.onnx"), "--calibration",
                      str(tmp_path / "cal.json"), "--common", "--fee", "7dev", "--from", "alice",
                      "--json", home=home)
    assert deployed.returncode == 0, deployed.stderr
    model_id = json.loads(deployed.stdout)["model_id"]
    shown = json.loads(flavum("model", "show", model_id, "--json", home=home).stdout)
    assert (shown["fee"], shown["fee_asset"]) == (str(7 * 10**18), "0x" + DEV_ASSET.hex())
    assert shown["record"]["accuracy"]["top1_agreement"] >= 0.9

    data = flavum("data", "submit", str(tmp_path / "x.json"), "--model", model_id, "--from",
                  "bob", "--json", home=home)
    assert data.returncode == 0, data.stderr
    data_id = json.loads(data.stdout)["data_id"]
    models = json.loads(flavum("model", "list", "--json", home=home).stdout)
    assert [m["object_id"] for m in models] == [model_id]
    listed = flavum("model", "list", home=home).stdout
    assert listed.startswith(model_id) and listed.rstrip().endswith("fee 7 dev")
    points = json.loads(flavum("data", "list", "--json", home=home).stdout)
    assert [d["object_id"] for d in points] == [data_id] and points[0]["access"] == "OWNED"
    assert flavum("data", "list", home=home).stdout.startswith(data_id)
    inferred = flavum("infer", model_id, data_id, "--max-fee", "7dev", "--wait", "--from", "bob",
                      "--json", home=home)
    assert inferred.returncode == 0, inferred.stderr
    result = json.loads(inferred.stdout)
    assert result["proof_status"] == "proven" and len(result["result"]["prediction"]) == 1
    read = result["result"]  # logistic regression: logits proven, softmax derived outside
    assert read["proven_output"] == "logits" and len(read["probabilities"][0]) == 3
    assert read["prediction"] == [int(np.argmax(read["values"][0]))]
    trace = json.loads(flavum("proof", "show", result["trace_id"], "--json", home=home).stdout)
    assert trace["proof_status"] == "proven" and trace["result"] == read
    fixed, scale = read["proven"]["fixed_point"], read["proven"]["scale"]
    assert trace["outputs"] == fixed
    assert np.allclose(np.array(fixed) / 2**scale, read["values"][0])
    shown = flavum("proof", "show", result["trace_id"], home=home).stdout.splitlines()
    assert f"  class {read['prediction'][0]}" in shown
    assert any(line.startswith("  logits [") for line in shown)
    assert any(line.startswith("  probabilities [") and "derived outside" in line
               for line in shown)
    assert f"  proven {fixed} (fixed-point, scale 2^{scale})" in shown
    verified = json.loads(flavum("proof", "verify", result["trace_id"], "--json",
                                 home=home).stdout)
    assert verified["verified"] is True

    bad = flavum("model", "deploy", str(tmp_path / "bad.onnx"), "--calibration",
                 str(tmp_path / "cal.json"), "--from", "alice", home=home)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
    nan = flavum("data", "submit", str(tmp_path / "nan.json"), "--model", model_id, "--from",
                 "bob", home=home)
    assert nan.returncode == 1 and "NaN" in nan.stderr
    unpaid = flavum("infer", model_id, data_id, "--from", "bob", home=home)
    assert unpaid.returncode == 1 and "fee" in unpaid.stderr
    # ezkl's and tract's chatter (compile, prove) stays out of the node's log: no --verbose.
    node.stop()
    assert node.proc is not None and node.proc.stderr is not None
    log = node.proc.stderr.read().decode()
    assert "Numerical Fidelity Report" not in log and "tract" not in log, log[-2000:]
