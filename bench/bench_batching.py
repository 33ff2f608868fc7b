"""Benchmark: amortization of proving over batched models (one proof covers N inferences).

Model: a torch MLP 64-32-10 trained briefly on sklearn's digits (logits, no softmax), exported
with torch.onnx.export(dynamo=False, opset_version=17), batched with flavum.ml.batching (N
one-row inputs, so a hashed input gives one Poseidon commitment per inference).

For each circuit setting and N in 1, 8, 16, 32: logrows, rows used, setup time, pk size, prove
time of one proof (median of --reps, each in a fresh pool worker process), peak RSS of that
worker, and the per-inference prove time relative to N=1 of the same setting
(goal: best N <= 0.1). The batched circuits take the input scale of the N=1 circuit, so a row's
commitment is the same in every circuit of one setting. Each proof is verified.

    python bench/bench_batching.py [--sizes 1,8,16,32] [--settings default,ezkl-decomp] [--reps 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flavum.ml.batching import make_batched  # noqa: E402
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit  # noqa: E402
from flavum.zk.execution import compute_input_commitment, run_witness  # noqa: E402
from flavum.zk.pool import LocalProverPool  # noqa: E402
from flavum.zk.proof import make_proof_job, public_values, read_job_proof, verify  # noqa: E402
from flavum.zk.srs import SrsStore  # noqa: E402

SETTINGS = {
    # The zk layer's defaults: small range-check tables (128**4), hashed input, and (batched
    # models) no Freivalds check of matrix products.
    "default": CircuitConfig(),
    # The same with ezkl's default Freivalds check of matrix products.
    "freivalds": CircuitConfig(freivalds=True),
    # ezkl's own decomposition (16384**2): a 2**14-row table, a fixed cost batching can share.
    "ezkl-decomp": CircuitConfig(decomp_base=16384, decomp_legs=2),
    # Public rows instead of hashed: no Poseidon in the circuit, but the rows are public values
    # (a verifier must hash them itself to find the DATA commitments).
    "public-input": CircuitConfig(input_visibility="public"),
}


def train_model() -> tuple[bytes, np.ndarray]:
    """The MLP's ONNX bytes and the digits inputs (float32, scaled to 0..1)."""
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(200):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        optimizer.step()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (torch.zeros(1, 64),), buffer, dynamo=False, opset_version=17,
            input_names=["x"], output_names=["y"],
            dynamic_axes={"x": {0: "batch_size"}, "y": {0: "batch_size"}},
        )  # fmt: skip
    return buffer.getvalue(), x


def prove_in_worker(artifacts: CircuitArtifacts, rows: np.ndarray, work: Path, reps: int):
    """(median prove seconds, peak RSS bytes of the worker), each proof in a fresh worker."""
    execution = run_witness(artifacts, rows, workdir=work)
    seconds, peaks = [], []
    for rep in range(reps):
        job = make_proof_job(artifacts, execution, work / f"proof{rep}.json")
        with LocalProverPool(workers=1, max_retries=0, timeout_s=1800) as pool:
            pool.wait_ready(120)
            job_id = pool.submit(job)
            pool.result(job_id, timeout=1800)
            status = pool.status(job_id)
        seconds.append(status.seconds)
        peaks.append(status.peak_rss_bytes or 0)
    proof = read_job_proof(job)
    verify(artifacts, proof)
    values = public_values(proof)
    if values.outputs != execution.outputs:
        raise SystemExit("the proof's outputs are not the execution's")
    if artifacts.config.input_visibility == "hashed":
        expected = tuple(compute_input_commitment(artifacts, row) for row in rows)
        if values.input_commitments != expected:
            raise SystemExit("the proof's commitments are not the rows' commitments")
    return statistics.median(seconds), max(peaks)


def bench_setting(name: str, config: CircuitConfig, model: bytes, x: np.ndarray,
                  sizes: list[int], reps: int, store: SrsStore, root: Path) -> list[dict]:
    results = []
    for n in sizes:
        if results:  # pin the scale of N=1: a row's commitment is the same in every circuit
            config = dataclasses.replace(config, scales=(results[0]["input_scale"],))
        calibration = x[: max(2 * n, 8) // n * n]
        start = time.perf_counter()
        artifacts = build_circuit(make_batched(model, n, x[:n]), calibration, config, store,
                                  cache_dir=root / "circuits")
        build_s = time.perf_counter() - start
        settings = json.loads(artifacts.settings_path.read_text())
        rows = x[100 : 100 + n]
        prove_s, peak = prove_in_worker(artifacts, rows, root / f"run-{name}-{n}", reps)
        results.append({
            "setting": name, "n": n, "logrows": artifacts.logrows,
            "rows_used": int(settings["num_rows"]), "input_scale": artifacts.input_scale,
            "build_s": build_s, "pk_mb": artifacts.pk_path.stat().st_size / 1e6,
            "prove_s": prove_s, "per_inference_s": prove_s / n, "peak_rss_mb": peak / 1e6,
        })
        r = results[-1]
        r["ratio"] = r["per_inference_s"] / results[0]["per_inference_s"]
        print(f"  {name} N={n}: logrows {r['logrows']}, prove {prove_s:.2f} s, "
              f"{r['per_inference_s']:.2f} s/inference ({r['ratio']:.2f} of N=1)", flush=True)
    return results


def print_table(results: list[dict]) -> None:
    print("\n| setting | N | logrows | rows used | pk MB | build s | prove s | s/inference "
          "| vs N=1 | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['setting']} | {r['n']} | {r['logrows']} | {r['rows_used']} | "
              f"{r['pk_mb']:.0f} | {r['build_s']:.1f} | {r['prove_s']:.2f} | "
              f"{r['per_inference_s']:.2f} | {r['ratio']:.2f} | {r['peak_rss_mb']:.0f} |")
    best = min(results, key=lambda r: r["ratio"])
    print(f"\nbest: {best['setting']} N={best['n']}: {best['ratio']:.2f} of its N=1 per inference "
          "(goal <= 0.1)")
    baseline = min((r for r in results if r["n"] == 1), key=lambda r: r["prove_s"])
    fastest = min(results, key=lambda r: r["per_inference_s"])
    relative = fastest["per_inference_s"] / baseline["prove_s"]
    print(f"fastest per inference: {fastest['setting']} N={fastest['n']} "
          f"{fastest['per_inference_s']:.2f} s = {relative:.2f} of the fastest N=1 "
          f"({baseline['setting']}, {baseline['prove_s']:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,16,32")
    parser.add_argument("--settings", default="default,freivalds,ezkl-decomp,public-input")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--max-logrows", type=int, default=18)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes[0] != 1:
        sizes = [1, *sizes]
    model, x = train_model()
    results = []
    with tempfile.TemporaryDirectory(prefix="flavum-bench-batching-") as tmp:
        root = Path(tmp)
        store = SrsStore(root / "srs")
        for name in args.settings.split(","):
            config = dataclasses.replace(SETTINGS[name], max_logrows=args.max_logrows)
            print(f"setting {name}: {config}", flush=True)
            results += bench_setting(name, config, model, x, sizes, args.reps, store, root)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
