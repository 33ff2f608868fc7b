"""The independent verifier on the state-transition vectors (tests/vectors/stf): every case, read
from its JSON alone, goes through the verifier's own path (`verify_batch` over published batch
data and a state witness, no node) and gets the verdict the core gives.

Each case is checked as one batch of its accepted transactions (accepted, with the vector's
post-state root and batch roots), as one batch of all of them when some are refused (refused
at the first refusal, with the core's error code), and as one single-transaction batch per
step, from the previous step's root to the step's own (the intermediate roots, and every
refusal on its own). The vectors carry no ZK
proofs: a batch with inferences passes every check up to the proofs and stops there, exactly
because its proofs are missing (the proofs are checked in test_verifier.py).
"""

import copy
from dataclasses import fields

import pytest

from flavum.core.batch import BatchHeader
from flavum.core.codec import to_hex
from flavum.core.errors import InvalidTransaction
from flavum.core.state import Domain, State, compute_state_root
from flavum.core.stf import Execution, compute_deposit_object_id, compute_object_id
from flavum.core.transactions import Transaction, decode_transaction
from flavum.core.types import ZERO_HASH
from flavum.core.witness import (
    StateWitness,
)
from flavum.core.witness_build import (
    BatchAccess,
    compute_batch_witness,
    compute_state_witness,
)
from flavum.da.batch_data import BatchData
from flavum.da.interface import compute_digest
from flavum.da.memory import MemoryStore
from flavum.verifier import BatchReport, verify_batch
from tests.core.stf_vectors import (
    Case,
    apply_step,
    batch_roots,
    case_names,
    flip_hex,
    load_case,
    read_domain,
    read_executions,
    read_hash,
    read_pre_state,
    read_raws,
)

CHECKS_BEFORE_PROOFS = ("data", "header", "domain", "state_root", "tx_root", "trace_root",
                        "withdrawal_root")


def _decode_all(raws: list[bytes]) -> list[Transaction] | None:
    try:
        return [decode_transaction(raw) for raw in raws]
    except InvalidTransaction:
        return None


def _everything(state: State, txs: list[Transaction]) -> BatchAccess:
    """A superset of the entries `txs` can read on `state`: every entry of it, and every
    combination of the addresses and 32-byte values that it and the transactions name.

    (The node's own `compute_batch_access` replays a batch and so needs valid transactions;
    a batch holding a refused one is what a dishonest sequencer would publish.)"""
    addresses = set(state.nonces) | {a for a, _ in state.balances}
    words = set(state.objects) | {s for _, s in state.balances} | set(state.deposits)
    for obj in state.objects.values():
        addresses.add(obj.owner)
        words.update((obj.fee_asset, obj.vk_hash))  # a version names its inference circuit
    for tx in txs:
        addresses.add(tx.sender)
        words.add(compute_object_id(tx.sender, tx.nonce))
        for f, abi_type in zip(fields(tx.body), tx.body.ABI, strict=True):
            value = getattr(tx.body, f.name)
            if abi_type == "address":
                addresses.add(value)
            elif abi_type == "bytes32":
                words.update((value, compute_deposit_object_id(value)))
    return BatchAccess(
        nonces=frozenset(addresses),
        balances=frozenset((a, w) for a in addresses for w in words),
        objects=frozenset(words),
        grants=frozenset((w, o, g) for w in words for o in addresses for g in addresses),
        deposits=frozenset(words),
        leaf_updates=(),
        deleted=frozenset(),
    )


def _witness(state: State, raws: list[bytes], executions: list[Execution | None],
             honest: bool) -> StateWitness:
    txs = _decode_all(raws) or []
    if honest:  # what the node publishes
        return compute_batch_witness(state, txs, executions)
    return compute_state_witness(state, _everything(state, txs))


def _roots(steps: list[dict], tx_hashes: list[str | None]) -> dict[str, str]:
    """The roots a sequencer claims for these steps: each transaction that decodes committed
    with its step's state root and what it emitted."""
    kept = [(step, tx_hash) for step, tx_hash in zip(steps, tx_hashes, strict=True)
            if tx_hash is not None]
    return batch_roots([step for step, _ in kept], [tx_hash for _, tx_hash in kept])


def _verify(domain: Domain, state: State, raws: list[bytes], executions: list[Execution | None],
            claimed_root: str, roots: dict[str, str], honest: bool) -> BatchReport:
    """Publish a batch of `raws` from `state` claiming `claimed_root` and `roots`, as a
    sequencer would, and let the verifier judge it."""
    prev_root = compute_state_root(state)
    tx_root, trace_root, withdrawal_root = (
        read_hash(roots[name]) for name in ("tx_root", "trace_root", "withdrawal_root")
    )
    data = BatchData(
        number=0, prev_state_root=prev_root, state_root=read_hash(claimed_root),
        tx_root=tx_root, trace_root=trace_root, withdrawal_root=withdrawal_root,
        chain_id=domain.chain_id, rollup_id=domain.rollup_id, txs=tuple(raws),
        executions=tuple(executions), witness=_witness(state, raws, executions, honest),
        proofs=(), circuits={}, records={},
    )
    store = MemoryStore()
    store.put(data.to_bytes())
    header = BatchHeader(0, prev_root, data.state_root, tx_root, trace_root, withdrawal_root,
                         compute_digest(data.to_bytes()))
    return verify_batch(header, store, domain, prev_state_root=prev_root)


def _assert_accepted(report: BatchReport, inferences: int, where: str) -> None:
    if inferences == 0:
        assert report.ok, f"{where}: the verifier refuses it: {report.describe()}"
        return
    assert report.checks == CHECKS_BEFORE_PROOFS, f"{where}: {report.describe()}"
    assert report.check == "proofs" and "0 proofs" in (report.reason or ""), where


