"""Job runners for pool tests: module-level so spawned workers import them by name.

Each decides from the job's paths what to do, so one pool can hold good and bad jobs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flavum.zk.proof import ProofJob, run_proof_job


def _first_attempt(job: ProofJob) -> bool:
    """True the first time a job is seen (a marker file beside its proof remembers it)."""
    marker = Path(job.proof_path + ".attempted")
    if marker.exists():
        return False
    marker.write_text("1")
    return True


def stuck_or_prove(job: ProofJob) -> None:
    if Path(job.proof_path).name.startswith("stuck"):
        time.sleep(3600)
    run_proof_job(job)


def crash_once_then_prove(job: ProofJob) -> None:
    if _first_attempt(job):
        os._exit(3)  # like a native crash: no exception, the process is just gone
    run_proof_job(job)


def fail_once_then_prove(job: ProofJob) -> None:
    if _first_attempt(job):
        raise RuntimeError("transient failure")
    run_proof_job(job)


def report_rayon_threads(job: ProofJob) -> None:
    Path(job.proof_path + ".threads").write_text(os.environ.get("RAYON_NUM_THREADS", "unset"))
    run_proof_job(job)
