"""Benchmark: tree ensembles (skl2onnx defaults; XGBoost and LightGBM through onnxmltools)
proven with ezkl, per family.

Each model is normalized (the GEMM formulation of `flavum.ml.trees`), compiled with Flavum's
default CircuitConfig (hashed input, fixed params), and one test row is proven and verified.
Printed per family: internal nodes, leaves, the row estimate the intake refuses on, the rows
and logrows ezkl calibrated, prove seconds, and top-1 agreement of the circuit with
onnxruntime on the first test rows (for regressors: max abs error).

Sizes default to 5 trees of depth 3 for scikit-learn, 10 rounds of depth 3 for XGBoost and
LightGBM (a multi-class booster grows one tree per class and round).

    python bench/bench_trees.py [--rows 20] [--cases decision_tree:iris,random_forest:wine:20:6]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from flavum.ml.examples import (
    BOOSTING_LIBRARIES,
    train_boosted_trees,
    train_lightgbm_categorical,
    train_sklearn_trees,
)
from flavum.ml.normalize import normalize
from flavum.ml.reference import run_float
from flavum.ml.trees import estimate_rows
from flavum.zk.circuit import CircuitConfig, build_circuit
from flavum.zk.execution import run_witness
from flavum.zk.proof import prove, verify
from flavum.zk.srs import SrsStore

CASES = (
    "decision_tree:iris", "decision_tree:breast_cancer", "decision_tree:diabetes",
    "random_forest:iris", "random_forest:breast_cancer", "random_forest:diabetes",
    "extra_trees:wine", "gradient_boosting:iris", "gradient_boosting:breast_cancer",
    "gradient_boosting:diabetes", "random_forest:breast_cancer:20:6",
    "gradient_boosting:breast_cancer:30:4", "xgboost:iris", "xgboost:breast_cancer",
    "xgboost:diabetes", "lightgbm:iris", "lightgbm:breast_cancer", "lightgbm:diabetes",
    "lightgbm_categorical:wine",
)


def tree_sizes(model_bytes: bytes) -> tuple[int, int, int, int, int]:
    """(internal nodes, leaves, features, columns, trees) of the rewritten ensemble, padded
    per tree."""
    inits = {t.name: t for t in onnx.load_from_string(model_bytes).graph.initializer}
    paths = onnx.numpy_helper.to_array(next(t for n, t in inits.items() if "tree_paths" in n))
    values = onnx.numpy_helper.to_array(
        next(t for n, t in inits.items() if "tree_leaf_values" in n))
    select = onnx.numpy_helper.to_array(next(t for n, t in inits.items() if "tree_select" in n))
    trees, width, depth = paths.shape
    return trees * width, trees * depth, select.shape[0], values.shape[1], trees


def bench_case(case: str, rows: int, store: SrsStore, root: Path) -> dict:
    family, dataset, *size = case.split(":")  # family:dataset[:n_estimators:max_depth]
    boosted = family in BOOSTING_LIBRARIES
    trees, depth = (int(size[0]), int(size[1])) if size else (10 if boosted else 5, 3)
    if family == "lightgbm_categorical":  # wine with a categorical feature, 4 rounds
        example = train_lightgbm_categorical(*((trees, depth) if size else ()))
    else:
        train = train_boosted_trees if boosted else train_sklearn_trees
        example = train(family, dataset, n_estimators=trees, max_depth=depth)
    normalized = normalize(example.onnx_bytes, example.samples)
    internal, leaves, features, columns, trees = tree_sizes(normalized.model_bytes)
    samples = example.samples.reshape(len(example.samples), -1)
    artifacts = build_circuit(normalized.model_bytes, samples, CircuitConfig(), store,
                              cache_dir=root / "circuits")
    settings = json.loads(artifacts.settings_path.read_text())
    test = example.test_inputs[:rows]
    reference = run_float(normalized.model_bytes, test).reshape(len(test), -1)
    circuit = np.array([run_witness(artifacts, row, workdir=root / f"w-{case}-{i}")
                        .rescaled_outputs for i, row in enumerate(test)]).reshape(len(test), -1)
    if reference.shape[1] > 1:
        quality = f"top-1 {np.mean(reference.argmax(1) == circuit.argmax(1)):.0%}"
    else:
        quality = f"max err {np.max(np.abs(reference - circuit)):.3g}"
    execution = run_witness(artifacts, test[0], workdir=root / f"p-{case}")
    start = time.perf_counter()
    proof = prove(artifacts, execution)
    seconds = time.perf_counter() - start
    verify(artifacts, proof)
    return {
        "case": case, "internal": internal, "leaves": leaves,
        "estimate": estimate_rows(internal, leaves, features, columns, trees),
        "rows": settings.get("num_rows"), "logrows": artifacts.logrows,
        "prove_s": round(seconds, 1), "quality": quality,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20, help="test rows compared per model")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = SrsStore(root / "srs")
        print("| model (trees:depth; default 5:3, boosters 10:3) | internal | leaves | estimate "
              "| rows | logrows | prove s | circuit vs onnxruntime |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for case in args.cases.split(","):
            r = bench_case(case, args.rows, store, root)
            print(f"| {r['case']} | {r['internal']} | {r['leaves']} | {r['estimate']:,} | "
                  f"{r['rows']:,} | {r['logrows']} | {r['prove_s']} | {r['quality']} |",
                  flush=True)


if __name__ == "__main__":
    main()
