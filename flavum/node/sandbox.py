"""Running a job in a child process under resource limits.

Compiling a model (normalize, calibrate, compile, keys, accuracy) runs code that a user's ONNX
file steers: a graph that slips past the static intake checks could still take all memory or
CPU. `run_limited` runs such a job in a fresh (spawned) process whose address space and CPU
time are capped with setrlimit, and kills it at a wall-clock deadline: such a model only fails
its own job (`ModelTooLarge` naming the limit), never the node. Progress reports and the
result come back over a pipe; a Flavum error raised in the child is raised again in the parent
as the same class with the same message.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from flavum.core.errors import FlavumError
from flavum.ml.errors import ModelRejected, ModelTooLarge
from flavum.zk.logs import quiet_ezkl_logs

Progress = Callable[[str, float | None], None]


@dataclass(frozen=True)
class ResourceLimits:
    """What one job may use (config.toml `[models]`: compile_memory_mb, compile_cpu_s,
    compile_timeout_s). A logrows-18 circuit's setup peaks near 4.2 GB here."""

    memory_mb: int = 12_288  # address space of the child process
    cpu_s: int = 1_800  # CPU time, all threads together
    timeout_s: float = 1_800.0  # wall clock


def run_limited(fn: Callable[..., Any], args: tuple[Any, ...], limits: ResourceLimits,
                progress: Progress | None = None) -> Any:
    """`fn(*args, progress)` in a child process under `limits`; its result, or its error.
    `fn` and `args` must be picklable (a module-level function, plain data)."""
    context = multiprocessing.get_context("spawn")  # a forked ezkl runtime can hang
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args, limits), daemon=True)
    process.start()
    child.close()
    deadline = time.monotonic() + limits.timeout_s
    try:
        while True:
            if parent.poll(0.2):
                try:
                    message = parent.recv()
                except EOFError:  # the child died without a word: killed by a limit
                    break
                kind = message[0]
                if kind == "progress" and progress is not None:
                    progress(message[1], message[2])
                elif kind == "done":
                    return message[1]
                elif kind == "error":
                    raise _rebuild(message[1], message[2])
            elif not process.is_alive():
                break
            if time.monotonic() > deadline:
                raise ModelTooLarge(f"compiling the model took longer than its limit of "
                                    f"{limits.timeout_s:.0f} s (compile_timeout_s)")
    finally:
        parent.close()
        if process.is_alive():
            process.kill()
        process.join(timeout=10)
    raise _limit_error(process.exitcode, limits)


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...],
           limits: ResourceLimits) -> None:
    quiet_ezkl_logs()  # a spawned process: the node's log settings do not reach it
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))

    def progress(stage: str, fraction: float | None) -> None:
        conn.send(("progress", stage, fraction))

    try:
        conn.send(("done", fn(*args, progress)))
    except MemoryError:
        conn.send(("error", "ModelTooLarge",
                   f"compiling the model needs more than its memory limit of "
                   f"{limits.memory_mb} MB (compile_memory_mb)"))
    except FlavumError as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
    finally:
        conn.close()


def _rebuild(name: str, message: str) -> FlavumError:
    """The Flavum error class named `name` (ModelRejected when unknown) with `message`."""
    pending: list[type[FlavumError]] = [FlavumError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls(message)
        pending.extend(cls.__subclasses__())
    return ModelRejected(message)


def _limit_error(exitcode: int | None, limits: ResourceLimits) -> ModelTooLarge:
    if exitcode == -signal.SIGXCPU:
        return ModelTooLarge(f"compiling the model used more than its CPU limit of "
                             f"{limits.cpu_s} s (compile_cpu_s)")
    return ModelTooLarge(f"the compilation stopped (exit status {exitcode}): most likely it "
                         f"needed more than its memory limit of {limits.memory_mb} MB "
                         "(compile_memory_mb)")
