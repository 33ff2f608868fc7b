"""A memory bomb posted to a running node over HTTP (`POST /v1/models/compile`): a 150-byte ONNX
graph asking for huge tensors is refused within seconds with a typed error naming its node,
and the node's memory does not grow (its peak resident set is read from /proc)."""

import time
from pathlib import Path

from flavum.client import Client
from tests.ml.test_intake_limits import pad_bomb

from .conftest import NodeProcess


def rss_peak_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def wait_job(client: Client, job_id: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.compile_status(job_id)
        if job["stage"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"compile job {job_id} did not end in {timeout_s} s")


def test_pad_bombs_are_refused_over_http_and_memory_stays_bounded(node: NodeProcess):
    client = node.start()
    assert node.proc is not None
    before = rss_peak_mb(node.proc.pid)
    calibration = [[0.0] * 10, [1.0] * 10]
    for columns in (10**8, 10**10, 10**13):
        started = time.monotonic()
        job = wait_job(client, client.compile_model(pad_bomb(columns), calibration)["job_id"])
        took = time.monotonic() - started
        assert job["stage"] == "failed" and took < 10, (job, took)
        assert job["error"]["error"] == "model_too_large", job
        assert "node 'pad0' (Pad) makes tensor 'y'" in job["error"]["message"], job
    grown = rss_peak_mb(node.proc.pid) - before
    print(f"node peak RSS grew {grown:.1f} MB over three bombs")  # reported with pytest -s
    assert grown < 100, f"the node's peak memory grew by {grown:.0f} MB"

