"""Benchmark: amortization of proving over batched models (one proof covers N inferences).

Model: a torch MLP 64-32-10 trained briefly on sklearn's digits (logits, no softmax), exported
with torch.onnx.export(dynamo=False, opset_version=17), batched with flavum.ml.batching (N
one-row inputs, so a hashed input gives one Poseidon commitment per inference).

For each circuit setting and N in --sizes: logrows, rows used (the larger of the model's and
the Poseidon hashes', which run beside each other) and the hashes' rows, setup time, pk size,
prove time of one proof (median of --reps rounds, each in a fresh pool worker process), peak RSS of
that worker, and the per-inference prove time relative to N=1 of the same setting and to the
baseline: batch 1 with ezkl's default settings (the goal: best N <= 0.1 of it). The batched
circuits take the input scale of the N=1 circuit, so a row's commitment is the same in every
circuit of one setting. Each proof is verified. `--cpu` proves in this process and also
reports CPU seconds (all threads), steadier than wall time on a shared machine; `--gas` also
measures each proof's `verifyProof` gas with the circuit's own EVM verifier.

    python bench/bench_batching.py [--sizes 1,8,12,16,24,32] [--settings default] [--reps 1]
                                   [--cpu] [--gas]

All circuits are built first; then each round proves every point once (the baseline too), so
that on a shared machine a change of load falls on all of them alike.
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
from flavum.zk.polycommit import (  # noqa: E402
    compute_point_digest,
    compute_row_point,
    read_proof_points,
)
from flavum.zk.pool_local import LocalProverPool  # noqa: E402
from flavum.zk.proof import (  # noqa: E402
    make_proof_job,
    public_values,
    read_job_proof,
    run_proof_job,
    verify,
)
from flavum.zk.srs import SrsStore  # noqa: E402

SETTINGS = {
    # The zk layer's defaults: one-row models 128**4 tables; batched models 2-leg tables as
    # wide as their rows allow, no range check of hashed inputs / public outputs, no Freivalds.
    "default": CircuitConfig(),
    # ezkl's own defaults (16384**2 tables, inputs and outputs range-checked, Freivalds): the
    # baseline, at N=1.
    "ezkl-defaults": CircuitConfig(decomp_base=16384, decomp_legs=2, check_io_range=True,
                                   freivalds=True),
    # Batched models with the one-row tables and checks (Flavum's batched default until the
    # tables were tuned for batches).
    "one-row-tables": CircuitConfig(decomp_base=128, decomp_legs=4, check_io_range=True),
    # Public rows instead of hashed: no Poseidon in the circuit, but the rows are public values
    # (a verifier must hash them itself to find the DATA commitments).
    "public-input": CircuitConfig(input_visibility="public"),
    # A KZG commitment per row in the proof instead of a Poseidon hash in the circuit: no hash
    # rows, rows not public (owned data); the DATA commitment is keccak of the row's point.
    "polycommit": CircuitConfig(input_visibility="polycommit"),
    # No input commitment at all (binds nothing: not a deployable option): the floor that any
    # way of committing the rows adds to.
    "private-input": CircuitConfig(input_visibility="private"),
}
BASELINE = "ezkl-defaults"


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


@dataclasses.dataclass
class Point:
    """One (setting, N): its circuit, the rows it proves, and its measurements."""

    result: dict
    artifacts: CircuitArtifacts
    rows: np.ndarray
    work: Path
    seconds: list = dataclasses.field(default_factory=list)
    peaks: list = dataclasses.field(default_factory=list)
    cpu: list = dataclasses.field(default_factory=list)


def build_points(name: str, config: CircuitConfig, model: bytes, x: np.ndarray,
                 sizes: list[int], store: SrsStore, root: Path) -> list[Point]:
    points: list[Point] = []
    for n in sizes:
        if points:  # pin the scale of N=1: a row's commitment is the same in every circuit
            config = dataclasses.replace(config, scales=(points[0].artifacts.input_scale,))
        calibration = x[: max(2 * n, 8) // n * n]
        start = time.perf_counter()
        artifacts = build_circuit(make_batched(model, n, x[:n]), calibration, config, store,
                                  cache_dir=root / "circuits")
        build_s = time.perf_counter() - start
        settings = json.loads(artifacts.settings_path.read_text())
        result = {
            "setting": name, "n": n, "logrows": artifacts.logrows,
            "rows_used": int(settings["num_rows"]),
            "hash_rows": int(settings["module_sizes"]["poseidon"][0]),
            "input_scale": artifacts.input_scale,
            "build_s": build_s, "pk_mb": artifacts.pk_path.stat().st_size / 1e6,
        }
        if config.input_visibility == "polycommit":  # does a row's point depend on the circuit?
            result["row_point"] = compute_point_digest(
                compute_row_point(artifacts, x[100])).hex()[:16]
            print(f"  {name} N={n}: keccak of the point of row 100: {result['row_point']}")
        print(f"  {name} N={n}: logrows {artifacts.logrows}, built in {build_s:.1f} s", flush=True)
        points.append(Point(result, artifacts, x[100: 100 + n], root / f"run-{name}-{n}"))
    return points


def prove_once(point: Point, rep: int, cpu: bool) -> None:
    """One proof of the point in a fresh worker process: its seconds and peak RSS. With `cpu`,
    in this process instead: its seconds and the CPU seconds of all its threads (ezkl's
    prover threads included), which a shared machine's load changes far less than wall time."""
    execution = run_witness(point.artifacts, point.rows, workdir=point.work)
    job = make_proof_job(point.artifacts, execution, point.work / f"proof{rep}.json")
    if cpu:
        wall, start = time.perf_counter(), time.process_time()
        run_proof_job(job)
        point.cpu.append(time.process_time() - start)
        point.seconds.append(time.perf_counter() - wall)
        point.peaks.append(0)
        return
    with LocalProverPool(workers=1, max_retries=0, timeout_s=1800) as pool:
        pool.wait_ready(120)
        job_id = pool.submit(job)
        pool.result(job_id, timeout=1800)
        status = pool.status(job_id)
    point.seconds.append(status.seconds)
    point.peaks.append(status.peak_rss_bytes or 0)


