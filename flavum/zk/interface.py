"""The prover-pool interface: where proof jobs run, as the node sees it.

A pool takes self-contained `ProofJob`s (paths only, see proof.py), reports each job's state
(queued, proving, proven, failed) and hands back its proof. Every pool gives a job a bounded
number of attempts: a job that fails, whose worker dies, or that runs past the timeout is
retried up to `max_retries` times and then marked failed with the last reason.

Backends, one file each: `pool_inline.py` (in the caller's thread), `pool_local.py` (spawned
worker processes), `pool_ray.py` (a Ray cluster); `fake.py` is the in-memory fake for tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from flavum.zk.proof import Proof, ProofJob

JobRunner = Callable[[ProofJob], None]  # proves one job, writing its proof file

DEFAULT_TIMEOUT_S = 900.0  # a logrows-18 proof takes ~35 s here; bigger models far longer


class JobState(StrEnum):
    QUEUED = "queued"
    PROVING = "proving"
    PROVEN = "proven"
    FAILED = "failed"


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    reason: str | None = None  # why the last attempt failed (or why the job failed)
    attempts: int = 0  # attempts started so far
    seconds: float | None = None  # prove time of the successful attempt
    peak_rss_bytes: int | None = None  # worker's peak RSS so far, when the pool knows it

    @property
    def done(self) -> bool:
        return self.state in (JobState.PROVEN, JobState.FAILED)


class ProverPool(ABC):
    """Submit proof jobs, watch them, collect proofs."""

    @abstractmethod
    def submit(self, job: ProofJob) -> str:
        """Queue `job`; returns its id at once."""

    @abstractmethod
    def status(self, job_id: str) -> JobStatus: ...

    @abstractmethod
    def result(self, job_id: str, timeout: float | None = None) -> Proof:
        """Wait for the job; its proof, or ProvingFailed with the reason.

        TimeoutError if `timeout` seconds pass while the job is still pending.
        """

    @abstractmethod
    def close(self) -> None:
        """Stop the workers; jobs not finished are marked failed."""

    def __enter__(self) -> ProverPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
