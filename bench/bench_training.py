"""Benchmark: proven training per model family, and how a step's cost grows with its shape.

Part 1, one row per family: the step circuit's rows and logrows, the seconds to prove one step
and to verify it, the float (numpy) step's time and the ratio, the proving time per sample, the
peak RSS of the process that proved (each case runs in its own spawned process, key setup
included), and the test accuracy of float SGD (plain nonlinearity) vs the canonical fixed-point
steps after the same k steps. Goal: proven accuracy within 1 point of float.

Part 2, a sweep: logistic-regression steps at scale 2^-8 for several batch sizes and feature
counts (rows, logrows, prove seconds, per sample).

    PYTHONPATH=. python bench/bench_training.py [--proofs 1] [--cache DIR] [--skip-families]
        [--full-digits]

`--full-digits` adds the multi-class MLP on all 64 pixels of digits (logrows 17: ~9 min of key
setup and ~6 GB on the shared machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FAMILIES = [("logistic", 10), ("softmax", 10), ("mlp", 8), ("mlp", 10), ("softmax-mlp", 10)]
SWEEP = [(4, 2), (4, 4), (4, 8), (4, 16), (4, 32), (8, 8), (16, 8), (32, 8), (64, 8)]
"""(features, batch) of the logistic steps in the sweep."""


def make_family(family: str) -> tuple[Any, str, int]:
    """(step, data set, steps k) of a family's benchmark run."""
    from flavum.ml.mlp_step import MlpStep
    from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
    from flavum.ml.softmax_step import SoftmaxStep
    from flavum.ml.training import LogisticStep

    if family == "logistic":
        return LogisticStep(features=8, batch=8, learning_rate=0.5), "breast_cancer", 60
    if family == "softmax":
        return SoftmaxStep(features=4, classes=3, batch=8, learning_rate=0.5), "iris", 28
    if family == "mlp":
        return MlpStep(features=8, hidden=4, batch=8, learning_rate=0.5), "breast_cancer", 60
    features = 64 if family == "softmax-mlp-64" else 16  # all pixels, or 4x4 pooled
    step = SoftmaxMlpStep(features=features, hidden=16, classes=10, batch=8, learning_rate=0.25)
    return step, "digits", 168


def load_rows(family: str, step: Any, dataset: str) -> tuple[np.ndarray, ...]:
    from flavum.ml.softmax_step import make_one_hot_rows
    from flavum.ml.training import load_pooled_digits, load_standardized, make_labelled_rows

    if family == "softmax-mlp":
        x_train, y_train, x_test, y_test = load_pooled_digits()
    else:
        x_train, y_train, x_test, y_test = load_standardized(dataset, step.features)
    rows = (make_one_hot_rows(x_train, y_train, step.classes) if hasattr(step, "classes")
            else make_labelled_rows(x_train, y_train))
    return rows, x_test, y_test


