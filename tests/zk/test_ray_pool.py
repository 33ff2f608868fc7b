"""RayProverPool against a local Ray cluster that this test starts and stops itself."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flavum.zk.circuit import CircuitArtifacts
from flavum.zk.errors import ProvingFailed
from flavum.zk.execution import run_witness
from flavum.zk.interface import JobState
from flavum.zk.pool_ray import RayProverPool
from flavum.zk.proof import make_proof_job, public_values, verify

pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"Ray head did not open port {port}")


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    port = _free_port()
    ray_bin = Path(sys.executable).with_name("ray")
    # --block keeps `ray start` in the foreground as the parent of the cluster's processes,
    # all in a new session: stopping that process group ends exactly this cluster (where
    # `ray stop` would end every Ray process of the machine).
    head = subprocess.Popen(
        [
            str(ray_bin), "start", "--head", "--block", f"--port={port}",
            "--node-ip-address=127.0.0.1", "--num-cpus=2", "--disable-usage-stats",
            "--include-dashboard=false",
            f"--temp-dir={tmp_path_factory.mktemp('ray')}",
        ],
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, 60)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(3)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # daemons that ignored SIGTERM
        except ProcessLookupError:
            pass
        head.wait(5)


def test_ray_pool_proves_and_fails_with_reason(
    ray_address: str, tiny_artifacts: CircuitArtifacts, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    executions = [run_witness(tiny_artifacts, rng.uniform(-1, 1, 4)) for _ in range(3)]
    pool = RayProverPool(ray_address, threads_per_job=1, max_retries=1, timeout_s=120)
    try:
        ids = [
            pool.submit(make_proof_job(tiny_artifacts, e, tmp_path / f"p{i}.json"))
            for i, e in enumerate(executions)
        ]
        bad = dataclasses.replace(
            make_proof_job(tiny_artifacts, executions[0], tmp_path / "bad.json"),
            witness_path=str(tmp_path / "missing-witness.json"),
        )
        bad_id = pool.submit(bad)
        for job_id, execution in zip(ids, executions, strict=True):
            proof = pool.result(job_id, timeout=120)
            verify(tiny_artifacts, proof)
            assert public_values(proof).outputs == execution.outputs
            assert pool.status(job_id).state is JobState.PROVEN
        with pytest.raises(ProvingFailed, match=r"after 2 attempt\(s\).*witness_path"):
            pool.result(bad_id, timeout=120)
    finally:
        pool.close()
