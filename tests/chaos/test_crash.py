"""The crash harness (bench/crash.py) in its short form: eight SIGKILLs of a node under mixed
load posting to anvil, four of them at the named stages (accepted, published, proven,
posted); nothing with a receipt is lost, no deposit credited twice or dropped, no batch
posted twice or skipped, and the independent verifier's clean replay ends at the node's root.
`python bench/crash.py` runs the full form (50 kills)."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def load_harness():
    spec = importlib.util.spec_from_file_location("crash", REPO / "bench" / "crash.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_eight_kills_lose_nothing():
    if not ANVIL.is_file() or shutil.which("node") is None:
        pytest.skip("anvil is not installed (npm ci)")
    tally = load_harness().run(kills=8, seed=7, ops_between=(2, 6))
    assert tally.losses == []
    assert sum(tally.kills.values()) >= 12  # eight rounds, four re-armed starts
    assert {"accepted", "published", "proven", "posted"} <= set(tally.kills), tally.kills
    assert tally.receipts > 0 and tally.deposits > 0 and tally.inferences
