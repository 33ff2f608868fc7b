"""`flavum trace list`: the inferences of a model, a data point or an account, a page at a
time (the node lists them by key, newest first)."""

from pathlib import Path
from typing import Any

import typer

from flavum.cli_common import (
    HomeOption,
    JsonOption,
    NodeOption,
    client_for,
    command,
    emit,
    parse_id,
    resolve_address,
)
from flavum.core.codec import to_hex
from flavum.ml.errors import InvalidInput

trace_app = typer.Typer(help="Inference trace entries.", no_args_is_help=True)


def trace_line(trace: dict[str, Any]) -> str:
    """One inference on one line: its id, model, data, what it answered and its proof."""
    return (f"{trace['tx_hash']}  seq {trace['seq']}  model {trace['model_id'][:10]}…  "
            f"data {trace['data_id'][:10]}…  {answer(trace.get('result'))}  "
            f"proof {trace['proof_status']}")


def answer(result: dict[str, Any] | None) -> str:
    """An inference's answer in a few characters: its class (by label where the model has
    labels), else its first value."""
    if result is None:
        return "(model gone)"
    if result.get("label") is not None:
        return f"class {result['label'][0]}"
    if result.get("prediction") is not None:
        return f"class {result['prediction'][0]}"
    return f"{result['proven_output']} {result['values'][0][0]:.6g}"


@trace_app.command("list")
@command
def trace_list(
    model: str | None = typer.Option(None, "--model", help="The inferences of this model."),
    data: str | None = typer.Option(None, "--data", help="The inferences that read this data "
                                                         "point (or made this result)."),
    account: str | None = typer.Option(None, "--account", help="The inferences this account "
                                                               "(address or key name) sent."),
    limit: int = typer.Option(20, min=1, max=500, help="How many, newest first."),
    before: int | None = typer.Option(None, min=1, help="Older than this seq: the `next_before` "
                                                        "a previous page printed."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """A page of inferences of a model, a data point or an account, newest first."""
    given = [name for name, v in (("--model", model), ("--data", data), ("--account", account))
             if v is not None]
    if len(given) != 1:
        raise InvalidInput("give one of --model, --data or --account")
    if model is not None:
        kind, key = "models", to_hex(parse_id(model, "model id"))
    elif data is not None:
        kind, key = "objects", to_hex(parse_id(data, "data id"))
    else:
        kind, key = "accounts", to_hex(resolve_address(home, str(account)))
    page = client_for(home, node).traces_of(kind, key, limit, before)
    lines = [trace_line(t) for t in page["traces"]] or ["no inferences"]
    if page["next_before"] is not None:
        lines.append(f"older: --before {page['next_before']}")
    emit(page, as_json, "\n".join(lines))
