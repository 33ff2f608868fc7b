"""Merkle trees: a compact sparse Merkle tree for the state, a binary tree for batch roots.

Sparse Merkle tree (state)
==========================
A map from 256-bit keys to 32-byte value hashes, committed by one 32-byte root. It is the
sparse Merkle tree of depth 256 with every subtree that holds at most one leaf collapsed
(the Diem / Jellyfish layout):

- an empty subtree hashes to ZERO_HASH (32 zero bytes);
- a subtree holding exactly one leaf IS that leaf, wherever it sits:
  its hash is `compute_smt_leaf_hash(key, value_hash)`; no inner nodes sit above a lone leaf;
- any other subtree is an inner node: `compute_smt_node_hash(left, right)`.

The path of a key: at depth d (the root is depth 0) bit d of the key, counted from the most
significant bit of byte 0 (bit 0 = key[0] >> 7), chooses the child: 0 = left, 1 = right.
With `k = uint256(key)` that is `(k >> (255 - d)) & 1`. A leaf therefore sits one level below
the longest prefix it shares with any other key: about log2(n) for n random keys.

A proof for `key` lists the hashes of the siblings met on the key's path, depth 0 first,
down to where the path ends: at the key's own leaf (inclusion), at an empty subtree
(non-inclusion, `other_key` is None) or at the lone leaf of another key (non-inclusion,
`other_key` / `other_value_hash` give that leaf).

Verifying, as `verify_smt_proof` does (a Solidity contract implements the same loop)::

    n = len(siblings); reject if n > 256
    if value_hash is given:                        # claim: key -> value_hash
        reject if other_key is given
        h = keccak256(abi.encode(SMT_LEAF_TAG, key, value_hash))
    else if other_key is not given:                # claim: key absent, path ends empty
        h = bytes32(0)
    else:                                          # claim: key absent, another leaf there
        reject if other_key == key
        reject if (uint256(key) ^ uint256(other_key)) >> (256 - n) != 0   # same first n bits
        h = keccak256(abi.encode(SMT_LEAF_TAG, other_key, other_value_hash))
    for d = n - 1 down to 0:                       # bottom-up
        if (uint256(key) >> (255 - d)) & 1 == 1:
            h = keccak256(abi.encode(SMT_NODE_TAG, siblings[d], h))
        else:
            h = keccak256(abi.encode(SMT_NODE_TAG, h, siblings[d]))
    accept iff h == root

(A shift by 256 yields 0 both in Python and in Solidity, so n = 0 needs no special case.)
The domain tags keep a leaf from being passed off as an inner node and back.

Updating one leaf from such a proof, for L1 fraud proofs (FlavumSmt.update), is
merkle_update.py's `compute_updated_root`; `SparseMerkleTree.prove_update` gives its inputs.

Binary Merkle tree (transactions, traces, withdrawals of a batch)
===============================================================
An ordered list of 32-byte leaves. Empty list: ZERO_HASH; one leaf: that leaf. Otherwise each
level pairs neighbours (0,1), (2,3), ... with `compute_tree_node_hash(left, right)`; an odd
last node gets ZERO_HASH as its right sibling. A proof lists the siblings bottom-up.

Verifying, as `verify_tree_proof` does::

    n = len(proof)
    reject if leaf == bytes32(0)          # the padding value: it would "verify" at a padding
                                          # position past the last leaf
    reject if index >> n != 0             # index must fit in n bits (index < 2**n)
    h = leaf
    for i = 0 .. n - 1:                   # bottom-up; bit i of index: 1 = h is the right child
        if (index >> i) & 1 == 1:
            h = keccak256(abi.encode(TREE_NODE_TAG, proof[i], h))
        else:
            h = keccak256(abi.encode(TREE_NODE_TAG, h, proof[i]))
    accept iff h == root

The proof length is not bound to the tree size, so leaves must be domain-tagged hashes of their
content (a withdrawal, a transaction): then no inner node can pose as a leaf of a shorter proof.

Both trees are pure computations: no I/O, no clock, no randomness.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar, cast

from flavum.core.encoding import (
    compute_smt_leaf_hash,
    compute_smt_node_hash,
    compute_tree_node_hash,
)
from flavum.core.errors import NotFound
from flavum.core.types import ZERO_HASH, Hash32

SMT_DEPTH = 256  # bits in a key: the deepest possible leaf sits at depth 256


# --- Sparse Merkle tree ---------------------------------------------------------------------
#
# The node classes and the helpers up to `remove_leaf` are shared with the partial tree of
# merkle_partial.py (one implementation): there a subtree may also be an `SmtOpaque` node.

_C = TypeVar("_C")  # the type of an inner node's children


class SmtLeaf:
    """A lone leaf; `hash` is None until computed and after the value changes."""

    __slots__ = ("hash", "key", "value_hash")

    def __init__(self, key: Hash32, value_hash: Hash32) -> None:
        self.key = key
        self.value_hash = value_hash
        self.hash: Hash32 | None = None


class SmtInner(Generic[_C]):
    """An inner node holding at least two leaves; `hash` is None while dirty."""

    __slots__ = ("hash", "left", "right")

    def __init__(self, left: _C, right: _C) -> None:
        self.left = left
        self.right = right
        self.hash: Hash32 | None = None


class SmtOpaque:
    """A non-empty subtree known only by its hash: a partial tree's, never the full tree's."""

    __slots__ = ("hash",)

    def __init__(self, hash: Hash32) -> None:
        self.hash = hash


# None is an empty subtree. The full tree's nodes are SmtNodes: the types keep opaque nodes out.
SmtNode: TypeAlias = "SmtLeaf | SmtInner[SmtNode] | None"
PartialSmtNode: TypeAlias = "SmtLeaf | SmtInner[PartialSmtNode] | SmtOpaque | None"
_N = TypeVar("_N", SmtNode, PartialSmtNode)  # a helper below serves either tree
_T = TypeVar("_T")


def compute_key_bit(key_int: int, depth: int) -> int:
    """Bit `depth` of a key (as an integer), counted from the most significant bit."""
    return (key_int >> (255 - depth)) & 1


def _check_hash32(value: object, name: str) -> None:
    """Refuse anything but 32 bytes: a short key would silently land on a wrong path."""
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes")


def compute_subtree_hash(node: _N) -> Hash32:
    """Hash of a subtree, recomputing only the dirty nodes and caching the results."""
    if node is None:
        return ZERO_HASH
    if node.hash is not None:
        return node.hash
    if isinstance(node, SmtLeaf):
        node.hash = compute_smt_leaf_hash(node.key, node.value_hash)
    elif isinstance(node, SmtInner):
        left, right = node.left, node.right
        # An empty or clean child answers without a call: after a few writes most children do
        # (the sequencer computes a root after every transaction).
        left_hash = ZERO_HASH if left is None else left.hash or compute_subtree_hash(left)
        right_hash = ZERO_HASH if right is None else right.hash or compute_subtree_hash(right)
        node.hash = compute_smt_node_hash(left_hash, right_hash)
    return node.hash  # an opaque node's hash is always known


def holds_two_leaves(a: _N, b: _N) -> bool:
    """Do two sibling subtrees hold at least two leaves together? An opaque subtree is never
    empty, so it answers when its sibling is not empty; otherwise it must be opened first."""
    if isinstance(a, SmtInner) or isinstance(b, SmtInner):
        return True
    return a is not None and b is not None


def copy_subtree(node: _N) -> _N:
    """Deep copy of a subtree, cached hashes included."""
    if node is None:
        return None
    if isinstance(node, SmtLeaf):
        leaf = SmtLeaf(node.key, node.value_hash)
        leaf.hash = node.hash
        return leaf
    if isinstance(node, SmtInner):
        inner = SmtInner(copy_subtree(node.left), copy_subtree(node.right))
        inner.hash = node.hash
        return inner
    return SmtOpaque(node.hash)


def split_leaves(existing: SmtLeaf, new: SmtLeaf, new_key_int: int, depth: int) -> SmtInner[_N]:
    """The subtree at `depth` holding two leaves whose keys agree on their first `depth` bits
    (see `compute_split`)."""
    leaf: _N = new
    other: _N = existing
    join: Callable[[_N, _N], _N] = SmtInner
    node = compute_split(new_key_int, int.from_bytes(existing.key, "big"), depth, leaf, other,
                         None, join)
    return cast(SmtInner[_N], node)  # made by `join`


def compute_split(
    key_int: int, other_key_int: int, depth: int, leaf: _T, other: _T, empty: _T,
    join: Callable[[_T, _T], _T],
) -> _T:
    """The subtree at `depth` over a leaf and another leaf whose keys agree on their first
    `depth` bits, as nodes or as hashes (`join` makes the parent of two children).

    The inner node with both leaves sits at the first bit where the keys differ; above it, up
    to `depth`, a chain of inner nodes whose other child is `empty`.
    """
    split_depth = SMT_DEPTH - (key_int ^ other_key_int).bit_length()  # first differing bit
    if compute_key_bit(key_int, split_depth):
        node = join(other, leaf)
    else:
        node = join(leaf, other)
    for d in range(split_depth - 1, depth - 1, -1):
        if compute_key_bit(key_int, d):
            node = join(empty, node)
        else:
            node = join(node, empty)
    return node


def remove_leaf(root: _N, path: Sequence[tuple[SmtInner[_N], int]]) -> _N:
    """The root once the leaf that `path` leads to is gone; `path` lists the inner nodes from
    `root` down, with the bit taken at each.

    Going up, a node left with at most one leaf collapses into that leaf (or into nothing); the
    first node that keeps two or more leaves takes the result as its child.
    """
    for inner, _ in path:  # every node on the path changes
        inner.hash = None
    replacement: _N = None
    for inner, bit in reversed(path):
        sibling = inner.left if bit else inner.right
        if holds_two_leaves(sibling, replacement):
            if bit:
                inner.right = replacement
            else:
                inner.left = replacement
            return root
        replacement = replacement if replacement is not None else sibling
    return replacement


@dataclass(frozen=True)
class SmtProof:
    """Siblings on a key's path (depth 0 first), and the other leaf where the path ends there.

    For an inclusion proof and for a non-inclusion proof whose path ends at an empty subtree,
    `other_key` and `other_value_hash` are None.
    """

    siblings: tuple[Hash32, ...]
    other_key: Hash32 | None = None
    other_value_hash: Hash32 | None = None


SMT_SIBLING_LEAF = 1  # SmtSibling.kind of a lone leaf: a = its key, b = its value hash
SMT_SIBLING_NODE = 2  # SmtSibling.kind of an inner node: a = left hash, b = right hash


@dataclass(frozen=True)
class SmtSibling:
    """Preimage of a proof's last sibling (FlavumSmt.Sibling): deleting a leaf needs it."""

    kind: int
    a: Hash32
    b: Hash32


