"""The state root after one leaf update, from a proof: the reference of FlavumSmt.update.

An L1 fraud proof re-executes one step without the state: it holds the pre-state root and a
proof of the key (merkle.py's `SmtProof`, the verify loop of its module docstring), and must
compute the post-state root that the full tree (`SparseMerkleTree.set` / `delete`) would have.
`compute_updated_root` does so, line for line as the Solidity library does.

Value hashes old and new may be absent (None here, bytes32(0) on L1: real value hashes are
keccak outputs, never zero). `sibling`, needed only to delete, is the preimage of
siblings[n-1] (n = len(siblings)): kind 1 a lone leaf (a = key, b = value hash), kind 2 an
inner node (a = left, b = right). `SparseMerkleTree.prove_update` gives the proof and the
sibling. With climb(m, h) = verify's loop from d = m - 1 down to 0, starting from h::

    bottom = the h that verify starts from for key -> old (rejecting what verify rejects)
    reject if climb(n, bottom) != root
    if old == new: return root                        # a no-op, absent -> absent included
    if new is given:
        if old is given or other_key is not given:    # replace, or fill the empty subtree
            return climb(n, leaf(key, new))
        D = the first bit where key and other_key differ (D >= n: they share n bits)
        h = node(bottom, leaf(key, new)) if bit D of key is 1, else node(leaf(key, new), bottom)
        for d = D - 1 down to n: h = node(h, 0), or node(0, h) if bit d of key is 1
        return climb(n, h)
    if n == 0: return bytes32(0)                      # the lone leaf at the root goes
    reject if siblings[n-1] == 0                      # a parent of one leaf: not canonical
    if kind == 2:
        reject unless node(a, b) == siblings[n-1]
        return climb(n, bytes32(0))                   # the parent keeps the sibling's leaves
    reject unless kind == 1 and leaf(a, b) == siblings[n-1]
    reject unless a shares exactly its first n - 1 bits with key   # a sibling leaf's place
    m = n - 1; while m > 0 and siblings[m-1] == 0: m -= 1   # the lone leaf moves up
    return climb(m, siblings[n-1])

Under a canonical root a proof can only be the key's actual path (preimages are unique, the
tags part leaves from nodes), so the result is the canonical root of the updated tree. The
checks that only a non-canonical tree can fail make such a root a refusal, never a new root.
"""

from flavum.core.encoding import compute_smt_leaf_hash, compute_smt_node_hash
from flavum.core.errors import InvalidProof
from flavum.core.merkle import (
    SMT_DEPTH,
    SMT_SIBLING_LEAF,
    SMT_SIBLING_NODE,
    SmtProof,
    SmtSibling,
    _check_hash32,
    compute_path_root,
    compute_split,
)
from flavum.core.types import ZERO_HASH, Hash32

# What L1 passes when no sibling is needed: a zeroed Sibling, whose kind is neither.
_NO_SIBLING = SmtSibling(0, ZERO_HASH, ZERO_HASH)


class InvalidSmtUpdate(InvalidProof, ValueError):
    """An update proof that `compute_updated_root` refuses, where FlavumSmt.update reverts."""

    code = "invalid_smt_update"


def _shares_prefix(a_int: int, b_int: int, bits: int) -> bool:
    """Do two keys (as integers) agree on their first `bits` bits?"""
    return (a_int ^ b_int) >> (SMT_DEPTH - bits) == 0


