"""State-transition vectors: their JSON form, and the core's check of a case read from it alone.

A case is a directory tests/vectors/stf/<case>/ of four JSON files (the layout is described in
that directory's README.md): the pre-state entries, the transactions (raw, and readable), the
execution of each inference, and what must happen (the state root after every transaction, or
its typed error code). `tests/core/stf_cases.py` writes them from Python definitions with the
`*_to_json` functions here; the readers here (`load_case`, `read_*`) and `check_case` use
nothing but the JSON, as the verifier's tests and the Solidity one-step executor do.
"""

import argparse
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from flavum.core.batch import (
    TxCommitment,
    compute_batch_header,
    compute_trace_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.codec import (
    execution_from_json,
    execution_to_json,
    from_hex,
    object_from_json,
    object_to_json,
    to_hex,
    trace_to_json,
    withdrawal_to_json,
)
from flavum.core.errors import InvalidTransaction
from flavum.core.merkle import SparseMerkleTree
from flavum.core.state import (
    Domain,
    State,
    compute_account_key,
    compute_balance_key,
    compute_deposit_key,
    compute_grant_key,
    compute_object_key,
    compute_state_root,
    get_leaf_value,
    set_balance,
    set_deposit_applied,
    set_grant,
    set_nonce,
    set_object,
)
from flavum.core.stf import AnyExecution, Outcome, process_transaction, state_transition
from flavum.core.transactions import (
    Transaction,
    compute_signing_hash,
    compute_tx_hash,
    decode_transaction,
)
from flavum.core.types import (
    ZERO_HASH,
    Access,
    Address,
    Amount,
    AssetId,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
)
from tests.vectors_util import REGEN_ENV, VECTORS_DIR

STF_DIR = VECTORS_DIR / "stf"
CASE_FILES = ("pre_state", "transactions", "executions", "expected")

Case = dict[str, Any]  # file stem -> that file's JSON


# --- writing: the JSON forms ---------------------------------------------------------------


def domain_to_json(domain: Domain) -> dict[str, Any]:
    return {"chain_id": str(domain.chain_id), "rollup_id": to_hex(domain.rollup_id)}


def _entry_leaf_keys(state: State) -> list[Hash32]:
    return (
        [compute_account_key(a) for a in state.nonces]
        + [compute_balance_key(a, s) for a, s in state.balances]
        + [compute_object_key(i) for i in state.objects]
        + [compute_grant_key(i, o, g) for i, o, g in state.grants]
        + [compute_deposit_key(e) for e in state.deposits]
    )


def pre_state_to_json(state: State) -> dict[str, Any]:
    """Every entry of `state` (sorted), the tree's leaves they make, and the root."""
    leaves = []
    for key in sorted(_entry_leaf_keys(state)):
        value_hash = get_leaf_value(state, key)
        if value_hash is None:  # an entry written as zero: not a leaf, so not a state entry
            raise ValueError(f"state entry with leaf 0x{key.hex()} is zero")
        leaves.append({"key": to_hex(key), "value_hash": to_hex(value_hash)})
    return {
        "domain": domain_to_json(state.domain),
        "nonces": [{"address": to_hex(a), "nonce": str(n)}
                   for a, n in sorted(state.nonces.items())],
        "balances": [{"address": to_hex(a), "asset": to_hex(s), "amount": str(v)}
                     for (a, s), v in sorted(state.balances.items())],
        "objects": [object_to_json(o) for _, o in sorted(state.objects.items())],
        "grants": [{"object_id": to_hex(i), "owner": to_hex(o), "grantee": to_hex(g)}
                   for i, o, g in sorted(state.grants)],
        "deposits": [to_hex(e) for e in sorted(state.deposits)],
        "leaves": leaves,
        "root": to_hex(compute_state_root(state)),
    }


def _field_to_json(abi_type: str, value: Any) -> Any:
    if abi_type in ("bytes32", "address"):
        return to_hex(value)
    if abi_type == "bool":
        return bool(value)
    if abi_type == "bytes32[]":
        return [to_hex(v) for v in value]
    if abi_type == "uint8":  # the only uint8 of a body is its access mode
        return Access(value).name
    return str(value)


def tx_to_json(tx: Transaction) -> dict[str, Any]:
    """The readable fields of a transaction (what `raw` decodes to)."""
    body = tx.body
    return {
        "type": tx.type.name,
        "chain_id": str(tx.chain_id),
        "rollup_id": to_hex(tx.rollup_id),
        "sender": to_hex(tx.sender),
        "nonce": str(tx.nonce),
        "body": {f.name: _field_to_json(abi_type, getattr(body, f.name))
                 for f, abi_type in zip(fields(body), body.ABI, strict=True)},
        "signature": to_hex(tx.signature),
    }


def tx_entry_to_json(raw: bytes, tx: Transaction | None) -> dict[str, Any]:
    """A transaction as a vector lists it; `tx` is None when `raw` does not decode."""
    return {
        "raw": to_hex(raw),
        "decoded": None if tx is None else tx_to_json(tx),
        "signing_hash": None if tx is None else to_hex(compute_signing_hash(tx)),
        "tx_hash": None if tx is None else to_hex(compute_tx_hash(tx)),
    }


def executions_to_json(executions: list[AnyExecution | None]) -> dict[str, Any]:
    return {"executions": [None if e is None else execution_to_json(e) for e in executions]}


def accepted_step_to_json(state: State, outcome: Outcome) -> dict[str, Any]:
    trace, withdrawal = outcome.trace, outcome.withdrawal
    return {
        "accepted": True,
        "state_root": to_hex(compute_state_root(state)),
        "object_id": None if outcome.object_id is None else to_hex(outcome.object_id),
        "trace": None if trace is None else trace_to_json(trace),
        "trace_leaf": None if trace is None else to_hex(compute_trace_leaf(trace)),
        "withdrawal": None if withdrawal is None else withdrawal_to_json(withdrawal),
        "withdrawal_leaf": None if withdrawal is None
        else to_hex(compute_withdrawal_leaf(withdrawal)),
    }


def rejected_step_to_json(state: State, error: InvalidTransaction) -> dict[str, Any]:
    return {"accepted": False, "error": error.code,
            "state_root": to_hex(compute_state_root(state))}


def expected_to_json(
    description: str, steps: list[dict[str, Any]], tx_hashes: list[str | None]
) -> dict[str, Any]:
    """What must happen: the steps, the final root, the first refusal, and the batch roots of
    the accepted transactions."""
    accepted = [(s, h) for s, h in zip(steps, tx_hashes, strict=True) if s["accepted"]]
    refused = [(i, s["error"]) for i, s in enumerate(steps) if not s["accepted"]]
    return {
        "description": description,
        "steps": steps,
        "post_state_root": steps[-1]["state_root"],
        "error": None if not refused else {"tx": refused[0][0], "code": refused[0][1]},
        "batch_roots": batch_roots([s for s, _ in accepted], [h for _, h in accepted]),
    }


def batch_roots(steps: list[dict[str, Any]], tx_hashes: list[Any]) -> dict[str, str]:
    """The tx, trace and withdrawal roots of a batch of these transactions (flavum.core.batch):
    each one committed with its step's state root and the leaves it emitted."""
    def leaf(value: Any) -> Hash32:
        return ZERO_HASH if value is None else Hash32(from_hex(value, 32))

    commitments = [
        TxCommitment(leaf(tx_hash), leaf(step["state_root"]), leaf(step.get("withdrawal_leaf")),
                     leaf(step.get("trace_leaf")))
        for step, tx_hash in zip(steps, tx_hashes, strict=True)
    ]
    header = compute_batch_header(0, ZERO_HASH, commitments, ZERO_HASH)
    return {"tx_root": to_hex(header.tx_root), "trace_root": to_hex(header.trace_root),
            "withdrawal_root": to_hex(header.withdrawal_root)}


def vectors_main(description: str, directory: Path, checks: dict[str, Callable[[], None]]
                 ) -> None:
    """The command line of a vector generator: check every case (`checks`: case name -> its
    check), or with --write rewrite them and remove the directories of cases that are gone."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help=f"(re)write {directory.name}/")
    if parser.parse_args().write:
        os.environ[REGEN_ENV] = "1"
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            if stale.is_dir() and stale.name not in checks:
                shutil.rmtree(stale)
    for check in checks.values():
        check()


# --- reading --------------------------------------------------------------------------------


def case_names(directory: Path = STF_DIR) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_dir())


def load_case(name: str, directory: Path = STF_DIR, stems: tuple[str, ...] = CASE_FILES
              ) -> Case:
    """The case's files, by stem (a witness case has other files: tests/core/witness_cases.py)."""
    return {stem: json.loads((directory / name / f"{stem}.json").read_text()) for stem in stems}


def _address(text: str) -> Address:
    return Address(from_hex(text, 20))


def read_domain(data: dict[str, Any]) -> Domain:
    return Domain(ChainId(int(data["chain_id"])), read_hash(data["rollup_id"]))


def read_pre_state(pre: dict[str, Any]) -> State:
    """The state holding exactly the listed entries, written with the state's own setters."""
    state = State(read_domain(pre["domain"]))
    for entry in pre["nonces"]:
        set_nonce(state, _address(entry["address"]), Nonce(int(entry["nonce"])))
    for entry in pre["balances"]:
        set_balance(state, _address(entry["address"]), AssetId(read_hash(entry["asset"])),
                    Amount(int(entry["amount"])))
    for entry in pre["objects"]:
        set_object(state, object_from_json(entry))
    for entry in pre["grants"]:
        set_grant(state, ObjectId(read_hash(entry["object_id"])), _address(entry["owner"]),
                  _address(entry["grantee"]), True)
    for event_id in pre["deposits"]:
        set_deposit_applied(state, read_hash(event_id))
    return state


def read_raws(case: Case) -> list[bytes]:
    return [from_hex(entry["raw"]) for entry in case["transactions"]["transactions"]]


def read_executions(case: Case) -> list[AnyExecution | None]:
    return [None if e is None else execution_from_json(e)
            for e in case["executions"]["executions"]]


def read_hash(text: str) -> Hash32:
    """A root, hash or leaf written as 0x-hex."""
    return Hash32(from_hex(text, 32))


def flip_hex(text: str) -> str:
    """`text` (0x-hex) with its last digit changed: a vector's value made wrong, for the
    tests that show a changed vector fails."""
    return text[:-1] + ("1" if text[-1] != "1" else "2")


def refusal_codes() -> set[str]:
    """The code of every refusal of the state transition (InvalidTransaction subclasses in
    flavum.core, the base excluded)."""
    codes, stack = set(), list(InvalidTransaction.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("flavum.core."):
            codes.add(cls.code)
    return codes


# --- the core's check ----------------------------------------------------------------------


def _tables(state: State) -> tuple[Any, ...]:
    return (compute_state_root(state), dict(state.nonces), dict(state.balances),
            dict(state.objects), dict(state.grants), dict(state.deposits))


def check_pre_state(pre: dict[str, Any]) -> State:
    """The pre-state, after checking its leaves and root against its entries."""
    state = read_pre_state(pre)
    leaves = {read_hash(leaf["key"]): read_hash(leaf["value_hash"]) for leaf in pre["leaves"]}
    entries = {key: get_leaf_value(state, key) for key in _entry_leaf_keys(state)}
    assert entries == leaves, "the pre-state's leaves are not the ones its entries make"
    tree = SparseMerkleTree()
    for key, value_hash in leaves.items():
        tree.set(key, value_hash)
    assert tree.root() == read_hash(pre["root"]), "the leaves do not hash to the pre-state root"
    assert compute_state_root(state) == read_hash(pre["root"]), "the entries' root differs"
    return state


def apply_step(state: State, entry: dict[str, Any], execution: AnyExecution | None) -> Any:
    """Decode and apply one listed transaction: its Outcome, or the InvalidTransaction raised
    (the state then unchanged, which is checked)."""
    before = _tables(state)
    try:
        tx = decode_transaction(from_hex(entry["raw"]))
    except InvalidTransaction as exc:
        assert entry["decoded"] is None, "the raw transaction does not decode"
        return exc
    assert tx_to_json(tx) == entry["decoded"], "the readable fields are not what raw decodes to"
    assert to_hex(compute_signing_hash(tx)) == entry["signing_hash"], "signing hash differs"
    assert to_hex(compute_tx_hash(tx)) == entry["tx_hash"], "tx hash differs"
    try:
        return process_transaction(state, tx, execution)
    except InvalidTransaction as exc:
        assert _tables(state) == before, "a refused transaction changed the state"
        return exc


def check_step(state: State, step: dict[str, Any], result: Any, index: int) -> None:
    where = f"transaction {index}"
    root = to_hex(compute_state_root(state))
    said = step["state_root"]
    assert said == root, f"{where}: the state root is {root}, the vector says {said}"
    if isinstance(result, InvalidTransaction):
        assert not step["accepted"], f"{where} is refused ({result.code}: {result})"
        assert step["error"] == result.code, f"{where}: refused with {result.code}"
        assert step["error"] in refusal_codes(), f"{where}: {step['error']} is not a refusal"
        return
    assert step["accepted"], f"{where} is accepted, the vector expects {step.get('error')}"
    assert step == accepted_step_to_json(state, result), f"{where}: its outcome differs"


def check_case(case: Case) -> None:
    """Apply the case with flavum.core.stf from its JSON alone and check every root, outcome
    and error code; then the block view: `state_transition` of the accepted transactions."""
    state = check_pre_state(case["pre_state"])
    entries = case["transactions"]["transactions"]
    executions = read_executions(case)
    expected = case["expected"]
    steps = expected["steps"]
    assert len(entries) == len(executions) == len(steps) > 0, "one step per transaction"
    accepted: list[tuple[Transaction, AnyExecution | None]] = []
    for index, (entry, execution, step) in enumerate(zip(entries, executions, steps,
                                                         strict=True)):
        result = apply_step(state, entry, execution)
        check_step(state, step, result, index)
        if not isinstance(result, InvalidTransaction):
            accepted.append((decode_transaction(from_hex(entry["raw"])), execution))
    hashes = [e["tx_hash"] for e in entries]
    assert expected == expected_to_json(expected["description"], steps, hashes), (
        "post_state_root, error or batch_roots is not what the steps give"
    )
    fresh = read_pre_state(case["pre_state"])
    state_transition(fresh, [tx for tx, _ in accepted], [ex for _, ex in accepted],
                     read_hash(expected["post_state_root"]))
