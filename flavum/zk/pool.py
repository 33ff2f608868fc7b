"""Prover pools: where proof jobs run, behind one small interface.

A `ProofJob` is self-contained (paths to the compiled circuit, pk, SRS, witness, and where to
write the proof), so a worker needs no memory shared with the node. Every pool gives each job
a bounded number of attempts: a job that fails, whose worker dies, or that runs past the timeout
is retried up to `max_retries` times and then marked failed with the last reason.

- `InlineProverPool` proves in the calling thread: the simple fake for tests and tiny nodes.
- `LocalProverPool` runs N worker processes (spawn start method: forking a process that has
  called ezkl hangs the child). A timed-out worker is killed and replaced, so a stuck job never
  blocks the others. `threads_per_worker` sets RAYON_NUM_THREADS in each worker: one ezkl proof
  already uses every core, so measuring scale-out (as more machines would give it) needs 1.
- `RayProverPool` submits the same jobs as Ray tasks to an existing cluster. Paths must then
  name a filesystem every node sees.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import resource
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from flavum.core.errors import ConfigError, ProvingFailed
from flavum.zk.proof import Proof, ProofJob, read_job_proof, run_proof_job

JobRunner = Callable[[ProofJob], None]

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


class _JobBook:
    """Job states and retry accounting shared by the pools (thread-safe)."""

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

    def wait(self, job_id: str, timeout: float | None) -> Proof:
        with self._changed:
            if job_id not in self._status:
                raise KeyError(f"unknown job {job_id}")
            if not self._changed.wait_for(lambda: self._status[job_id].done, timeout):
                raise TimeoutError(f"{job_id} is still {self._status[job_id].state.value}")
            status, job = self._status[job_id], self._jobs[job_id]
        if status.state is JobState.FAILED:
            raise ProvingFailed(f"{job_id}: {status.reason}")
        return read_job_proof(job)


def _peak_rss_bytes() -> int:
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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _BookedPool(ProverPool):
    """A pool whose jobs live in a _JobBook: their status and results are read from it."""

    _book: _JobBook

    def status(self, job_id: str) -> JobStatus:
        return self._book.status(job_id)

    def result(self, job_id: str, timeout: float | None = None) -> Proof:
        return self._book.wait(job_id, timeout)


class InlineProverPool(_BookedPool):
    """Proves each job inside `submit`, in the caller's thread (tests, tiny nodes)."""

    def __init__(self, max_retries: int = 0, runner: JobRunner = run_proof_job) -> None:
        self._book = _JobBook(max_retries)
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
                self._book.attempt_failed(taken_id, _describe(exc))
                continue
            self._book.succeeded(taken_id, time.perf_counter() - start, None)
        return job_id

    def close(self) -> None:
        self._book.fail_all_pending("pool closed")


# --- Local worker processes ---


def _local_worker_main(
    conn: multiprocessing.connection.Connection, threads: int | None, runner: JobRunner
) -> None:
    """A worker process: prove jobs received on `conn` until told to stop."""
    if threads is not None:
        # Before ezkl's first parallel call: rayon sizes its global pool once, from this.
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    import ezkl  # noqa: F401  (load the library now, not inside the first job's timeout)

    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return  # the pool is gone
        if message is None:
            return
        job_id, job = message
        start = time.perf_counter()
        try:
            runner(job)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            conn.send(("error", job_id, _describe(exc)))
            continue
        conn.send(("done", job_id, time.perf_counter() - start, _peak_rss_bytes()))


@dataclass
class _Worker:
    process: Any  # multiprocessing SpawnProcess
    conn: multiprocessing.connection.Connection
    ready: bool = False
    job_id: str | None = None
    deadline: float | None = None


