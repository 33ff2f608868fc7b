"""Prover pools: real proofs in spawned workers, retries, timeouts, crashes."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from flavum.zk.circuit import CircuitArtifacts
from flavum.zk.errors import ProvingFailed
from flavum.zk.execution import CircuitRun, run_witness
from flavum.zk.interface import JobState
from flavum.zk.pool_inline import InlineProverPool
from flavum.zk.pool_local import LocalProverPool
from flavum.zk.proof import ProofJob, make_proof_job, public_values, verify
from tests.zk import pool_helpers


@pytest.fixture(scope="module")
def executions(tiny_artifacts: CircuitArtifacts) -> list[CircuitRun]:
    rng = np.random.default_rng(42)
    return [run_witness(tiny_artifacts, rng.uniform(-1, 1, 4)) for _ in range(3)]


def _job(
    artifacts: CircuitArtifacts, execution: CircuitRun, out: Path, name: str
) -> ProofJob:
    return make_proof_job(artifacts, execution, out / f"{name}.proof.json")


def test_inline_pool(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    pool = InlineProverPool()
    job_id = pool.submit(_job(tiny_artifacts, executions[0], tmp_path, "a"))
    assert pool.status(job_id).state is JobState.PROVEN
    verify(tiny_artifacts, pool.result(job_id))
    bad = dataclasses.replace(
        _job(tiny_artifacts, executions[0], tmp_path, "b"), witness_path=str(tmp_path / "none")
    )
    bad_id = pool.submit(bad)
    assert pool.status(bad_id).state is JobState.FAILED
    with pytest.raises(ProvingFailed, match="does not exist"):
        pool.result(bad_id)


def test_local_pool_proves_retries_and_fails(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    with LocalProverPool(
        workers=2, threads_per_worker=1, max_retries=2, timeout_s=60,
        runner=pool_helpers.fail_once_then_prove,
    ) as pool:
        ids = [
            pool.submit(_job(tiny_artifacts, e, tmp_path, f"ok{i}"))
            for i, e in enumerate(executions)
        ]
        missing = dataclasses.replace(
            _job(tiny_artifacts, executions[0], tmp_path, "missing"),
            pk_path=str(tmp_path / "no-pk"),
        )
        missing_id = pool.submit(missing)
        for job_id, execution in zip(ids, executions, strict=True):
            proof = pool.result(job_id, timeout=60)
            verify(tiny_artifacts, proof)
            assert public_values(proof).outputs == execution.outputs
            status = pool.status(job_id)
            assert status.state is JobState.PROVEN
            assert status.attempts == 2  # the first attempt failed on purpose
            assert status.peak_rss_bytes is not None and status.peak_rss_bytes > 10_000_000
        with pytest.raises(ProvingFailed, match=r"after 3 attempt\(s\).*pk_path"):
            pool.result(missing_id, timeout=60)
        assert pool.status(missing_id).attempts == 3


def test_stuck_job_is_killed_and_does_not_block_others(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    with LocalProverPool(
        workers=2, threads_per_worker=1, max_retries=1, timeout_s=4,
        runner=pool_helpers.stuck_or_prove,
    ) as pool:
        assert pool.wait_ready(60)
        pids_before = set(pool.worker_pids)
        stuck_id = pool.submit(_job(tiny_artifacts, executions[0], tmp_path, "stuck"))
        time.sleep(0.2)  # let the stuck job take a worker first
        good_ids = [
            pool.submit(_job(tiny_artifacts, e, tmp_path, f"good{i}"))
            for i, e in enumerate(executions)
        ]
        for job_id in good_ids:
            verify(tiny_artifacts, pool.result(job_id, timeout=30))
        assert pool.status(stuck_id).state is JobState.PROVING  # still within its timeout
        with pytest.raises(ProvingFailed, match=r"after 2 attempt\(s\): timed out after 4 s"):
            pool.result(stuck_id, timeout=60)
        assert pool.wait_ready(60)
        assert set(pool.worker_pids) != pids_before  # killed workers were replaced
        # the pool still works after the kills
        again = pool.submit(_job(tiny_artifacts, executions[1], tmp_path, "after"))
        verify(tiny_artifacts, pool.result(again, timeout=30))


def test_crashed_worker_is_replaced_and_job_retried(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    with LocalProverPool(
        workers=1, max_retries=1, timeout_s=60, runner=pool_helpers.crash_once_then_prove
    ) as pool:
        job_id = pool.submit(_job(tiny_artifacts, executions[0], tmp_path, "crash"))
        verify(tiny_artifacts, pool.result(job_id, timeout=60))
        status = pool.status(job_id)
        assert status.attempts == 2
        assert status.state is JobState.PROVEN


def test_threads_per_worker_sets_rayon(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    with LocalProverPool(workers=1, threads_per_worker=1,
                         runner=pool_helpers.report_rayon_threads) as pool:
        job = _job(tiny_artifacts, executions[0], tmp_path, "threads")
        pool.result(pool.submit(job), timeout=60)
    assert Path(job.proof_path + ".threads").read_text() == "1"


def test_close_fails_pending_jobs(
    tiny_artifacts: CircuitArtifacts, executions: list[CircuitRun], tmp_path: Path
) -> None:
    pool = LocalProverPool(workers=1, runner=pool_helpers.stuck_or_prove)
    job_id = pool.submit(_job(tiny_artifacts, executions[0], tmp_path, "stuck-close"))
    pool.close()
    assert pool.status(job_id).state is JobState.FAILED
    with pytest.raises(ProvingFailed, match="closed"):
        pool.submit(_job(tiny_artifacts, executions[0], tmp_path, "late"))
