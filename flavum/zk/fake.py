"""The fake prover pool: proof jobs settled in memory, without ezkl, for fast tests.

It keeps its jobs in the same job book as the real pools, so states, attempts, retries and
failure reasons read exactly as theirs do. Each attempt either yields the recorded `proof`
or fails with a reason the test queued with `fail_next`. By default a job is settled inside
`submit` (like the inline pool); with `hold=True` jobs wait until the test moves them with
`start` (queued to proving) and `finish` (proving to proven, failed or queued again).
"""

from __future__ import annotations

from collections import deque

from flavum.zk.errors import ProvingFailed
from flavum.zk.interface import JobState
from flavum.zk.job_book import BookedPool, JobBook
from flavum.zk.proof import Proof, ProofJob


class FakeProverPool(BookedPool):
    """Every attempt gives `proof`, unless a failure was queued for it."""

    def __init__(self, proof: Proof, max_retries: int = 0, hold: bool = False) -> None:
        self._book = JobBook(max_retries)
        self.proof = proof
        self.hold = hold
        self.submitted: list[ProofJob] = []  # every job handed in, in order
        self._failures: deque[str] = deque()  # reasons for the next failing attempts
        self._proofs: dict[str, Proof] = {}
        self._closed = False

    def fail_next(self, reason: str, times: int = 1) -> None:
        """The next `times` attempts (of any job) fail with `reason`."""
        self._failures.extend([reason] * times)

    def submit(self, job: ProofJob) -> str:
        if self._closed:
            raise ProvingFailed("the prover pool is closed")
        job_id = self._book.add(job)
        self.submitted.append(job)
        if not self.hold:
            self.run()
        return job_id

    def start(self) -> str | None:
        """Begin an attempt of the next queued job (now proving); its id, or None."""
        taken = self._book.take()
        return None if taken is None else taken[0]

    def finish(self, job_id: str) -> None:
        """End the attempt of `job_id` that `start` began: a queued failure, else its proof."""
        if self._book.status(job_id).state is not JobState.PROVING:
            raise ValueError(f"{job_id} has no attempt in progress")
        if self._failures:
            self._book.attempt_failed(job_id, self._failures.popleft())
            return
        self._proofs[job_id] = self.proof
        self._book.succeeded(job_id, seconds=0.0, peak_rss=None)

    def run(self) -> None:
        """Attempt queued jobs (retries included) until none is left."""
        while (job_id := self.start()) is not None:
            self.finish(job_id)

    def result(self, job_id: str, timeout: float | None = None) -> Proof:
        self._book.wait(job_id, timeout)
        return self._proofs[job_id]

    def close(self) -> None:
        self._closed = True
        self._book.fail_all_pending("pool closed")
