"""Jobs in a child process under resource limits (flavum/node/sandbox.py): a job that takes too
much memory, CPU or time fails alone with ModelTooLarge naming the limit; a Flavum error in
the child comes back as the same class; progress and results cross the pipe."""

import time

import numpy as np
import pytest

from flavum.ml.errors import ModelTooLarge, UnsupportedOperator
from flavum.node.sandbox import ResourceLimits, run_limited


def _square(value, progress):
    progress("working", 0.5)
    return value * value


def _allocate(megabytes, progress):
    return int(np.ones(megabytes * 1024 * 1024 // 8).sum())


def _spin(_, progress):
    while True:
        pass


def _sleep(seconds, progress):
    time.sleep(seconds)


def _refuse(_, progress):
    raise UnsupportedOperator("operator Foo (node 'n') is not supported by the prover")


def test_the_result_and_progress_come_back():
    seen = []
    assert run_limited(_square, (7,), ResourceLimits(), lambda s, f: seen.append((s, f))) == 49
    assert seen == [("working", 0.5)]


def test_a_job_over_its_memory_limit_fails_alone():
    with pytest.raises(ModelTooLarge, match="memory limit of 600 MB"):
        run_limited(_allocate, (2_000,), ResourceLimits(memory_mb=600))


def test_a_job_over_its_cpu_limit_fails_alone():
    with pytest.raises(ModelTooLarge, match="CPU limit of 1 s"):
        run_limited(_spin, (None,), ResourceLimits(cpu_s=1, timeout_s=60))


def test_a_job_over_its_time_limit_is_killed():
    with pytest.raises(ModelTooLarge, match="longer than its limit of 2 s"):
        run_limited(_sleep, (60,), ResourceLimits(timeout_s=2))


def test_a_flavum_error_comes_back_as_its_class():
    with pytest.raises(UnsupportedOperator, match="operator Foo"):
        run_limited(_refuse, (None,), ResourceLimits())
