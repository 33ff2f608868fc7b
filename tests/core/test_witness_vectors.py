"""State-witness vectors (tests/vectors/witness): the committed JSON is what the core computes;
from its JSON alone, each case's pre-state gives the very witness listed, which verifies the
batch from the previous root to the post root; a tampered witness or root is refused."""

import copy
from dataclasses import replace
from typing import Any

import pytest

from flavum.core.codec import to_hex
from flavum.core.errors import StateRootMismatch
from flavum.core.merkle_partial import WitnessIncomplete
from flavum.core.stf import state_transition
from flavum.core.transactions import Transaction, decode_transaction
from flavum.core.witness import (
    InvalidWitness,
    StateWitness,
    verify_batch_transition,
)
from flavum.core.witness_build import (
    compute_batch_access,
    compute_batch_witness,
    compute_state_witness,
)
from flavum.core.witness_codec import witness_from_json, witness_to_json
from tests import vectors_util
from tests.core.stf_vectors import (
    Case,
    case_names,
    check_pre_state,
    flip_hex,
    load_case,
    read_domain,
    read_executions,
    read_hash,
    read_pre_state,
    read_raws,
)
from tests.core.witness_cases import (
    WITNESS_DIR,
    WITNESS_FILES,
    all_witness_cases,
    check_witness_files,
)

CASES = all_witness_cases()


def load(name: str) -> Case:
    return load_case(name, WITNESS_DIR, WITNESS_FILES)


def _txs(case: Case) -> list[Transaction]:
    return [decode_transaction(raw) for raw in read_raws(case)]


def verify(case: Case, witness: StateWitness | None = None, post: str | None = None) -> None:
    """verify_batch_transition of the case (with another witness or post root if given)."""
    roots = case["roots"]
    verify_batch_transition(
        read_domain(case["pre_state"]["domain"]), read_hash(roots["prev_state_root"]),
        witness or witness_from_json(case["witness"]), _txs(case), read_executions(case),
        read_hash(post or roots["post_state_root"]),
    )


def check_witness_case(case: Case) -> None:
    """The core builds the listed witness from the listed pre-state, and it verifies."""
    pre = check_pre_state(case["pre_state"])
    assert to_hex(read_hash(case["pre_state"]["root"])) == case["roots"]["prev_state_root"]
    txs, executions = _txs(case), read_executions(case)
    built = compute_batch_witness(pre, txs, executions)
    assert witness_to_json(built) == case["witness"], "the core builds another witness"
    verify(case)
    state_transition(pre, txs, executions, read_hash(case["roots"]["post_state_root"]))


@pytest.mark.parametrize("witness_case", CASES, ids=lambda c: c.name)
def test_committed_vectors_are_what_the_core_computes(witness_case):
    check_witness_files(witness_case)


def test_no_stale_case_directories():
    assert case_names(WITNESS_DIR) == sorted(c.name for c in CASES), (
        "tests/vectors/witness holds other cases than tests/core/witness_cases.py defines; "
        "`python -m tests.core.witness_cases --write` rewrites the directory"
    )


@pytest.mark.parametrize("name", case_names(WITNESS_DIR))
def test_witness_is_built_and_verifies_from_its_json(name):
    check_witness_case(load(name))


def _without_openings(case: Case) -> StateWitness:
    """The case's witness as it would be if the batch deleted no leaf (no openings)."""
    pre, txs, executions = read_pre_state(case["pre_state"]), _txs(case), read_executions(case)
    access = compute_batch_access(pre, txs, executions)
    return compute_state_witness(pre, replace(access, leaf_updates=(), deleted=frozenset()))


DELETING = ["deleted_balance", "revoked_grant", "withdrawn_object"]


@pytest.mark.parametrize("name", DELETING)
def test_deleting_cases_need_their_openings(name):
    case = load(name)
    bare = _without_openings(case)
    assert witness_to_json(bare) != case["witness"]
    with pytest.raises(WitnessIncomplete):
        verify(case, witness=bare)


# --- a changed vector fails ------------------------------------------------------------------


def _flip_opaque(witness: dict[str, Any]) -> None:
    index = next(i for i, t in enumerate(witness["tree"]) if t.startswith("h"))
    witness["tree"][index] = flip_hex(witness["tree"][index])


def _change_amount(witness: dict[str, Any]) -> None:
    row = next(r for r in witness["balances"] if r[2] != "0")
    row[2] = str(int(row[2]) + 1)


WITNESS_MUTATIONS = {
    "opaque hash": (_flip_opaque, InvalidWitness),
    "entry content": (_change_amount, InvalidWitness),
    "entry dropped": (lambda w: w["nonces"].pop(), WitnessIncomplete),
    "leaf dropped": (lambda w: w["tree"].pop(), InvalidWitness),
}


@pytest.mark.parametrize("mutation", WITNESS_MUTATIONS)
def test_a_changed_witness_fails(mutation):
    case = load("every_type")
    change, error = WITNESS_MUTATIONS[mutation]
    mutated = copy.deepcopy(case)
    change(mutated["witness"])
    with pytest.raises(AssertionError, match="another witness"):
        check_witness_case(mutated)
    with pytest.raises(error):
        verify(mutated)


def test_a_changed_post_root_fails():
    case = load("every_type")
    with pytest.raises(StateRootMismatch):
        verify(case, post=flip_hex(case["roots"]["post_state_root"]))


def test_a_stale_committed_vector_fails(tmp_path, monkeypatch):
    witness_case = next(c for c in CASES if c.name == "every_type")
    copy_dir = tmp_path / "witness" / witness_case.name
    copy_dir.mkdir(parents=True)
    for path in (WITNESS_DIR / witness_case.name).iterdir():
        copy_dir.joinpath(path.name).write_text(path.read_text())
    monkeypatch.setattr(vectors_util, "VECTORS_DIR", tmp_path)
    monkeypatch.delenv(vectors_util.REGEN_ENV, raising=False)
    check_witness_files(witness_case)
    witness = copy_dir / "witness.json"
    witness.write_text(witness.read_text().replace('"e"', '"i"', 1))
    with pytest.raises(AssertionError, match="differs from the freshly generated"):
        check_witness_files(witness_case)
