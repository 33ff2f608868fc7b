"""The `flavum` command line. Every command takes --json; every error is one line and exit 1."""

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from flavum.cli_common import (
    HOME_KEY,
    HomeOption,
    JsonOption,
    NodeOption,
    amount_unit,
    asset_of_amount,
    client_for,
    command,
    emit,
    one_data_point,
    parse_amount,
    parse_id,
    read_rows,
    resolve_address,
    spinner,
)
from flavum.cli_deposits import deposit_app
from flavum.cli_escape import escape
from flavum.cli_ledgers import l1_app, verify_batches, withdraw_app
from flavum.cli_signer import signer_app
from flavum.cli_traces import trace_app, trace_line
from flavum.cli_training import add_training_commands
from flavum.cli_units import Units
from flavum.client import Client, NodeUnreachable
from flavum.core.codec import from_hex, to_hex
from flavum.core.errors import ConfigError
from flavum.core.transactions import (
    DeployModel,
    Infer,
    SubmitData,
    Transfer,
    address_of,
)
from flavum.core.types import Access, Amount, AssetId, Hash32, ObjectId
from flavum.errors import error_for_code
from flavum.ml.errors import InvalidInput
from flavum.node.config import (
    DEFAULT_CHALLENGE_WINDOW,
    DEFAULT_CONFIRMATIONS,
    DEV_FUNDING,
    Allocation,
    LedgerSpec,
    NodeConfig,
    import_key,
    list_keys,
    load_config,
    load_key,
    new_key,
    parse_private_key,
    read_key_env,
    read_key_file,
    write_config,
)
from flavum.zk.errors import ProvingFailed

app = typer.Typer(help="Flavum: a machine-learning L2 rollup.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


def _command_group(name: str, help_text: str) -> typer.Typer:
    """The group of commands `flavum NAME ...`."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


account_app = _command_group("account", "Keys and accounts.")
batch_app = _command_group("batch", "Sealed batches.")
node_app = _command_group("node", "Run a node.")
model_app = _command_group("model", "Deploy and inspect ONNX models.")
data_app = _command_group("data", "Data points.")
proof_app = _command_group("proof", "Proofs of inference trace entries.")
app.add_typer(l1_app, name="l1")
app.add_typer(deposit_app, name="deposit")
app.add_typer(withdraw_app, name="withdraw")
app.add_typer(signer_app, name="signer")
app.add_typer(trace_app, name="trace")


@app.callback()
def main_options(ctx: typer.Context, home: Path | None = typer.Option(
        None, "--home", help="Node home directory for every command (env FLAVUM_HOME).")) -> None:
    """Flavum: a machine-learning L2 rollup."""
    if home is not None:  # every command's own --home defaults to it (cli_common.HomeOption)
        ctx.meta[HOME_KEY] = home


# --- init and accounts ---


@app.command()
@command
def init(home: Path = HomeOption, port: int = typer.Option(8787, help="API port."),
         evm_url: str = typer.Option("embedded", "--evm-url", help="The EVM ledger: `embedded` "
                                     "(in-process) or a JSON-RPC URL (deploy to it with "
                                     "`flavum l1 deploy`)."),
         confirmations: int | None = typer.Option(
             None, min=0, help="Blocks on top of a deposit before it is credited (default: 0 "
                               f"embedded, else {DEFAULT_CONFIRMATIONS})."),
         challenge_window: int | None = typer.Option(
             None, "--challenge-window", min=0, help="Blocks before a batch is final (default: "
             f"0 embedded, else {DEFAULT_CHALLENGE_WINDOW:,}, 7 days)."),
         as_json: bool = JsonOption) -> None:
    """Create a home directory: config, a dev key named `default` funded in the dev asset.
    The domain is the embedded EVM's rollup (deployed by the `sequencer` key at every node
    start); `flavum l1 deploy` replaces it with the deployed contracts'."""
    from flavum.l1.evm_identity import compute_embedded_domain

    if (home / "config.toml").exists():
        raise ConfigError(f"{home} is already initialised")
    embedded = evm_url == "embedded"
    if not embedded and not evm_url.startswith(("http://", "https://")):
        raise InvalidInput(f"--evm-url must be `embedded` or an http(s) JSON-RPC URL, got "
                           f"{evm_url[:70]!r}")
    address = new_key(home, "default")
    domain = compute_embedded_domain(new_key(home, "sequencer"))  # it posts the batches
    # The embedded EVM cannot reorganise: its deposits are credited as soon as they are mined.
    ledger = LedgerSpec(
        name="evm", kind="evm", url=evm_url,
        deployment="" if embedded else "evm-deployment.json",
        confirmations=(0 if embedded else DEFAULT_CONFIRMATIONS) if confirmations is None
        else confirmations, challenge_window=challenge_window)
    config = NodeConfig(home=home, chain_id=domain.chain_id, rollup_id=domain.rollup_id,
                        port=port, genesis=(Allocation(address, Amount(DEV_FUNDING)),),
                        ledgers=(ledger,))
    path = write_config(config)
    emit({"home": str(home), "config": str(path), "address": to_hex(address),
          "rollup_id": to_hex(domain.rollup_id)}, as_json,
         f"initialised {home}\n  config  {path}\n  key     default = {to_hex(address)}"
         f" (funded at genesis with {DEV_FUNDING} of the dev asset, which cannot be withdrawn;"
         " deposit ETH from L1 to withdraw it later)"
         + ("" if embedded else f"\n  ledger  evm at {evm_url}, {ledger.confirmations} "
            f"confirmation{'' if ledger.confirmations == 1 else 's'}: deploy the contracts "
            "with `flavum l1 deploy`"))


