"""Deploys in a row and at once against `flavum node run` (issue: the second of two deploys on
one node failed with "Connection reset by peer"): deploys in a row through the CLI, then
clients deploying at the same time, all succeed (a client told to wait, 429 with Retry-After,
waits and sends again). The default run does three then two; the slow run ten then four."""

import json
import threading
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("in_a_row_count, at_once_count", [
    (3, 2), pytest.param(10, 4, marks=pytest.mark.slow)])
def test_deploys_in_a_row_then_at_once(node: NodeProcess, tmp_path, in_a_row_count,
                                       at_once_count):
    client = node.start()
    home = node.config.home
    in_a_row = [deploy(home, *write_model(tmp_path, seed)) for seed in range(in_a_row_count)]
    assert len(set(in_a_row)) == in_a_row_count

    at_once: list[str] = []
    failures: list[BaseException] = []

    def deploy_one(seed: int) -> None:
        try:
            at_once.append(deploy(home, *write_model(tmp_path, seed)))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    seeds = range(in_a_row_count, in_a_row_count + at_once_count)
    threads = [threading.Thread(target=deploy_one, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(set(at_once)) == at_once_count
    for model_id in in_a_row + at_once:
        assert client.model(model_id)["record"]["accuracy"]["top1_agreement"] is not None
