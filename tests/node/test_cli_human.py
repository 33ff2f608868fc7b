"""The `flavum` command speaks human: each mistake a user makes is one line naming the argument
and what was expected (exit status 1, no Python exception names), amounts print in their
units with the asset's name, `--home` goes anywhere, and the node prints where it listens."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flavum.cli_units import Units, format_decimal
from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.codec import to_hex
from flavum.core.genesis import DEV_ASSET

from .conftest import free_port

SHORT_ID = "0x12"
AN_ID = "0x" + "ab" * 32
# What a leaked Python error looks like: an exception's name or errno form.
PYTHON_NAMES = re.compile(r"Error:|Exception|Traceback|\[Errno|urllib3|HTTPConnectionPool")


def flavum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flavum", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def assert_one_line(out: subprocess.CompletedProcess[str], line: str) -> None:
    """Exit status 1 and exactly `line` on stderr, nothing Pythonic in it."""
    assert out.returncode == 1, out
    assert out.stderr == line + "\n"
    assert not PYTHON_NAMES.search(out.stderr), out.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised home whose API port nothing listens on."""
    path = tmp_path_factory.mktemp("human") / "home"
    port = str(free_port())
    assert flavum("init", "--home", str(path), "--port", port).returncode == 0
    return path


def test_a_short_id_names_the_argument(home):
    assert_one_line(flavum("infer", SHORT_ID, AN_ID, "--home", str(home)),
                    "error: model id must be 32 bytes of hex (0x and 64 hex digits), got '0x12'")
    assert_one_line(flavum("infer", AN_ID, SHORT_ID, "--home", str(home)),
                    "error: data id must be 32 bytes of hex (0x and 64 hex digits), got '0x12'")


def test_a_mistyped_id_names_the_argument(home):
    assert_one_line(flavum("proof", "show", "0xzz" + "0" * 62, "--home", str(home)),
                    "error: trace id must be 32 bytes of hex (0x and 64 hex digits), got '0xzz"
                    + "0" * 62 + "'")
    assert_one_line(flavum("withdraw", "finalize", "abc", "--home", str(home)),
                    "error: withdrawal id must be 32 bytes of hex (0x and 64 hex digits), "
                    "got 'abc'")


def test_a_bad_address_names_what_was_expected(home):
    assert_one_line(flavum("transfer", "0x1234", "5", "--home", str(home)),
                    "error: '0x1234' is not an address: expected 0x and 40 hex digits")
    assert_one_line(flavum("transfer", "carol", "5", "--home", str(home)),
                    "error: 'carol' is neither a 0x address nor a key name (default, sequencer)")


@pytest.mark.parametrize("amount, line", [
    ("5x", "error: not an amount: '5x' (expected wei, or e.g. 1.5eth, 20dev)"),
    ("nan", "error: amount must be a whole, non-negative number of base units: 'nan'"),
    ("1.5", "error: amount must be a whole, non-negative number of base units: '1.5'"),
])
def test_a_bad_amount_says_what_an_amount_is(home, amount, line):
    assert_one_line(flavum("transfer", "default", amount, "--home", str(home)), line)


def test_a_missing_file_is_named(home, tmp_path):
    missing = tmp_path / "missing.json"
    assert_one_line(flavum("data", "submit", str(missing), "--model", AN_ID, "--home", str(home)),
                    f"error: no such file: {missing}")
    assert_one_line(flavum("data", "submit", str(tmp_path), "--model", AN_ID, "--home",
                           str(home)), f"error: expected a file, got the directory {tmp_path}")


def test_an_unreachable_node_says_how_to_fix_it(home):
    url = f"http://127.0.0.1:{free_port()}"
    assert_one_line(flavum("status", "--node", url, "--home", str(home)),
                    f"error: cannot reach the node at {url} (connection refused): is "
                    "`flavum node run` running, and is --node right?")
    as_json = flavum("status", "--node", url, "--json", "--home", str(home))
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["error"] == "node_unreachable"
    # --wait keeps trying for --timeout seconds, then says the same.
    assert_one_line(flavum("status", "--wait", "--timeout", "1", "--node", url, "--home",
                           str(home)),
                    f"error: cannot reach the node at {url} (connection refused): is "
                    "`flavum node run` running, and is --node right?")


