"""What the crash and load harnesses (bench/crash.py, bench/load.py) share: the `flavum` command
on a home, a free port, a small model and a data point deployed through the CLI as a user
does, and a process's peak memory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from flavum.core.types import ObjectId

REPO = Path(__file__).resolve().parents[1]


def flavum_cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`flavum ARGS --home HOME`; RuntimeError with its one-line error unless it succeeds
    (or `check` is False)."""
    out = subprocess.run([sys.executable, "-m", "flavum", *args, "--home", str(home)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    if check and out.returncode != 0:
        raise RuntimeError(f"flavum {' '.join(args)}: {out.stderr.strip()}")
    return out


def deploy_example(home: Path, workdir: Path) -> tuple[ObjectId, ObjectId]:
    """A small classifier (logistic regression on iris) and one common data point for it."""
    from flavum.ml import examples

    example = examples.train_sklearn_logreg("iris")
    (workdir / "model.onnx").write_bytes(example.onnx_bytes)
    (workdir / "cal.json").write_text(json.dumps({"input_data": example.samples.tolist()}))
    (workdir / "x.json").write_text(json.dumps(example.test_inputs[0].tolist()))
    deployed = flavum_cli(home, "model", "deploy", str(workdir / "model.onnx"), "--calibration",
                          str(workdir / "cal.json"), "--common", "--json")
    model_id = json.loads(deployed.stdout)["model_id"]
    submitted = flavum_cli(home, "data", "submit", str(workdir / "x.json"), "--model", model_id,
                           "--common", "--json")
    data_id = json.loads(submitted.stdout)["data_id"]
    return ObjectId(bytes.fromhex(model_id[2:])), ObjectId(bytes.fromhex(data_id[2:]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