def measure_verify_gas(point: Point, proof) -> None:
    """Gas of one `verifyProof` transaction with the proof to the circuit's own ezkl verifier
    on the embedded EVM (py-evm, Prague rules; receipt gasUsed, base and calldata included),
    and the verifier's deployed size (over 24,576 bytes: only the reusable verifier takes it)."""
    from flavum.l1.evm_client import embedded_web3
    from flavum.l1.verifiers import compile_verifier, generate_verifier_source

    artifacts = point.artifacts
    contract = compile_verifier(generate_verifier_source(
        artifacts.vk_path, artifacts.settings_path, artifacts.srs_path, point.work / "v.sol"))
    w3 = embedded_web3()
    sender = w3.eth.accounts[0]
    deployed = w3.eth.get_transaction_receipt(w3.eth.send_transaction(
        {"from": sender, "data": "0x" + contract.bytecode.hex(), "gas": 29_000_000}))
    verifier = w3.eth.contract(address=deployed["contractAddress"], abi=contract.abi)
    call = verifier.functions.verifyProof(proof.proof_bytes, list(proof.instances))
    receipt = w3.eth.get_transaction_receipt(call.transact({"from": sender, "gas": 20_000_000}))
    if receipt["status"] != 1:
        raise SystemExit("the verifier refused the proof")
    point.result["verify_gas"] = int(receipt["gasUsed"])
    point.result["verifier_bytes"] = contract.deployed_size
    point.result["public_values"] = len(proof.instances)


def check_proof(point: Point, gas: bool) -> None:
    """The last proof verifies and binds the rows: outputs, and each row's commitment."""
    artifacts, rows = point.artifacts, point.rows
    execution = run_witness(artifacts, rows, workdir=point.work)
    job = make_proof_job(artifacts, execution, point.work / f"proof{len(point.seconds) - 1}.json")
    proof = read_job_proof(job)
    verify(artifacts, proof)
    values = public_values(proof)
    if values.outputs != execution.outputs:
        raise SystemExit("the proof's outputs are not the execution's")
    if artifacts.config.input_visibility == "hashed":
        expected = tuple(compute_input_commitment(artifacts, row) for row in rows)
        if values.input_commitments != expected:
            raise SystemExit("the proof's commitments are not the rows' commitments")
    if artifacts.config.input_visibility == "polycommit":
        points = tuple(compute_row_point(artifacts, row) for row in rows)
        if read_proof_points(proof.proof_bytes, len(rows)) != points:
            raise SystemExit("the proof's points are not the rows' KZG commitments")
    if gas:
        measure_verify_gas(point, proof)


