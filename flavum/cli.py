"""The `flavum` command line. Every command takes --json; every error is one line and exit 1."""

import functools
import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import typer

from flavum.client import Client
from flavum.core.errors import ConfigError, FlavumError, InvalidInput
from flavum.core.transactions import Transfer, address_of
from flavum.core.types import Address, Amount, AssetId
from flavum.node.config import (
    DEFAULT_HOME,
    DEV_FUNDING,
    Allocation,
    NodeConfig,
    list_keys,
    load_config,
    load_key,
    new_key,
    parse_address,
    write_config,
)
from flavum.node.store import hx, unhex

app = typer.Typer(help="Flavum: a machine-learning L2 rollup.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
account_app = typer.Typer(help="Keys and accounts.", no_args_is_help=True)
batch_app = typer.Typer(help="Sealed batches.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(batch_app, name="batch")
app.add_typer(node_app, name="node")

HomeOption = typer.Option(Path(os.environ.get("FLAVUM_HOME", DEFAULT_HOME)), "--home",
                          help="Node home directory (env FLAVUM_HOME).")
JsonOption = typer.Option(False, "--json", help="Print one JSON object.")
NodeOption = typer.Option(None, "--node", help="Node API URL (default: from the config).",
                          envvar="FLAVUM_NODE")

F = TypeVar("F", bound=Callable[..., Any])


def command(fn: F) -> F:
    """Turn every error into one clear line (or a JSON error object) and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except FlavumError as exc:
            fail(exc.code, str(exc), as_json)
        except OSError as exc:
            fail("os_error", str(exc), as_json)

    return wrapper  # type: ignore[return-value]


def fail(code: str, message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": code, "message": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)


def emit(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=None if as_json else 2) if as_json else text)


def client_for(home: Path, node: str | None) -> Client:
    return Client(node or load_config(home).api_url)


def resolve_address(home: Path, who: str) -> Address:
    """An address given as hex, or the address of a key by its name."""
    if who.startswith("0x"):
        return parse_address(who)
    keys = list_keys(home)
    if who not in keys:
        raise ConfigError(f"{who!r} is neither a 0x address nor a key name ({', '.join(keys)})")
    return keys[who]


def parse_amount(text: str) -> Amount:
    """Base units (wei) as an integer, or a decimal with an `eth` suffix."""
    try:
        if text.lower().endswith("eth"):
            value = Decimal(text[:-3]) * 10**18
        else:
            value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidInput(f"not an amount: {text!r}") from exc
    if value != value.to_integral_value() or value < 0:
        raise InvalidInput(f"amount must be a whole, non-negative number of base units: {text!r}")
    return Amount(int(value))


# --- init and accounts ---


@app.command()
@command
def init(home: Path = HomeOption, chain_id: int = typer.Option(31337, help="Chain id."),
         port: int = typer.Option(8787, help="API port."), as_json: bool = JsonOption) -> None:
    """Create a home directory: config, a funded dev key named `default`."""
    if (home / "config.toml").exists():
        raise ConfigError(f"{home} is already initialised")
    address = new_key(home, "default")
    config = NodeConfig(home=home, chain_id=chain_id, port=port,
                        genesis=(Allocation(address, Amount(DEV_FUNDING)),))
    path = write_config(config)
    emit({"home": str(home), "config": str(path), "address": hx(address),
          "rollup_id": hx(config.rollup_id)}, as_json,
         f"initialised {home}\n  config  {path}\n  key     default = {hx(address)}"
         f" (funded with {DEV_FUNDING} wei at genesis)")


@account_app.command("new")
@command
def account_new(name: str = typer.Option(..., "--name", help="Name of the key."),
                home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """Create a new key."""
    address = new_key(home, name)
    emit({"name": name, "address": hx(address)}, as_json, f"{name} = {hx(address)}")


@account_app.command("list")
@command
def account_list(home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """List the keys of this home directory."""
    keys = {name: hx(address) for name, address in list_keys(home).items()}
    emit(keys, as_json, "\n".join(f"{n:12} {a}" for n, a in keys.items()) or "no keys")


@account_app.command("show")
@command
def account_show(who: str = typer.Argument("default", help="Key name or 0x address."),
                 home: Path = HomeOption, node: str | None = NodeOption,
                 as_json: bool = JsonOption) -> None:
    """Nonce and balances of an account, from the node."""
    data = client_for(home, node).account(resolve_address(home, who))
    lines = [f"address {data['address']}", f"nonce   {data['nonce']}"]
    lines += [f"balance {amount} of {asset}" for asset, amount in data["balances"].items()]
    emit(data, as_json, "\n".join(lines))


# --- transactions ---


@app.command()
@command
def transfer(to: str = typer.Argument(..., help="Recipient: key name or 0x address."),
             amount: str = typer.Argument(..., help="Base units, or e.g. 1.5eth."),
             sender: str = typer.Option("default", "--from", help="Key name of the sender."),
             asset: str | None = typer.Option(None, help="Asset id (default: the native coin)."),
             home: Path = HomeOption, node: str | None = NodeOption,
             as_json: bool = JsonOption) -> None:
    """Sign and submit a transfer."""
    client = client_for(home, node)
    key = load_key(home, sender)
    asset_id = AssetId(unhex(asset)) if asset else AssetId(unhex(client.status()["native_asset"]))
    body = Transfer(resolve_address(home, to), asset_id, parse_amount(amount))
    receipt = client.send(key, address_of(key), body)
    emit(receipt, as_json, f"accepted {receipt['tx_hash']} (seq {receipt['seq']})")


# --- node ---


@node_app.command("run")
@command
def node_run(home: Path = HomeOption, host: str | None = typer.Option(None),
             port: int | None = typer.Option(None), as_json: bool = JsonOption) -> None:
    """Run the node: sequencer, batcher and HTTP API (Ctrl-C stops it; restart resumes)."""
    from flavum.node.runner import run_node

    config = load_config(home)
    run_node(config, host=host, port=port)


@app.command()
@command
def status(home: Path = HomeOption, node: str | None = NodeOption,
           as_json: bool = JsonOption) -> None:
    """The node's state root, counts of transactions, blocks and batches."""
    data = client_for(home, node).status()
    text = "\n".join(f"{k:14} {v}" for k, v in data.items() if k != "last_batch")
    emit(data, as_json, text)


@batch_app.command("list")
@command
def batch_list(home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """Every sealed batch with its state root."""
    batches = client_for(home, node).batches()
    lines = [f"#{b['number']:<5} txs {b['tx_count']:<6} state_root {b['state_root']}"
             for b in batches]
    emit(batches, as_json, "\n".join(lines) or "no batches yet")


@batch_app.command("show")
@command
def batch_show(number: int, home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """A batch's header, transactions, traces and withdrawals."""
    data = client_for(home, node).batch(number)
    keys = ("number", "batch_hash", "prev_state_root", "state_root", "tx_root", "trace_root",
            "withdrawal_root", "data_pointer", "tx_count")
    text = "\n".join(f"{k:16} {data[k]}" for k in keys)
    emit(data, as_json, text)


@batch_app.command("seal")
@command
def batch_seal(home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """Seal the pending blocks into a batch now."""
    data = client_for(home, node).seal_batch()
    batch = data["batch"]
    emit(data, as_json, f"sealed batch #{batch['number']}" if batch else "nothing to seal")


@app.command()
@command
def demo(as_json: bool = JsonOption) -> None:
    """Run the end-to-end demo on embedded defaults, in a temporary home."""
    from flavum.demo import run_demo

    run_demo(as_json=as_json)


def main() -> None:
    app()