class LocalProverPool(_BookedPool):
    """Worker processes on this machine (spawned, not forked)."""

    # A worker that dies before it is ready this many times in a row means the pool cannot run.
    MAX_START_FAILURES = 3

    def __init__(
        self,
        workers: int = 1,
        threads_per_worker: int | None = None,
        max_retries: int = 2,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        runner: JobRunner = run_proof_job,
    ) -> None:
        if workers < 1:
            raise ConfigError("a prover pool needs at least one worker")
        if threads_per_worker is not None and threads_per_worker < 1:
            raise ConfigError("threads_per_worker must be >= 1")
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError("timeout_s must be positive")
        self._book = _JobBook(max_retries)
        self._threads = threads_per_worker
        self._timeout = timeout_s
        self._runner = runner  # module-level function: the spawned worker imports it by name
        self._context = multiprocessing.get_context("spawn")
        self._wake_recv, self._wake_send = self._context.Pipe(duplex=False)
        self._closing = threading.Event()
        self._start_failures = 0
        self._ready = threading.Condition()
        self._workers = [self._start_worker() for _ in range(workers)]
        self._thread = threading.Thread(target=self._supervise, name="prover-pool", daemon=True)
        self._thread.start()

    # -- interface --

    def submit(self, job: ProofJob) -> str:
        if self._closing.is_set():
            raise ProvingFailed("the prover pool is closed")
        job_id = self._book.add(job)
        self._wake()
        return job_id

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has started (loaded ezkl); False on timeout."""
        with self._ready:
            return self._ready.wait_for(
                lambda: all(w.ready for w in self._workers) or self._closing.is_set(), timeout
            )

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake()
        self._thread.join()
        self._book.fail_all_pending("pool closed")

    @property
    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    # -- supervisor thread --

    def _wake(self) -> None:
        try:
            self._wake_send.send(None)
        except OSError:
            pass  # pool already closed

    def _start_worker(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_local_worker_main,
            args=(child, self._threads, self._runner),
            name="flavum-prover",
            daemon=True,
        )
        process.start()
        child.close()  # the parent keeps only its end: EOF then means the worker is gone
        return _Worker(process=process, conn=parent)

    def _supervise(self) -> None:
        try:
            while not self._closing.is_set():
                self._dispatch()
                waitables: list[Any] = [self._wake_recv]
                for w in self._workers:
                    waitables += [w.conn, w.process.sentinel]
                ready = multiprocessing.connection.wait(waitables, timeout=self._next_wait())
                if self._wake_recv in ready:
                    while self._wake_recv.poll():
                        self._wake_recv.recv()
                for worker in list(self._workers):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        self._service(worker)
                self._enforce_timeouts()
        finally:
            self._stop_workers()

    def _next_wait(self) -> float:
        deadlines = [w.deadline for w in self._workers if w.deadline is not None]
        if not deadlines:
            return 1.0
        return max(0.0, min(1.0, min(deadlines) - time.monotonic()))

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not worker.ready or worker.job_id is not None:
                continue
            taken = self._book.take()
            if taken is None:
                return
            job_id, job = taken
            worker.job_id = job_id
            worker.deadline = None if self._timeout is None else time.monotonic() + self._timeout
            try:
                worker.conn.send((job_id, job))
            except OSError as exc:
                self._replace(worker, f"could not reach the worker: {exc}")

    def _service(self, worker: _Worker) -> None:
        while True:
            try:
                if not worker.conn.poll():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                break
            self._handle(worker, message)
        if not worker.process.is_alive():
            worker.process.join()
            self._replace(worker, f"worker process died (exit code {worker.process.exitcode})")

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            with self._ready:
                worker.ready = True
                self._start_failures = 0
                self._ready.notify_all()
            return
        job_id = message[1]
        if job_id != worker.job_id:
            return  # a late answer from an attempt already written off
        worker.job_id, worker.deadline = None, None
        if kind == "done":
            self._book.succeeded(job_id, seconds=message[2], peak_rss=message[3])
        else:
            self._book.attempt_failed(job_id, message[2])

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.deadline is not None and now >= worker.deadline:
                worker.process.kill()
                worker.process.join()
                self._replace(worker, f"timed out after {self._timeout:g} s; worker killed")

    def _replace(self, worker: _Worker, reason: str) -> None:
        """Write off `worker` (its job's attempt fails with `reason`) and start a fresh one."""
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        if worker.job_id is not None:
            self._book.attempt_failed(worker.job_id, reason)
        if not worker.ready:
            self._start_failures += 1
        index = self._workers.index(worker)
        if self._start_failures >= self.MAX_START_FAILURES:
            self._book.fail_all_pending(f"prover workers cannot start: {reason}")
            self._closing.set()
            with self._ready:
                self._ready.notify_all()
            return
        self._workers[index] = self._start_worker()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()  # e.g. in the middle of a long proof
                worker.process.join()
            worker.conn.close()
        self._wake_recv.close()
        self._wake_send.close()


# --- Ray ---


def _ray_prove(job: ProofJob) -> tuple[float, int]:
    """A Ray task: prove one job on whatever node Ray picked."""
    start = time.perf_counter()
    run_proof_job(job)
    return time.perf_counter() - start, _peak_rss_bytes()


class RayProverPool(_BookedPool):
    """Proof jobs as Ray tasks on an existing cluster (`ray start --head ...`).

    At most `max_in_flight` tasks (default: the cluster's CPUs / `cpus_per_job`) are handed
    to Ray at once, so the timeout counts proving time, not time spent queued inside Ray.
    """

    def __init__(
        self,
        address: str,
        *,
        cpus_per_job: float = 1.0,
        threads_per_job: int | None = None,
        max_retries: int = 2,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        max_in_flight: int | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("RayProverPool needs the `ray` package (pip install ray)") from exc
        self._ray = ray
        self._book = _JobBook(max_retries)
        self._timeout = timeout_s
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        if max_in_flight is None:
            cpus = ray.cluster_resources().get("CPU", 1.0)
            max_in_flight = max(1, int(cpus // cpus_per_job))
        self._max_in_flight = max_in_flight
        options: dict[str, Any] = {"num_cpus": cpus_per_job, "max_retries": 0}
        if threads_per_job is not None:
            options["runtime_env"] = {"env_vars": {"RAYON_NUM_THREADS": str(threads_per_job)}}
        self._task = ray.remote(_ray_prove).options(**options)
        self._in_flight: dict[Any, tuple[str, float | None]] = {}  # ref -> (job id, deadline)
        self._closing = threading.Event()
        self._wakeup = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="ray-prover", daemon=True)
        self._thread.start()

    def submit(self, job: ProofJob) -> str:
        if self._closing.is_set():
            raise ProvingFailed("the prover pool is closed")
        job_id = self._book.add(job)
        self._wakeup.set()
        return job_id

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wakeup.set()
        self._thread.join()
        for ref in self._in_flight:
            self._ray.cancel(ref, force=True)
        self._book.fail_all_pending("pool closed")
        self._ray.shutdown()  # disconnects this driver; the cluster keeps running

    def _supervise(self) -> None:
        ray = self._ray
        while not self._closing.is_set():
            while len(self._in_flight) < self._max_in_flight:
                taken = self._book.take()
                if taken is None:
                    break
                job_id, job = taken
                deadline = None if self._timeout is None else time.monotonic() + self._timeout
                self._in_flight[self._task.remote(job)] = (job_id, deadline)
            if not self._in_flight:
                self._wakeup.wait(1.0)
                self._wakeup.clear()
                continue
            done, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=0.2)
            for ref in done:
                job_id, _deadline = self._in_flight.pop(ref)
                try:
                    seconds, peak_rss = ray.get(ref)
                except Exception as exc:
                    # A RayTaskError carries the task's own exception as `cause`.
                    cause = getattr(exc, "cause", None)
                    reason = _describe(cause if isinstance(cause, BaseException) else exc)
                    self._book.attempt_failed(job_id, reason.splitlines()[0])
                else:
                    self._book.succeeded(job_id, seconds, peak_rss)
            now = time.monotonic()
            for ref, (job_id, deadline) in list(self._in_flight.items()):
                if deadline is not None and now >= deadline:
                    ray.cancel(ref, force=True)  # force kills the worker process running it
                    del self._in_flight[ref]
                    self._book.attempt_failed(
                        job_id, f"timed out after {self._timeout:g} s; task cancelled"
                    )