@account_app.command("new")
@command
def account_new(name: str = typer.Option(..., "--name", help="Name of the key."),
                home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """Create a new key."""
    address = new_key(home, name)
    emit({"name": name, "address": to_hex(address)}, as_json, f"{name} = {to_hex(address)}")


@account_app.command("import")
@command
def account_import(name: str = typer.Option(..., "--name", help="Name of the key."),
                   key_file: Path | None = typer.Option(
                       None, "--key-file", help="File holding the hex key; - reads it from "
                       "standard input."),
                   from_env: str | None = typer.Option(None, "--from-env", help="Environment "
                                                       "variable holding the hex key."),
                   home: Path = HomeOption, as_json: bool = JsonOption) -> None:
    """Import a key from a file, standard input or an environment variable (never from the
    command line, which every user of the machine can read). Stored like `account new`'s:
    a 0600 file in the home's 0700 keys folder."""
    if (key_file is None) == (from_env is None):
        raise InvalidInput("give the key with exactly one of --key-file FILE (- for standard "
                           "input) or --from-env VAR")
    if key_file == Path("-"):
        key = parse_private_key(sys.stdin.read(), "the key on standard input")
    elif key_file is not None:
        key = read_key_file(key_file)
    else:
        key = read_key_env(str(from_env))
    address = import_key(home, name, key)
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
    client = client_for(home, node)
    data = client.account(resolve_address(home, who))
    units = Units(client.assets())
    lines = [f"address {data['address']}", f"nonce   {data['nonce']}"]
    lines += [f"balance {units.show(amount, asset)}" for asset, amount in data["balances"].items()]
    emit(data, as_json, "\n".join(lines))


# --- transactions ---


@app.command()
@command
def transfer(to: str = typer.Argument(..., help="Recipient: key name or 0x address."),
             amount: str = typer.Argument(..., help="Base units, or e.g. 1.5eth, 20dev."),
             sender: str = typer.Option("default", "--from", help="Key name of the sender."),
             asset: str | None = typer.Option(None, help="Asset id (default: the amount's unit, "
                                              "dev or eth; else the native coin)."),
             home: Path = HomeOption, node: str | None = NodeOption,
             as_json: bool = JsonOption) -> None:
    """Sign and submit a transfer."""
    if asset is not None and amount_unit(amount) is not None:
        raise InvalidInput(f"{amount!r} names its asset: drop --asset")
    value, recipient = parse_amount(amount), resolve_address(home, to)
    given_asset = AssetId(parse_id(asset, "asset id")) if asset is not None else None
    client = client_for(home, node)
    key = load_key(home, sender)
    body = Transfer(recipient, given_asset or asset_of_amount(client, amount), value)
    receipt = client.send(key, address_of(key), body)
    emit(receipt, as_json, f"accepted {receipt['tx_hash']} (seq {receipt['seq']})")


# --- node ---


@node_app.command("run")
@command
def node_run(home: Path = HomeOption, host: str | None = typer.Option(None),
             port: int | None = typer.Option(None),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="Keep ezkl's and "
                                          "tract's diagnostics and the HTTP access log."),
             as_json: bool = JsonOption) -> None:
    """Run the node: sequencer, batcher and HTTP API (Ctrl-C stops it; restart resumes).
    Prints the API and explorer URLs once it starts."""
    from flavum.runner import run_node

    config = load_config(home)
    run_node(config, host=host, port=port, verbose=verbose)


