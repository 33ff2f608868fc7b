"""Suite-wide rule: in CI (FLAVUM_NO_SKIP=1, set by .ci/run) a skipped test is a failure, so a
missing tool (litecoind, anvil, chromium, the IPFS node) can never pass unnoticed."""

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("FLAVUM_NO_SKIP") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, which CI does not allow: {reason}"
