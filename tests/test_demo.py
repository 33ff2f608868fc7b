"""`flavum demo --json`, as `make demo` runs it: every step reports success."""

import json
import subprocess
import sys


def test_demo_json():
    out = subprocess.run([sys.executable, "-m", "flavum", "demo", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    for flag in ("proof_verified_in_python", "proof_verified_on_l1", "batch_accepted_on_l1",
                 "withdrawal_finalized", "nft_owner_is_depositor", "independent_verify_ok",
                 "genesis_computed_on_l1", "forged_batch_challenged", "bridge_intact",
                 "escape_hatch_exit", "models_rederived", "training_step_proven",
                 "trained_version_inference_proven"):
        assert summary[flag] is True, flag
    assert summary["nft_owner_on_l1"].startswith("0x")
    assert summary["proof_status"] == "proven"
    assert summary["balance_proof_ok"] is True
    assert summary["restart_same_root"] is True
    assert summary["top1_agreement"] >= 0.9
    assert summary["prediction"] in range(10)
