"""The README's "Quickstart on anvil", run as written: its one ```sh quickstart block is taken
from README.md (so the docs and this test cannot drift) and run by bash against a real anvil
and a real `flavum node run`, in a fresh home. Only the ports change (free ones, as other runs
may hold 8545 and 8787); the relative paths it uses (.venv, node_modules, examples) point at
this repository. Each step's output is checked, then the state it left on L2 and on L1.
The input files it uses are the examples of docs/cli.md's input formats, read as documented."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flavum.cli_common import one_data_point, read_rows
from flavum.core.codec import from_hex
from flavum.core.types import ObjectId
from flavum.l1.solc import REPO_ROOT
from flavum.ml.errors import InvalidInput
from flavum.ml.reference import validate_input
from flavum.node.config import list_keys
from tests.l1.conftest import ANVIL

BLOCK = re.compile(r"^```sh quickstart\n(.*?)^```", re.S | re.M)


def quickstart_script() -> str:
    """The README's quickstart block, exactly as a reader copies it."""
    blocks = BLOCK.findall((REPO_ROOT / "README.md").read_text())
    assert len(blocks) == 1, "README.md must hold exactly one ```sh quickstart block"
    return str(blocks[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_free_ports(script: str) -> str:
    anvil_port, api_port = free_port(), free_port()
    assert script.count("8545") == 2 and script.count("flavum init ") == 1
    return (script.replace("8545", str(anvil_port))
            .replace("flavum init ", f"flavum init --port {api_port} "))


@pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")
def test_the_readme_quickstart_runs_as_written_on_anvil(tmp_path):
    for name in (".venv", "node_modules", "examples"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    home = tmp_path / "home"
    env = os.environ | {"FLAVUM_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    out_file, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    # -x names each command in stderr; -e stops at the first that fails, as a reader would.
    script = "PS4='+ ${SECONDS}s '; set -ex -o pipefail\n" + on_free_ports(quickstart_script())
    with out_file.open("w") as out, err_file.open("w") as err:
        # Its own process group: anvil and the node run in the background of the script.
        proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, stdout=out,
                                stderr=err, start_new_session=True)
        try:
            code = proc.wait(timeout=400)
            stdout, stderr = out_file.read_text(), err_file.read_text()
            log = tmp_path / "node.log"  # where the quickstart sends the node's output
            node_log = log.read_text() if log.exists() else ""
            assert code == 0, f"{stderr[-3000:]}\nnode.log:\n{node_log[-2000:]}"
            check_outputs(stdout)
            check_state(home, stdout)
            check_one_row_per_data_file(tmp_path, env, stdout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # anvil and the node it started
            except ProcessLookupError:
                pass


def check_outputs(stdout: str) -> None:
    """Each step said what it did."""
    assert "anvil = 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266" in stdout  # imported key
    assert stdout.count("sent 10000000000000000000 wei (10 ETH) to ") == 2  # l1 fund, twice
    assert "(written into config.toml)" in stdout  # l1 deploy
    assert "ledger evm       verifies proofs" in stdout  # status --wait: the node is up
    assert re.search(r"credited on L2: 0x[0-9a-f]{40} holds 1000000000000000000 wei", stdout)
    assert re.search(r"^accuracy +\{", stdout, re.M)  # model show
    inference = json.loads(next(line for line in stdout.splitlines()
                                if line.startswith('{"trace_id"')))
    assert inference["proof_status"] == "proven"
    assert inference["result"]["prediction"] == [0]  # the row is a setosa (class 0)
    assert stdout.count("finalized on L1: tx ") == 2
    assert "paid 500000000000000000 wei (0.5 ETH)" in stdout
    assert re.search(r"ERC-721 0x[0-9a-fA-F]{40} token id \d+", stdout)
    assert re.search(r"^\d+ batches verified, 0 failed$", stdout, re.M)


def check_state(home: Path, stdout: str) -> None:
    """What the quickstart left: 0.5 ETH on L2 (the fee went to the model's owner, the same
    key), and the RESULT an ERC-721 owned by that key on L1."""
    from flavum.cli_ledgers import open_evm

    assert "balance 0.5 ETH (evm)" in stdout.splitlines()  # account show
    inference = json.loads(next(line for line in stdout.splitlines()
                                if line.startswith('{"trace_id"')))
    ledger = open_evm(home, "evm")
    result = ObjectId(from_hex(inference["result_id"]))
    assert ledger.object_owner(result) == list_keys(home)["default"]


def check_one_row_per_data_file(tmp_path: Path, env: dict[str, str], stdout: str) -> None:
    """A data file of two rows, given to the quickstart's node: one line naming the mistake."""
    match = re.search(r"^model +(0x[0-9a-f]{64})$", stdout, re.M)
    assert match, stdout
    two_rows = tmp_path / "two-rows.json"
    two_rows.write_text("[[5.1, 3.4, 1.5, 0.2], [4.9, 3.0, 1.4, 0.2]]")
    refused = subprocess.run([sys.executable, "-m", "flavum", "data", "submit", str(two_rows),
                              "--model", match.group(1)], env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr == ("error: two-rows.json holds 2 rows of 4 values: a data file holds "
                              "exactly one row (one inference's input); put each row in a file "
                              "of its own\n")


def doc_block(marker: str) -> str:
    """The ```json MARKER block of docs/cli.md's input files section."""
    (block,) = re.findall(rf"^```json {marker}\n(.*?)^```", (REPO_ROOT / "docs" / "cli.md")
                          .read_text(), re.S | re.M)
    return str(block)


def read_data_point(path: Path, input_shape: list[int]) -> list[float]:
    """A data file as `flavum data submit` reads it."""
    return one_data_point(read_rows(path), path.name, input_shape)


def test_the_documented_input_files_read_as_documented(tmp_path):
    iris = REPO_ROOT / "examples" / "iris"
    one_row, many_rows = doc_block("one-row"), doc_block("many-rows")
    # The docs show the example files the quickstart uses.
    assert json.loads(one_row) == json.loads((iris / "one-row.json").read_text())
    calibration = read_rows(iris / "calibration.json")
    assert calibration[:3] == json.loads(many_rows) and len(calibration) == 8
    shape = [4]  # the iris model's input: 4 features
    for i, text in enumerate((one_row, "[[5.1, 3.4, 1.5, 0.2]]",
                              '{"input_data": [[5.1, 3.4, 1.5, 0.2]]}')):
        path = tmp_path / f"one-{i}.json"
        path.write_text(text)
        assert read_data_point(path, shape) == [5.1, 3.4, 1.5, 0.2]
    nested = tmp_path / "image.json"  # one 2x2 "image", nested in its shape
    nested.write_text("[[1, 2], [3, 4]]")
    assert read_data_point(nested, [1, 2, 2]) == [1.0, 2.0, 3.0, 4.0]
    # Several rows, or a row of another size, are refused with the documented line.
    x = tmp_path / "x.json"
    x.write_text(many_rows)
    with pytest.raises(InvalidInput, match="holds 3 rows of 4 values"):
        read_data_point(x, shape)
    docs = " ".join((REPO_ROOT / "docs" / "cli.md").read_text().split())
    for text in ("[[5.1, 3.4, 1.5, 0.2], [4.9, 3.0, 1.4, 0.2]]", "[5.1, 3.4, 1.5]"):
        x.write_text(text)
        with pytest.raises(InvalidInput) as refused:
            read_data_point(x, shape)
        assert f"`error: {refused.value}`" in docs
    # ezkl's notebooks' layout: samples back to back in one flat row, for calibration.
    x.write_text('{"input_data": [[5.1, 3.5, 1.4, 0.2, 6.2, 2.9, 4.3, 1.3]]}')
    assert validate_input(read_rows(x), (4,)).shape == (2, 4)
