"""What every `flavum` command shares: the common options, one-line errors, output, the
node's client, and reading addresses, amounts and input rows."""

import functools
import json
import math
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import typer

from flavum.api.guard import TOKEN_FILE
from flavum.client import Client
from flavum.core.codec import parse_address
from flavum.core.errors import ConfigError, FlavumError, MalformedHex
from flavum.core.types import Address, Amount
from flavum.ml.errors import InvalidInput
from flavum.node.config import (
    DEFAULT_HOME,
    LedgerSpec,
    list_keys,
    load_config,
)

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
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug: still one line, never a traceback
            fail("internal_error", f"{type(exc).__name__}: {exc}", as_json)

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
    """A client of the node (the home's own by default), with the home's operator token when
    it has one."""
    token_file = home / TOKEN_FILE
    token = token_file.read_text().strip() if token_file.is_file() else None
    return Client(node or load_config(home).api_url, token=token)


def resolve_address(home: Path, who: str) -> Address:
    """An address given as hex, or the address of a key by its name."""
    if who.startswith("0x"):
        try:
            return parse_address(who)
        except MalformedHex as exc:
            raise ConfigError(str(exc)) from exc
    keys = list_keys(home)
    if who not in keys:
        raise ConfigError(f"{who!r} is neither a 0x address nor a key name ({', '.join(keys)})")
    return keys[who]


def parse_amount(text: str) -> Amount:
    """Base units (wei) as an integer, or a decimal with an `eth` or `dev` suffix (18 decimals:
    `dev` is the genesis's dev asset, see `amount_unit`)."""
    try:
        if amount_unit(text) is not None:
            value = Decimal(text[:-3]) * 10**18
        else:
            value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidInput(f"not an amount: {text!r}") from exc
    if value != value.to_integral_value() or value < 0:
        raise InvalidInput(f"amount must be a whole, non-negative number of base units: {text!r}")
    return Amount(int(value))


def amount_unit(text: str) -> str | None:
    """The unit an amount is written in: "eth", "dev" or None (base units)."""
    unit = text[-3:].lower()
    return unit if unit in ("eth", "dev") else None


def read_rows(path: Path) -> list[list[float]]:
    """Input rows from JSON: a list of rows, one flat row, or ezkl's {"input_data": [...]}."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name} is not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("input_data", data.get("values"))
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{path.name} holds no input rows")
    if not isinstance(data[0], list):
        data = [data]
    try:
        rows = [[float(x) for x in _flatten(row)] for row in data]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{path.name} holds non-numeric values") from exc
    if not all(math.isfinite(x) for row in rows for x in row):
        raise InvalidInput(f"{path.name} holds NaN or infinite values")
    return rows


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in _flatten(item)]
    return [value]


LedgerOption = typer.Option("evm", "--ledger", help="Ledger name from the node's config.")


def ledger_spec(home: Path, name: str) -> LedgerSpec:
    for spec in load_config(home).ledgers:
        if spec.name == name:
            return spec
    raise ConfigError(f"no ledger named {name!r} in {home / 'config.toml'}")
