"""What every `flavum` command shares: the common options, one-line errors, output, the
node's client, and reading addresses, amounts and input rows."""

import contextlib
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import requests
import typer

from flavum.api.guard import TOKEN_FILE
from flavum.client import Client
from flavum.core.codec import from_hex, parse_address
from flavum.core.errors import ConfigError, FlavumError, MalformedHex
from flavum.core.genesis import DEV_ASSET
from flavum.core.types import Address, Amount, AssetId
from flavum.ml.errors import InvalidInput
from flavum.node.config import (
    DEFAULT_HOME,
    LedgerSpec,
    list_keys,
    load_config,
)

HOME_KEY = "flavum.home"  # `flavum --home H COMMAND`: the root context's meta holds H


def _home(ctx: typer.Context, param: typer.CallbackParam, value: Path) -> Path:
    """A command's own --home wins; else one given before the command; else FLAVUM_HOME."""
    given = ctx.find_root().meta.get(HOME_KEY)
    source = ctx.get_parameter_source(param.name or "home")
    if given is not None and getattr(source, "name", None) != "COMMANDLINE":
        return Path(given)
    return value


HomeOption = typer.Option(DEFAULT_HOME, "--home", envvar="FLAVUM_HOME", callback=_home,
                          help="Node home directory (env FLAVUM_HOME; may also come before "
                               "the command).")
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
            cause = exc.__cause__  # a ledger's HTTP failure: say it without urllib3's chain
            if isinstance(cause, requests.RequestException):
                fail(exc.code, _unreachable(cause), as_json)
            fail(exc.code, str(exc), as_json)
        except requests.RequestException as exc:  # web3's HTTP provider: the L1 node is down
            fail("ledger_unreachable", _unreachable(exc), as_json)
        except OSError as exc:
            fail("os_error", _os_error(exc), as_json)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug: still one line, never a traceback
            fail("internal_error", f"internal error (please report it): {exc}", as_json)

    return wrapper  # type: ignore[return-value]


def _os_error(exc: OSError) -> str:
    """An OS error in words, naming the file (never Python's `[Errno 2]` form)."""
    name = f" {exc.filename}" if exc.filename is not None else ""
    if isinstance(exc, FileNotFoundError):
        return f"no such file:{name}"
    if isinstance(exc, IsADirectoryError):
        return f"expected a file, got the directory{name}"
    if isinstance(exc, PermissionError):
        return f"permission denied:{name}"
    return f"cannot use{name or ' a file'}: {exc.strerror or exc}"


def _unreachable(exc: Exception) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or "its configured URL"
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return f"cannot reach the ledger at {url}: is its node running?"
    return f"the ledger at {url} failed to answer: {type(exc).__name__.lower()}"


def fail(code: str, message: str, as_json: bool) -> None:
    message = " ".join(message.split())  # one line, whatever the error's text holds
    if as_json:
        print(json.dumps({"error": code, "message": message}))
    else:
        print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)


@contextlib.contextmanager
def spinner(what: str, show: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr while the CLI waits (hidden with --json or
    when stderr is not a terminal); yields a function to update the line's note."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True,
                  # rich still ends a hidden live display with a newline: not on a pipe
                  disable=not (show and sys.stderr.isatty())) as bars:
        task = bars.add_task(what)
        yield lambda note: bars.update(task, description=f"{what}: {note}")


def emit(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=None if as_json else 2) if as_json else text)


def client_for(home: Path, node: str | None) -> Client:
    """A client of the node (the home's own by default), with the home's operator token when
    it has one."""
    token_file = home / TOKEN_FILE
    token = token_file.read_text().strip() if token_file.is_file() else None
    return Client(node or load_config(home).api_url, token=token)


def parse_id(text: str, what: str) -> bytes:
    """A 32-byte id (object, trace, withdrawal) typed as hex, with or without 0x."""
    try:
        return from_hex(text, 32, what, prefix_optional=True)
    except MalformedHex:
        raise InvalidInput(f"{what} must be 32 bytes of hex (0x and 64 hex digits), got "
                           f"{text[:70]!r}") from None


def resolve_address(home: Path, who: str) -> Address:
    """An address given as hex, or the address of a key by its name."""
    if who.startswith("0x"):
        try:
            return parse_address(who)
        except MalformedHex:
            raise ConfigError(f"{who[:70]!r} is not an address: expected 0x and 40 hex digits"
                              ) from None
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
        raise InvalidInput(f"not an amount: {text!r} (expected wei, or e.g. 1.5eth, 20dev)"
                           ) from exc
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
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


def one_data_point(rows: list[list[float]], name: str, input_shape: list[int]) -> list[float]:
    """The values of one data point, i.e. one row (one inference's input), from the rows
    `read_rows` read from the file `name` (a row may also be nested in the model's input
    shape). A file of several rows is refused by name: each data point is a file of its own."""
    values = [x for row in rows for x in row]
    size = math.prod(input_shape)
    if len(values) == size:
        return values
    if len(values) > size and len(values) % size == 0:
        raise InvalidInput(f"{name} holds {len(values) // size} rows of {size} values: a data "
                           "file holds exactly one row (one inference's input); put each row "
                           "in a file of its own")
    raise InvalidInput(f"{name} holds {len(values)} values: the model takes one row of {size} "
                       f"(input shape {input_shape})")


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in _flatten(item)]
    return [value]


LedgerOption = typer.Option("evm", "--ledger", help="Ledger name from the node's config.")
L1SenderOption = typer.Option("default", "--from", help="Key name (signs on L1).")


def ledger_spec(home: Path, name: str) -> LedgerSpec:
    for spec in load_config(home).ledgers:
        if spec.name == name:
            return spec
    raise ConfigError(f"no ledger named {name!r} in {home / 'config.toml'}")


def asset_of_amount(client: Any, amount: str) -> AssetId:
    """The asset an amount names by its unit: the dev asset for `dev`, else the native coin."""
    if amount_unit(amount) == "dev":
        return DEV_ASSET
    return AssetId(from_hex(client.status()["native_asset"]))
