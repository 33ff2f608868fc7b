"""The `flavum` command line. Every command takes --json; every error is one line and exit 1."""

import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import typer

from flavum.client import Client
from flavum.core.assets import compute_asset_id
from flavum.core.codec import from_hex, parse_address, to_hex, withdrawal_from_json
from flavum.core.errors import ConfigError, FlavumError, MalformedHex
from flavum.core.transactions import (
    DeployModel,
    Infer,
    SubmitData,
    Transfer,
    Withdraw,
    address_of,
)
from flavum.core.types import NO_OBJECT, Access, Address, Amount, AssetId, Hash32, ObjectId
from flavum.errors import error_for_code
from flavum.ml.errors import InvalidInput
from flavum.node.config import (
    DEFAULT_HOME,
    DEV_FUNDING,
    Allocation,
    LedgerSpec,
    NodeConfig,
    list_keys,
    load_config,
    load_key,
    new_key,
    write_config,
)
from flavum.zk.errors import ProvingFailed

app = typer.Typer(help="Flavum: a machine-learning L2 rollup.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
account_app = typer.Typer(help="Keys and accounts.", no_args_is_help=True)
batch_app = typer.Typer(help="Sealed batches.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(batch_app, name="batch")
app.add_typer(node_app, name="node")
model_app = typer.Typer(help="Deploy and inspect ONNX models.", no_args_is_help=True)
data_app = typer.Typer(help="Data points.", no_args_is_help=True)
proof_app = typer.Typer(help="Proofs of inference trace entries.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(data_app, name="data")
app.add_typer(proof_app, name="proof")
l1_app = typer.Typer(help="The rollup's contracts on a ledger.", no_args_is_help=True)
deposit_app = typer.Typer(help="Deposit on L1 into the rollup (signs on L1).",
                          no_args_is_help=True)
withdraw_app = typer.Typer(help="Withdraw from the rollup to L1.", no_args_is_help=True)
app.add_typer(l1_app, name="l1")
app.add_typer(deposit_app, name="deposit")
app.add_typer(withdraw_app, name="withdraw")

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
    return Client(node or load_config(home).api_url)


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
    new_key(home, "sequencer")  # posts batches to the ledgers
    config = NodeConfig(home=home, chain_id=chain_id, port=port,
                        genesis=(Allocation(address, Amount(DEV_FUNDING)),),
                        ledgers=(LedgerSpec(name="evm", kind="evm", url="embedded"),))
    path = write_config(config)
    emit({"home": str(home), "config": str(path), "address": to_hex(address),
          "rollup_id": to_hex(config.rollup_id)}, as_json,
         f"initialised {home}\n  config  {path}\n  key     default = {to_hex(address)}"
         f" (funded with {DEV_FUNDING} wei at genesis)")


@account_app.command("new")
@command
def account_new(name: str = typer.Option(..., "--name", help="Name of the key."),
                home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """Create a new key."""
    address = new_key(home, name)
    emit({"name": name, "address": to_hex(address)}, as_json, f"{name} = {to_hex(address)}")


@account_app.command("list")
@command
def account_list(home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """List the keys of this home directory."""
    keys = {name: to_hex(address) for name, address in list_keys(home).items()}
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
    asset_id = AssetId(from_hex(asset if asset else client.status()["native_asset"],
                                prefix_optional=True))
    body = Transfer(resolve_address(home, to), asset_id, parse_amount(amount))
    receipt = client.send(key, address_of(key), body)
    emit(receipt, as_json, f"accepted {receipt['tx_hash']} (seq {receipt['seq']})")


# --- node ---


@node_app.command("run")
@command
def node_run(home: Path = HomeOption, host: str | None = typer.Option(None),
             port: int | None = typer.Option(None), as_json: bool = JsonOption) -> None:
    """Run the node: sequencer, batcher and HTTP API (Ctrl-C stops it; restart resumes)."""
    from flavum.runner import run_node

    config = load_config(home)
    run_node(config, host=host, port=port)


@app.command()
@command
def status(home: Path = HomeOption, node: str | None = NodeOption,
           as_json: bool = JsonOption) -> None:
    """The node's state root, counts of transactions, blocks and batches."""
    data = client_for(home, node).status()
    text = "\n".join(f"{k:14} {v}" for k, v in data.items() if k not in ("last_batch", "ledgers"))
    for link in data["ledgers"]:
        role = "verifies proofs" if link["verifies_proofs"] else "anchors headers only"
        text += f"\nledger {link['name']:9} {role}" + (
            f"; last error: {link['last_error']}" if link["last_error"] else "")
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
    for post in data["ledgers"]:
        depth = post.get("confirmations")
        role = "verified on chain" if post["state"] == "accepted" else (
            "anchored only" if post["state"] == "anchored" else "")
        text += f"\nledger {post['name']:9} {post['state']}" + (
            f" ({role}, {depth} confirmation{'' if depth == 1 else 's'})"
            if depth is not None else "") + (
            f" (tx {post['tx_hash']})" if post["tx_hash"] else "") + (
            f": {post['detail']}" if post["detail"] else "")
    emit(data, as_json, text)


@batch_app.command("seal")
@command
def batch_seal(home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """Seal the pending blocks into a batch now."""
    data = client_for(home, node).seal_batch()
    batch = data["batch"]
    emit(data, as_json, f"sealed batch #{batch['number']}" if batch else "nothing to seal")


# --- models, data, inference, proofs ---


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


def compile_with_progress(client: Client, onnx_bytes: bytes, rows: list[list[float]],
                          proven_output: str | None, min_agreement: float | None,
                          batch_size: int, show: bool) -> dict[str, Any]:
    """Start a compile job on the node and draw a progress bar per stage until it ends."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    job = client.compile_model(onnx_bytes, rows, proven_output, min_agreement, batch_size)
    stages = ("calibrate", "compile", "srs", "setup", "accuracy")
    with Progress(SpinnerColumn(), TextColumn("{task.description:10}"), BarColumn(),
                  TimeElapsedColumn(), disable=not show, transient=False) as bars:
        tasks: dict[str, Any] = {}
        while not job["done"]:
            stage = job["stage"]
            if stage in stages:
                for earlier in stages[: stages.index(stage)]:
                    if earlier in tasks:
                        bars.update(tasks[earlier], completed=1.0)
                if stage not in tasks:
                    tasks[stage] = bars.add_task(stage, total=1.0)
                if job["fraction"] is not None:
                    bars.update(tasks[stage], completed=job["fraction"])
            time.sleep(0.2)
            job = client.compile_status(job["job_id"])
        for task in tasks.values():
            bars.update(task, completed=1.0)
    if job["error"]:
        raise error_for_code(job["error"]["error"])(job["error"]["message"])
    return job  # type: ignore[no-any-return]


@model_app.command("deploy")
@command
def model_deploy(
    onnx_file: Path = typer.Argument(..., help="The ONNX file, as exported by your library."),
    calibration: Path = typer.Option(..., "--calibration", help="JSON rows of sample inputs."),
    fee: str = typer.Option("0", help="Fee per inference paid to you (wei, or e.g. 0.01eth)."),
    common: bool = typer.Option(False, "--common", help="Anyone may use it (default: owned)."),
    proven_output: str | None = typer.Option(None, help="logits (default) or probabilities."),
    min_agreement: float | None = typer.Option(None, help="Refuse below this top-1 agreement."),
    batch: int = typer.Option(1, "--batch", help="Prove N inferences per proof (queued and "
                                                 "packed; one commitment per row)."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Compile a model into a circuit on the node (progress bars), then deploy it."""
    client = client_for(home, node)
    key = load_key(home, sender)
    job = compile_with_progress(client, onnx_file.read_bytes(), read_rows(calibration),
                                proven_output, min_agreement, batch, show=not as_json)
    record = job["record"]
    body = DeployModel(Hash32(from_hex(record["model_hash"])), Hash32(from_hex(record["vk_hash"])),
                       Hash32(from_hex(job["metadata_hash"])),
                       Access.COMMON if common else Access.OWNED,
                       AssetId(from_hex(client.status()["native_asset"])), parse_amount(fee))
    receipt = client.send(key, address_of(key), body)
    accuracy = record["accuracy"]
    emit({"model_id": receipt["object_id"], "tx_hash": receipt["tx_hash"], "record": record},
         as_json,
         f"model {receipt['object_id']}\n  circuit logrows {record['logrows']}, proves "
         f"{record['proven_output']}\n  top-1 agreement {accuracy['top1_agreement']}, "
         f"max abs error {accuracy['max_abs_error']:.2e}")


@model_app.command("show")
@command
def model_show(model_id: str, home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """A model: owner, fee, circuit and accuracy report."""
    data = client_for(home, node).model(model_id)
    record = data["record"]
    emit(data, as_json, "\n".join([
        f"model      {data['object_id']}", f"owner      {data['owner']}",
        f"access     {data['access']}", f"fee        {data['fee']}",
        f"vk_hash    {record['vk_hash']}", f"logrows    {record['logrows']}",
        f"proves     {record['proven_output']} (then {record['postprocess']} outside)",
        f"accuracy   {json.dumps(record['accuracy'])}",
    ]))


@data_app.command("submit")
@command
def data_submit(
    values_file: Path = typer.Argument(..., help="JSON: the input values of one inference."),
    model_id: str = typer.Option(..., "--model", help="The model whose input this is."),
    common: bool = typer.Option(False, "--common", help="Anyone may use it (default: owned)."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Register a data point: the node keeps the values, the rollup their commitment."""
    client = client_for(home, node)
    key = load_key(home, sender)
    values = [x for row in read_rows(values_file) for x in row]
    commitment = client.commit_data(model_id, values)["commitment"]
    body = SubmitData(Hash32(from_hex(commitment)), Hash32(b"\x00" * 32),
                      Access.COMMON if common else Access.OWNED)
    receipt = client.send(key, address_of(key), body)
    emit({"data_id": receipt["object_id"], "commitment": commitment,
          "tx_hash": receipt["tx_hash"]}, as_json,
         f"data {receipt['object_id']}\n  commitment {commitment}")


@app.command()
@command
def infer(
    model_id: str, data_id: str,
    max_fee: str = typer.Option("0", help="The most you pay (wei, or e.g. 0.01eth)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the proof is made."),
    timeout: float = typer.Option(600.0, help="Seconds to wait with --wait."),
    sender: str = typer.Option("default", "--from", help="Key name of the caller."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Run a model on a data point: the output at once, the proof follows (--wait for it)."""
    client = client_for(home, node)
    key = load_key(home, sender)
    body = Infer(ObjectId(from_hex(model_id, prefix_optional=True)),
                 ObjectId(from_hex(data_id, prefix_optional=True)), parse_amount(max_fee))
    receipt = client.send(key, address_of(key), body)
    out: dict[str, Any] = {"trace_id": receipt["tx_hash"], "result_id": receipt["object_id"],
                           "outputs": receipt["trace"]["outputs"],
                           "result": receipt.get("result")}
    if wait:
        deadline = time.monotonic() + timeout
        trace = client.trace(receipt["tx_hash"])
        while trace["proof_status"] not in ("proven", "failed"):
            if time.monotonic() > deadline:
                status = trace["proof_status"]
                raise ProvingFailed(f"no proof after {timeout:.0f} s (status {status})")
            time.sleep(0.5)
            trace = client.trace(receipt["tx_hash"])
        out["proof_status"] = trace["proof_status"]
        if trace["proof_status"] == "failed":
            raise ProvingFailed(f"proving failed: {trace['reason']}")
    prediction = (receipt.get("result") or {}).get("prediction")
    emit(out, as_json, f"trace {receipt['tx_hash']}\n  result {receipt['object_id']}\n"
         f"  prediction {prediction}  outputs {receipt['trace']['outputs']}"
         + (f"\n  proof {out['proof_status']}" if wait else ""))


@proof_app.command("show")
@command
def proof_show(trace_id: str, home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """A trace entry and the status of its proof."""
    data = client_for(home, node).trace(trace_id)
    emit(data, as_json, "\n".join(f"{k:17} {v}" for k, v in data.items()))


@proof_app.command("verify")
@command
def proof_verify(trace_id: str, home: Path = HomeOption, node: str | None = NodeOption,
                 as_json: bool = JsonOption) -> None:
    """Verify a trace entry's proof with the model's verifying key and its public values."""
    data = client_for(home, node).verify_trace(trace_id)
    emit(data, as_json, f"proof of {trace_id} verified: input commitment and outputs match")


# --- ledgers: deploy, deposit, withdraw ---

LedgerOption = typer.Option("evm", "--ledger", help="Ledger name from the node's config.")


def ledger_spec(home: Path, name: str) -> LedgerSpec:
    for spec in load_config(home).ledgers:
        if spec.name == name:
            return spec
    raise ConfigError(f"no ledger named {name!r} in {home / 'config.toml'}")


def open_evm(home: Path, name: str) -> Any:
    """The EVM ledger of the config, as an L1 client (RPC URL + deployment file): users sign
    their own deposits and withdrawals with it."""
    from flavum.l1.factory import open_ledger

    spec = ledger_spec(home, name)
    if spec.kind != "evm":
        raise ConfigError(f"ledger {name!r} is a {spec.kind} ledger, not an EVM")
    return open_ledger(spec, home).ledger


@l1_app.command("deploy")
@command
def l1_deploy(
    ledger: str = LedgerOption,
    fund_from: str | None = typer.Option(
        None, help="Hex private key that sends the sequencer 10 ETH first (e.g. an anvil "
                   "account's)."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Deploy the rollup, model registry and bridge contracts to an EVM ledger."""
    from flavum.l1.evm import deploy_contracts, write_deployment
    from flavum.l1.evm_client import rpc_web3, send_transaction
    from flavum.node.sequencer import Sequencer
    from flavum.node.store import Store

    config = load_config(home)
    spec = ledger_spec(home, ledger)
    if spec.url == "embedded":
        raise ConfigError("the embedded EVM is deployed by the node itself at every start")
    key = load_key(home, spec.sequencer_key)
    w3 = rpc_web3(spec.url)
    if fund_from:
        funder = bytes.fromhex(fund_from.removeprefix("0x"))
        send_transaction(w3, int(w3.eth.chain_id), funder,
                         {"to": w3.to_checksum_address(address_of(key)), "value": 10**19,
                          "gas": 21_000}, "funding the sequencer")
    store = Store(config.db_path)
    try:
        genesis_root = Sequencer(config, store).genesis_root
    finally:
        store.close()
    handle = deploy_contracts(w3, key, sequencer=address_of(key), genesis_state_root=genesis_root,
                              forced_window_blocks=spec.forced_window, ledger_name=spec.name,
                              sequencer_key=key)
    path = home / (spec.deployment or f"{spec.name}-deployment.json")
    write_deployment(path, handle.deployment)
    data = {"ledger": spec.name, "deployment": handle.deployment.to_json(), "file": str(path)}
    emit(data, as_json, "\n".join(f"{k:18} {v}" for k, v in handle.deployment.to_json().items()))


@deposit_app.command("eth")
@command
def deposit_eth(
    amount: str = typer.Argument(..., help="Wei, or e.g. 1.5eth."),
    to: str | None = typer.Option(None, help="L2 recipient (default: the sender's address)."),
    sender: str = typer.Option("default", "--from", help="Key name (signs on L1)."),
    ledger: str = LedgerOption, home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Deposit ETH into the rollup; credited on L2 after the ledger's confirmations."""
    key = load_key(home, sender)
    recipient = resolve_address(home, to) if to else address_of(key)
    receipt = open_evm(home, ledger).deposit_eth(key, recipient, parse_amount(amount))
    tx_hash = to_hex(bytes(receipt["transactionHash"]))
    emit({"l1_tx": tx_hash, "recipient": to_hex(recipient)}, as_json, f"deposited: L1 tx {tx_hash}")


@deposit_app.command("erc20")
@command
def deposit_erc20(
    token: str = typer.Argument(..., help="The ERC-20 contract address."),
    amount: str = typer.Argument(..., help="Base units of the token."),
    to: str | None = typer.Option(None, help="L2 recipient (default: the sender's address)."),
    sender: str = typer.Option("default", "--from", help="Key name (signs on L1)."),
    ledger: str = LedgerOption, home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Deposit an ERC-20 token (the bridge is approved and pulls it)."""
    key = load_key(home, sender)
    recipient = resolve_address(home, to) if to else address_of(key)
    receipt = open_evm(home, ledger).deposit_erc20(key, token, parse_amount(amount), recipient)
    tx_hash = to_hex(bytes(receipt["transactionHash"]))
    emit({"l1_tx": tx_hash, "recipient": to_hex(recipient)}, as_json, f"deposited: L1 tx {tx_hash}")


@deposit_app.command("data")
@command
def deposit_data(
    values_file: Path = typer.Argument(..., help="JSON: the input values of one inference."),
    model_id: str = typer.Option(..., "--model", help="The model whose input this is."),
    to: str | None = typer.Option(None, help="L2 owner (default: the sender's address)."),
    sender: str = typer.Option("default", "--from", help="Key name (signs on L1)."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Deposit a data point: its commitment goes through L1 and becomes an owned DATA object.
    The node keeps the values (they never go on L1)."""
    key = load_key(home, sender)
    recipient = resolve_address(home, to) if to else address_of(key)
    values = [x for row in read_rows(values_file) for x in row]
    commitment = client_for(home, node).commit_data(model_id, values)["commitment"]
    receipt = open_evm(home, ledger).deposit_data(key, recipient, Hash32(from_hex(commitment)))
    tx_hash = to_hex(bytes(receipt["transactionHash"]))
    emit({"l1_tx": tx_hash, "commitment": commitment, "recipient": to_hex(recipient)}, as_json,
         f"deposited data {commitment}: L1 tx {tx_hash}")


def send_withdraw(home: Path, node: str | None, sender: str, ledger: str, to: str | None,
                  amount: Amount, object_id: ObjectId) -> dict[str, Any]:
    client = client_for(home, node)
    key = load_key(home, sender)
    link = next((entry for entry in client.ledgers() if entry["name"] == ledger), None)
    if link is None:
        raise ConfigError(f"the node posts to no ledger named {ledger!r}")
    recipient = resolve_address(home, to) if to else address_of(key)
    ledger_id = Hash32(from_hex(link["ledger_id"]))
    body = Withdraw(ledger_id, recipient, compute_asset_id(ledger_id), amount, object_id)
    return client.send(key, address_of(key), body)


@withdraw_app.command("coin")
@withdraw_app.command("eth")
@command
def withdraw_eth(
    amount: str = typer.Argument(..., help="Base units (wei, litoshis), or e.g. 0.5eth."),
    to: str | None = typer.Option(
        None, help="L1 recipient (default: the sender's address); on Litecoin the 20-byte "
                   "program of a P2WPKH address, as 0x hex."),
    sender: str = typer.Option("default", "--from", help="Key name."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Burn the ledger's native coin on L2. On an EVM, claim it with `flavum withdraw
    finalize` once the batch is in; on Litecoin the federation pays it once the batch is final."""
    receipt = send_withdraw(home, node, sender, ledger, to, parse_amount(amount), NO_OBJECT)
    withdrawal_id = receipt["withdrawal"]["withdrawal_id"]
    emit({"withdrawal_id": withdrawal_id, "tx_hash": receipt["tx_hash"]}, as_json,
         f"withdrawal {withdrawal_id}")


@withdraw_app.command("object")
@command
def withdraw_object(
    object_id: str = typer.Argument(..., help="The DATA or RESULT object to take to L1."),
    to: str | None = typer.Option(None, help="L1 recipient (default: the sender's address)."),
    sender: str = typer.Option("default", "--from", help="Key name."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Burn an object on L2; claim it on L1 as an ERC-721 with `flavum withdraw finalize`."""
    receipt = send_withdraw(home, node, sender, ledger, to, Amount(0),
                            ObjectId(from_hex(object_id, prefix_optional=True)))
    withdrawal_id = receipt["withdrawal"]["withdrawal_id"]
    emit({"withdrawal_id": withdrawal_id, "tx_hash": receipt["tx_hash"]}, as_json,
         f"withdrawal {withdrawal_id}")


@withdraw_app.command("finalize")
@command
def withdraw_finalize(
    withdrawal_id: str,
    sender: str = typer.Option("default", "--from", help="Key name (signs on L1)."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Claim a withdrawal on L1 with its Merkle proof against the accepted batch."""
    data = client_for(home, node).withdrawal_proof(withdrawal_id)
    withdrawal = withdrawal_from_json(data["withdrawal"])
    proof = [Hash32(from_hex(p)) for p in data["proof"]]
    l1_tx = open_evm(home, ledger).finalize_withdrawal(withdrawal, data["batch"], data["index"],
                                                       proof, load_key(home, sender))
    emit({"l1_tx": to_hex(l1_tx), "batch": data["batch"]}, as_json,
         f"finalized on L1: tx {to_hex(l1_tx)} (batch {data['batch']})")


# --- independent verification ---


def open_verifier_store(home: Path, da: str | None, ledger: Any) -> Any:
    """The data store a verifier reads: --da, else the config's data_store, else home/da.
    `evm-calldata` reads batch data from the ledger's batch transactions (and the SRS files
    from the config's store)."""
    from flavum.da.factory import open_store

    config = load_config(home)
    default = config.data_store or str(home / "da")
    url = da or default
    if url.strip().lower() in ("evm-calldata", "evm-calldata:"):
        from flavum.da.evm_calldata import EvmCalldataStore

        if not ledger.capabilities.carries_batch_data:
            raise ConfigError(f"ledger {ledger.name!r} carries no batch data: --da evm-calldata "
                              "reads an EVM rollup's batch transactions")
        return EvmCalldataStore(ledger, open_store(default), attach=False)
    return open_store(url)


@app.command("verify")
@command
def verify_batches(
    ledger: str = LedgerOption,
    da: str | None = typer.Option(None, "--da", help="Data store URL (default: the config's "
                                  "data_store); evm-calldata reads the batch transactions."),
    from_batch: int = typer.Option(0, "--from-batch", help="First batch to verify."),
    watch: bool = typer.Option(False, "--watch", help="Keep following new batches."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between polls with --watch."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Verify posted batches with no node: data, roots, re-execution and every proof.
    Prints OK or the exact reason per batch; exit status 1 if any batch failed."""
    from flavum.core.state import compute_state_root
    from flavum.core.stf import create_genesis
    from flavum.l1.factory import open_ledger
    from flavum.verifier import LedgerHeaders, Verifier

    config = load_config(home)
    spec = ledger_spec(home, ledger)
    genesis = create_genesis(config.domain, [(a.address, a.asset, a.amount)
                                             for a in config.genesis])
    genesis_root = compute_state_root(genesis)
    handle = open_ledger(spec, home, genesis_root=genesis_root).ledger
    store = open_verifier_store(home, da, handle)
    reports = []
    with Verifier(LedgerHeaders(handle), store, config.domain,
                  genesis_root=genesis_root) as verifier:
        stream = (verifier.watch(from_batch, poll_s=poll) if watch
                  else verifier.run(from_batch))
        try:
            for report in stream:
                reports.append(report)
                if watch:  # one line (one JSON object with --json) per batch, as they come
                    print(json.dumps(report.to_json()) if as_json else report.describe(),
                          flush=True)
        except KeyboardInterrupt:
            pass
    failed = [r.number for r in reports if not r.ok]
    summary = (f"{len(reports)} batches verified, {len(failed)} failed"
               + (f": {', '.join(map(str, failed))}" if failed else ""))
    if not watch:
        emit({"ok": not failed, "batches": [r.to_json() for r in reports]}, as_json,
             "\n".join([r.describe() for r in reports] + [summary]))
    elif not as_json:
        print(summary)
    if failed:
        raise typer.Exit(1)


@app.command()
@command
def demo(as_json: bool = JsonOption) -> None:
    """Run the end-to-end demo on embedded defaults, in a temporary home."""
    from flavum.demo import run_demo

    run_demo(as_json=as_json)


def main() -> None:
    app()