@app.command()
@command
def status(home: Path = HomeOption, node: str | None = NodeOption,
           wait: bool = typer.Option(False, "--wait", help="Wait until the node answers "
                                     "(e.g. right after `flavum node run &`)."),
           timeout: float = typer.Option(60.0, help="Seconds to wait with --wait."),
           as_json: bool = JsonOption) -> None:
    """The node's state root, counts of transactions, blocks and batches."""
    client = client_for(home, node)
    deadline = time.monotonic() + (timeout if wait else 0.0)
    with spinner("waiting for the node to answer", show=wait and not as_json):
        while True:
            try:
                data = client.status()
                break
            except NodeUnreachable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    text = "\n".join(f"{k:14} {v}" for k, v in data.items() if k not in ("last_batch", "ledgers"))
    for link in data["ledgers"]:
        role = "verifies proofs" if link["verifies_proofs"] else "anchors headers only"
        text += f"\nledger {link['name']:9} {role}" + (
            f"; REVERTED: posting stopped at batch {link['reverted_batch']}"
            if link["state"] == "reverted" else
            "; FROZEN in escape mode: leave with `flavum escape`"
            if link["state"] == "frozen" else
            "; REPLACED: this node's key is not the sequencer, posting stopped"
            if link["state"] == "replaced" else
            f"; {link['state'].upper()}" if link["state"] != "posting" else "") + (
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
            f": {post['detail']}" if post["detail"] else "") + _finality_text(post) + (
            f"; LEDGER {post['ledger_state'].upper()}: {post['ledger_error']}"
            if "ledger_state" in post else "")
    emit(data, as_json, text)


def _finality_text(post: dict[str, Any]) -> str:
    if "final" not in post:
        return ""
    if post["final"]:
        return "; final (its withdrawals are payable)"
    return (f"; NOT FINAL: {post['blocks_to_final']} blocks of its challenge window left (final "
            f"at block {post['final_at_block']}; withdrawals wait, anyone may challenge it)")


