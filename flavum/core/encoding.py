"""Canonical encoding and hashing, with domain tags.

Every hash in Flavum is keccak-256 over the Solidity ABI encoding (`abi.encode`) of a domain
tag followed by the fields, so that a contract recomputes the same value with
`keccak256(abi.encode(TAG, ...))`. A tag is itself `keccak256("flavum.<name>")`. For a run of
bytes32 values `abi.encode` is their plain concatenation, which the Merkle code uses directly.
"""

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak as _keccak

from flavum.core.types import Hash32


def keccak256(data: bytes) -> Hash32:
    """keccak-256 of `data` (Ethereum's hash, not SHA3-256)."""
    return Hash32(_keccak(data))


def compute_tag(name: str) -> Hash32:
    """The domain tag for `name`: keccak256("flavum." + name)."""
    return keccak256(b"flavum." + name.encode())


def hash_tagged(tag: Hash32, types: Sequence[str], values: Sequence[Any]) -> Hash32:
    """keccak256(abi.encode(tag, *values)) for ABI `types` of `values`."""
    return keccak256(abi_encode(["bytes32", *types], [tag, *values]))


# Merkle trees (see merkle.py); Solidity mirrors these constants.
SMT_LEAF_TAG = compute_tag("smt.leaf")
SMT_NODE_TAG = compute_tag("smt.node")
TREE_NODE_TAG = compute_tag("tree.node")


def compute_smt_leaf_hash(key: Hash32, value_hash: Hash32) -> Hash32:
    """Hash of a sparse-Merkle-tree leaf: keccak256(abi.encode(SMT_LEAF_TAG, key, value_hash))."""
    return keccak256(SMT_LEAF_TAG + key + value_hash)


def compute_smt_node_hash(left: Hash32, right: Hash32) -> Hash32:
    """Hash of a sparse-Merkle-tree inner node."""
    return keccak256(SMT_NODE_TAG + left + right)


def compute_tree_node_hash(left: Hash32, right: Hash32) -> Hash32:
    """Hash of an inner node of a binary (tx / trace / withdrawal) Merkle tree."""
    return keccak256(TREE_NODE_TAG + left + right)


def encode_address(address: bytes) -> bytes:
    """abi.encode(address): the 20 bytes left-padded to a 32-byte word."""
    return b"\x00" * 12 + address


def encode_uint(value: int) -> bytes:
    """abi.encode(uint256): a 32-byte big-endian word."""
    return value.to_bytes(32, "big")
