"""FlavumSmt in the EVM against flavum.core.merkle_update, case for case: the same random
updates give the same root in Solidity as in Python, and every case Python refuses reverts,
with Python's reason."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flavum.core.encoding import SMT_LEAF_TAG, SMT_NODE_TAG
from flavum.core.merkle import SmtProof, SmtSibling, verify_smt_proof
from flavum.core.merkle_update import InvalidSmtUpdate, compute_updated_root
from flavum.core.types import ZERO_HASH, Hash32
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import (
    call_mapped,
    constructor_data,
    embedded_web3,
    load_artifact,
    send_transaction,
)
from tests.core.test_merkle_update import (
    EDGE_CASES,
    NON_CANONICAL,
    UpdateCase,
    tamperings,
    update_cases,
)

from .conftest import DEPLOYER_KEY


@pytest.fixture(scope="module")
def harness():
    w3 = embedded_web3([DEPLOYER_KEY])
    artifact = load_artifact("FlavumSmtHarness")
    data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]), ())
    receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER_KEY, {"data": data, "gas": 3_000_000},
                               "harness")
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]).functions


def proof_arg(proof: SmtProof) -> tuple[list[Hash32], bool, Hash32, Hash32]:
    """FlavumSmt.Proof of an SmtProof."""
    return (list(proof.siblings), proof.other_key is not None, proof.other_key or ZERO_HASH,
            proof.other_value_hash or ZERO_HASH)


def sibling_arg(sibling: SmtSibling | None) -> tuple[int, Hash32, Hash32]:
    """FlavumSmt.Sibling of an SmtSibling: zeroed when there is none."""
    return (sibling.kind, sibling.a, sibling.b) if sibling else (0, ZERO_HASH, ZERO_HASH)


def solidity_update(harness, case: UpdateCase):  # type: ignore[no-untyped-def]
    return harness.update(case.root, case.key, case.old or ZERO_HASH, case.new or ZERO_HASH,
                          proof_arg(case.proof), sibling_arg(case.sibling))


def assert_reverts_like_python(harness, case: UpdateCase) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSmtUpdate) as refused:
        compute_updated_root(case.root, case.key, case.old, case.new, case.proof, case.sibling)
    with pytest.raises(LedgerError) as reverted:
        call_mapped("update", solidity_update(harness, case).call)
    assert reverted.value.reason == f"FlavumSmt: {refused.value}"


def test_tags(harness):
    assert harness.tags().call() == [SMT_LEAF_TAG, SMT_NODE_TAG]


@settings(max_examples=40, deadline=None)
@given(update_cases(), st.data())
def test_update_matches_python(harness, case_and_root: tuple[UpdateCase, Hash32],
                               data: st.DataObject) -> None:
    case, expected = case_and_root
    assert harness.verify(case.root, case.key, case.old or ZERO_HASH,
                          proof_arg(case.proof)).call()
    assert solidity_update(harness, case).call() == expected
    # A random four of the tamperings per case: py-evm is slow.
    for bad in data.draw(st.permutations(list(tamperings(case))))[:4]:
        verified = harness.verify(bad.root, bad.key, bad.old or ZERO_HASH, proof_arg(bad.proof))
        assert verified.call() == verify_smt_proof(bad.root, bad.key, bad.old, bad.proof)
        assert_reverts_like_python(harness, bad)


@pytest.mark.parametrize(("case", "expected"), EDGE_CASES)
def test_edge_cases(harness, case: UpdateCase, expected: Hash32) -> None:
    assert solidity_update(harness, case).call() == expected
    for bad in tamperings(case):
        assert_reverts_like_python(harness, bad)


@pytest.mark.parametrize(("case", "reason"), NON_CANONICAL)
def test_non_canonical_trees_revert(harness, case: UpdateCase, reason: str) -> None:
    assert_reverts_like_python(harness, case)