@batch_app.command("seal")
@command
def batch_seal(home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """Seal the pending blocks into a batch now."""
    client = client_for(home, node)
    with spinner("sealing the pending blocks", show=not as_json):
        data = client.seal_batch()
    batch = data["batch"]
    if batch:
        text = f"sealed batch #{batch['number']} ({batch['tx_count']} transactions)"
    else:
        text = _why_not_sealed(client.status())
    emit(data, as_json, text)


def _why_not_sealed(status: dict[str, Any]) -> str:
    """Why a seal made no batch: nothing left (the batcher sealed on its own, by the policy
    of config.toml's [batching]), or blocks that wait for their inferences' proofs."""
    last = status["last_batch"]
    waiting = status["blocks"] - (last["last_block"] + 1 if last else 0)
    if waiting > 0:
        return (f"not sealed yet: {waiting} block{'s' if waiting > 1 else ''} wait for the "
                "proofs of their inferences (see `flavum proof show`); retry once proven")
    if last is None:
        return "nothing to seal: no transactions yet"
    return (f"nothing to seal: every transaction is already in a batch (the batcher sealed up "
            f"to #{last['number']} on its own, see `flavum batch list`)")


# --- models, data, inference, proofs ---


def _input_visibility(kzg_inputs: bool, public_rows: bool) -> str:
    """The circuit's input visibility the deploy flags ask for."""
    if kzg_inputs and public_rows:
        raise InvalidInput("--kzg-inputs and --public-rows exclude each other")
    return "polycommit" if kzg_inputs else "public" if public_rows else "hashed"


def compile_with_progress(client: Client, onnx_bytes: bytes, rows: list[list[float]],
                          proven_output: str | None, min_agreement: float | None,
                          batch_size: int, show: bool, input_visibility: str = "hashed"
                          ) -> dict[str, Any]:
    """Start a compile job on the node and draw a progress bar per stage until it ends."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    job = client.compile_model(onnx_bytes, rows, proven_output, min_agreement, batch_size,
                               input_visibility)
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
    fee: str = typer.Option("0", help="Fee per inference paid to you (wei, or e.g. 0.01eth, "
                                      "5dev: paid in that asset)."),
    common: bool = typer.Option(False, "--common", help="Anyone may use it (default: owned)."),
    proven_output: str | None = typer.Option(None, help="logits (default) or probabilities."),
    min_agreement: float | None = typer.Option(None, help="Refuse below this top-1 agreement."),
    batch: int = typer.Option(1, "--batch", help="Prove N inferences per proof (queued and "
                                                 "packed; one commitment per row)."),
    kzg_inputs: bool = typer.Option(False, "--kzg-inputs", help="Commit each row with a KZG "
                                    "point in the proof (polycommit) instead of a Poseidon "
                                    "hash: cheaper proofs per inference."),
    public_rows: bool = typer.Option(False, "--public-rows", help="Rows are public values of "
                                     "the proof, bound on chain by keccak (common data only): "
                                     "the cheapest proofs; gas grows with the row's width."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Compile a model into a circuit on the node (progress bars), then deploy it."""
    client = client_for(home, node)
    key = load_key(home, sender)
    job = compile_with_progress(client, onnx_file.read_bytes(), read_rows(calibration),
                                proven_output, min_agreement, batch, show=not as_json,
                                input_visibility=_input_visibility(kzg_inputs, public_rows))
    record = job["record"]
    body = DeployModel(Hash32(from_hex(record["model_hash"])), Hash32(from_hex(record["vk_hash"])),
                       Hash32(from_hex(job["metadata_hash"])),
                       Access.COMMON if common else Access.OWNED,
                       asset_of_amount(client, fee), parse_amount(fee))
    receipt = client.send(key, address_of(key), body)
    accuracy = record["accuracy"]
    emit({"model_id": receipt["object_id"], "tx_hash": receipt["tx_hash"], "record": record},
         as_json,
         f"model {receipt['object_id']}\n  circuit logrows {record['logrows']}, proves "
         f"{record['proven_output']}\n  top-1 agreement {accuracy['top1_agreement']}, "
         f"max abs error {accuracy['max_abs_error']:.2e}")


@model_app.command("list")
@command
def model_list(home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """The deployed models: id, owner, access and fee."""
    client = client_for(home, node)
    models = client.models()
    units = Units(client.assets()) if models else None
    lines = [f"{m['object_id']}  owner {m['owner']}  {m['access'].lower():6}  fee "
             f"{units.show(m['fee'], m['fee_asset']) if units else m['fee']}" for m in models]
    emit(models, as_json, "\n".join(lines) or "no models yet")


@model_app.command("show")
@command
def model_show(model_id: str, home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """A model: owner, fee, circuit, accuracy report and its latest inferences."""
    client = client_for(home, node)
    data = client.model(to_hex(parse_id(model_id, "model id")))
    record = data["record"]
    fee = Units(client.assets()).show(data["fee"], data["fee_asset"])
    if record is None:  # a trainable model's version, or one of its architecture's circuits
        emit(data, as_json, "\n".join([
            f"model      {data['object_id']}", f"owner      {data['owner']}",
            f"access     {data['access']}", f"fee        {fee}",
            f"weights    {data['commitment']}",
            "a trainable model's version or circuit: `flavum model lineage` shows its history"]))
        return
    latest = client.traces_of("models", data["object_id"], limit=5)
    data["latest_inferences"] = latest["traces"]
    more = "  (more: flavum trace list --model ID)" if latest["next_before"] else ""
    emit(data, as_json, "\n".join([
        f"model      {data['object_id']}", f"owner      {data['owner']}",
        f"access     {data['access']}", f"fee        {fee}",
        f"vk_hash    {record['vk_hash']}", f"logrows    {record['logrows']}",
        f"proves     {record['proven_output']} (then {record['postprocess']} outside)",
        f"accuracy   {json.dumps(record['accuracy'])}",
        f"inferences {'latest first' + more if latest['traces'] else 'none yet'}",
        *(f"  {trace_line(t)}" for t in latest["traces"]),
    ]))


@data_app.command("submit")
@command
def data_submit(
    values_file: Path = typer.Argument(..., help="JSON: one row, the input values of one "
                                                 "inference (docs/cli.md#input-files)."),
    model_id: str = typer.Option(..., "--model", help="The model whose input this is."),
    common: bool = typer.Option(False, "--common", help="Anyone may use it (default: owned)."),
    sender: str = typer.Option("default", "--from", help="Key name of the owner."),
    home: Path = HomeOption, node: str | None = NodeOption, as_json: bool = JsonOption,
) -> None:
    """Register a data point: the node keeps the values, the rollup their commitment."""
    rows = read_rows(values_file)
    model_hex = to_hex(parse_id(model_id, "model id"))
    client = client_for(home, node)
    values = one_data_point(rows, values_file.name,
                            client.model(model_hex)["record"]["input_shape"])
    key = load_key(home, sender)
    commitment = client.commit_data(model_hex, values)["commitment"]
    body = SubmitData(Hash32(from_hex(commitment)), Hash32(b"\x00" * 32),
                      Access.COMMON if common else Access.OWNED)
    receipt = client.send(key, address_of(key), body)
    emit({"data_id": receipt["object_id"], "commitment": commitment,
          "tx_hash": receipt["tx_hash"]}, as_json,
         f"data {receipt['object_id']}\n  commitment {commitment}")


@data_app.command("list")
@command
def data_list(home: Path = HomeOption, node: str | None = NodeOption,
              as_json: bool = JsonOption) -> None:
    """The registered data points: id, owner, access and commitment."""
    points = client_for(home, node).data_points()
    lines = [f"{d['object_id']}  owner {d['owner']}  {d['access'].lower():6}  commitment "
             f"{d['commitment']}" for d in points]
    emit(points, as_json, "\n".join(lines) or "no data points yet")


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
    body = Infer(ObjectId(parse_id(model_id, "model id")), ObjectId(parse_id(data_id, "data id")),
                 parse_amount(max_fee))
    client = client_for(home, node)
    key = load_key(home, sender)
    receipt = client.send(key, address_of(key), body)
    out: dict[str, Any] = {"trace_id": receipt["tx_hash"], "result_id": receipt["object_id"],
                           "result": receipt.get("result")}
    if wait:
        deadline = time.monotonic() + timeout
        trace = client.trace(receipt["tx_hash"])
        with spinner("proving the inference", show=not as_json) as note:
            while trace["proof_status"] not in ("proven", "failed"):
                if time.monotonic() > deadline:
                    status = trace["proof_status"]
                    raise ProvingFailed(f"no proof after {timeout:.0f} s (status {status})")
                time.sleep(0.5)
                trace = client.trace(receipt["tx_hash"])
                note(f"proof {trace['proof_status']}")
        out["proof_status"] = trace["proof_status"]
        if trace["proof_status"] == "failed":
            raise ProvingFailed(f"proving failed: {trace['reason']}")
    lines = [f"trace {receipt['tx_hash']}", f"  result {receipt['object_id']}",
             *describe_result(receipt.get("result"), receipt["trace"]["outputs"])]
    if wait:
        lines.append(f"  proof {out['proof_status']}")
    emit(out, as_json, "\n".join(lines))


def describe_result(result: dict[str, Any] | None, outputs: list[int]) -> list[str]:
    """An inference's outputs for people: the class, the dequantized values under their name,
    probabilities where the model has them, and the proven fixed-point integers last."""
    if result is None:  # its model is gone: only the proven integers are left
        return [f"  proven {outputs} (fixed-point)"]

    def numbers(rows: list[list[float]]) -> str:
        return "[" + ", ".join(f"{v:.6g}" for v in rows[0]) + "]"

    kind = result["proven_output"]
    lines = []
    if result.get("label") is not None:  # a model trained on string labels: say the label
        lines.append(f"  class {result['label'][0]} (index {result['prediction'][0]})")
    elif result.get("prediction") is not None:
        lines.append(f"  class {result['prediction'][0]}")
    lines.append(f"  {kind} {numbers(result['values'])}")
    if result.get("probabilities") is not None and kind != "probabilities":
        lines.append(f"  probabilities {numbers(result['probabilities'])} "
                     "(derived outside the circuit)")
    proven = result["proven"]
    lines.append(f"  proven {proven['fixed_point']} (fixed-point, scale 2^{proven['scale']})")
    return lines


@proof_app.command("show")
@command
def proof_show(trace_id: str, home: Path = HomeOption, node: str | None = NodeOption,
               as_json: bool = JsonOption) -> None:
    """A trace entry and the status of its proof."""
    data = client_for(home, node).trace(to_hex(parse_id(trace_id, "trace id")))
    fields = [f"{k:17} {v}" for k, v in data.items() if k not in ("outputs", "result")]
    emit(data, as_json, "\n".join([*fields, *describe_result(data["result"], data["outputs"])]))


@proof_app.command("verify")
@command
def proof_verify(trace_id: str, home: Path = HomeOption, node: str | None = NodeOption,
                 as_json: bool = JsonOption) -> None:
    """Verify a trace entry's proof with the model's verifying key and its public values."""
    data = client_for(home, node).verify_trace(to_hex(parse_id(trace_id, "trace id")))
    emit(data, as_json, f"proof of {trace_id} verified: input commitment and outputs match")


add_training_commands(model_app, data_app)
app.command("verify")(verify_batches)
app.command("escape")(escape)


@app.command()
@command
def demo(as_json: bool = JsonOption) -> None:
    """Run the end-to-end demo on embedded defaults, in a temporary home."""
    from flavum.demo import run_demo

    run_demo(as_json=as_json)


def main() -> None:
    app()
