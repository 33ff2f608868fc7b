"""`flavum model deploy-trainable`, `flavum data submit-rows`, `flavum model train` and
`flavum model lineage`: proven training from the command line (docs/training.md)."""

import json
import time
from pathlib import Path
from typing import Any

import typer

from flavum.cli_common import (
    HomeOption,
    JsonOption,
    NodeOption,
    asset_of_amount,
    client_for,
    command,
    emit,
    parse_amount,
    parse_id,
    spinner,
)
from flavum.client import Client
from flavum.core.codec import from_hex, to_hex
from flavum.core.transactions import DeployModel, DeployTrainable, SubmitData, Train, address_of
from flavum.core.types import ZERO_HASH, Access, AssetId, Hash32, ObjectId
from flavum.errors import error_for_code
from flavum.ml.errors import InvalidInput, ModelTooLarge
from flavum.node.config import load_key


def wait_for_build(client: Client, job: dict[str, Any], timeout: float,
                   show: bool) -> dict[str, Any]:
    """Poll a trainable build job until it ends; its result, or its error raised."""
    deadline = time.monotonic() + timeout
    with spinner("building the step and inference circuits", show=show) as note:
        while not job["done"]:
            if time.monotonic() > deadline:
                raise ModelTooLarge(f"the circuits were not built after {timeout:.0f} s "
                                    f"(stage {job['stage']})")
            note(job["stage"])
            time.sleep(0.5)
            job = client.trainable_status(job["job_id"])
    if job["error"]:
        raise error_for_code(job["error"]["error"])(job["error"]["message"])
    return job