def measure(points: list[Point], reps: int, cpu: bool, gas: bool) -> None:
    """Prove every point once per round, `reps` rounds: on a shared machine a change of load
    then falls on every setting alike, and each point's time is its median."""
    for rep in range(reps):
        for point in points:
            prove_once(point, rep, cpu)
            r = point.result
            used = f", {point.cpu[-1]:.2f} CPU s" if cpu else ""
            print(f"  round {rep + 1}: {r['setting']} N={r['n']}: {point.seconds[-1]:.2f} s"
                  f"{used}", flush=True)
    for point in points:
        check_proof(point, gas)
        r = point.result
        r["prove_s"] = statistics.median(point.seconds)
        r["prove_all_s"] = point.seconds
        r["per_inference_s"] = r["prove_s"] / r["n"]
        r["peak_rss_mb"] = max(point.peaks) / 1e6
        if cpu:
            r["cpu_s"] = statistics.median(point.cpu)
            r["cpu_all_s"] = point.cpu
            r["cpu_per_inference_s"] = r["cpu_s"] / r["n"]


def print_table(results: list[dict], baseline: dict) -> None:
    print("\n| setting | N | logrows | rows used | hash rows | pk MB | build s | prove s "
          "| s/inference | vs N=1 of the setting | vs baseline | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in [baseline, *results]:
        print(f"| {r['setting']} | {r['n']} | {r['logrows']} | {r['rows_used']:,} | "
              f"{r['hash_rows']:,} | {r['pk_mb']:.0f} | {r['build_s']:.1f} | {r['prove_s']:.2f} | "
              f"{r['per_inference_s']:.2f} | {r['ratio']:.2f} | "
              f"{r['per_inference_s'] / baseline['prove_s']:.3f} | {r['peak_rss_mb']:.0f} |")
    if "cpu_s" in baseline:
        print("\n| setting | N | CPU s | CPU s/inference | CPU vs baseline |")
        print("|---|---:|---:|---:|---:|")
        for r in [baseline, *results]:
            print(f"| {r['setting']} | {r['n']} | {r['cpu_s']:.2f} | "
                  f"{r['cpu_per_inference_s']:.2f} | "
                  f"{r['cpu_per_inference_s'] / baseline['cpu_s']:.3f} |")
    if "verify_gas" in baseline:
        print("\n| setting | N | public values | verifier bytes | verify gas | per inference |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in [baseline, *results]:
            print(f"| {r['setting']} | {r['n']} | {r['public_values']} | "
                  f"{r['verifier_bytes']:,} | {r['verify_gas']:,} | "
                  f"{r['verify_gas'] // r['n']:,} |")
    print()
    for name in dict.fromkeys(r["setting"] for r in results):
        best = min((r for r in results if r["setting"] == name), key=lambda r: r["ratio"])
        print(f"{name}: best N={best['n']}: {best['per_inference_s']:.3f} s per inference = "
              f"{best['ratio']:.2f} of its N=1 and "
              f"{best['per_inference_s'] / baseline['prove_s']:.3f} of batch 1 with ezkl's "
              f"default settings ({baseline['prove_s']:.2f} s; goal <= 0.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,12,16,24,32")
    parser.add_argument("--settings", default="default", help=", ".join(SETTINGS))
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--max-logrows", type=int, default=18)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--gas", action="store_true",
                        help="also measure each proof's verifyProof gas on the embedded EVM")
    parser.add_argument("--cpu", action="store_true",
                        help="prove in this process and report CPU seconds too (no peak RSS)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes[0] != 1:
        sizes = [1, *sizes]
    model, x = train_model()
    with tempfile.TemporaryDirectory(prefix="flavum-bench-batching-") as tmp:
        root = Path(tmp)
        store = SrsStore(root / "srs")
        baseline_config = dataclasses.replace(SETTINGS[BASELINE], max_logrows=args.max_logrows)
        print(f"baseline {BASELINE}: {baseline_config}", flush=True)
        points = build_points(BASELINE, baseline_config, model, x, [1], store, root)
        for name in args.settings.split(","):
            config = dataclasses.replace(SETTINGS[name], max_logrows=args.max_logrows)
            print(f"setting {name}: {config}", flush=True)
            points += build_points(name, config, model, x, sizes, store, root)
        measure(points, args.reps, args.cpu, args.gas)
    baseline, results = points[0].result, [p.result for p in points[1:]]
    for r in results:
        first = next(o for o in results if o["setting"] == r["setting"])
        r["ratio"] = r["per_inference_s"] / first["per_inference_s"]
    baseline["ratio"] = 1.0
    print_table(results, baseline)
    if args.json:
        args.json.write_text(json.dumps([baseline, *results], indent=1))


if __name__ == "__main__":
    main()
