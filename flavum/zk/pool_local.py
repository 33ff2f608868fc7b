"""The local prover pool: N worker processes on this machine.

Workers are spawned, not forked: forking a process that has called ezkl hangs the child. A
worker that times out is killed and replaced, so a stuck job never blocks the others.
`threads_per_worker` sets RAYON_NUM_THREADS in each worker: one ezkl proof already uses every
core, so measuring scale-out (as more machines would give it) needs 1.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from flavum.core.errors import ConfigError
from flavum.zk.interface import DEFAULT_TIMEOUT_S, JobRunner
from flavum.zk.job_book import SupervisedPool, describe_error, peak_rss_bytes
from flavum.zk.logs import quiet_ezkl_logs
from flavum.zk.proof import run_proof_job


def _local_worker_main(
    conn: multiprocessing.connection.Connection, threads: int | None, runner: JobRunner
) -> None:
    """A worker process: prove jobs received on `conn` until told to stop."""
    if threads is not None:
        # Before ezkl's first parallel call: rayon sizes its global pool once, from this.
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    quiet_ezkl_logs()  # a spawned process: the node's log settings do not reach it
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
            conn.send(("error", job_id, describe_error(exc)))
            continue
        conn.send(("done", job_id, time.perf_counter() - start, peak_rss_bytes()))


@dataclass
class _Worker:
    process: Any  # multiprocessing SpawnProcess
    conn: multiprocessing.connection.Connection
    ready: bool = False
    job_id: str | None = None
    deadline: float | None = None


class LocalProverPool(SupervisedPool):
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
        super().__init__(max_retries, timeout_s)
        self._threads = threads_per_worker
        self._runner = runner  # module-level function: the spawned worker imports it by name
        self._context = multiprocessing.get_context("spawn")
        self._wake_recv, self._wake_send = self._context.Pipe(duplex=False)
        self._start_failures = 0
        self._ready = threading.Condition()
        self._workers = [self._start_worker() for _ in range(workers)]
        self._start_supervisor("prover-pool")

    # -- interface --

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has started (loaded ezkl); False on timeout."""
        with self._ready:
            return self._ready.wait_for(
                lambda: all(w.ready for w in self._workers) or self._closing.is_set(), timeout
            )

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
