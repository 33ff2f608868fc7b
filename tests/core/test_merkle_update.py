"""Tests of flavum.core.merkle_update: the state root after one leaf update, from a proof alone.

Each random case (a tree, then a set, insert or delete) is checked against the full tree making
the same change; each tampering with a valid case, and each hand-made non-canonical tree, must
be refused with a reason. tests/l1/test_smt.py runs the very same cases through FlavumSmt.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flavum.core.encoding import compute_smt_leaf_hash, compute_smt_node_hash, keccak256
from flavum.core.merkle import (
    SMT_SIBLING_LEAF,
    SMT_SIBLING_NODE,
    SmtProof,
    SmtSibling,
    SparseMerkleTree,
    verify_smt_proof,
)
from flavum.core.merkle_update import InvalidSmtUpdate, compute_updated_root
from flavum.core.types import ZERO_HASH, Hash32


def h32(i: int) -> Hash32:
    return Hash32(i.to_bytes(32, "big"))


def flip_bit(value: bytes, bit: int) -> Hash32:
    """`value` with bit `bit` (0 = most significant bit of byte 0) inverted."""
    return h32(int.from_bytes(value, "big") ^ (1 << (255 - bit)))


@dataclass(frozen=True)
class UpdateCase:
    """The arguments of compute_updated_root (and of FlavumSmt.update)."""

    root: Hash32
    key: Hash32
    old: Hash32 | None
    new: Hash32 | None
    proof: SmtProof
    sibling: SmtSibling | None


def make_case(tree: SparseMerkleTree, key: Hash32, new: Hash32 | None) -> tuple[UpdateCase, Hash32]:
    """The case of changing `key` to `new` (None: delete), and the root the tree then has."""
    proof, sibling = tree.prove_update(key)
    case = UpdateCase(tree.root(), key, tree.get(key), new, proof, sibling)
    after = tree.copy()
    if new is None:
        after.delete(key)
    else:
        after.set(key, new)
    return case, after.root()


# Random keys part within a few bits; small integers, single bits and near-twins of a few base
# keys share long prefixes (down to the last bit), so leaves sit deep and splits go far down.
_BASE_KEYS = [keccak256(bytes([i])) for i in range(3)]
hash32s = st.binary(min_size=32, max_size=32).map(Hash32)
values = hash32s.filter(lambda v: v != ZERO_HASH)  # zero means "absent" on L1
keys = st.one_of(
    hash32s,
    st.integers(0, 300).map(h32),
    st.integers(0, 255).map(lambda b: h32(1 << b)),
    st.tuples(st.sampled_from(_BASE_KEYS), st.integers(0, 255)).map(lambda t: flip_bit(*t)),
)


@st.composite
def update_cases(draw: st.DrawFn) -> tuple[UpdateCase, Hash32]:
    """A random tree of 0..60 keys, one change to it, and the tree's root after the change."""
    # Hypothesis favours tiny collections: big trees get a strategy of their own.
    items = draw(st.one_of(st.dictionaries(keys, values, max_size=6),
                           st.dictionaries(keys, values, min_size=7, max_size=60)))
    tree = SparseMerkleTree()
    for k, v in items.items():
        tree.set(k, v)
    present = sorted(items)
    # Deletes and inserts have the most branches: drawn the most often.
    if present:
        ops = ["delete", "insert", "set", "delete absent", "same", "delete", "insert"]
    else:
        ops = ["insert", "delete absent", "insert"]
    op = draw(st.sampled_from(ops))
    if op in ("set", "same", "delete"):
        key = draw(st.sampled_from(present))
    else:
        # A near-twin of a present key lands right next to its leaf: a deep split.
        twins = [st.tuples(st.sampled_from(present), st.integers(0, 255)).map(
            lambda t: flip_bit(*t))] if present else []
        key = draw(st.one_of(keys, *twins).filter(lambda k: k not in items))
    new: Hash32 | None = None
    if op in ("set", "insert"):
        new = draw(values)
    elif op == "same":
        new = items[key]
    return make_case(tree, key, new)


