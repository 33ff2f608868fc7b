"""Signer recovery off the sequencer's commit path: worker processes decode submitted
transactions and recover their signers (secp256k1) in parallel, on every core.

Processes, not threads: most of a recovery is Python (decoding, hashing, eth_keys' wrapping
around libsecp256k1) and holds the GIL; two recovery threads were slower than one (BENCHMARKS.md).
A transaction submitted while no other is being recovered is recovered at once in the submitting
thread (no hand-off, no waiting); under concurrency submissions queue up, and each worker takes
a share of what is queued as one chunk. A running node starts the workers at boot (runner.py),
so that its first burst does not wait for them; an in-process sequencer (tests, tools) starts
them on first need.

A worker returns `recover_transaction(raw)` for each raw transaction it was sent: the bytes,
what they decode to, the hash and the signer, so what the sequencer executes and stores is what
the signer was recovered from.
"""

from __future__ import annotations  # threading.Lock is a function at run time

import math
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import overload

from flavum.core.errors import FlavumError
from flavum.core.transactions import Recovered, recover_transaction

MAX_CHUNK = 64  # transactions a worker takes at once: enough to spread the hand-off's cost


class _Job:
    """A raw transaction waiting for a worker, and its outcome."""

    __slots__ = ("done", "raw", "result", "take", "taken")

    def __init__(self, raw: bytes, done: threading.Lock,
                 take: Callable[[Recovered], bool] | None) -> None:
        self.raw = raw
        self.result: Recovered | FlavumError  # set before `done` is released
        self.done = done  # held until then: the submitting thread blocks on acquiring it
        self.take = take
        self.taken = False


class SignerRecovery:
    """`recover(raw)`: `recover_transaction(raw)`, computed here or by a worker process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers  # 0: always in the submitting thread
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._ready = threading.Semaphore(0)  # released by each worker's first answer
        self._closed = False

    @overload
    def recover(self, raw: bytes) -> Recovered: ...

    @overload
    def recover(self, raw: bytes, done: threading.Lock,
                take: Callable[[Recovered], bool]) -> Recovered | None: ...

    def recover(self, raw: bytes, done: threading.Lock | None = None,
                take: Callable[[Recovered], bool] | None = None) -> Recovered | None:
        """Raises MalformedTransaction if `raw` does not decode.

        `take`: called by a worker's feeder with the recovered transaction; if it takes it on
        (True), `recover` returns None once `done` (a held lock) is released by whoever it
        was handed to. Without a worker, `take` is not called."""
        with self._cond:
            inline = self.workers == 0 or self._in_flight == 0 or self._closed
            self._in_flight += 1
            if not inline:
                if done is None:
                    done = threading.Lock()
                    done.acquire()
                job = _Job(raw, done, take)
                self._queue.append(job)
                self._cond.notify()
                if not self._threads:
                    self._start()
        if inline:
            try:
                return recover_transaction(raw)
            finally:
                with self._cond:
                    self._in_flight -= 1
        # The feeder counts the job out of `_in_flight` (a chunk at a time): this thread wakes
        # only once, and takes no contended lock on waking.
        job.done.acquire()
        if job.taken:
            return None
        if isinstance(job.result, FlavumError):
            raise job.result
        return job.result

    def start(self, wait: bool = True) -> None:
        """Start the workers now (else they start on first need); with `wait`, return once each
        answers. A transaction queued for a worker still starting waits for it."""
        with self._cond:
            if self._threads:
                return
            self._start()
        for _ in range(self.workers if wait else 0):
            self._ready.acquire()

    def close(self) -> None:
        """Stop the workers (they finish the chunk in hand); recovery goes on in the caller."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(target=self._feed, name=f"flavum-recovery-{number}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _feed(self) -> None:
        """One worker process's feeder: sends it chunks of queued jobs, hands out the results.
        A worker that dies is replaced; the chunk it held (and any chunk while no worker will
        start) is recovered here."""
        worker = _start_worker()
        self._ready.release()
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    break
                size = min(MAX_CHUNK, math.ceil(len(self._queue) / self.workers))
                chunk = [self._queue.popleft() for _ in range(size)]
            try:
                if worker is None:
                    raise EOFError("no worker")
                results = worker.recover([job.raw for job in chunk])
            except (OSError, EOFError):
                results = [_recover(job.raw) for job in chunk]
                if worker is not None:
                    worker.close()
                worker = _start_worker()
            with self._cond:
                self._in_flight -= len(chunk)
            for job, result in zip(chunk, results, strict=True):
                job.result = result
                if job.take is not None and isinstance(result, Recovered):
                    # Marked first: once taken, `done` may be released by another thread.
                    job.taken = True
                    if job.take(result):
                        continue
                    job.taken = False
                job.done.release()
        if worker is not None:
            worker.close()


class _Worker:
    """A worker process (`python -m flavum.node.recovery`), spoken to through two pipes with
    multiprocessing's framing: a list of raw transactions in, their recoveries out. It is a
    fresh interpreter (no fork of a threaded node, no re-import of the caller's main module);
    it ends when its input pipe closes, also when the node is killed."""

    def __init__(self) -> None:
        worker_reads, we_write = os.pipe()
        we_read, worker_writes = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "flavum.node.recovery", str(worker_reads), str(worker_writes)],
            pass_fds=(worker_reads, worker_writes), env={**os.environ, "PYTHONPATH": path},
        )
        os.close(worker_reads)
        os.close(worker_writes)
        self._input = Connection(we_write, readable=False)
        self._output = Connection(we_read, writable=False)
        self.recover([])  # answers once it has started

    def recover(self, raws: list[bytes]) -> list[Recovered | FlavumError]:
        self._input.send(raws)
        results: list[Recovered | FlavumError] = self._output.recv()
        return results

    def close(self) -> None:
        self._input.close()
        self._output.close()
        self._process.wait()


def _start_worker() -> _Worker | None:
    try:
        return _Worker()
    except (OSError, EOFError):
        return None  # recovered in the feeder meanwhile


def serve(requests: Connection, answers: Connection) -> None:
    """A worker process: recovers each chunk it receives until its input ends."""
    while True:
        try:
            raws = requests.recv()
        except EOFError:
            return
        answers.send([_recover(raw) for raw in raws])


def _recover(raw: bytes) -> Recovered | FlavumError:
    try:
        return recover_transaction(raw)
    except FlavumError as exc:
        return exc


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1]), writable=False),
          Connection(int(sys.argv[2]), readable=False))