def float_step(step: Any, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Plain SGD in float64 (no clip)."""
    if hasattr(step, "initial_params") or hasattr(step, "classes"):
        result: np.ndarray = step.step(theta, rows, clip=False)
        return result
    design = np.c_[rows[:, :-1], np.ones(step.batch)]
    errors = 1.0 / (1.0 + np.exp(-(design @ theta))) - rows[:, -1]
    result = theta - step.step_size * design.T @ errors
    return result


def time_float_step(step: Any, theta: np.ndarray, rows: np.ndarray) -> float:
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):
        float_step(step, theta, rows)
    return (time.perf_counter() - t0) / reps


def prove_and_time(circuit: Any, runs: list[Any], proofs: int) -> tuple[float, float]:
    from flavum.zk.training import prove_step, verify_step

    prove_s, verify_s = [], []
    for run in runs[:proofs]:
        t0 = time.perf_counter()
        proof = prove_step(circuit, run)
        prove_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verify_step(circuit, proof)
        verify_s.append(time.perf_counter() - t0)
    return float(np.median(prove_s)), float(np.median(verify_s))


def measure(family: str, scale: int, proofs: int, cache: str | None) -> dict[str, Any]:
    from flavum.ml.training import make_batches
    from flavum.zk.srs import SrsStore
    from flavum.zk.training import build_step_circuit, run_step

    step, dataset, steps = make_family(family)
    rows, x_test, y_test = load_rows(family, step, dataset)
    batches = make_batches(rows, step.batch, steps)
    start = step.initial_params() if hasattr(step, "initial_params") else np.zeros(
        step.params_size)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(cache or tmp)
        t0 = time.perf_counter()
        circuit = build_step_circuit(step, SrsStore(root / "srs"), scale=scale,
                                     cache_dir=root / "steps")
        build_s = time.perf_counter() - t0
        theta, reference, runs = start, start, []
        t0 = time.perf_counter()
        for i, batch in enumerate(batches):
            runs.append(run_step(circuit, theta, batch, Path(tmp) / f"s{i}"))
            theta = runs[-1].new_params_values
            reference = float_step(step, reference, batch)
        witness_s = (time.perf_counter() - t0) / steps
        prove_s, verify_s = prove_and_time(circuit, runs, proofs)
        return {
            "family": f"{family} ({dataset}, {step.params_size} params, B={step.batch})",
            "scale": scale, "logrows": circuit.logrows, "steps": steps, "batch": step.batch,
            "rows": json.loads(circuit.settings_path.read_text())["num_rows"],
            "build_s": build_s, "witness_s": witness_s, "prove_s": prove_s,
            "verify_s": verify_s, "float_s": time_float_step(step, start, batches[0]),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "float_acc": float(np.mean(step.predict(reference, x_test) == y_test)),
            "proven_acc": float(np.mean(step.predict(theta, x_test) == y_test)),
        }


def measure_shape(features: int, batch: int, cache: str | None) -> dict[str, Any]:
    """One proven logistic step of (features, batch) at scale 2^-8, random standardized rows."""
    from flavum.ml.training import LogisticStep, make_labelled_rows
    from flavum.zk.srs import SrsStore
    from flavum.zk.training import build_step_circuit, run_step

    step = LogisticStep(features=features, batch=batch, learning_rate=0.5 * batch / 8)
    rng = np.random.default_rng(0)
    rows = make_labelled_rows(rng.normal(size=(batch, features)), rng.integers(0, 2, batch))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(cache or tmp)
        circuit = build_step_circuit(step, SrsStore(root / "srs"), scale=8,
                                     cache_dir=root / "steps")
        run = run_step(circuit, np.zeros(step.params_size), rows, tmp)
        prove_s, _ = prove_and_time(circuit, [run], 1)
        return {"features": features, "batch": batch, "logrows": circuit.logrows,
                "rows": json.loads(circuit.settings_path.read_text())["num_rows"],
                "prove_s": prove_s, "rss_mb": resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proofs", type=int, default=1)
    parser.add_argument("--cache", help="a directory to keep SRS and circuits in")
    parser.add_argument("--skip-families", action="store_true")
    parser.add_argument("--full-digits", action="store_true")
    args = parser.parse_args()
    families = FAMILIES + [("softmax-mlp-64", 10)] * args.full_digits
    context = multiprocessing.get_context("spawn")  # a fresh process per case: its own RSS
    if not args.skip_families:
        print("| family | scale | rows | logrows | steps k | prove s/step | per sample s "
              "| float step µs | ratio | verify s | peak RSS MB | float acc | proven acc "
              "| goal |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for family, scale in families:
            with context.Pool(1) as pool:
                r = pool.apply(measure, (family, scale, args.proofs, args.cache))
            ok = abs(r["proven_acc"] - r["float_acc"]) <= 0.01
            print(f"| {r['family']} | 2^-{r['scale']} | {r['rows']} | {r['logrows']} | "
                  f"{r['steps']} | {r['prove_s']:.1f} | {r['prove_s'] / r['batch']:.2f} | "
                  f"{1e6 * r['float_s']:.0f} | {r['prove_s'] / r['float_s']:.1e} | "
                  f"{r['verify_s']:.2f} | {r['rss_mb']:.0f} | {100 * r['float_acc']:.1f} % | "
                  f"{100 * r['proven_acc']:.1f} % | {'within 1 pt' if ok else 'MISSED'} |",
                  flush=True)
            print(f"<!-- {family} 2^-{scale}: build {r['build_s']:.0f} s, canonical step "
                  f"{r['witness_s']:.2f} s -->", flush=True)
    print("\n| features d | batch B | rows | logrows | prove s | per sample s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for features, batch in SWEEP:
        with context.Pool(1) as pool:
            r = pool.apply(measure_shape, (features, batch, args.cache))
        print(f"| {r['features']} | {r['batch']} | {r['rows']} | {r['logrows']} | "
              f"{r['prove_s']:.1f} | {r['prove_s'] / r['batch']:.2f} | {r['rss_mb']:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
