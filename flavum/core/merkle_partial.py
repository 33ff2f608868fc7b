"""A partial sparse Merkle tree: the state tree with only some paths known, the rest opaque.

It is the tree a state witness carries. It is built from merkle.py's node classes and helpers
(one implementation of leaves, inner nodes, key bits, splits and copies), with one more node
kind: `SmtOpaque`, a non-empty subtree known only by its hash. It follows the full tree's rules
exactly (same layout, same hashes), so its root after any updates is the root the full tree
would have. An operation that needs to see inside an opaque subtree asks an opener (the node
side, which has the full pre-state) or, without one (the verifier), raises WitnessIncomplete.
"""

from collections.abc import Callable
from typing import Any

from flavum.core.errors import FlavumError
from flavum.core.merkle import (
    PartialSmtNode,
    SmtInner,
    SmtLeaf,
    SmtOpaque,
    SmtProof,
    SparseMerkleTree,
    compute_key_bit,
    compute_subtree_hash,
    copy_subtree,
    remove_leaf,
    split_leaves,
)
from flavum.core.types import ZERO_HASH, Hash32


class WitnessIncomplete(FlavumError):
    """Re-execution needs a state entry or a tree node that the witness does not give."""

    code = "witness_incomplete"


# Given a position (any key whose path goes there, as an integer, and a depth), the node
# there opened one level: a leaf, None, or an inner node whose children are opaque or empty.
Opener = Callable[[int, int], PartialSmtNode]

_Path = list[tuple[SmtInner[PartialSmtNode], int]]  # inner nodes on a path, bit taken at each


def closed_subtree(hash: Hash32) -> PartialSmtNode:
    """The subtree with this hash, unopened."""
    return None if hash == ZERO_HASH else SmtOpaque(hash)


class PartialSparseMerkleTree(SparseMerkleTree):
    """A compact sparse Merkle tree of which only some paths are known; the rest are opaque.

    Opening a subtree through `opener` records its position in `openings`.
    """

    __slots__ = ("_top", "_opener", "openings")

    def __init__(self, top: PartialSmtNode, opener: Opener | None = None) -> None:
        super().__init__()
        self._top = top
        self._opener = opener
        self.openings: list[tuple[int, int]] = []

    def _open(self, path_int: int, depth: int, why: str) -> PartialSmtNode:
        if self._opener is None:
            raise WitnessIncomplete(why)
        self.openings.append((path_int, depth))
        return self._opener(path_int, depth)

    def _descend(self, key: Hash32) -> tuple[_Path, SmtLeaf | None]:
        """The inner nodes on `key`'s path with the bit taken at each, and where it ends."""
        key_int = int.from_bytes(key, "big")
        path: _Path = []
        node = self._top
        while True:
            if isinstance(node, SmtOpaque):
                why = (
                    f"the path of leaf 0x{key.hex()} enters the unopened subtree "
                    f"0x{node.hash.hex()} at depth {len(path)}"
                )
                node = self._open(key_int, len(path), why)
                self._replace(path, node)
                continue
            if not isinstance(node, SmtInner):
                return path, node
            bit = compute_key_bit(key_int, len(path))
            path.append((node, bit))
            node = node.right if bit else node.left

    def _replace(self, path: _Path, node: PartialSmtNode) -> None:
        """Put `node` where `path` ends."""
        if not path:
            self._top = node
            return
        parent, bit = path[-1]
        if bit:
            parent.right = node
        else:
            parent.left = node

    def __len__(self) -> int:
        raise WitnessIncomplete("a partial tree does not know how many leaves it holds")

    def get(self, key: Hash32) -> Hash32 | None:
        _, end = self._descend(key)
        if end is not None and end.key == key:
            return end.value_hash
        return None

    def set(self, key: Hash32, value_hash: Hash32) -> None:
        path, end = self._descend(key)
        for inner, _ in path:
            inner.hash = None
        if end is not None and end.key == key:
            end.value_hash = value_hash
            end.hash = None
            return
        new = SmtLeaf(key, value_hash)
        if end is None:
            self._replace(path, new)
        else:
            self._replace(path, split_leaves(end, new, int.from_bytes(key, "big"), len(path)))

    def delete(self, key: Hash32) -> None:
        path, end = self._descend(key)
        if end is None or end.key != key:
            return
        self._open_lowest_sibling(key, path)
        self._top = remove_leaf(self._top, path)

    def _open_lowest_sibling(self, key: Hash32, path: _Path) -> None:
        """Deleting `key` collapses its path up to the lowest sibling that is not empty: a lone
        leaf moves up, an inner node stays. When that sibling is opaque only an opening tells."""
        for depth in range(len(path) - 1, -1, -1):
            inner, bit = path[depth]
            sibling = inner.left if bit else inner.right
            if isinstance(sibling, SmtOpaque):
                why = (
                    f"deleting leaf 0x{key.hex()} needs the opening of subtree "
                    f"0x{sibling.hash.hex()} at depth {depth + 1}"
                )
                position = int.from_bytes(key, "big") ^ (1 << (255 - depth))
                opened = self._open(position, depth + 1, why)
                if bit:
                    inner.left = opened
                else:
                    inner.right = opened
            if sibling is not None:
                return

    def root(self) -> Hash32:
        return compute_subtree_hash(self._top)

    def prove(self, key: Hash32) -> SmtProof:
        self.root()
        path, end = self._descend(key)
        siblings = tuple(
            compute_subtree_hash(inner.left if bit else inner.right) for inner, bit in path
        )
        if end is None or end.key == key:
            return SmtProof(siblings=siblings)
        return SmtProof(siblings=siblings, other_key=end.key, other_value_hash=end.value_hash)

    def items(self) -> Any:
        raise WitnessIncomplete("a partial tree cannot list its leaves")

    def copy(self) -> "PartialSparseMerkleTree":
        self.root()
        other = PartialSparseMerkleTree(copy_subtree(self._top), self._opener)
        other.openings = list(self.openings)
        return other
