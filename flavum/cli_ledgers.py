"""`flavum l1`, `flavum withdraw` and `flavum verify`: the commands that talk to a ledger
(users sign their own L1 transactions; `flavum deposit` is in cli_deposits.py) and the
independent verifier."""

import json
import re
import time
from dataclasses import asdict, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from flavum.challenger import Challenger, Fraud
from flavum.cli_common import (
    HomeOption,
    JsonOption,
    L1SenderOption,
    LedgerOption,
    NodeOption,
    amount_unit,
    client_for,
    command,
    emit,
    ledger_spec,
    parse_amount,
    parse_id,
    resolve_address,
    spinner,
)
from flavum.core.assets import compute_asset_id
from flavum.core.codec import from_hex, to_hex, withdrawal_from_json
from flavum.core.errors import ConfigError, NotFound
from flavum.core.transactions import (
    Withdraw,
    address_of,
)
from flavum.core.types import NO_OBJECT, Address, Amount, Hash32, ObjectId
from flavum.l1.errors import BatchNotFinal
from flavum.l1.interface import LedgerQueues
from flavum.ml.errors import InvalidInput
from flavum.node.config import (
    DEFAULT_CHALLENGE_WINDOW,
    load_config,
    load_key,
    read_key_env,
    read_key_file,
    write_config,
)