class SparseMerkleTree:
    """Compact sparse Merkle tree, mutable, with cached hashes.

    `set` and `delete` only mark the nodes on the key's path dirty; `root` rehashes each dirty
    node once, so a batch of updates shares the work on the upper levels.
    """

    __slots__ = ("_root", "_size")

    def __init__(self) -> None:
        self._root: SmtNode = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and len(key) == 32 and self.get(Hash32(key)) is not None

    def get(self, key: Hash32) -> Hash32 | None:
        """The value hash stored under `key`, or None."""
        _check_hash32(key, "key")
        key_int = int.from_bytes(key, "big")
        node = self._root
        depth = 0
        while isinstance(node, SmtInner):
            node = node.right if compute_key_bit(key_int, depth) else node.left
            depth += 1
        if node is not None and node.key == key:
            return node.value_hash
        return None

    def set(self, key: Hash32, value_hash: Hash32) -> None:
        """Store `value_hash` under `key` (insert or overwrite)."""
        _check_hash32(key, "key")
        _check_hash32(value_hash, "value_hash")
        key_int = int.from_bytes(key, "big")
        parent: SmtInner[SmtNode] | None = None
        parent_bit = 0
        node = self._root
        depth = 0
        while isinstance(node, SmtInner):
            node.hash = None  # this node's subtree changes
            parent = node
            parent_bit = (key_int >> (255 - depth)) & 1  # compute_key_bit, inlined: hot loop
            node = node.right if parent_bit else node.left
            depth += 1
        replacement: SmtNode
        if node is None:
            replacement = SmtLeaf(key, value_hash)
        elif node.key == key:
            node.value_hash = value_hash
            node.hash = None
            return
        else:
            # Another key's lone leaf sits on the path: both go down to where the keys part.
            replacement = split_leaves(node, SmtLeaf(key, value_hash), key_int, depth)
        self._size += 1
        if parent is None:
            self._root = replacement
        elif parent_bit:
            parent.right = replacement
        else:
            parent.left = replacement

    def delete(self, key: Hash32) -> None:
        """Remove `key`; the root becomes what it would be had the key never been set.

        Deleting a key that is absent does nothing.
        """
        _check_hash32(key, "key")
        key_int = int.from_bytes(key, "big")
        path: list[tuple[SmtInner[SmtNode], int]] = []
        node = self._root
        depth = 0
        while isinstance(node, SmtInner):
            bit = compute_key_bit(key_int, depth)
            path.append((node, bit))
            node = node.right if bit else node.left
            depth += 1
        if node is None or node.key != key:
            return
        self._size -= 1
        self._root = remove_leaf(self._root, path)

    def root(self) -> Hash32:
        """The root hash, rehashing the nodes that changed since the last call."""
        return compute_subtree_hash(self._root)

    def prove(self, key: Hash32) -> SmtProof:
        """Inclusion proof if `key` is set, else a non-inclusion proof."""
        _check_hash32(key, "key")
        self.root()  # every cached hash is fresh from here on
        key_int = int.from_bytes(key, "big")
        siblings: list[Hash32] = []
        node = self._root
        depth = 0
        while isinstance(node, SmtInner):
            if compute_key_bit(key_int, depth):
                siblings.append(compute_subtree_hash(node.left))
                node = node.right
            else:
                siblings.append(compute_subtree_hash(node.right))
                node = node.left
            depth += 1
        if node is None or node.key == key:
            return SmtProof(siblings=tuple(siblings))
        return SmtProof(
            siblings=tuple(siblings), other_key=node.key, other_value_hash=node.value_hash
        )

    def prove_update(self, key: Hash32) -> tuple[SmtProof, SmtSibling | None]:
        """The proof of `key` and what deleting it by `compute_updated_root` also needs: the
        preimage of its last sibling (None if the key is absent or its leaf is the root)."""
        proof = self.prove(key)
        key_int = int.from_bytes(key, "big")
        sibling: SmtNode = None
        node = self._root
        depth = 0
        while isinstance(node, SmtInner):
            if compute_key_bit(key_int, depth):
                sibling, node = node.left, node.right
            else:
                sibling, node = node.right, node.left
            depth += 1
        if sibling is None or node is None or node.key != key:
            return proof, None
        if isinstance(sibling, SmtLeaf):
            return proof, SmtSibling(SMT_SIBLING_LEAF, sibling.key, sibling.value_hash)
        left, right = compute_subtree_hash(sibling.left), compute_subtree_hash(sibling.right)
        return proof, SmtSibling(SMT_SIBLING_NODE, left, right)

    def items(self) -> Iterator[tuple[Hash32, Hash32]]:
        """(key, value_hash) pairs in ascending key order."""
        stack: list[SmtNode] = [self._root]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            if isinstance(node, SmtLeaf):
                yield node.key, node.value_hash
            else:
                stack.append(node.right)  # pushed first, popped after the left subtree
                stack.append(node.left)

    def copy(self) -> "SparseMerkleTree":
        """An independent deep copy (linear in the size: for snapshots, not per transaction)."""
        self.root()  # copy fresh hashes, so neither tree rehashes them
        other = SparseMerkleTree()
        other._root = copy_subtree(self._root)
        other._size = self._size
        return other


