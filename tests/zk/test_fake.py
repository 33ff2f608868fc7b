"""The fake prover pool: the states, attempts and reasons of a real pool, without ezkl.

The same scenarios run on the inline pool with runners that write or refuse a proof file, so
the fake is held to what a real pool reports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flavum.zk.errors import ProvingFailed
from flavum.zk.fake import FakeProverPool
from flavum.zk.interface import JobState, JobStatus, ProverPool
from flavum.zk.pool_inline import InlineProverPool
from flavum.zk.proof import Proof, ProofJob

RECORDED = Proof(proof_bytes=b"\x01\x02proof", instances=(7, 11, 13), input_visibility="hashed",
                 num_input_instances=1)


def make_job(tmp_path: Path, name: str) -> ProofJob:
    return ProofJob(compiled_path="circuit", pk_path="pk", srs_path="srs",
                    witness_path="witness.json", proof_path=str(tmp_path / f"{name}.json"),
                    input_visibility="hashed", num_input_instances=1)


def write_recorded(job: ProofJob) -> None:
    Path(job.proof_path).write_bytes(RECORDED.to_json())


def failing_runs(failures: int) -> Callable[[ProofJob], None]:
    """A runner whose first `failures` attempts raise, then writes the recorded proof."""
    left = [failures]

    def runner(job: ProofJob) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise RuntimeError("transient failure")
        write_recorded(job)

    return runner


def inline_pool(failures: int, max_retries: int) -> ProverPool:
    return InlineProverPool(max_retries=max_retries, runner=failing_runs(failures))


def fake_pool(failures: int, max_retries: int) -> ProverPool:
    pool = FakeProverPool(RECORDED, max_retries=max_retries)
    pool.fail_next("RuntimeError: transient failure", times=failures)
    return pool


POOLS = pytest.mark.parametrize("new_pool", [inline_pool, fake_pool], ids=["inline", "fake"])


@POOLS
@pytest.mark.parametrize(("failures", "max_retries"), [(0, 0), (1, 1), (2, 3)])
def test_a_job_is_proven_with_the_recorded_proof_after_its_retries(
    new_pool, failures: int, max_retries: int, tmp_path: Path
) -> None:
    pool = new_pool(failures=failures, max_retries=max_retries)
    job_id = pool.submit(make_job(tmp_path, "a"))
    status = pool.status(job_id)
    assert (status.state, status.attempts, status.reason) == (JobState.PROVEN, failures + 1, None)
    assert pool.result(job_id, timeout=0) == RECORDED


@POOLS
def test_a_job_out_of_retries_fails_with_the_last_reason(new_pool, tmp_path: Path) -> None:
    pool = new_pool(failures=3, max_retries=2)
    job_id = pool.submit(make_job(tmp_path, "a"))
    status = pool.status(job_id)
    assert status.state is JobState.FAILED and status.attempts == 3
    assert status.reason == "failed after 3 attempt(s): RuntimeError: transient failure"
    with pytest.raises(ProvingFailed, match=rf"{job_id}: failed after 3 attempt\(s\)"):
        pool.result(job_id)
    with pytest.raises(KeyError):
        pool.status("job-999")


def test_held_jobs_move_only_when_told(tmp_path: Path) -> None:
    pool = FakeProverPool(RECORDED, max_retries=1, hold=True)
    first, second = (pool.submit(make_job(tmp_path, n)) for n in ("a", "b"))
    assert [j.proof_path for j in pool.submitted] == [str(tmp_path / "a.json"),
                                                      str(tmp_path / "b.json")]
    assert pool.status(first).state is JobState.QUEUED
    with pytest.raises(TimeoutError, match="still queued"):
        pool.result(first, timeout=0)
    with pytest.raises(ValueError, match="no attempt in progress"):
        pool.finish(first)
    assert pool.start() == first
    assert pool.status(first).state is JobState.PROVING
    with pytest.raises(TimeoutError, match="still proving"):
        pool.result(first, timeout=0)
    pool.fail_next("worker died")
    pool.finish(first)  # failed, retried: back in the queue behind the second job
    assert pool.status(first) == JobStatus(JobState.QUEUED, reason="worker died", attempts=1)
    assert pool.start() == second
    pool.finish(second)
    pool.run()
    assert pool.status(first).state is JobState.PROVEN and pool.status(first).attempts == 2
    assert pool.result(second) == RECORDED
    assert pool.start() is None


def test_close_fails_pending_jobs_and_refuses_new_ones(tmp_path: Path) -> None:
    with FakeProverPool(RECORDED, hold=True) as pool:
        job_id = pool.submit(make_job(tmp_path, "a"))
    status = pool.status(job_id)
    assert (status.state, status.reason) == (JobState.FAILED, "pool closed")
    with pytest.raises(ProvingFailed, match="closed"):
        pool.submit(make_job(tmp_path, "late"))
