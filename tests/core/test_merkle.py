"""Tests of flavum.core.merkle: the compact sparse Merkle tree and the binary Merkle tree.

The sparse tree is checked against a small recursive definition written here (the clear path);
proofs are checked for soundness by tampering with every part; and the JSON vectors consumed by
the Solidity tests are regenerated and compared.
"""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flavum.core.encoding import (
    SMT_LEAF_TAG,
    SMT_NODE_TAG,
    TREE_NODE_TAG,
    compute_smt_leaf_hash,
    compute_smt_node_hash,
    compute_tree_node_hash,
    keccak256,
)
from flavum.core.errors import NotFound
from flavum.core.merkle import (
    SmtProof,
    SparseMerkleTree,
    compute_tree_proof,
    compute_tree_root,
    verify_smt_proof,
    verify_tree_proof,
)
from flavum.core.types import ZERO_HASH, Hash32
from tests.vectors_util import check_vectors

# --- helpers ----------------------------------------------------------------------------------


def h32(i: int) -> Hash32:
    """A 32-byte big-endian integer, as a key or value."""
    return Hash32(i.to_bytes(32, "big"))


def flip_bit(value: bytes, bit: int) -> Hash32:
    """`value` with bit `bit` (0 = most significant bit of byte 0) inverted."""
    as_int = int.from_bytes(value, "big") ^ (1 << (255 - bit))
    return h32(as_int)


def key_bit(key: bytes, depth: int) -> int:
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def reference_root(items: dict[Hash32, Hash32], depth: int = 0) -> Hash32:
    """The compact sparse Merkle root by its definition: split the sorted keys on bit `depth`."""
    if not items:
        return ZERO_HASH
    if len(items) == 1:
        [(key, value)] = items.items()
        return compute_smt_leaf_hash(key, value)
    ordered = sorted(items.items())
    left = {k: v for k, v in ordered if key_bit(k, depth) == 0}
    right = {k: v for k, v in ordered if key_bit(k, depth) == 1}
    return compute_smt_node_hash(reference_root(left, depth + 1), reference_root(right, depth + 1))


def build(items: dict[Hash32, Hash32]) -> SparseMerkleTree:
    tree = SparseMerkleTree()
    for key, value in items.items():
        tree.set(key, value)
    return tree


# Keys that exercise deep paths: random keys share few bits, small integers and single bits share
# long prefixes (down to the last bit), and near-twins of a few base keys differ in one bit.
_BASE_KEYS = [keccak256(bytes([i])) for i in range(3)]
hash32s = st.binary(min_size=32, max_size=32).map(Hash32)
keys = st.one_of(
    hash32s,
    st.integers(0, 300).map(h32),
    st.integers(0, 255).map(lambda b: h32(1 << b)),
    st.tuples(st.sampled_from(_BASE_KEYS), st.integers(0, 255)).map(lambda t: flip_bit(*t)),
)
key_value_maps = st.dictionaries(keys, hash32s, max_size=24)

FAST = settings(max_examples=60, deadline=None)


# --- sparse Merkle tree: roots ----------------------------------------------------------------


def test_empty_and_single_leaf() -> None:
    tree = SparseMerkleTree()
    assert tree.root() == ZERO_HASH
    assert len(tree) == 0
    key, value = h32(5), h32(6)
    tree.set(key, value)
    # A lone leaf is the root itself: no inner nodes above it.
    assert tree.root() == compute_smt_leaf_hash(key, value)


def test_two_keys_parting_at_the_last_bit() -> None:
    a, b = h32(0), h32(1)
    tree = build({a: h32(7), b: h32(8)})
    expected = compute_smt_node_hash(
        compute_smt_leaf_hash(a, h32(7)), compute_smt_leaf_hash(b, h32(8))
    )
    for _ in range(255):  # a chain of inner nodes whose other child is empty
        expected = compute_smt_node_hash(expected, ZERO_HASH)
    assert tree.root() == expected
    assert len(tree.prove(a).siblings) == 256