def tamperings(case: UpdateCase) -> Iterator[UpdateCase]:
    """Variants of a valid case that L1 can be sent and that must all be refused."""
    proof = case.proof
    siblings = proof.siblings
    # A wrong old value: another value, present for absent, absent for present.
    yield replace(case, old=keccak256(case.old) if case.old else h32(7))
    if case.old is not None:
        yield replace(case, old=None)
        # The key's own leaf passed off as another key's: "absent", so that it would be added.
        yield replace(case, old=None, proof=replace(proof, other_key=case.key,
                                                    other_value_hash=case.old))
    if proof.other_value_hash is not None:
        yield replace(case, proof=replace(proof, other_value_hash=flip_bit(
            proof.other_value_hash, 0)))
    if siblings:
        yield replace(case, proof=replace(proof, siblings=(flip_bit(siblings[0], 7),
                                                           *siblings[1:])))
        yield replace(case, proof=replace(proof, siblings=(*siblings[:-1],
                                                           flip_bit(siblings[-1], 200))))
        yield replace(case, proof=replace(proof, siblings=siblings[:-1]))
    if len(siblings) < 256:
        yield replace(case, proof=replace(proof, siblings=(*siblings, ZERO_HASH)))
    yield replace(case, proof=replace(proof, siblings=(ZERO_HASH,) * 257))
    sibling = case.sibling
    if case.new is None and case.old is not None and sibling is not None:
        other_kind = SMT_SIBLING_NODE if sibling.kind == SMT_SIBLING_LEAF else SMT_SIBLING_LEAF
        yield replace(case, sibling=replace(sibling, kind=other_kind))
        yield replace(case, sibling=replace(sibling, kind=0))
        yield replace(case, sibling=replace(sibling, kind=3))
        yield replace(case, sibling=None)
        yield replace(case, sibling=replace(sibling, a=flip_bit(sibling.a, 255)))
        yield replace(case, sibling=replace(sibling, b=flip_bit(sibling.b, 0)))


def _leaf(key: Hash32, value: Hash32) -> Hash32:
    return compute_smt_leaf_hash(key, value)


_K0, _K1, _TOP, _V = h32(0), h32(1), h32(1 << 255), h32(5)
# Trees no SparseMerkleTree makes, each with a proof that verifies: an update must refuse them.
NON_CANONICAL = [
    # A parent of one leaf: deleting it would leave the parent's hash, not the empty root.
    (UpdateCase(compute_smt_node_hash(_leaf(_K0, _V), ZERO_HASH), _K0, _V, None,
                SmtProof((ZERO_HASH,)), None), "deleted leaf's sibling is empty"),
    # Sibling leaves on the same side (bit 0 of both keys is 0).
    (UpdateCase(compute_smt_node_hash(_leaf(_K0, _V), _leaf(_K1, _V)), _K0, _V, None,
                SmtProof((_leaf(_K1, _V),)), SmtSibling(SMT_SIBLING_LEAF, _K1, _V)),
     "sibling leaf is off its place"),
    # A sibling leaf one level down whose key parts from the key already at bit 0.
    (UpdateCase(compute_smt_node_hash(compute_smt_node_hash(_leaf(_K0, _V), _leaf(_TOP, _V)),
                                      ZERO_HASH), _K0, _V, None,
                SmtProof((ZERO_HASH, _leaf(_TOP, _V))), SmtSibling(SMT_SIBLING_LEAF, _TOP, _V)),
     "sibling leaf is off its place"),
    # "Another leaf" where the key's path goes left, whose key goes right.
    (UpdateCase(compute_smt_node_hash(_leaf(_TOP, _V), ZERO_HASH), _K0, None, _V,
                SmtProof((ZERO_HASH,), _TOP, _V), None), "other leaf is off the key's path"),
]



def _tree(*keys: Hash32) -> SparseMerkleTree:
    tree = SparseMerkleTree()
    for i, key in enumerate(keys):
        tree.set(key, h32(100 + i))
    return tree


# Every branch of the update at the extremes of depth, for Solidity as for Python.
EDGE_CASES = [
    make_case(_tree(), _K0, _V),  # into the empty tree
    make_case(_tree(_K0), _K0, None),  # the lone leaf at the root goes
    make_case(_tree(_K0), _K1, _V),  # split at the last bit: 255 empty siblings above
    make_case(_tree(_K0, _K1), _K1, None),  # the other leaf moves up 255 levels, to the root
    make_case(_tree(_K0, _K1, _TOP), _K1, None),  # ... up to depth 1, beside _TOP
    make_case(_tree(_K0, _K1, _TOP), _TOP, None),  # the sibling is an inner node
    make_case(_tree(_K0, _K1, _TOP), h32(2), _V),  # into an empty subtree at depth 255
    make_case(_tree(_K0, _TOP), h32(3 << 254), _V),  # beside _TOP, parting right below it
    make_case(_tree(_K0, _TOP), h32(1 << 255 | 1), _V),  # beside _TOP, 254 levels below it
    make_case(_tree(_K0, _TOP), _TOP, h32(6)),  # a replace
    make_case(_tree(_K0), _TOP, None),  # deleting an absent key: the path ends at _K0's leaf
    make_case(_tree(_K0, _K1, _TOP), h32(2), None),  # ... ends empty at depth 255
]