l1_app = typer.Typer(help="The rollup's contracts on a ledger.", no_args_is_help=True)
withdraw_app = typer.Typer(help="Withdraw from the rollup to L1.", no_args_is_help=True)

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
        None, help="Key that sends the sequencer 10 ETH first (e.g. an anvil account's): a key "
                   "file, or env:VAR for an environment variable; never the key itself."),
    force: bool = typer.Option(False, "--force", help="Replace an existing deployment: a new "
                               "rollup, so the home's state moves aside to retired-N/ and the "
                               "node starts from genesis."),
    admin: str | None = typer.Option(None, "--admin", help="Address (or key name) that may "
                                     "rotate the sequencer, for good (default: the deployer, "
                                     "i.e. the sequencer key)."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Deploy the rollup, model registry and bridge contracts to an EVM ledger; the home's
    domain becomes the new rollup's (written into config.toml)."""
    from flavum.core.genesis import Genesis
    from flavum.l1.evm_client import rpc_web3, send_transaction
    from flavum.l1.evm_deploy import deploy_contracts, predict_domain
    from flavum.l1.evm_deployment import write_deployment
    from flavum.node.retired import has_home_state, retire_home_state

    config = load_config(home)
    spec = ledger_spec(home, ledger)
    if spec.url == "embedded":
        raise ConfigError("the embedded EVM is deployed by the node itself at every start")
    path = home / (spec.deployment or f"{spec.name}-deployment.json")
    if not force and path.exists():
        raise ConfigError(f"ledger {spec.name} is deployed already ({path.name}): a new "
                          "deployment is a new rollup, from genesis; --force replaces it and "
                          "moves this home's state aside")
    if not force and has_home_state(home):
        raise ConfigError("this home holds a node store, signed for its current rollup: a "
                          "deployment is a new rollup, from genesis; --force moves the store "
                          "aside")
    funder = None if fund_from is None else read_key_source(fund_from)
    admin_address = None if admin is None else resolve_address(home, admin)
    key = load_key(home, spec.sequencer_key)
    w3 = rpc_web3(spec.url)
    if funder is not None:
        send_transaction(w3, int(w3.eth.chain_id), funder,
                         {"to": w3.to_checksum_address(address_of(key)), "value": 10**19,
                          "gas": 21_000}, "funding the sequencer")
    domain = predict_domain(w3, address_of(key))
    genesis = Genesis(domain, tuple((a.address, a.amount) for a in config.genesis))
    handle = deploy_contracts(w3, key, sequencer=address_of(key), genesis=genesis,
                              forced_window_blocks=spec.forced_window,
                              challenge_window_blocks=(DEFAULT_CHALLENGE_WINDOW
                                                       if spec.challenge_window is None
                                                       else spec.challenge_window),
                              escape_delay_blocks=spec.escape_delay, admin=admin_address,
                              rotation_delay_blocks=spec.rotation_delay,
                              ledger_name=spec.name, sequencer_key=key)
    retired = retire_home_state(home, (home / "config.toml", path)) if force else None
    write_deployment(path, handle.deployment)
    write_config(replace(config, chain_id=domain.chain_id, rollup_id=domain.rollup_id))
    data = {"ledger": spec.name, "deployment": handle.deployment.to_json(), "file": str(path),
            "rollup_id": to_hex(domain.rollup_id),
            "retired": None if retired is None else str(retired)}
    lines = [f"{k:18} {v}" for k, v in handle.deployment.to_json().items()]
    lines.append(f"{'rollup_id':18} {to_hex(domain.rollup_id)} (written into config.toml)")
    if retired is not None:
        lines.append(f"{'old state':18} moved to {retired}")
    emit(data, as_json, "\n".join(lines))


@l1_app.command("fund")
@command
def l1_fund(
    to: str = typer.Argument(..., help="Who gets the ETH on L1: a key name or 0x address."),
    amount: str = typer.Argument(..., help="Wei, or e.g. 10eth."),
    sender: str = typer.Option(..., "--from", help="Key name that pays (e.g. an anvil "
                               "account's, imported with `flavum account import`)."),
    ledger: str = LedgerOption, home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Send ETH on the L1 itself (not into the rollup): gas money for your own key or the
    sequencer's, e.g. from one of anvil's dev accounts."""
    from flavum.l1.evm_client import rpc_web3, send_transaction

    if amount_unit(amount) == "dev":
        raise InvalidInput(f"{amount!r}: the dev asset lives only in the rollup; give wei or "
                           "e.g. 10eth")
    value, recipient = parse_amount(amount), resolve_address(home, to)
    key = load_key(home, sender)
    spec = ledger_spec(home, ledger)
    if spec.kind != "evm" or spec.url == "embedded":
        raise ConfigError(f"ledger {spec.name!r} is not an EVM reached by JSON-RPC: nothing to "
                          "fund (the embedded EVM funds its own accounts)")
    w3 = rpc_web3(spec.url)
    with spinner("sending on L1 (waiting for the transaction to be mined)", show=not as_json):
        receipt = send_transaction(w3, int(w3.eth.chain_id), key,
                                   {"to": w3.to_checksum_address(recipient), "value": value,
                                    "gas": 21_000}, f"funding {to}")
    balance = int(w3.eth.get_balance(w3.to_checksum_address(recipient)))
    tx_hash = to_hex(bytes(receipt["transactionHash"]))
    emit({"l1_tx": tx_hash, "to": to_hex(recipient), "amount": str(value),
          "balance": str(balance)}, as_json,
         f"sent {show_wei(value)} to {to_hex(recipient)} on L1 (tx {tx_hash}); it holds "
         f"{show_wei(balance)}")


def read_key_source(source: str) -> bytes:
    """A key given as `env:VAR` or a key file's path. A raw key is refused: the command line
    is visible to every user of the machine (ps) and lands in shell histories."""
    if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", source):
        raise InvalidInput("a private key on the command line is readable by every user of the "
                           "machine: pass a key file, or env:VAR naming an environment variable")
    if source.startswith("env:"):
        return read_key_env(source.removeprefix("env:"))
    return read_key_file(Path(source))


@l1_app.command("bond")
@command
def l1_bond(
    ledger: str = LedgerOption,
    top_up: str | None = typer.Option(None, "--top-up", help="Pay this much into the bond "
                                      "first (wei, or e.g. 1eth)."),
    key: str | None = typer.Option(None, "--key", help="Key that pays the top-up (default: "
                                   "the ledger's sequencer key; anyone may pay)."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """The sequencer's bond and the minimum it must hold to post batches. A successful fraud
    proof pays the whole bond to the challenger: the rollup refuses batches until it is
    topped up (--top-up)."""
    amount = None if top_up is None else parse_amount(top_up)  # refuse a bad amount first
    if amount == 0:
        raise InvalidInput("--top-up must pay more than 0 wei")
    handle = open_evm(home, ledger)
    data: dict[str, Any] = {"ledger": ledger}
    if amount is not None:
        payer = load_key(home, key or ledger_spec(home, ledger).sequencer_key)
        data["top_up_tx"] = to_hex(handle.top_up_bond(amount, payer))
        data["top_up"] = str(amount)
    bond = handle.bond()
    data |= {"bond": str(bond.amount), "min_bond": str(bond.minimum),
             "can_post": not bond.is_short}
    lines = [f"bond       {show_wei(bond.amount)}", f"min bond   {show_wei(bond.minimum)}",
             "posting    " + ("possible" if not bond.is_short else
                              "REFUSED: the bond is short by "
                              f"{show_wei(bond.minimum - bond.amount)}"
                              f" (top it up: flavum l1 bond --ledger {ledger} --top-up "
                              f"{bond.minimum - bond.amount})")]
    if amount is not None:
        lines.insert(0, f"topped up  {show_wei(amount)} (L1 tx {data['top_up_tx']})")
    emit(data, as_json, "\n".join(lines))


@l1_app.command("roles")
@command
def l1_roles(ledger: str = LedgerOption, home: Path = HomeOption,
             as_json: bool = JsonOption) -> None:
    """The rollup's admin and sequencer, a pending sequencer rotation, and whether this home's
    sequencer key may post."""
    show_roles(open_evm(home, ledger), home, ledger, as_json)


@l1_app.command("rotate-sequencer")
@command
def l1_rotate_sequencer(
    to: str | None = typer.Option(None, "--to", help="Propose this address (or key name) as "
                                  "the sequencer."),
    cancel: bool = typer.Option(False, "--cancel", help="Withdraw the pending proposal."),
    activate: bool = typer.Option(False, "--activate", help="Activate the proposed sequencer, "
                                  "once its delay is over (anyone may)."),
    admin_key: str | None = typer.Option(
        None, "--admin-key", help="The admin's key (it also pays --activate, which anyone "
        "may send): a key file, or env:VAR for an environment variable; never the key itself "
        "(default: the ledger's sequencer key, the deployer's)."),
    ledger: str = LedgerOption, home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Replace the sequencer (the admin's one power): propose one (--to), which takes over
    only after the rotation delay, longer than the forced and challenge windows so users can
    leave first; withdraw the proposal (--cancel); activate it after the delay (--activate)."""
    if [to is not None, cancel, activate].count(True) != 1:
        raise InvalidInput("give exactly one of --to ADDRESS, --cancel, --activate")
    handle = open_evm(home, ledger)
    key = (read_key_source(admin_key) if admin_key is not None
           else load_key(home, ledger_spec(home, ledger).sequencer_key))
    if to is not None:
        tx = handle.propose_sequencer(resolve_address(home, to), key)
    elif cancel:
        tx = handle.cancel_sequencer(key)
    else:
        tx = handle.activate_sequencer(key)
    show_roles(handle, home, ledger, as_json, {"l1_tx": to_hex(tx)})


def show_roles(handle: Any, home: Path, ledger: str, as_json: bool,
               extra: dict[str, Any] | None = None) -> None:
    roles = handle.sequencer_roles()
    try:
        home_key: Address | None = address_of(load_key(home, ledger_spec(home, ledger)
                                                       .sequencer_key))
    except ConfigError:  # no sequencer key in this home: a user's
        home_key = None
    pending = None if roles.pending is None else {
        "sequencer": to_hex(roles.pending), "at_block": roles.pending_at_block,
        "due": roles.due}
    data = (extra or {}) | {
        "ledger": ledger, "admin": to_hex(roles.admin), "sequencer": to_hex(roles.sequencer),
        "rotation_delay": roles.rotation_delay, "pending": pending, "head": roles.head,
        "home_key": None if home_key is None else to_hex(home_key),
        "home_key_posts": home_key == roles.sequencer}
    lines = [f"admin           {to_hex(roles.admin)}",
             f"sequencer       {to_hex(roles.sequencer)}"
             + ("  (this home's sequencer key)" if home_key == roles.sequencer else ""),
             f"rotation delay  {roles.rotation_delay} blocks"]
    if roles.pending is not None and roles.pending_at_block is not None:
        lines.append(f"PENDING         {to_hex(roles.pending)} takes over from block "
                     f"{roles.pending_at_block} (head {roles.head}): "
                     + ("due, activate it: flavum l1 rotate-sequencer --activate" if roles.due
                        else f"{roles.pending_at_block - roles.head} blocks to go; users who "
                        "would rather leave can withdraw meanwhile"))
    if "l1_tx" in data:
        lines.insert(0, f"sent            L1 tx {data['l1_tx']}")
    emit(data, as_json, "\n".join(lines))


def show_wei(amount: int) -> str:
    """An amount of wei, also in ETH."""
    return f"{amount} wei ({Decimal(amount) / 10**18:f} ETH)"


def send_withdraw(home: Path, node: str | None, sender: str, ledger: str, to: str | None,
                  amount: Amount, object_id: ObjectId, as_json: bool) -> None:
    """Sign a Withdraw and print the withdrawal's id (what `withdraw finalize` takes)."""
    client = client_for(home, node)
    key = load_key(home, sender)
    link = next((entry for entry in client.ledgers() if entry["name"] == ledger), None)
    if link is None:
        raise ConfigError(f"the node posts to no ledger named {ledger!r}")
    recipient = resolve_address(home, to) if to else address_of(key)
    ledger_id = Hash32(from_hex(link["ledger_id"]))
    body = Withdraw(ledger_id, recipient, compute_asset_id(ledger_id), amount, object_id)
    receipt = client.send(key, address_of(key), body)
    withdrawal_id = receipt["withdrawal"]["withdrawal_id"]
    emit({"withdrawal_id": withdrawal_id, "tx_hash": receipt["tx_hash"]}, as_json,
         f"withdrawal {withdrawal_id}")


@withdraw_app.command("coin")
@withdraw_app.command("eth")
@command
def withdraw_eth(
    amount: str = typer.Argument(..., help="Base units (wei, litoshis), or e.g. 0.5eth."),
    to: str | None = typer.Option(
        None, help="L1 recipient (default: the sender's address); on Litecoin the 20-byte "
                   "program of a P2WPKH address, as 0x hex."),
    sender: str = typer.Option("default", "--from", help="Key name (signs on L2)."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Burn the ledger's native coin on L2. On an EVM, claim it with `flavum withdraw
    finalize` once the batch is in; on Litecoin the federation pays it once the batch is final."""
    send_withdraw(home, node, sender, ledger, to, parse_amount(amount), NO_OBJECT, as_json)


@withdraw_app.command("object")
@command
def withdraw_object(
    object_id: str = typer.Argument(..., help="The DATA or RESULT object to take to L1."),
    to: str | None = typer.Option(None, help="L1 recipient (default: the sender's address)."),
    sender: str = typer.Option("default", "--from", help="Key name (signs on L2)."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Burn an object on L2; claim it on L1 as an ERC-721 with `flavum withdraw finalize`."""
    send_withdraw(home, node, sender, ledger, to, Amount(0),
                  ObjectId(parse_id(object_id, "object id")), as_json)


@withdraw_app.command("finalize")
@command
def withdraw_finalize(
    withdrawal_id: str,
    sender: str = L1SenderOption,
    wait: bool = typer.Option(False, "--wait", help="Wait until its batch is sealed, accepted "
                              "on L1 and past its challenge window."),
    timeout: float = typer.Option(600.0, help="Seconds to wait with --wait."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Claim a withdrawal on L1 with its Merkle proof against the accepted batch."""
    client = client_for(home, node)
    hex_id = to_hex(parse_id(withdrawal_id, "withdrawal id"))
    if wait:
        wait_until_payable(client, hex_id, ledger, timeout, show=not as_json)
    data = client.withdrawal_proof(hex_id)
    withdrawal = withdrawal_from_json(data["withdrawal"])
    proof = [Hash32(from_hex(p)) for p in data["proof"]]
    evm = open_evm(home, ledger)
    with spinner("claiming on L1 (waiting for the transaction to be mined)", show=not as_json):
        l1_tx = evm.finalize_withdrawal(withdrawal, data["batch"], data["index"], proof,
                                        load_key(home, sender))
    out: dict[str, Any] = {"l1_tx": to_hex(l1_tx), "batch": data["batch"]}
    text = f"finalized on L1: tx {to_hex(l1_tx)} (batch {data['batch']})"
    if withdrawal.object_id != NO_OBJECT:  # minted as an ERC-721: say where to find it
        out["erc721"] = evm.objects.address
        out["token_id"] = str(int.from_bytes(withdrawal.object_id, "big"))
        text += (f"\n  ERC-721 {out['erc721']} token id {out['token_id']} (object "
                 f"{to_hex(withdrawal.object_id)}), owner {to_hex(withdrawal.recipient)}")
    else:
        text += f"\n  paid {show_wei(withdrawal.amount)} to {to_hex(withdrawal.recipient)}"
    emit(out, as_json, text)


def wait_until_payable(client: Any, withdrawal_id: str, ledger: str, timeout: float,
                       show: bool) -> None:
    """Wait until the withdrawal's batch is sealed, accepted on `ledger` and final there (its
    challenge window over); BatchNotFinal after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with spinner("waiting for the withdrawal's batch", show=show) as note:
        while True:
            try:
                number = client.withdrawal_proof(withdrawal_id)["batch"]
            except NotFound:
                status = "not in a sealed batch yet"
            else:
                post = next((p for p in client.batch(number)["ledgers"] if p["name"] == ledger),
                            None)
                if post is None:
                    raise ConfigError(f"the node posts to no ledger named {ledger!r}")
                if post["state"] == "accepted" and post.get("final", True):
                    return
                status = (f"batch {number}: {post['state']}" if post["state"] != "accepted" else
                          f"batch {number}: accepted, {post['blocks_to_final']} blocks of its "
                          "challenge window left")
            note(status)
            if time.monotonic() > deadline:
                raise BatchNotFinal(f"withdrawal {withdrawal_id} is not payable after "
                                    f"{timeout:.0f} s: {status}")
            time.sleep(0.5)


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


def _describe_fraud(fraud: Fraud) -> str:
    what = (f"transaction {fraud.index}" if fraud.refusal is None else
            f"the refusal of forced request #{fraud.refusal.request_id} at {fraud.index}")
    return (f"batch {fraud.number}: {what} proven fraudulent on chain ({fraud.reason}); the "
            f"batch and every later one are reverted (challenge {to_hex(fraud.challenge_tx)})")


def _describe_queues(q: LedgerQueues) -> list[str]:
    """The inbox and the forced queue as the ledger holds them, overdue items named."""
    waiting = q.deposits - q.deposits_consumed
    overdue = q.overdue_deposits()
    lines = [f"inbox: {q.deposits} deposits, {q.deposits_consumed} taken by batches"
             + (f", {waiting} waiting" if waiting else "")
             + (f"; OVERDUE (older than {q.window} blocks): {', '.join(map(str, overdue))}: "
                "the next batch must take them" if overdue else "")]
    refused = [o for o in q.outcomes if not o.included]
    pending = [r.request_id for r in q.forced if not r.processed]
    late = q.overdue_forced()
    lines.append(
        f"forced requests: {len(q.forced)} queued, {len(q.outcomes) - len(refused)} included"
        + "".join(f"; #{o.request_id} refused in batch {o.batch_number} (invalid when "
                  "processed: re-execute it there to check)" for o in refused)
        + (f"; pending: {', '.join(map(str, pending))}" if pending else "")
        + (f"; OVERDUE (older than {q.window} blocks): {', '.join(map(str, late))}"
           if late else ""))
    return lines


def _queues_json(q: LedgerQueues) -> dict[str, Any]:
    return {"window_blocks": q.window, "deposits": q.deposits,
            "deposits_consumed": q.deposits_consumed, "overdue_deposits": q.overdue_deposits(),
            "forced": [{"request_id": r.request_id, "tx_hash": to_hex(r.tx_hash),
                        "queued_at_block": r.queued_at_block, "processed": r.processed}
                       for r in q.forced],
            "forced_outcomes": [asdict(o) for o in q.outcomes],
            "overdue_forced": q.overdue_forced()}


@command
def verify_batches(
    ledger: str = LedgerOption,
    da: str | None = typer.Option(None, "--da", help="Data store URL (default: the config's "
                                  "data_store); evm-calldata reads the batch transactions."),
    from_batch: int = typer.Option(0, "--from-batch", help="First batch to verify."),
    watch: bool = typer.Option(False, "--watch", help="Keep following new batches."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between polls with --watch."),
    challenge: bool = typer.Option(False, "--challenge", help="On a ledger that settles by "
                                   "fraud proofs: prove the first bad transaction of a bad "
                                   "batch on chain (reverting it; the bond is paid to you)."),
    key: str = typer.Option("default", "--key", help="Key that sends the challenge."),
    models: bool = typer.Option(False, "--models", help="Also re-derive every proven model's "
                                "keys and verifiers from its published graph and settings."),
    srs: Path | None = typer.Option(None, "--srs", help="Your own SRS file (a ceremony's), "
                                    "used wherever a model's binding pins it."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Verify posted batches with no node: data, roots, re-execution, deposits and every proof.
    Prints OK or the exact reason per batch; exit status 1 if any batch failed.
    With --challenge, a bad batch still in its challenge window is also proven fraudulent.
    With --models, each proven model is compiled again from what was published: its vk hash,
    verifier code hash and VKA digest must be the ones its owner committed to."""
    from flavum.l1.factory import open_ledger
    from flavum.ledger_deposits import LedgerDeposits
    from flavum.verifier import LedgerHeaders, Verifier

    config = load_config(home)
    spec = ledger_spec(home, ledger)
    genesis = config.genesis_state
    opened = open_ledger(spec, home, genesis=genesis)
    handle = opened.ledger
    # Deposits count as the node's watcher credits them: this ledger's confirmations.
    deposits = LedgerDeposits(handle, spec.confirmations, opened.start_block)
    store = open_verifier_store(home, da, handle)
    challenger = None
    if challenge:
        if not handle.capabilities.settles_by_fraud_proofs:
            raise ConfigError(f"ledger {spec.name} takes no fraud proofs: nothing to challenge")
        challenger = Challenger(handle, genesis.state(), load_key(home, key))
    reports = []
    frauds: list[Fraud] = []
    if srs is not None and not srs.is_file():
        raise ConfigError(f"no SRS file {srs}")
    with Verifier(LedgerHeaders(handle), store, config.domain, genesis_root=genesis.root,
                  srs_file=srs, deposits=deposits) as verifier:
        stream = (verifier.watch(from_batch, poll_s=poll) if watch
                  else verifier.run(from_batch))
        try:
            for report in stream:
                reports.append(report)
                if watch:  # one line (one JSON object with --json) per batch, as they come
                    print(json.dumps(report.to_json()) if as_json else report.describe(),
                          flush=True)
                if challenger is not None and not report.ok:
                    found = challenger.run()
                    frauds += found
                    for fraud in found if watch else ():
                        print(_describe_fraud(fraud), flush=True)
        except KeyboardInterrupt:
            pass
    failed = [r.number for r in reports if not r.ok]
    summary = (f"{len(reports)} batches verified, {len(failed)} failed"
               + (f": {', '.join(map(str, failed))}" if failed else ""))
    queues = handle.queues() if handle.capabilities.forced_inclusion else None
    checked = _check_models(handle, store, config.domain, srs) if models and not watch else []
    bad_models = [m for m in checked if not m.ok]
    if not watch:
        emit({"ok": not failed and not bad_models, "batches": [r.to_json() for r in reports],
              "models": [m.to_json() for m in checked] if models else None,
              "challenged": [asdict(f) | {"challenge_tx": to_hex(f.challenge_tx)}
                             for f in frauds],
              "queues": None if queues is None else _queues_json(queues)},
             as_json, "\n".join([r.describe() for r in reports] + [summary]
                                + [m.describe() for m in checked]
                                + [_describe_fraud(f) for f in frauds]
                                + ([] if queues is None else _describe_queues(queues))))
    elif not as_json:
        print(summary)
    if failed or bad_models:
        raise typer.Exit(1)


def _check_models(handle: Any, store: Any, domain: Any, srs: Path | None) -> list[Any]:
    """`flavum verify --models`: every proven model re-derived (flavum/model_check.py)."""
    import tempfile

    from flavum.model_check import check_models
    from flavum.verifier import LedgerHeaders

    with tempfile.TemporaryDirectory(prefix="flavum-models-") as tmp:
        return check_models(LedgerHeaders(handle), store, domain, Path(tmp), ledger=handle,
                            srs_file=srs)