@FAST
@given(key_value_maps)
def test_root_matches_reference(items: dict[Hash32, Hash32]) -> None:
    tree = build(items)
    assert tree.root() == reference_root(items)
    assert len(tree) == len(items)
    assert list(tree.items()) == sorted(items.items())
    for key, value in items.items():
        assert tree.get(key) == value
        assert key in tree


@FAST
@given(key_value_maps, st.data())
def test_root_independent_of_insertion_order(items: dict[Hash32, Hash32], data: Any) -> None:
    order = data.draw(st.permutations(list(items)))
    tree = SparseMerkleTree()
    for i, key in enumerate(order):
        tree.set(key, items[key])
        if i % 3 == 0:
            tree.root()  # interleave hashing with updates: the caches must stay right
    assert tree.root() == build(items).root()


@FAST
@given(key_value_maps, keys, hash32s)
def test_set_then_delete_restores_root(
    items: dict[Hash32, Hash32], extra: Hash32, value: Hash32
) -> None:
    items.pop(extra, None)
    tree = build(items)
    before = tree.root()
    tree.set(extra, value)
    assert tree.root() == reference_root({**items, extra: value})
    tree.delete(extra)
    assert tree.root() == before
    assert len(tree) == len(items)
    assert tree.get(extra) is None


@FAST
@given(key_value_maps, st.data())
def test_deleting_in_any_order_matches_reference(items: dict[Hash32, Hash32], data: Any) -> None:
    tree = build(items)
    tree.root()
    remaining = dict(items)
    for key in data.draw(st.permutations(list(items))):
        tree.delete(key)
        del remaining[key]
        if data.draw(st.booleans()):
            assert tree.root() == reference_root(remaining)
    assert tree.root() == ZERO_HASH
    assert len(tree) == 0


@FAST
@given(key_value_maps, keys, hash32s)
def test_overwrite_and_delete_missing(
    items: dict[Hash32, Hash32], key: Hash32, value: Hash32
) -> None:
    tree = build(items)
    tree.set(key, value)
    tree.set(key, value)
    assert tree.get(key) == value
    assert len(tree) == len({**items, key: value})
    assert tree.root() == reference_root({**items, key: value})
    tree.delete(key)
    root = tree.root()
    tree.delete(key)  # absent now: nothing happens
    assert tree.root() == root


@FAST
@given(key_value_maps, keys, hash32s)
def test_copy_is_independent(items: dict[Hash32, Hash32], key: Hash32, value: Hash32) -> None:
    tree = build(items)
    clone = tree.copy()
    tree.set(key, value)
    assert clone.root() == reference_root(items)
    assert len(clone) == len(items)
    clone.delete(key)
    assert tree.get(key) == value


def test_rejects_malformed_keys() -> None:
    tree = SparseMerkleTree()
    with pytest.raises(ValueError):
        tree.set(Hash32(b"short"), h32(1))
    with pytest.raises(ValueError):
        tree.set(h32(1), Hash32(b"\x00" * 33))
    assert len(tree) == 0


# --- sparse Merkle tree: proofs ---------------------------------------------------------------


def tamper(value: bytes) -> Hash32:
    return Hash32(bytes([value[0] ^ 1]) + value[1:])


@FAST
@given(key_value_maps.filter(bool), st.data())
def test_inclusion_proofs_verify_and_tampering_fails(
    items: dict[Hash32, Hash32], data: Any
) -> None:
    tree = build(items)
    root = tree.root()
    for key, value in items.items():
        proof = tree.prove(key)
        assert proof.other_key is None and proof.other_value_hash is None
        assert verify_smt_proof(root, key, value, proof)
        # Tampered parts.
        assert not verify_smt_proof(tamper(root), key, value, proof)
        assert not verify_smt_proof(root, key, tamper(value), proof)
        assert not verify_smt_proof(
            root, flip_bit(key, data.draw(st.integers(0, 255))), value, proof
        )
        if proof.siblings:
            i = data.draw(st.integers(0, len(proof.siblings) - 1))
            siblings = list(proof.siblings)
            siblings[i] = tamper(siblings[i])
            assert not verify_smt_proof(root, key, value, SmtProof(tuple(siblings)))
            # Dropping or adding a level fails too.
            assert not verify_smt_proof(root, key, value, SmtProof(proof.siblings[1:]))
            assert not verify_smt_proof(root, key, value, SmtProof(proof.siblings[:-1]))
        assert not verify_smt_proof(root, key, value, SmtProof((*proof.siblings, ZERO_HASH)))
        # An inclusion proof is no non-inclusion proof, in either form.
        assert not verify_smt_proof(root, key, None, proof)
        as_other = SmtProof(proof.siblings, other_key=key, other_value_hash=value)
        assert not verify_smt_proof(root, key, None, as_other)
        assert not verify_smt_proof(root, key, value, as_other)


