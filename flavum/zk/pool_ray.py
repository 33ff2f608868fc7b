"""The Ray prover pool: the same proof jobs as Ray tasks on an existing cluster.

Paths in a job must then name a filesystem every node of the cluster sees. Ray's own retries
are off: the job book counts attempts, as in every pool.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flavum.core.errors import ConfigError
from flavum.zk.interface import DEFAULT_TIMEOUT_S
from flavum.zk.job_book import SupervisedPool, describe_error, peak_rss_bytes
from flavum.zk.proof import ProofJob, run_proof_job


def _ray_prove(job: ProofJob) -> tuple[float, int]:
    """A Ray task: prove one job on whatever node Ray picked."""
    start = time.perf_counter()
    run_proof_job(job)
    return time.perf_counter() - start, peak_rss_bytes()


class RayProverPool(SupervisedPool):
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
        super().__init__(max_retries, timeout_s)
        self._ray = ray
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
        self._wakeup = threading.Event()
        self._start_supervisor("ray-prover")

    def _wake(self) -> None:
        self._wakeup.set()

    def _release_workers(self) -> None:
        for ref in self._in_flight:
            self._ray.cancel(ref, force=True)
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
                    reason = describe_error(cause if isinstance(cause, BaseException) else exc)
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
