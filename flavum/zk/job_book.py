"""The job book: job states and retry accounting shared by every prover pool.

A pool adds jobs to its book, takes the next queued one for a worker (it is then proving, one
attempt more), and reports each attempt's end; the book requeues a failed attempt while the
job has retries left. `BookedPool` reads status and results from the book, and
`SupervisedPool` adds the supervisor thread that hands jobs to workers, so each backend only
decides where an attempt runs.
"""

from __future__ import annotations

import itertools
import resource
import threading
from abc import abstractmethod
from collections import deque
from dataclasses import replace
from pathlib import Path

from flavum.core.errors import ConfigError
from flavum.zk.errors import ProvingFailed
from flavum.zk.interface import JobState, JobStatus, ProverPool
from flavum.zk.proof import Proof, ProofJob, read_job_proof


class JobBook:
    """Job states and retry accounting (thread-safe)."""

    def __init__(self, max_retries: int) -> None:
        if max_retries < 0:
            raise ConfigError("max_retries must be >= 0")
        self.max_retries = max_retries
        self._jobs: dict[str, ProofJob] = {}
        self._status: dict[str, JobStatus] = {}
        self._queue: deque[str] = deque()
        self._ids = itertools.count(1)
        self._changed = threading.Condition()

    def add(self, job: ProofJob) -> str:
        with self._changed:
            job_id = f"job-{next(self._ids)}"
            self._jobs[job_id] = job
            self._status[job_id] = JobStatus(JobState.QUEUED)
            self._queue.append(job_id)
            self._changed.notify_all()
        return job_id

    def take(self) -> tuple[str, ProofJob] | None:
        """The next queued job, now marked proving, or None."""
        with self._changed:
            if not self._queue:
                return None
            job_id = self._queue.popleft()
            status = self._status[job_id]
            self._status[job_id] = replace(
                status, state=JobState.PROVING, attempts=status.attempts + 1
            )
            self._changed.notify_all()
            return job_id, self._jobs[job_id]

    def succeeded(self, job_id: str, seconds: float, peak_rss: int | None) -> None:
        with self._changed:
            self._status[job_id] = replace(
                self._status[job_id], state=JobState.PROVEN, reason=None,
                seconds=seconds, peak_rss_bytes=peak_rss,
            )
            self._changed.notify_all()

    def attempt_failed(self, job_id: str, reason: str) -> None:
        """Requeue the job while it has retries left, else mark it failed."""
        with self._changed:
            status = self._status[job_id]
            if status.attempts <= self.max_retries:
                self._status[job_id] = replace(status, state=JobState.QUEUED, reason=reason)
                self._queue.append(job_id)
            else:
                self._status[job_id] = replace(
                    status, state=JobState.FAILED,
                    reason=f"failed after {status.attempts} attempt(s): {reason}",
                )
            self._changed.notify_all()

    def fail_all_pending(self, reason: str) -> None:
        with self._changed:
            for job_id, status in self._status.items():
                if not status.done:
                    self._status[job_id] = replace(status, state=JobState.FAILED, reason=reason)
            self._queue.clear()
            self._changed.notify_all()

    def status(self, job_id: str) -> JobStatus:
        with self._changed:
            if job_id not in self._status:
                raise KeyError(f"unknown job {job_id}")
            return self._status[job_id]

    def wait(self, job_id: str, timeout: float | None) -> ProofJob:
        """The proven job once it is done; ProvingFailed with the reason if it failed."""
        with self._changed:
            if job_id not in self._status:
                raise KeyError(f"unknown job {job_id}")
            if not self._changed.wait_for(lambda: self._status[job_id].done, timeout):
                raise TimeoutError(f"{job_id} is still {self._status[job_id].state.value}")
            status, job = self._status[job_id], self._jobs[job_id]
        if status.state is JobState.FAILED:
            raise ProvingFailed(f"{job_id}: {status.reason}")
        return job


class BookedPool(ProverPool):
    """A pool whose jobs live in a JobBook: their status and results are read from it."""

    _book: JobBook

    def status(self, job_id: str) -> JobStatus:
        return self._book.status(job_id)

    def result(self, job_id: str, timeout: float | None = None) -> Proof:
        return read_job_proof(self._book.wait(job_id, timeout))


class SupervisedPool(BookedPool):
    """A booked pool whose supervisor thread hands queued jobs to workers (local processes,
    Ray tasks): `submit` books a job and wakes the supervisor; `close` stops it, releases the
    workers, then fails every job not finished."""

    def __init__(self, max_retries: int, timeout_s: float | None) -> None:
        self._book = JobBook(max_retries)
        self._timeout = timeout_s
        self._closing = threading.Event()

    def _start_supervisor(self, name: str) -> None:
        self._thread = threading.Thread(target=self._supervise, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: ProofJob) -> str:
        if self._closing.is_set():
            raise ProvingFailed("the prover pool is closed")
        job_id = self._book.add(job)
        self._wake()
        return job_id

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake()
        self._thread.join()
        self._release_workers()
        self._book.fail_all_pending("pool closed")

    @abstractmethod
    def _supervise(self) -> None:
        """The supervisor thread: runs until `_closing` is set."""

    @abstractmethod
    def _wake(self) -> None:
        """Wake the supervisor: a job was booked, or the pool closes."""

    def _release_workers(self) -> None:
        """Once the supervisor has stopped: let go of what still runs (nothing by default)."""


def peak_rss_bytes() -> int:
    """This process's peak RSS since it started its program.

    getrusage's ru_maxrss survives fork and exec, so a spawned worker would report its parent's
    peak from before the spawn (a node that compiled a big circuit); /proc's VmHWM belongs to
    the worker's own address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def describe_error(exc: BaseException) -> str:
    """An attempt's failure reason: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"