def test_l1_fund_says_what_it_cannot_fund(home):
    assert_one_line(flavum("l1", "fund", "default", "1eth", "--from", "default", "--home",
                           str(home)),
                    "error: ledger 'evm' is not an EVM reached by JSON-RPC: nothing to fund "
                    "(the embedded EVM funds its own accounts)")
    assert_one_line(flavum("l1", "fund", "default", "1dev", "--from", "default", "--home",
                           str(home)),
                    "error: '1dev': the dev asset lives only in the rollup; give wei or e.g. "
                    "10eth")


def test_an_unreachable_ledger_is_one_line(tmp_path):
    home = tmp_path / "home"
    assert flavum("init", "--home", str(home)).returncode == 0
    port = free_port()
    config = home / "config.toml"
    config.write_text(config.read_text().replace('url = "embedded"',
                                                 f'url = "http://127.0.0.1:{port}"'))
    assert_one_line(flavum("l1", "deploy", "--home", str(home)),
                    f"error: cannot reach the ledger at http://127.0.0.1:{port}/: is its node "
                    "running?")
    as_json = flavum("l1", "deploy", "--json", "--home", str(home))
    assert json.loads(as_json.stdout)["error"] == "ledger_unreachable"


def test_home_goes_before_the_command_or_in_the_environment(home, tmp_path):
    listed = json.loads(flavum("account", "list", "--home", str(home), "--json").stdout)
    before = flavum("--home", str(home), "account", "list", "--json")
    assert before.returncode == 0 and json.loads(before.stdout) == listed
    from_env = flavum("account", "list", "--json", env={"FLAVUM_HOME": str(home)})
    assert json.loads(from_env.stdout) == listed
    # The most specific wins: the command's own --home, then the one before it, then the env.
    nowhere = str(tmp_path / "nowhere")
    own = flavum("--home", nowhere, "account", "list", "--home", str(home), "--json")
    assert json.loads(own.stdout) == listed
    first = flavum("--home", str(home), "account", "list", "--json",
                   env={"FLAVUM_HOME": nowhere})
    assert json.loads(first.stdout) == listed


def test_amounts_print_in_units_with_the_asset_name():
    evm, ltc = compute_ledger_id("evm"), compute_ledger_id("litecoin")
    units = Units([  # as a node posting to an EVM and to Litecoin lists them
        {"asset": to_hex(DEV_ASSET), "unit": "dev", "decimals": 18, "ledger": None},
        {"asset": to_hex(compute_asset_id(evm)), "unit": "ETH", "decimals": 18, "ledger": "evm"},
        {"asset": to_hex(compute_asset_id(ltc)), "unit": "LTC", "decimals": 8,
         "ledger": "litecoin"}])
    assert units.show("1001000000000000000000", to_hex(compute_asset_id(evm))) == "1001 ETH (evm)"
    assert units.show(10**15, to_hex(compute_asset_id(evm))) == "0.001 ETH (evm)"
    assert units.show(150_000_000, to_hex(compute_asset_id(ltc))) == "1.5 LTC (litecoin)"
    assert units.show(20 * 10**18, to_hex(DEV_ASSET)) == "20 dev"
    token = "0x" + "cd" * 32
    assert units.show(7, token) == f"7 of asset {token}"
    assert format_decimal(0, 18) == "0" and format_decimal(1, 8) == "0.00000001"


def test_a_running_node_shows_amounts_in_units_and_lists(node):
    node.start()
    home = str(node.config.home)
    shown = flavum("account", "show", "alice", "--home", home)
    assert shown.returncode == 0 and "balance 1000 dev\n" in shown.stdout, shown
    raw = json.loads(flavum("account", "show", "alice", "--json", "--home", home).stdout)
    assert raw["balances"] == {to_hex(DEV_ASSET): str(10**21)}  # JSON keeps base units
    assert flavum("model", "list", "--home", home).stdout == "no models yet\n"
    assert json.loads(flavum("data", "list", "--json", "--home", home).stdout) == []
    assert flavum("batch", "seal", "--home", home).stdout.startswith("nothing to seal")


def test_the_node_banner_names_the_api_and_explorer(config):
    proc = subprocess.Popen([sys.executable, "-m", "flavum", "node", "run", "--home",
                             str(config.home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        lines = [first] + [proc.stdout.readline() for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert lines[0].startswith("flavum node running (home ")
    assert lines[1] == f"  API       {config.api_url}/v1/status\n"
    assert lines[2] == f"  explorer  {config.api_url}/\n"
