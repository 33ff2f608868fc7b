"""Deploys in a row and at once against `flavum node run` (issue: the second of two deploys on
one node failed with "Connection reset by peer"): ten deploys in a row through the CLI, then
four clients deploying at the same time, all succeed (a client told to wait, 429 with
Retry-After, waits and sends again)."""

import json
import threading
from pathlib import Path

from tests.zk.conftest import make_calibration, make_mlp_model

from .conftest import NodeProcess
from .test_cli_and_restart import flavum


def write_model(directory: Path, seed: int) -> tuple[Path, Path]:
    """A small MLP of its own weights (its own circuit) and its calibration file."""
    onnx, calibration = directory / f"m{seed}.onnx", directory / f"c{seed}.json"
    onnx.write_bytes(make_mlp_model((4, 8, 3), seed=seed))
    calibration.write_text(json.dumps({"input_data": make_calibration(4, seed=seed).tolist()}))
    return onnx, calibration


def deploy(home: Path, onnx: Path, calibration: Path) -> str:
    out = flavum("model", "deploy", str(onnx), "--calibration", str(calibration), "--common",
                 "--from", "alice", "--json", home=home)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return str(json.loads(out.stdout)["model_id"])


def test_ten_deploys_in_a_row_then_four_at_once(node: NodeProcess, tmp_path):
    client = node.start()
    home = node.config.home
    in_a_row = [deploy(home, *write_model(tmp_path, seed)) for seed in range(10)]
    assert len(set(in_a_row)) == 10

    at_once: list[str] = []
    failures: list[BaseException] = []

    def deploy_one(seed: int) -> None:
        try:
            at_once.append(deploy(home, *write_model(tmp_path, seed)))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=deploy_one, args=(seed,)) for seed in range(10, 14)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(set(at_once)) == 4
    for model_id in in_a_row + at_once:
        assert client.model(model_id)["record"]["accuracy"]["top1_agreement"] is not None