@FAST
@given(key_value_maps, st.lists(keys, min_size=1, max_size=6), st.data())
def test_non_inclusion_proofs_verify_and_tampering_fails(
    items: dict[Hash32, Hash32], candidates: list[Hash32], data: Any
) -> None:
    tree = build(items)
    root = tree.root()
    for key in candidates:
        if key in items:
            continue
        proof = tree.prove(key)
        n = len(proof.siblings)
        assert verify_smt_proof(root, key, None, proof)
        assert not verify_smt_proof(tamper(root), key, None, proof)
        # A non-inclusion proof is no inclusion proof for any value.
        assert not verify_smt_proof(root, key, data.draw(hash32s), proof)
        # The proof does not speak for a key that is present.
        for present in list(items)[:3]:
            assert not verify_smt_proof(root, present, None, proof)
        if n:
            # Another path: flip one of the first n bits of the key.
            other_path_key = flip_bit(key, data.draw(st.integers(0, n - 1)))
            assert not verify_smt_proof(root, other_path_key, None, proof)
            i = data.draw(st.integers(0, n - 1))
            siblings = list(proof.siblings)
            siblings[i] = tamper(siblings[i])
            tampered = SmtProof(tuple(siblings), proof.other_key, proof.other_value_hash)
            assert not verify_smt_proof(root, key, None, tampered)
        if proof.other_key is None:
            assert tree.get(key) is None
            # Claiming some leaf sits where the path ends empty fails.
            fake = SmtProof(proof.siblings, other_key=flip_bit(key, 255), other_value_hash=h32(1))
            assert not verify_smt_proof(root, key, None, fake)
        else:
            assert proof.other_value_hash is not None
            assert items[proof.other_key] == proof.other_value_hash
            bad_value = SmtProof(proof.siblings, proof.other_key, tamper(proof.other_value_hash))
            assert not verify_smt_proof(root, key, None, bad_value)
            bad_other = SmtProof(proof.siblings, tamper(proof.other_key), proof.other_value_hash)
            assert not verify_smt_proof(root, key, None, bad_other)
            # Dropping the other leaf (claiming an empty end) fails.
            assert not verify_smt_proof(root, key, None, SmtProof(proof.siblings))
            # The other leaf's own key may not be proven absent with its own leaf.
            assert not verify_smt_proof(root, proof.other_key, None, proof)


def test_both_kinds_of_non_inclusion() -> None:
    # Keys 0 and 1 part at the last bit, key 2**255 sits alone on the right of the root.
    tree = build({h32(0): h32(10), h32(1): h32(11), h32(1 << 255): h32(12)})
    root = tree.root()
    # Key 2 follows keys 0 and 1 down to depth 254, where its branch is empty.
    empty_end = tree.prove(h32(2))
    assert empty_end.other_key is None and len(empty_end.siblings) == 255
    assert verify_smt_proof(root, h32(2), None, empty_end)
    # Key 2**255 + 1 reaches the lone leaf of key 2**255 at depth 1.
    leaf_end = tree.prove(h32((1 << 255) + 1))
    assert leaf_end.other_key == h32(1 << 255) and len(leaf_end.siblings) == 1
    assert verify_smt_proof(root, h32((1 << 255) + 1), None, leaf_end)
    # The empty tree: every key is absent with an empty proof.
    assert verify_smt_proof(ZERO_HASH, h32(3), None, SparseMerkleTree().prove(h32(3)))
    assert not verify_smt_proof(ZERO_HASH, h32(3), h32(0), SmtProof(()))