def compute_updated_root(
    root: Hash32,
    key: Hash32,
    old_value_hash: Hash32 | None,
    new_value_hash: Hash32 | None,
    proof: SmtProof,
    sibling: SmtSibling | None,
) -> Hash32:
    """The root once `key` goes from `old_value_hash` to `new_value_hash` (None: absent), given
    the key's proof under `root` and, to delete a leaf that has a sibling, the sibling's
    preimage. Raises InvalidSmtUpdate where FlavumSmt.update reverts, ValueError on input that
    has no L1 form (a zero value hash, a half-given other leaf, a field not of 32 bytes)."""
    _check_hash32(root, "root")
    _check_hash32(key, "key")
    for value, name in ((old_value_hash, "old_value_hash"), (new_value_hash, "new_value_hash")):
        if value is not None:
            _check_hash32(value, name)
            if value == ZERO_HASH:  # L1 reads it as absent
                raise ValueError(f"{name} is zero: pass None for an absent key")
    siblings = proof.siblings
    for value in siblings:
        _check_hash32(value, "sibling")
    other_key, other_value_hash = proof.other_key, proof.other_value_hash
    s = sibling if sibling is not None else _NO_SIBLING
    for value, name in ((other_key, "other_key"), (other_value_hash, "other_value_hash"),
                        (s.a, "sibling a"), (s.b, "sibling b")):
        if value is not None:
            _check_hash32(value, name)
    if (other_key is None) != (other_value_hash is None):
        raise ValueError("other_key and other_value_hash go together")
    n = len(siblings)
    if n > SMT_DEPTH:
        raise InvalidSmtUpdate("proof longer than 256")
    key_int = int.from_bytes(key, "big")
    # The bottom of the proven path, as in verify_smt_proof but with a reason for each refusal.
    bottom = ZERO_HASH
    if old_value_hash is not None:
        if other_key is not None:
            raise InvalidSmtUpdate("inclusion proof ends at another leaf")
        bottom = compute_smt_leaf_hash(key, old_value_hash)
    elif other_key is not None and other_value_hash is not None:
        if other_key == key:
            raise InvalidSmtUpdate("other leaf has the key itself")
        if not _shares_prefix(key_int, int.from_bytes(other_key, "big"), n):
            raise InvalidSmtUpdate("other leaf is off the key's path")
        bottom = compute_smt_leaf_hash(other_key, other_value_hash)
    if compute_path_root(key_int, siblings, n, bottom) != root:
        raise InvalidSmtUpdate("proof does not match root")
    if old_value_hash == new_value_hash:
        return root
    if new_value_hash is not None:
        leaf = compute_smt_leaf_hash(key, new_value_hash)
        if old_value_hash is not None or other_key is None:
            # Replace the key's leaf, or fill the empty subtree at depth n.
            return compute_path_root(key_int, siblings, n, leaf)
        # Both leaves go down to the first bit where the keys differ (>= n: they share n bits).
        split = compute_split(key_int, int.from_bytes(other_key, "big"), n, leaf, bottom,
                              ZERO_HASH, compute_smt_node_hash)
        return compute_path_root(key_int, siblings, n, split)
    # Delete: the key's leaf at depth n goes.
    if n == 0:
        return ZERO_HASH
    last = siblings[n - 1]
    # A parent holding one leaf would have collapsed into it: the tree is not canonical.
    if last == ZERO_HASH:
        raise InvalidSmtUpdate("deleted leaf's sibling is empty")
    if s.kind == SMT_SIBLING_NODE:
        if compute_smt_node_hash(s.a, s.b) != last:
            raise InvalidSmtUpdate("sibling is not that inner node")
        # The parent keeps the two or more leaves of the sibling: the leaf's place empties.
        return compute_path_root(key_int, siblings, n, ZERO_HASH)
    if s.kind != SMT_SIBLING_LEAF:
        raise InvalidSmtUpdate("sibling kind is neither leaf nor node")
    if compute_smt_leaf_hash(s.a, s.b) != last:
        raise InvalidSmtUpdate("sibling is not that leaf")
    # A sibling leaf shares the first n - 1 bits with the key and differs at bit n - 1.
    sibling_key_int = int.from_bytes(s.a, "big")
    if not _shares_prefix(sibling_key_int, key_int, n - 1) or _shares_prefix(
        sibling_key_int, key_int, n
    ):
        raise InvalidSmtUpdate("sibling leaf is off its place")
    # Left alone, the sibling leaf moves up past every level whose other child is empty.
    depth = n - 1
    while depth > 0 and siblings[depth - 1] == ZERO_HASH:
        depth -= 1
    return compute_path_root(key_int, siblings, depth, last)
