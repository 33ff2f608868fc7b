"""The inline prover pool: each job is proven inside `submit`, in the caller's thread.

For tests that want real proofs and for tiny nodes: no worker, no timeout; a failed attempt
is retried at once, up to `max_retries` times.
"""

from __future__ import annotations

import time

from flavum.zk.interface import JobRunner
from flavum.zk.job_book import BookedPool, JobBook, describe_error
from flavum.zk.proof import ProofJob, run_proof_job


class InlineProverPool(BookedPool):
    """Proves each job inside `submit`, in the caller's thread (tests, tiny nodes)."""

    def __init__(self, max_retries: int = 0, runner: JobRunner = run_proof_job) -> None:
        self._book = JobBook(max_retries)
        self._runner = runner

    def submit(self, job: ProofJob) -> str:
        job_id = self._book.add(job)
        while (taken := self._book.take()) is not None:
            taken_id, taken_job = taken
            start = time.perf_counter()
            try:
                self._runner(taken_job)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # ezkl panics are BaseExceptions
                self._book.attempt_failed(taken_id, describe_error(exc))
                continue
            self._book.succeeded(taken_id, time.perf_counter() - start, None)
        return job_id

    def close(self) -> None:
        self._book.fail_all_pending("pool closed")
