"""The committed contract artifacts are what the pinned solc-js makes of the sources."""

import shutil
import subprocess
import sys

import pytest

from flavum.l1.solc import CONTRACTS_DIR, REPO_ROOT


def test_committed_artifacts_are_fresh():
    if shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "solc").is_dir():
        pytest.skip("solc-js is not installed (npm ci)")
    done = subprocess.run([sys.executable, str(CONTRACTS_DIR / "build.py"), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