def deploy_trainable(
    family: str = typer.Option(..., "--family", help="logistic, softmax, mlp or softmax-mlp."),
    features: int = typer.Option(..., "--features", help="Input features of a row."),
    classes: int | None = typer.Option(None, "--classes", help="Classes (softmax families)."),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden units (mlp families)."),
    batch: int = typer.Option(..., "--batch", help="Rows per proven SGD step."),
    learning_rate: float = typer.Option(..., "--learning-rate", help="SGD step size (lr / "
                                        "batch a power of two keeps it exact)."),
    scale: int = typer.Option(10, "--scale", help="Fixed point 2^-scale (docs/training.md)."),
    seed: int | None = typer.Option(None, "--seed", help="The mlp families' fixed-seed start "
                                    "(default 0); the linear families start at zero."),
    fee: str = typer.Option("0", help="Fee per training paid to you (wei, or e.g. 0.01eth, "
                                      "5dev)."),
    common: bool = typer.Option(False, "--common", help="Anyone may train it (default: owned)."),
    timeout: float = typer.Option(1800.0, help="Seconds to wait for the circuits."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Build a trainable architecture on the node, deploy its step and inference circuits
    (common MODELs) and its first version (zero or fixed-seed weights)."""
    client = client_for(home, node)
    key = load_key(home, sender)
    request = {"family": family, "features": features, "classes": classes, "hidden": hidden,
               "batch": batch, "learning_rate": learning_rate, "scale": scale, "seed": seed}
    job = wait_for_build(client, client.build_trainable(request), timeout, not as_json)
    asset = asset_of_amount(client, fee)
    circuits = []
    for record in (job["step"], job["inference"]):
        circuit = DeployModel(Hash32(from_hex(record["graph_hash"])),
                              Hash32(from_hex(record["vk_hash"])),
                              Hash32(from_hex(record["metadata_hash"])), Access.COMMON,
                              AssetId(asset), parse_amount("0"))
        circuits.append(client.send(key, address_of(key), circuit)["object_id"])
    body = DeployTrainable(ObjectId(from_hex(circuits[0])), ObjectId(from_hex(circuits[1])),
                           Hash32(from_hex(job["weight_commitment"])), ZERO_HASH,
                           Access.COMMON if common else Access.OWNED, asset, parse_amount(fee))
    receipt = client.send(key, address_of(key), body)
    step = job["step"]
    emit({"model_id": receipt["object_id"], "tx_hash": receipt["tx_hash"],
          "step_model_id": circuits[0], "inference_model_id": circuits[1],
          "weight_commitment": job["weight_commitment"], "step": step,
          "inference": job["inference"]}, as_json,
         f"trainable model {receipt['object_id']} (version 0)\n"
         f"  {family} {json.dumps(step['options'])}, scale 2^-{step['scale']}\n"
         f"  step circuit {circuits[0]} (logrows {step['logrows']})\n"
         f"  inference circuit {circuits[1]} (logrows {job['inference']['logrows']})\n"
         f"  weights {job['weight_commitment']}")


def submit_rows(
    rows_file: Path = typer.Argument(..., help='JSON: a list of {"features": [...], "label": '
                                               'n} examples, or of {"features": [...]} rows to '
                                               'run the version on (docs/cli.md#training-rows).'),
    model_id: str = typer.Option(..., "--model", help="The trainable model (a version) the "
                                                      "rows are for."),
    common: bool = typer.Option(False, "--common", help="Anyone may use them (default: owned)."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Register training rows as data points: the node makes each example the row its
    family's step takes (one-hot label for the softmax families) and keeps it; an example
    without a label is an inference row, for `flavum infer VERSION DATA`."""
    examples = read_examples(rows_file)
    model_hex = to_hex(parse_id(model_id, "model id"))
    client = client_for(home, node)
    key = load_key(home, sender)
    submitted = []
    for features, label in examples:
        commitment = client.commit_row(model_hex, features, label)["commitment"]
        body = SubmitData(Hash32(from_hex(commitment)), ZERO_HASH,
                          Access.COMMON if common else Access.OWNED)
        receipt = client.send(key, address_of(key), body)
        submitted.append({"data_id": receipt["object_id"], "commitment": commitment})
    emit(submitted, as_json, "\n".join(f"data {d['data_id']}" for d in submitted))


def read_examples(path: Path) -> list[tuple[list[float], float | None]]:
    """(features, label) of each example in a JSON list of {"features", "label"} objects (the
    label None where it is left out: an inference row)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name} is not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{path.name} holds no examples")
    try:
        return [([float(v) for v in e["features"]],
                 None if e.get("label") is None else float(e["label"])) for e in data]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f'{path.name}: each example is {{"features": [numbers], "label": '
                           f'number}}, the label left out for an inference row ({exc!r})'
                           ) from exc


def train(
    model_id: str,
    data_ids: list[str] = typer.Option(..., "--data", help="A training row's DATA id (repeat; "
                                                           "step i trains on the i-th slice)."),
    steps: int = typer.Option(1, help="Proven SGD steps."),
    max_fee: str = typer.Option("0", help="The most you pay (wei, or e.g. 0.01eth)."),
    sender: str = typer.Option("default", "--from", help="Key name of the trainer."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Train a version of a trainable model: a new version, its steps proven (docs/training.md)."""
    body = Train(ObjectId(parse_id(model_id, "model id")), steps, parse_amount(max_fee),
                 tuple(ObjectId(parse_id(d, "data id")) for d in data_ids))
    client = client_for(home, node)
    key = load_key(home, sender)
    receipt = client.send(key, address_of(key), body)
    trace = receipt["trace"]
    out = {"trace_id": receipt["tx_hash"], "version_id": receipt["object_id"],
           "params_out": trace["params_out"], "steps": trace["steps"]}
    emit(out, as_json, "\n".join([f"trace {receipt['tx_hash']}",
                                  f"  version {receipt['object_id']}",
                                  f"  weights {trace['params_out']} after {trace['steps']} steps",
                                  "  the step proofs follow (`flavum proof show`)"]))


def lineage(model_id: str, home: Path = HomeOption, node: str | None = NodeOption,
            as_json: bool = JsonOption) -> None:
    """A trainable model's versions back to the first: who trained each, on what, how long."""
    chain = client_for(home, node).lineage(to_hex(parse_id(model_id, "model id")))
    lines = []
    for step in chain:
        version, training = step["version"], step["training"]
        lines.append(f"{version['object_id']}  owner {version['owner']}  weights "
                     f"{version['commitment']}")
        if training is not None:
            lines.append(f"  trained {training['steps']} steps on rows {training['rows_hash']} "
                         f"(trace {training['tx_hash']})")
    emit(chain, as_json, "\n".join(lines))


def add_training_commands(model_app: typer.Typer, data_app: typer.Typer) -> None:
    model_app.command("deploy-trainable")(command(deploy_trainable))
    model_app.command("train")(command(train))
    model_app.command("lineage")(command(lineage))
    data_app.command("submit-rows")(command(submit_rows))
