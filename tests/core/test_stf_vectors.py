"""State-transition vectors (tests/vectors/stf): the committed JSON is what the core computes,
every case read from its JSON alone replays with flavum.core.stf to the same roots and typed
errors, the cases cover every transaction type and every refusal, and a changed vector fails."""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from flavum.core.transactions import TxType
from tests import vectors_util
from tests.core.stf_cases import all_cases, check_case_files
from tests.core.stf_vectors import (
    STF_DIR,
    Case,
    case_names,
    check_case,
    flip_hex,
    load_case,
    refusal_codes,
)

CASES = all_cases()
# InvalidTransaction subclasses that neither the state transition nor stateless validation
# raises, with the reason.
NOT_STF_ERRORS = {
    "duplicate_transaction": "the sequencer's check for a transaction it already accepted; "
                             "the state transition refuses a replay by its nonce",
}


@pytest.mark.parametrize("stf_case", CASES, ids=lambda c: c.name)
def test_committed_vectors_are_what_the_core_computes(stf_case):
    check_case_files(stf_case)


def test_no_stale_case_directories():
    assert case_names() == sorted(c.name for c in CASES), (
        "tests/vectors/stf holds other cases than tests/core/stf_cases.py defines; "
        "`python -m tests.core.stf_cases --write` rewrites the directory"
    )


@pytest.mark.parametrize("name", case_names())
def test_case_replays_from_its_json(name):
    check_case(load_case(name))


def test_cases_cover_every_type_and_every_refusal():
    cases = [load_case(name) for name in case_names()]
    assert len(cases) >= 40
    accepted_types, refusals = set(), set()
    for case in cases:
        entries = case["transactions"]["transactions"]
        for entry, step in zip(entries, case["expected"]["steps"], strict=True):
            if step["accepted"]:
                accepted_types.add(entry["decoded"]["type"])
            else:
                refusals.add(step["error"])
    assert accepted_types == {t.name for t in TxType}
    assert refusals == refusal_codes() - set(NOT_STF_ERRORS)
    multi = [c for c in cases if len(c["expected"]["steps"]) > 1]
    assert any(c["expected"]["error"] and c["expected"]["error"]["tx"]
               < len(c["expected"]["steps"]) - 1 for c in multi)  # a refusal in the middle


# --- a changed vector fails ------------------------------------------------------------------

KITCHEN_SINK = "seq_every_type"  # deposit, transfer, deploy, data, grant, infer, withdrawals


def _step(case: Case, kind: str) -> dict[str, Any]:
    steps = case["expected"]["steps"]
    if kind == "refused":
        return next(s for s in steps if not s["accepted"])
    return next(s for s in steps if s["accepted"] and s[kind])


def _accepted_infer(case: Case) -> int:
    """The index of the case's first accepted inference."""
    steps = case["expected"]["steps"]
    return next(i for i, s in enumerate(steps) if s["accepted"] and s["trace"])


def _tx(case: Case, index: int) -> dict[str, Any]:
    return case["transactions"]["transactions"][index]


MUTATIONS: dict[str, Callable[[Case], None]] = {
    "pre-state root": lambda c: c["pre_state"].update(root=flip_hex(c["pre_state"]["root"])),
    "pre-state leaf": lambda c: c["pre_state"]["leaves"][0].update(
        value_hash=flip_hex(c["pre_state"]["leaves"][0]["value_hash"])),
    "pre-state balance": lambda c: c["pre_state"]["balances"][0].update(amount="999"),
    "pre-state object": lambda c: c["pre_state"]["objects"][0].update(fee="6"),
    "pre-state grant removed": lambda c: c["pre_state"]["grants"].pop(),
    "intermediate root": lambda c: c["expected"]["steps"][0].update(
        state_root=flip_hex(c["expected"]["steps"][0]["state_root"])),
    "refused step's root": lambda c: _step(c, "refused").update(
        state_root=flip_hex(_step(c, "refused")["state_root"])),
    "post-state root": lambda c: c["expected"].update(
        post_state_root=flip_hex(c["expected"]["post_state_root"])),
    "error code": lambda c: _step(c, "refused").update(error="bad_signature"),
    "first error summary": lambda c: c["expected"]["error"].update(tx=0),
    "refusal made acceptance": lambda c: _step(c, "refused").update(accepted=True),
    "created object id": lambda c: _step(c, "object_id").update(
        object_id=flip_hex(_step(c, "object_id")["object_id"])),
    "trace leaf": lambda c: _step(c, "trace").update(
        trace_leaf=flip_hex(_step(c, "trace")["trace_leaf"])),
    "trace output": lambda c: _step(c, "trace")["trace"]["outputs"].append(1),
    "withdrawal leaf": lambda c: _step(c, "withdrawal").update(
        withdrawal_leaf=flip_hex(_step(c, "withdrawal")["withdrawal_leaf"])),
    "tx root": lambda c: c["expected"]["batch_roots"].update(
        tx_root=flip_hex(c["expected"]["batch_roots"]["tx_root"])),
    "withdrawal root": lambda c: c["expected"]["batch_roots"].update(
        withdrawal_root=flip_hex(c["expected"]["batch_roots"]["withdrawal_root"])),
    "raw signature byte": lambda c: _tx(c, 1).update(raw=flip_hex(_tx(c, 1)["raw"][:-64])
                                                     + _tx(c, 1)["raw"][-64:]),
    "readable amount": lambda c: _tx(c, 1)["decoded"]["body"].update(amount="11"),
    "tx hash": lambda c: _tx(c, 1).update(tx_hash=flip_hex(_tx(c, 1)["tx_hash"])),
    "execution output": lambda c: c["executions"]["executions"][_accepted_infer(c)][
        "outputs"].__setitem__(0, 10),
    "execution commitment": lambda c: c["executions"]["executions"][_accepted_infer(c)].update(
        input_commitment=flip_hex(c["executions"]["executions"][_accepted_infer(c)][
            "input_commitment"])),
    "execution dropped": lambda c: c["executions"]["executions"].__setitem__(
        _accepted_infer(c), None),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_changed_vector_fails(mutation):
    case = load_case(KITCHEN_SINK)
    check_case(case)
    mutated = copy.deepcopy(case)
    MUTATIONS[mutation](mutated)
    assert mutated != case
    with pytest.raises(AssertionError):
        check_case(mutated)


def test_a_stale_committed_vector_fails(tmp_path, monkeypatch):
    """The generator check catches a committed file that differs from what the core computes."""
    stf_case = next(c for c in CASES if c.name == KITCHEN_SINK)
    copy_dir = tmp_path / "stf" / KITCHEN_SINK
    copy_dir.mkdir(parents=True)
    for path in (STF_DIR / KITCHEN_SINK).iterdir():
        copy_dir.joinpath(path.name).write_text(path.read_text())
    monkeypatch.setattr(vectors_util, "VECTORS_DIR", tmp_path)
    monkeypatch.delenv(vectors_util.REGEN_ENV, raising=False)
    check_case_files(stf_case)
    expected = copy_dir / "expected.json"
    expected.write_text(expected.read_text().replace('"nonce_mismatch"', '"not_owner"'))
    with pytest.raises(AssertionError, match="differs from the freshly generated"):
        check_case_files(stf_case)
