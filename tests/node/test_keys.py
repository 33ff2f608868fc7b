"""Keys stay off the command line and out of other users' reach: `flavum account import`
reads a key file, standard input or an environment variable, `flavum l1 deploy --fund-from`
refuses a raw key, and the config and key files are the owner's only (0600, keys folder 0700).
`flavum init --evm-url` writes an RPC ledger with its confirmations and challenge window."""

import json
import stat
from dataclasses import replace

from typer.testing import CliRunner

from flavum.cli import app
from flavum.core.transactions import address_of
from flavum.l1.evm_identity import EMBEDDED_CHAIN_ID, compute_embedded_domain
from flavum.node.config import LedgerSpec, load_config, load_key, write_config

KEY = b"\x61" * 32


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [*args, "--json"], env=env)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_private_files_and_the_embedded_domain(tmp_path):
    home = tmp_path / "h"
    out = run("init", "--home", str(home))
    assert out.exit_code == 0, out.output
    assert mode(home / "config.toml") == 0o600
    assert mode(home / "keys") == 0o700
    assert {mode(p) for p in (home / "keys").glob("*.key")} == {0o600}
    config = load_config(home)
    sequencer = address_of(load_key(home, "sequencer"))
    assert config.domain == compute_embedded_domain(sequencer)
    assert config.chain_id == EMBEDDED_CHAIN_ID
    assert json.loads(out.output)["rollup_id"] == "0x" + config.domain.rollup_id.hex()
    (home / "config.toml").chmod(0o644)  # rewritten: private again
    write_config(config)
    assert mode(home / "config.toml") == 0o600


def test_account_import_from_a_file_or_the_environment(tmp_path):
    home = tmp_path / "h"
    key_file = tmp_path / "k.key"
    key_file.write_text("0x" + KEY.hex() + "\n")
    out = run("account", "import", "--name", "ops", "--key-file", str(key_file),
              "--home", str(home))
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["address"] == "0x" + address_of(KEY).hex()
    assert load_key(home, "ops") == KEY
    assert mode(home / "keys" / "ops.key") == 0o600 and mode(home / "keys") == 0o700
    out = run("account", "import", "--name", "env", "--from-env", "OPS_KEY",
              "--home", str(home), env={"OPS_KEY": KEY.hex()})
    assert out.exit_code == 0, out.output
    assert load_key(home, "env") == KEY


def test_account_import_from_standard_input(tmp_path):
    home = tmp_path / "h"
    out = CliRunner().invoke(app, ["account", "import", "--name", "me", "--key-file", "-",
                                   "--home", str(home), "--json"], input="0x" + KEY.hex() + "\n")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["address"] == "0x" + address_of(KEY).hex()
    assert load_key(home, "me") == KEY
    assert mode(home / "keys" / "me.key") == 0o600 and mode(home / "keys") == 0o700
    garbage = CliRunner().invoke(app, ["account", "import", "--name", "bad", "--key-file", "-",
                                       "--home", str(home), "--json"], input="not a key\n")
    assert garbage.exit_code == 1
    assert json.loads(garbage.output)["message"] == "the key on standard input is not hex"
    assert not (home / "keys" / "bad.key").exists()


def test_init_with_an_rpc_evm_writes_its_ledger(tmp_path):
    home = tmp_path / "h"
    out = run("init", "--evm-url", "http://127.0.0.1:8545", "--confirmations", "1",
              "--challenge-window", "5", "--home", str(home))
    assert out.exit_code == 0, out.output
    (ledger,) = load_config(home).ledgers
    assert (ledger.url, ledger.deployment, ledger.confirmations, ledger.challenge_window) == (
        "http://127.0.0.1:8545", "evm-deployment.json", 1, 5)
    defaults = run("init", "--evm-url", "https://rpc.example", "--home", str(tmp_path / "d"))
    assert defaults.exit_code == 0, defaults.output
    (ledger,) = load_config(tmp_path / "d").ledgers
    # A real network's defaults: 12 confirmations, the 7-day window (set at `l1 deploy`).
    assert (ledger.confirmations, ledger.challenge_window) == (12, None)
    bad = run("init", "--evm-url", "localhost:8545", "--home", str(tmp_path / "b"))
    assert bad.exit_code == 1 and "http(s) JSON-RPC URL" in bad.output
    assert not (tmp_path / "b" / "config.toml").exists()


def test_account_import_refuses_what_it_cannot_trust(tmp_path):
    home = tmp_path / "h"
    key_file = tmp_path / "k.key"
    key_file.write_text("0x" + KEY.hex())
    both = run("account", "import", "--name", "x", "--key-file", str(key_file),
               "--from-env", "V", "--home", str(home))
    neither = run("account", "import", "--name", "x", "--home", str(home))
    unset = run("account", "import", "--name", "x", "--from-env", "FLAVUM_NO_SUCH_VARIABLE",
                "--home", str(home))
    key_file.write_text("0x1234")
    short = run("account", "import", "--name", "x", "--key-file", str(key_file),
                "--home", str(home))
    for out in (both, neither, unset, short):
        assert out.exit_code == 1 and "Traceback" not in out.output
    assert "exactly one" in json.loads(neither.output)["message"]
    assert "32-byte" in json.loads(short.output)["message"]
    assert not (home / "keys" / "x.key").exists()
    key_file.write_text("0x" + KEY.hex())
    assert run("account", "import", "--name", "x", "--key-file", str(key_file),
               "--home", str(home)).exit_code == 0
    again = run("account", "import", "--name", "x", "--key-file", str(key_file),
                "--home", str(home))
    assert again.exit_code == 1 and "already exists" in again.output


def test_deploy_refuses_a_raw_key_on_the_command_line(tmp_path):
    home = tmp_path / "h"
    assert run("init", "--home", str(home)).exit_code == 0
    config = load_config(home)
    # Nothing listens there: the key is refused before any connection.
    rpc = LedgerSpec(name="evm", kind="evm", url="http://127.0.0.1:9", confirmations=1)
    write_config(replace(config, ledgers=(rpc,)))
    for raw in ("0x" + KEY.hex(), KEY.hex()):
        out = run("l1", "deploy", "--fund-from", raw, "--home", str(home))
        assert out.exit_code == 1
        error = json.loads(out.output)
        assert error["error"] == "invalid_input" and "key file" in error["message"]
    missing = run("l1", "deploy", "--fund-from", "env:FLAVUM_NO_SUCH_VARIABLE",
                  "--home", str(home))
    assert missing.exit_code == 1 and "holds no key" in missing.output