@given(st.lists(st.one_of(st.none(), st.integers(), st.binary(max_size=40), hash32s), min_size=6))
@settings(max_examples=200, deadline=None)
def test_verify_smt_proof_never_raises(parts: list[Any]) -> None:
    root, key, value, sibling, other_key, other_value = parts[:6]
    proofs: list[Any] = [
        SmtProof((sibling,), other_key, other_value),
        SmtProof([sibling], other_key, other_value),  # type: ignore[arg-type]
        SmtProof(sibling),
        SmtProof((ZERO_HASH,) * 257),
        sibling,
        None,
    ]
    for proof in proofs:
        result = verify_smt_proof(root, key, value, proof)
        assert isinstance(result, bool)


# --- binary Merkle tree -----------------------------------------------------------------------


def test_tree_root_small_cases() -> None:
    a, b, c = keccak256(b"a"), keccak256(b"b"), keccak256(b"c")
    assert compute_tree_root([]) == ZERO_HASH
    assert compute_tree_root([a]) == a
    assert compute_tree_root([a, b]) == compute_tree_node_hash(a, b)
    assert compute_tree_root([a, b, c]) == compute_tree_node_hash(
        compute_tree_node_hash(a, b), compute_tree_node_hash(c, ZERO_HASH)
    )
    assert compute_tree_proof([a], 0) == ()
    with pytest.raises(NotFound):
        compute_tree_proof([a, b], 2)
    with pytest.raises(NotFound):
        compute_tree_proof([], 0)


nonzero_hash32s = hash32s.filter(lambda h: h != ZERO_HASH)


@settings(max_examples=40, deadline=None)
@given(st.lists(nonzero_hash32s, min_size=1, max_size=40, unique=True), st.data())
def test_tree_proofs_verify_and_tampering_fails(leaves: list[Hash32], data: Any) -> None:
    root = compute_tree_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = compute_tree_proof(leaves, index)
        assert len(proof) == (len(leaves) - 1).bit_length()
        assert verify_tree_proof(root, leaf, index, proof)
        assert not verify_tree_proof(tamper(root), leaf, index, proof)
        assert not verify_tree_proof(root, tamper(leaf), index, proof)
        # Out of range for the proof length, or negative.
        assert not verify_tree_proof(root, leaf, index + (1 << len(proof)), proof)
        assert not verify_tree_proof(root, leaf, -1, proof)
        if proof:
            other_index = data.draw(st.integers(0, (1 << len(proof)) - 1))
            if other_index != index:  # distinct leaves: no two subtrees hash alike
                assert not verify_tree_proof(root, leaf, other_index, proof)
            i = data.draw(st.integers(0, len(proof) - 1))
            siblings = list(proof)
            siblings[i] = tamper(siblings[i])
            assert not verify_tree_proof(root, leaf, index, tuple(siblings))
            assert not verify_tree_proof(root, leaf, index, proof[:-1])


def test_tree_proof_rejects_padding_and_garbage() -> None:
    leaves = [keccak256(bytes([i])) for i in range(3)]
    root = compute_tree_root(leaves)
    # The padding slot at index 3 hashes like a ZERO_HASH leaf: it must not verify.
    assert not verify_tree_proof(
        root, ZERO_HASH, 3, (leaves[2], compute_tree_node_hash(*leaves[:2]))
    )
    proof = compute_tree_proof(leaves, 1)
    assert not verify_tree_proof(root, leaves[1], True, proof)  # bool is no index
    assert not verify_tree_proof(root, leaves[1], 1, None)  # type: ignore[arg-type]
    assert not verify_tree_proof(root, leaves[1], 1, (b"short", proof[1]))  # type: ignore[arg-type]
    assert not verify_tree_proof(root[:31], leaves[1], 1, proof)  # type: ignore[arg-type]
    assert not verify_tree_proof(root, leaves[1], "1", proof)  # type: ignore[arg-type]


