"""`flavum escape`: leave a frozen rollup with nothing but the ledger (flavum/escape.py)."""

from pathlib import Path
from typing import Any

import typer

from flavum.cli_common import (
    HomeOption,
    JsonOption,
    LedgerOption,
    command,
    emit,
    ledger_spec,
    resolve_address,
)
from flavum.core.codec import to_hex
from flavum.core.errors import ConfigError
from flavum.core.transactions import address_of
from flavum.escape import EscapeClaim
from flavum.l1.interface import DepositEvent, EscapeBalance
from flavum.node.config import load_config, load_key


@command
def escape(
    ledger: str = LedgerOption,
    key: str = typer.Option("default", "--key", help="Key whose account leaves; it signs and "
                            "pays the L1 transactions."),
    account: str | None = typer.Option(None, "--account", help="Take out this account's "
                                       "leaves instead (0x address or key name): they pay "
                                       "that account, --key only pays the gas."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be withdrawn "
                                 "(works before the freeze too)."),
    home: Path = HomeOption, as_json: bool = JsonOption,
) -> None:
    """Withdraw everything an account holds from a frozen rollup (no batch accepted for the
    ledger's escape delay): replays the ledger's batches from genesis, then proves each
    balance and DATA/RESULT object of the last final state root and claims it on L1; deposits
    no batch took are refunded. Each leaf pays once, always to its account."""
    from flavum.escape import compute_final_state, execute_escape, plan_escape
    from flavum.l1.factory import open_ledger

    config = load_config(home)
    opened = open_ledger(ledger_spec(home, ledger), home, genesis=config.genesis_state)
    handle = opened.ledger
    if not handle.capabilities.escape_hatch:
        raise ConfigError(f"ledger {ledger} has no escape hatch")
    sender = load_key(home, key)
    who = address_of(sender) if account is None else resolve_address(home, account)
    status = handle.escape_status()
    if not dry_run:
        handle.escape_root()  # NotEscaped before the freeze: says how long to wait
    state = compute_final_state(handle, config.genesis_state.state())
    plan = plan_escape(handle, state, who, opened.start_block)
    sent = {} if dry_run else {s.item: s.tx for s in execute_escape(handle, plan, sender)}
    rows = [_claim_json(c) for c in plan.claims] + [_refund_json(d) for d in plan.refunds]
    for row, item in zip(rows, [*plan.claims, *plan.refunds], strict=True):
        if item in sent:
            row["l1_tx"] = to_hex(sent[item])
    data = {"ledger": ledger, "account": to_hex(who), "escaped": status.escaped,
            "escape_at_block": status.escape_at_block, "blocks_left": status.blocks_left,
            "state_root": to_hex(plan.root), "dry_run": dry_run, "withdrawals": rows}
    emit(data, as_json, _describe(data))


def _claim_json(claim: EscapeClaim) -> dict[str, Any]:
    leaf = claim.leaf
    if isinstance(leaf, EscapeBalance):
        row: dict[str, Any] = {"kind": "balance", "asset": to_hex(leaf.asset),
                               "amount": str(leaf.amount)}
    else:
        row = {"kind": leaf.kind.name.lower(), "object_id": to_hex(leaf.object_id)}
    return row | {"leaf_key": to_hex(claim.key), "status": claim.status}


def _refund_json(deposit: DepositEvent) -> dict[str, Any]:
    return {"kind": "deposit", "index": deposit.index, "token": to_hex(deposit.token),
            "amount": str(deposit.amount), "data_commitment": to_hex(deposit.data_commitment),
            "status": "refundable"}


def _describe(data: dict[str, Any]) -> str:
    if data["escaped"]:
        head = f"the rollup on {data['ledger']} is frozen (escape mode since block " \
               f"{data['escape_at_block']}); state root {data['state_root']}"
    else:
        head = f"the rollup on {data['ledger']} is NOT frozen: escape mode in " \
               f"{data['blocks_left']} blocks (block {data['escape_at_block']}) unless a " \
               "batch is accepted before"
    lines = [head, f"account {data['account']}:"]
    for row in data["withdrawals"]:
        what = (f"{row['amount']} of asset {row['asset']}" if row["kind"] == "balance" else
                f"deposit #{row['index']}: {row['amount']} (token {row['token']})"
                if row["kind"] == "deposit" else f"{row['kind'].upper()} {row['object_id']}")
        done = f"sent: L1 tx {row['l1_tx']}" if "l1_tx" in row else row["status"]
        lines.append(f"  {row['kind']:8} {what}  [{done}]")
    if not data["withdrawals"]:
        lines.append("  nothing to withdraw")
    return "\n".join(lines)