def _assert_refused(report: BatchReport, code: str, decodes: bool, where: str) -> None:
    assert not report.ok, f"{where}: the verifier accepts a batch the core refuses ({code})"
    assert report.check == ("state_root" if decodes else "tx_root"), f"{where}: {report.check}"
    assert report.code == code, f"{where}: the verifier says {report.code}, the core {code}"


def verify_case(case: Case) -> None:
    """Check the case through the verifier, as one batch and one batch per step."""
    domain = read_domain(case["pre_state"]["domain"])
    raws, executions = read_raws(case), read_executions(case)
    entries = case["transactions"]["transactions"]
    hashes = [e["tx_hash"] for e in entries]
    expected = case["expected"]
    steps = expected["steps"]

    # The accepted transactions as one batch (what the sequencer publishes), with the
    # vector's post-state root and batch roots.
    state = read_pre_state(case["pre_state"])
    kept = [(raw, ex) for raw, ex, s in zip(raws, executions, steps, strict=True)
            if s["accepted"]]
    inferences = sum(1 for s in steps if s.get("trace_leaf"))
    report = _verify(domain, state, [raw for raw, _ in kept], [ex for _, ex in kept],
                     expected["post_state_root"], expected["batch_roots"], honest=True)
    _assert_accepted(report, inferences, "the batch")
    # All of them as one batch: refused at the first refusal, with its code.
    error = expected["error"]
    if error is not None:
        report = _verify(domain, state, raws, executions, expected["post_state_root"],
                         _roots(steps, hashes), honest=False)
        decodes = entries[error["tx"]]["decoded"] is not None
        _assert_refused(report, error["code"], decodes, "the batch with its refusals")

    # One batch per step, from the state the steps before left, to the step's root.
    for index, (raw, execution, step, entry) in enumerate(zip(raws, executions, steps, entries,
                                                             strict=True)):
        where = f"step {index}"
        roots = _roots([step], [entry["tx_hash"]])
        if step["accepted"]:
            report = _verify(domain, state, [raw], [execution], step["state_root"], roots,
                             honest=True)
            _assert_accepted(report, 1 if step["trace_leaf"] else 0, where)
        else:
            report = _verify(domain, state, [raw], [execution], step["state_root"], roots,
                             honest=False)
            _assert_refused(report, step["error"], entry["decoded"] is not None, where)
        apply_step(state, entry, execution)  # the node side moves on to the next step


@pytest.mark.parametrize("name", case_names())
def test_verifier_agrees_with_the_vector(name):
    verify_case(load_case(name))


# --- a changed vector is flagged ---------------------------------------------------------------


def test_a_wrong_intermediate_root_is_flagged():
    case = copy.deepcopy(load_case("seq_deploy_submit_infer"))
    step = case["expected"]["steps"][1]
    step["state_root"] = flip_hex(step["state_root"])
    with pytest.raises(AssertionError, match="step 1: the verifier refuses"):
        verify_case(case)


def test_a_wrong_post_root_is_flagged():
    case = copy.deepcopy(load_case("transfer"))
    case["expected"]["post_state_root"] = flip_hex(case["expected"]["post_state_root"])
    with pytest.raises(AssertionError, match="the batch: the verifier refuses"):
        verify_case(case)


def test_a_wrong_withdrawal_leaf_is_flagged():
    case = copy.deepcopy(load_case("withdraw_balance"))
    step = case["expected"]["steps"][0]
    step["withdrawal_leaf"] = flip_hex(step["withdrawal_leaf"])
    with pytest.raises(AssertionError, match="step 0: the verifier refuses"):
        verify_case(case)


def test_a_wrong_trace_leaf_is_flagged():
    case = copy.deepcopy(load_case("infer_paying_fee"))
    step = case["expected"]["steps"][0]
    step["trace_leaf"] = flip_hex(step["trace_leaf"])
    # The transaction's tx leaf commits its trace leaf: the tx root is the first to differ.
    with pytest.raises(AssertionError, match="step 0: batch 0: FAILED tx_root"):
        verify_case(case)


@pytest.mark.parametrize("root", ["tx_root", "trace_root", "withdrawal_root"])
def test_a_wrong_batch_root_is_flagged(root):
    case = copy.deepcopy(load_case("seq_infer_then_withdraw_result"))
    roots = case["expected"]["batch_roots"]
    roots[root] = flip_hex(roots[root])
    with pytest.raises(AssertionError, match=f"the batch: batch 0: FAILED {root}"):
        verify_case(case)


def test_a_different_error_code_is_flagged():
    case = copy.deepcopy(load_case("not_owner_grant"))
    case["expected"]["error"]["code"] = "no_access"
    with pytest.raises(AssertionError, match="the verifier says not_owner, the core no_access"):
        verify_case(case)


def test_an_accepted_step_turned_refused_is_flagged():
    case = copy.deepcopy(load_case("grant_access"))
    expected, pre_root = case["expected"], case["pre_state"]["root"]
    expected["steps"][0] = {"accepted": False, "error": "not_owner", "state_root": pre_root}
    expected["error"] = {"tx": 0, "code": "not_owner"}
    expected["post_state_root"] = pre_root
    expected["batch_roots"]["tx_root"] = to_hex(ZERO_HASH)  # no accepted transaction
    # The verifier re-executes the grant, finds it valid and the claimed root wrong.
    with pytest.raises(AssertionError, match="says state_root_mismatch, the core not_owner"):
        verify_case(case)
