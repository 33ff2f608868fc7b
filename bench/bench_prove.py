"""Benchmark: the proving layer against bare ezkl, plain inference, and itself scaled out.

Model: a torch MLP 64-32-10 trained briefly on sklearn's digits, exported to ONNX (plain
Gemm/Relu), compiled with Flavum's default CircuitConfig (hashed input, fixed params).
All numbers are measured side by side in one run; each ratio's goal is printed beside it.

(a) Flavum run_witness + prove wall time / bare ezkl gen_witness + prove   (goal <= 1.05)
(b) prove time / onnxruntime inference time of one sample                  (information)
(c) scale-out, RAYON_NUM_THREADS=1 per worker: 4 jobs on 1 vs 2 workers     (goal >= 1.8)
    for the local pool, and for the Ray pool on a local 2-CPU cluster if ray is installed
(d) peak RSS of a proof in a pool worker / in a bare ezkl process          (goal <= 1.1)

    python bench/bench_prove.py [--reps 5] [--jobs 4] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def train_model(path: Path) -> np.ndarray:
    """Train and export the MLP; returns the digits inputs (float32, scaled to 0..1)."""
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(200):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        optimizer.step()
    torch.onnx.export(
        model, torch.zeros(1, 64), str(path), dynamo=False, opset_version=17,
        input_names=["x"], output_names=["y"],
    )
    return x


def median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_overhead(artifacts, sample: np.ndarray, work: Path, reps: int) -> tuple[float, float]:
    """(flavum seconds, bare ezkl seconds), medians of interleaved runs."""
    import ezkl

    from flavum.zk.execution import run_witness
    from flavum.zk.proof import prove

    bare_dir = work / "bare"
    bare_dir.mkdir(exist_ok=True)

    def bare() -> None:
        data = bare_dir / "input.json"
        data.write_text(json.dumps({"input_data": [sample.tolist()]}))
        ezkl.gen_witness(str(data), str(artifacts.compiled_path), str(bare_dir / "witness.json"))
        ezkl.prove(
            str(bare_dir / "witness.json"), str(artifacts.compiled_path), str(artifacts.pk_path),
            str(bare_dir / "proof.json"), srs_path=str(artifacts.srs_path),
        )

    def flavum() -> None:
        prove(artifacts, run_witness(artifacts, sample, workdir=work / "flavum"))

    bare()
    flavum()  # warm both paths (page cache for pk and SRS)
    flavum_times, bare_times = [], []
    for _ in range(reps):
        flavum_times.append(median_time(flavum, 1))
        bare_times.append(median_time(bare, 1))
    return statistics.median(flavum_times), statistics.median(bare_times)


def bench_onnxruntime(model_path: Path, sample: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path))
    feed = {"x": sample.reshape(1, 64)}
    for _ in range(100):
        session.run(None, feed)
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, feed)
    return (time.perf_counter() - start) / runs


def make_jobs(artifacts, x: np.ndarray, work: Path, n: int, tag: str) -> list:
    from flavum.zk.execution import run_witness
    from flavum.zk.proof import make_proof_job

    jobs = []
    for i in range(n):
        execution = run_witness(artifacts, x[i], workdir=work / f"{tag}-{i}")
        jobs.append(make_proof_job(artifacts, execution))
    return jobs


def run_batch(pool, jobs: list) -> float:
    start = time.perf_counter()
    ids = [pool.submit(job) for job in jobs]
    for job_id in ids:
        pool.result(job_id, timeout=600)
    return time.perf_counter() - start


def bench_local_scaleout(artifacts, x: np.ndarray, work: Path, n_jobs: int) -> dict[int, float]:
    from flavum.zk.pool_local import LocalProverPool

    seconds = {}
    for workers in (1, 2):
        jobs = make_jobs(artifacts, x, work, n_jobs, f"local{workers}")
        with LocalProverPool(workers=workers, threads_per_worker=1, timeout_s=600) as pool:
            pool.wait_ready(120)
            run_batch(pool, jobs[:workers])  # warm every worker once
            seconds[workers] = run_batch(pool, jobs)
    return seconds


def start_ray_head(temp_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
            f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
            "--disable-usage-stats", "--include-dashboard=false", f"--temp-dir={temp_dir}",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return head, f"127.0.0.1:{port}"
        time.sleep(0.2)
    stop_ray_head(head)
    raise TimeoutError("the Ray head did not start")


def stop_ray_head(head: subprocess.Popen) -> None:
    # The head runs in its own session: its process group is exactly this cluster.
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(3)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    head.wait(5)


def bench_ray_scaleout(artifacts, x: np.ndarray, work: Path, n_jobs: int) -> dict[int, float]:
    from flavum.zk.pool_ray import RayProverPool

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    head, address = start_ray_head(Path(tempfile.mkdtemp(prefix="ray-", dir=work)))
    seconds = {}
    try:
        for in_flight in (1, 2):
            jobs = make_jobs(artifacts, x, work, n_jobs, f"ray{in_flight}")
            pool = RayProverPool(address, threads_per_job=1, max_in_flight=in_flight)
            try:
                run_batch(pool, jobs[:2])  # start Ray's worker processes (they import ezkl)
                seconds[in_flight] = run_batch(pool, jobs)
            finally:
                pool.close()
    finally:
        stop_ray_head(head)
    return seconds


BARE_PROVE = """
import resource, sys, ezkl
ezkl.prove(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], srs_path=sys.argv[5])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def bench_rss(artifacts, x: np.ndarray, work: Path) -> tuple[int, int]:
    """(peak RSS of a fresh pool worker after one proof, of a bare ezkl process)."""
    from flavum.zk.pool_local import LocalProverPool

    (job,) = make_jobs(artifacts, x[10:], work, 1, "rss")
    with LocalProverPool(workers=1, timeout_s=600) as pool:
        job_id = pool.submit(job)
        pool.result(job_id, timeout=600)
        worker_rss = pool.status(job_id).peak_rss_bytes or 0
    out = subprocess.run(
        [
            sys.executable, "-c", BARE_PROVE, job.witness_path, job.compiled_path, job.pk_path,
            str(work / "bare-rss-proof.json"), job.srs_path,
        ],
        check=True, capture_output=True, text=True,
    )
    return worker_rss, int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    from flavum.zk.circuit import CircuitConfig, build_circuit
    from flavum.zk.srs import SrsStore

    with tempfile.TemporaryDirectory(prefix="flavum-bench-") as tmp:
        work = Path(tmp)
        model_path = work / "mlp.onnx"
        x = train_model(model_path)
        start = time.perf_counter()
        artifacts = build_circuit(
            model_path.read_bytes(), x[:200], CircuitConfig(), SrsStore(work / "srs"),
            cache_dir=work / "circuits",
        )
        build_s = time.perf_counter() - start
        sample = x[100]
        print(f"model: torch MLP 64-32-10 (digits), logrows {artifacts.logrows}, "
              f"pk {artifacts.pk_path.stat().st_size / 1e6:.0f} MB, build {build_s:.1f} s "
              f"(incl. SRS), cores {os.cpu_count()}")

        flavum_s, bare_s = bench_overhead(artifacts, sample, work, args.reps)
        ort_s = bench_onnxruntime(model_path, sample)
        local = bench_local_scaleout(artifacts, x, work, args.jobs)
        ray = None
        if not args.no_ray:
            try:
                import ray as _ray  # noqa: F401
            except ImportError:
                print("ray not installed: Ray scale-out skipped")
            else:
                ray = bench_ray_scaleout(artifacts, x, work, args.jobs)
        worker_rss, bare_rss = bench_rss(artifacts, x, work)

    rows = [
        ("(a) flavum witness+prove / bare ezkl", f"{flavum_s:.3f} s / {bare_s:.3f} s",
         flavum_s / bare_s, "<= 1.05"),
        ("(b) prove / onnxruntime inference", f"{bare_s:.3f} s / {ort_s * 1e6:.1f} us",
         bare_s / ort_s, "-"),
        (f"(c) local pool, {args.jobs} jobs: 1 / 2 workers", f"{local[1]:.2f} s / {local[2]:.2f} s",
         local[1] / local[2], ">= 1.8"),
    ]
    if ray is not None:
        rows.append((f"(c) ray pool, {args.jobs} jobs: 1 / 2 in flight",
                     f"{ray[1]:.2f} s / {ray[2]:.2f} s", ray[1] / ray[2], ">= 1.8"))
    rows.append(("(d) peak RSS pool worker / bare ezkl",
                 f"{worker_rss / 1e6:.0f} MB / {bare_rss / 1e6:.0f} MB",
                 worker_rss / bare_rss, "<= 1.1"))
    print()
    print(f"| {'measure':44} | {'values':26} | {'ratio':>9} | goal    |")
    print(f"|{'-' * 46}|{'-' * 28}|{'-' * 11}|---------|")
    for name, values, ratio, goal in rows:
        print(f"| {name:44} | {values:26} | {ratio:9.3g} | {goal:7} |")


if __name__ == "__main__":
    main()
