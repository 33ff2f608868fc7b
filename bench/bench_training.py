"""Benchmark: proven training per model family, side by side in one run.

For each family: the step circuit's logrows, the seconds to prove one step and to verify it,
the peak RSS of the process that proved (each family runs in its own spawned process), and
the test accuracy of float SGD (plain nonlinearity) vs the canonical fixed-point steps after
the same k steps. Goal: proven accuracy within 1 point of float.

    PYTHONPATH=. python bench/bench_training.py [--proofs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def measure(family: str, scale: int, proofs: int) -> dict[str, Any]:
    from flavum.ml.mlp_step import MlpStep
    from flavum.ml.softmax_step import SoftmaxStep, make_one_hot_rows
    from flavum.ml.training import LogisticStep, load_standardized, make_batches, make_labelled_rows
    from flavum.zk.srs import SrsStore
    from flavum.zk.training import build_step_circuit, prove_step, run_step, verify_step

    step: Any
    if family == "logistic":
        step = LogisticStep(features=8, batch=8, learning_rate=0.5)
        dataset, steps = "breast_cancer", 60
        start = np.zeros(step.params_size)
    elif family == "softmax":
        step = SoftmaxStep(features=4, classes=3, batch=8, learning_rate=0.5)
        dataset, steps = "iris", 28
        start = np.zeros(step.params_size)
    else:
        step = MlpStep(features=8, hidden=4, batch=8, learning_rate=0.5)
        dataset, steps = "breast_cancer", 60
        start = step.initial_params()
    x_train, y_train, x_test, y_test = load_standardized(dataset, step.features)
    rows = (make_one_hot_rows(x_train, y_train, step.classes) if family == "softmax"
            else make_labelled_rows(x_train, y_train))
    batches = make_batches(rows, step.batch, steps)
    with tempfile.TemporaryDirectory() as tmp:
        circuit = build_step_circuit(step, SrsStore(Path(tmp) / "srs"), scale=scale)
        theta, reference, runs = start, start, []
        for i, batch in enumerate(batches):
            runs.append(run_step(circuit, theta, batch, Path(tmp) / f"s{i}"))
            theta = runs[-1].new_params_values
            reference = (step.step(reference, batch, clip=False) if family != "logistic"
                         else _plain_logistic(step, reference, batch))
        prove_s, verify_s = [], []
        for run in runs[:proofs]:
            t0 = time.perf_counter()
            proof = prove_step(circuit, run)
            prove_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            verify_step(circuit, proof)
            verify_s.append(time.perf_counter() - t0)
        return {
            "family": f"{family} ({dataset}, {step.params_size} params, B={step.batch})",
            "scale": scale, "logrows": circuit.logrows, "steps": steps,
            "prove_s": float(np.median(prove_s)), "verify_s": float(np.median(verify_s)),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "float_acc": float(np.mean(step.predict(reference, x_test) == y_test)),
            "proven_acc": float(np.mean(step.predict(theta, x_test) == y_test)),
        }


def _plain_logistic(step: Any, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    design = np.c_[rows[:, :-1], np.ones(step.batch)]
    errors = 1.0 / (1.0 + np.exp(-(design @ theta))) - rows[:, -1]
    result: np.ndarray = theta - step.step_size * design.T @ errors
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proofs", type=int, default=2)
    args = parser.parse_args()
    cases = [("logistic", 10), ("softmax", 10), ("mlp", 8), ("mlp", 10)]
    context = multiprocessing.get_context("spawn")  # a fresh process per family: its own RSS
    print("| family | scale | logrows | steps k | prove s/step | verify s | peak RSS MB "
          "| float acc | proven acc | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for family, scale in cases:
        with context.Pool(1) as pool:
            r = pool.apply(measure, (family, scale, args.proofs))
        ok = abs(r["proven_acc"] - r["float_acc"]) <= 0.01
        print(f"| {r['family']} | 2^-{r['scale']} | {r['logrows']} | {r['steps']} | "
              f"{r['prove_s']:.1f} | {r['verify_s']:.2f} | {r['rss_mb']:.0f} | "
              f"{100 * r['float_acc']:.1f} % | {100 * r['proven_acc']:.1f} % | "
              f"{'within 1 pt' if ok else 'MISSED'} |", flush=True)


if __name__ == "__main__":
    main()