CASES = settings(max_examples=200, deadline=None)


# --- valid cases ------------------------------------------------------------------------------


@CASES
@given(update_cases())
def test_updated_root_is_the_trees(case_and_root: tuple[UpdateCase, Hash32]) -> None:
    case, expected = case_and_root
    assert verify_smt_proof(case.root, case.key, case.old, case.proof)
    assert compute_updated_root(case.root, case.key, case.old, case.new, case.proof,
                                case.sibling) == expected


@pytest.mark.parametrize(("case", "expected"), EDGE_CASES)
def test_edge_cases(case: UpdateCase, expected: Hash32) -> None:
    assert compute_updated_root(case.root, case.key, case.old, case.new, case.proof,
                                case.sibling) == expected
    for bad in tamperings(case):
        with pytest.raises(InvalidSmtUpdate):
            compute_updated_root(bad.root, bad.key, bad.old, bad.new, bad.proof, bad.sibling)


def test_keys_parting_at_the_last_bit() -> None:
    tree = SparseMerkleTree()
    tree.set(_K0, _V)
    # Insert next to another leaf: 255 inner nodes with an empty sibling, then the split.
    case, expected = make_case(tree, _K1, h32(6))
    assert case.proof.other_key == _K0 and case.proof.siblings == ()
    assert compute_updated_root(case.root, _K1, None, h32(6), case.proof, None) == expected
    tree.set(_K1, h32(6))
    # Delete one: the other leaf moves up past 255 empty siblings, to the root.
    case, expected = make_case(tree, _K1, None)
    assert len(case.proof.siblings) == 256 and expected == _leaf(_K0, _V)
    assert case.sibling == SmtSibling(SMT_SIBLING_LEAF, _K0, _V)
    assert compute_updated_root(case.root, _K1, h32(6), None, case.proof, case.sibling) == expected


def test_prove_update_gives_the_last_siblings_preimage() -> None:
    tree = SparseMerkleTree()
    assert tree.prove_update(_K0) == (SmtProof(()), None)
    tree.set(_K0, _V)
    assert tree.prove_update(_K0) == (SmtProof(()), None)  # the lone leaf at the root
    tree.set(_TOP, h32(6))
    tree.set(h32(3 << 254), h32(7))
    proof, sibling = tree.prove_update(_K0)
    assert sibling is not None and sibling.kind == SMT_SIBLING_NODE
    assert compute_smt_node_hash(sibling.a, sibling.b) == proof.siblings[-1]
    assert tree.prove_update(_TOP)[1] == SmtSibling(SMT_SIBLING_LEAF, h32(3 << 254), h32(7))
    assert tree.prove_update(h32(2))[1] is None  # absent


def test_no_ops_return_the_root() -> None:
    tree = SparseMerkleTree()
    tree.set(_K0, _V)
    root = tree.root()
    absent = tree.prove(_TOP)
    assert compute_updated_root(root, _TOP, None, None, absent, None) == root
    assert compute_updated_root(root, _K0, _V, _V, tree.prove(_K0), None) == root
    with pytest.raises(InvalidSmtUpdate, match="proof does not match root"):
        compute_updated_root(h32(9), _TOP, None, None, absent, None)  # verified all the same


# --- refusals ---------------------------------------------------------------------------------


@CASES
@given(update_cases())
def test_tampering_is_refused(case_and_root: tuple[UpdateCase, Hash32]) -> None:
    for bad in tamperings(case_and_root[0]):
        with pytest.raises(InvalidSmtUpdate):
            compute_updated_root(bad.root, bad.key, bad.old, bad.new, bad.proof, bad.sibling)


@pytest.mark.parametrize(("case", "reason"), NON_CANONICAL)
def test_non_canonical_trees_are_refused(case: UpdateCase, reason: str) -> None:
    with pytest.raises(InvalidSmtUpdate, match=reason):
        compute_updated_root(case.root, case.key, case.old, case.new, case.proof, case.sibling)


def test_input_without_an_l1_form_is_a_value_error() -> None:
    tree = SparseMerkleTree()
    tree.set(_K0, _V)
    root, proof = tree.root(), tree.prove(_K0)
    with pytest.raises(ValueError, match="pass None"):
        compute_updated_root(root, _K0, _V, ZERO_HASH, proof, None)
    with pytest.raises(ValueError, match="go together"):
        compute_updated_root(root, _TOP, None, _V, replace(tree.prove(_TOP), other_value_hash=None),
                             None)
    with pytest.raises(ValueError, match="32 bytes"):
        compute_updated_root(root, _K0[:31], _V, None, proof, None)  # type: ignore[arg-type]
