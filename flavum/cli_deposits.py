"""`flavum deposit`: users sign their own deposits on L1 into the rollup (ETH, ERC-20 tokens,
data commitments); `--wait` follows a deposit until the node has credited it."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from flavum.cli_common import (
    HomeOption,
    JsonOption,
    L1SenderOption,
    LedgerOption,
    NodeOption,
    client_for,
    command,
    emit,
    ledger_spec,
    one_data_point,
    parse_amount,
    parse_id,
    read_rows,
    resolve_address,
    spinner,
)
from flavum.cli_ledgers import open_evm, show_wei
from flavum.core.codec import from_hex, to_hex
from flavum.core.transactions import address_of
from flavum.core.types import Address, Hash32
from flavum.l1.errors import DepositNotCredited
from flavum.node.config import load_key, native_asset

deposit_app = typer.Typer(help="Deposit on L1 into the rollup (signs on L1).",
                          no_args_is_help=True)


def deposit(home: Path, ledger: str, sender: str, to: str | None, as_json: bool,
            send: Callable[[Any, bytes, Address], Any], extra: dict[str, str] | None = None,
            what: str = "") -> None:
    """Sign a deposit on L1 with the key `sender` for the L2 recipient `to` (default: the
    sender's own address) and print its L1 transaction."""
    key = load_key(home, sender)
    recipient = resolve_address(home, to) if to else address_of(key)
    with spinner("depositing on L1 (waiting for the transaction to be mined)", show=not as_json):
        receipt = send(open_evm(home, ledger), key, recipient)
    tx_hash = to_hex(bytes(receipt["transactionHash"]))
    emit({"l1_tx": tx_hash, **(extra or {}), "recipient": to_hex(recipient)}, as_json,
         f"deposited{' ' + what if what else ''}: L1 tx {tx_hash}")


@deposit_app.command("eth")
@command
def deposit_eth(
    amount: str = typer.Argument(..., help="Wei, or e.g. 1.5eth."),
    to: str | None = typer.Option(None, help="L2 recipient (default: the sender's address)."),
    sender: str = L1SenderOption,
    wait: bool = typer.Option(False, "--wait", help="Wait until the node has credited it."),
    timeout: float = typer.Option(120.0, help="Seconds to wait with --wait."),
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Deposit ETH into the rollup; credited on L2 after the ledger's confirmations (--wait
    for it: the node's watcher credits it once that many blocks are on top; a quiet anvil
    needs `--block-time`)."""
    value = parse_amount(amount)
    if not wait:
        deposit(home, ledger, sender, to, as_json,
                lambda evm, key, recipient: evm.deposit_eth(key, recipient, value))
        return
    client = client_for(home, node)
    recipient = resolve_address(home, to) if to else address_of(load_key(home, sender))
    asset = to_hex(native_asset(ledger))

    def balance() -> int:
        return int(client.account(recipient)["balances"].get(asset, 0))

    before = balance()
    deposit(home, ledger, sender, to, as_json,
            lambda evm, key, recipient: evm.deposit_eth(key, recipient, value))
    confirmations = ledger_spec(home, ledger).confirmations
    deadline = time.monotonic() + timeout
    with spinner(f"waiting for {confirmations} confirmation{'' if confirmations == 1 else 's'}"
                 " and the node's credit", show=not as_json):
        while (now := balance()) < before + value:
            if time.monotonic() > deadline:
                raise DepositNotCredited(
                    f"the deposit is not credited on L2 after {timeout:.0f} s: does the L1 make "
                    f"blocks ({confirmations} must follow it; anvil makes none while idle "
                    "unless started with --block-time)?")
            time.sleep(0.5)
    if not as_json:
        print(f"credited on L2: {to_hex(recipient)} holds {show_wei(now)}")


@deposit_app.command("erc20")
@command
def deposit_erc20(
    token: str = typer.Argument(..., help="The ERC-20 contract address."),
    amount: str = typer.Argument(..., help="Base units of the token."),
    to: str | None = typer.Option(None, help="L2 recipient (default: the sender's address)."),
    sender: str = L1SenderOption,
    ledger: str = LedgerOption, home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Deposit an ERC-20 token (the bridge is approved and pulls it)."""
    deposit(home, ledger, sender, to, as_json,
            lambda evm, key, recipient: evm.deposit_erc20(key, token, parse_amount(amount),
                                                          recipient))


@deposit_app.command("data")
@command
def deposit_data(
    values_file: Path = typer.Argument(..., help="JSON: one row, the input values of one "
                                                 "inference (docs/cli.md#input-files)."),
    model_id: str = typer.Option(..., "--model", help="The model whose input this is."),
    to: str | None = typer.Option(None, help="L2 owner (default: the sender's address)."),
    sender: str = L1SenderOption,
    ledger: str = LedgerOption, home: Path = HomeOption, node: str | None = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Deposit a data point: its commitment goes through L1 and becomes an owned DATA object.
    The node keeps the values (they never go on L1)."""
    rows = read_rows(values_file)
    model_hex = to_hex(parse_id(model_id, "model id"))
    client = client_for(home, node)
    values = one_data_point(rows, values_file.name,
                            client.model(model_hex)["record"]["input_shape"])
    commitment = client.commit_data(model_hex, values)["commitment"]
    deposit(home, ledger, sender, to, as_json,
            lambda evm, key, recipient: evm.deposit_data(key, recipient,
                                                         Hash32(from_hex(commitment))),
            {"commitment": commitment}, f"data {commitment}")
