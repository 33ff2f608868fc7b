"""Suite-wide rule: in CI (FLAVUM_NO_SKIP=1, set by .ci/run) a skipped test is a failure, so a
missing tool (litecoind, anvil, chromium, the IPFS node) can never pass unnoticed. Suite-wide
fixtures: one SRS and one circuits directory for the whole run."""

import os
from pathlib import Path

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("FLAVUM_NO_SKIP") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, which CI does not allow: {reason}"


@pytest.fixture(scope="session")
def shared_srs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SRS directory for the whole run: generating an SRS takes seconds per size."""
    return tmp_path_factory.mktemp("srs")


@pytest.fixture(scope="session")
def shared_circuits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One circuits directory for the nodes that deploy the same example models (iris above
    all): a node caches a build by model, calibration and circuit config, so the first
    deployment compiles and sets up keys and later ones, on other homes, reuse them as a
    redeployment does. Opt in per test (tests/node/conftest.py `share_artifacts`): a test
    about compiling itself (limits, progress, refusals) keeps its own."""
    return tmp_path_factory.mktemp("circuits")