# --- vectors for the Solidity tests -----------------------------------------------------------


def hx(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def vector_key(i: int) -> Hash32:
    """keccak256(abi.encode(uint256(i)))."""
    return keccak256(i.to_bytes(32, "big"))


def smt_case(name: str, items: dict[Hash32, Hash32], absent: list[Hash32]) -> dict[str, Any]:
    tree = build(items)
    root = tree.root()
    inclusion = []
    for key, value in items.items():
        proof = tree.prove(key)
        assert verify_smt_proof(root, key, value, proof)
        inclusion.append(
            {"key": hx(key), "value_hash": hx(value), "siblings": [hx(s) for s in proof.siblings]}
        )
    non_inclusion = []
    for key in absent:
        proof = tree.prove(key)
        assert verify_smt_proof(root, key, None, proof)
        non_inclusion.append(
            {
                "key": hx(key),
                "siblings": [hx(s) for s in proof.siblings],
                "other_key": hx(proof.other_key),
                "other_value_hash": hx(proof.other_value_hash),
            }
        )
    return {
        "name": name,
        "entries": [{"key": hx(k), "value_hash": hx(v)} for k, v in items.items()],
        "root": hx(root),
        "inclusion": inclusion,
        "non_inclusion": non_inclusion,
    }


def build_smt_vectors() -> dict[str, Any]:
    cases = []
    for size in (0, 1, 2, 3, 5, 8):
        items = {vector_key(i): vector_key(1000 + i) for i in range(size)}
        absent = [vector_key(100 + j) for j in range(4)]
        cases.append(smt_case(f"keccak_{size}", items, absent))
    deep = {h32(0): h32(10), h32(1): h32(11), h32(1 << 255): h32(12)}
    cases.append(smt_case("deep", deep, [h32(2), h32((1 << 255) + 1), h32(1 << 254)]))
    return {
        "description": (
            "Compact sparse Merkle tree (flavum/core/merkle.py). keccak_<n>: key_i = "
            "keccak256(abi.encode(uint256(i))), value_hash_i = keccak256(abi.encode(uint256(1000 "
            "+ i))), absent keys keccak256(abi.encode(uint256(100 + j))). Siblings are listed "
            "from depth 0 down; other_key/other_value_hash are null when the path of an absent "
            "key ends at an empty subtree."
        ),
        "smt_leaf_tag": hx(SMT_LEAF_TAG),
        "smt_node_tag": hx(SMT_NODE_TAG),
        "cases": cases,
    }


def build_tree_vectors() -> dict[str, Any]:
    cases = []
    for size in (0, 1, 2, 3, 5, 8):
        leaves = [vector_key(i) for i in range(size)]
        root = compute_tree_root(leaves)
        proofs = []
        for index, leaf in enumerate(leaves):
            proof = compute_tree_proof(leaves, index)
            assert verify_tree_proof(root, leaf, index, proof)
            proofs.append({"index": index, "siblings": [hx(s) for s in proof]})
        cases.append(
            {"size": size, "leaves": [hx(x) for x in leaves], "root": hx(root), "proofs": proofs}
        )
    return {
        "description": (
            "Binary Merkle tree (flavum/core/merkle.py): leaf_i = "
            "keccak256(abi.encode(uint256(i))). Siblings are listed bottom-up; bit i of the index "
            "is 1 when the running hash is the right child at level i. An odd last node is "
            "paired with bytes32(0)."
        ),
        "tree_node_tag": hx(TREE_NODE_TAG),
        "cases": cases,
    }


def test_smt_vectors() -> None:
    data = build_smt_vectors()
    kinds = {c["other_key"] is None for case in data["cases"] for c in case["non_inclusion"]}
    assert kinds == {True, False}  # both kinds of non-inclusion are covered
    check_vectors("merkle/smt.json", data)


def test_tree_vectors() -> None:
    check_vectors("merkle/tree.json", build_tree_vectors())