def _is_hash32(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


def verify_smt_proof(root: Hash32, key: Hash32, value_hash: Hash32 | None, proof: SmtProof) -> bool:
    """Does `proof` show that `key` maps to `value_hash` (None: that `key` is absent) under
    `root`? Returns False, never raises, on malformed input. See the module docstring."""
    if not (_is_hash32(root) and _is_hash32(key) and isinstance(proof, SmtProof)):
        return False
    siblings = proof.siblings
    if not isinstance(siblings, tuple) or len(siblings) > SMT_DEPTH:
        return False
    if not all(_is_hash32(sibling) for sibling in siblings):
        return False
    other_key = proof.other_key
    other_value_hash = proof.other_value_hash
    key_int = int.from_bytes(key, "big")
    depth = len(siblings)
    current: Hash32
    if value_hash is not None:
        # Inclusion: the path ends at the key's own leaf.
        if not _is_hash32(value_hash):
            return False
        if other_key is not None or other_value_hash is not None:
            return False
        current = compute_smt_leaf_hash(key, value_hash)
    elif other_key is None:
        # Non-inclusion: the path ends at an empty subtree.
        if other_value_hash is not None:
            return False
        current = ZERO_HASH
    else:
        # Non-inclusion: the path ends at another key's lone leaf.
        if other_value_hash is None:
            return False
        if not (_is_hash32(other_key) and _is_hash32(other_value_hash)):
            return False
        if other_key == key:
            return False
        # The other leaf must sit on the key's path: the first `depth` bits agree.
        if (key_int ^ int.from_bytes(other_key, "big")) >> (SMT_DEPTH - depth) != 0:
            return False
        current = compute_smt_leaf_hash(other_key, other_value_hash)
    return compute_path_root(key_int, siblings, depth, current) == root


def compute_path_root(
    key_int: int, siblings: Sequence[Hash32], depth: int, current: Hash32
) -> Hash32:
    """The root above `current`, the node at `depth` on a key's path (the key as an integer):
    hashed up with siblings[depth - 1] down to siblings[0]."""
    for d in range(depth - 1, -1, -1):
        if compute_key_bit(key_int, d):
            current = compute_smt_node_hash(siblings[d], current)
        else:
            current = compute_smt_node_hash(current, siblings[d])
    return current


# --- Binary Merkle tree ---------------------------------------------------------------------


def _compute_parent_level(level: Sequence[Hash32]) -> list[Hash32]:
    """Hash neighbours pairwise; an odd last node is paired with ZERO_HASH."""
    parents = []
    for i in range(0, len(level), 2):
        right = level[i + 1] if i + 1 < len(level) else ZERO_HASH
        parents.append(compute_tree_node_hash(level[i], right))
    return parents


def compute_tree_root(leaves: Sequence[Hash32]) -> Hash32:
    """Root of the binary Merkle tree over `leaves` (ZERO_HASH when empty)."""
    if len(leaves) == 0:
        return ZERO_HASH
    level = list(leaves)
    while len(level) > 1:
        level = _compute_parent_level(level)
    return level[0]


def compute_tree_proof(leaves: Sequence[Hash32], index: int) -> tuple[Hash32, ...]:
    """Siblings, bottom-up, of the leaf at `index`; raises NotFound if there is no such leaf."""
    if not 0 <= index < len(leaves):
        raise NotFound(f"no leaf at index {index} in a tree of {len(leaves)} leaves")
    proof: list[Hash32] = []
    level = list(leaves)
    position = index
    while len(level) > 1:
        sibling_position = position ^ 1
        proof.append(level[sibling_position] if sibling_position < len(level) else ZERO_HASH)
        level = _compute_parent_level(level)
        position >>= 1
    return tuple(proof)


def verify_tree_proof(root: Hash32, leaf: Hash32, index: int, proof: Sequence[Hash32]) -> bool:
    """Is `leaf` at `index` of the binary tree with `root`? False, never raises, on garbage."""
    if not (_is_hash32(root) and _is_hash32(leaf)):
        return False
    # ZERO_HASH is the padding value: it would "verify" at padding positions past the end.
    if leaf == ZERO_HASH:
        return False
    if not isinstance(proof, (tuple, list)) or len(proof) > SMT_DEPTH:
        return False
    if not all(_is_hash32(sibling) for sibling in proof):
        return False
    # bool is an int subclass; True as an index is a caller's mistake, not index 1.
    if not isinstance(index, int) or isinstance(index, bool):
        return False
    # The index must fit in len(proof) bits (a shift by >= 256 gives 0 in Solidity too).
    if index < 0 or index >> len(proof) != 0:
        return False
    current = leaf
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            current = compute_tree_node_hash(sibling, current)
        else:
            current = compute_tree_node_hash(current, sibling)
    return current == root
