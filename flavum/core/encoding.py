"""Canonical encoding and hashing, with domain tags.

Every hash in Flavum is keccak-256 over the Solidity ABI encoding (`abi.encode`) of a domain
tag followed by the fields, so that a contract recomputes the same value with
`keccak256(abi.encode(TAG, ...))`. A tag is itself `keccak256("flavum.<name>")`. For a run of
bytes32 values `abi.encode` is their plain concatenation, which the Merkle code uses directly.

`encode_abi` / `decode_abi` implement the subset of the ABI that Flavum uses (static words,
`bytes`, `int256[]`). They are strict (a value out of its type's range, or an encoding that is
not the canonical one, is refused) and several times faster than a general ABI library, which
the sequencer's throughput needs; the tests check them against eth-abi byte for byte.
"""

from collections.abc import Sequence
from typing import Any

from sha3 import keccak_256  # type: ignore[import-untyped]

from flavum.core.types import Hash32


def keccak256(data: bytes) -> Hash32:
    """keccak-256 of `data` (Ethereum's hash, not SHA3-256)."""
    # No Hash32(...) call: NewType costs a call at run time, and this is the hottest function.
    return keccak_256(data).digest()  # type: ignore[no-any-return]


def compute_tag(name: str) -> Hash32:
    """The domain tag for `name`: keccak256("flavum." + name)."""
    return keccak256(b"flavum." + name.encode())


def hash_tagged(tag: Hash32, types: Sequence[str], values: Sequence[Any]) -> Hash32:
    """keccak256(abi.encode(tag, *values)) for ABI `types` of `values`."""
    return keccak256(encode_abi(("bytes32", *types), (tag, *values)))


# Merkle trees (see merkle.py); Solidity mirrors these constants.
SMT_LEAF_TAG = compute_tag("smt.leaf")
SMT_NODE_TAG = compute_tag("smt.node")
TREE_NODE_TAG = compute_tag("tree.node")


def compute_smt_leaf_hash(key: Hash32, value_hash: Hash32) -> Hash32:
    """Hash of a sparse-Merkle-tree leaf: keccak256(abi.encode(SMT_LEAF_TAG, key, value_hash))."""
    return keccak_256(SMT_LEAF_TAG + key + value_hash).digest()  # type: ignore[no-any-return]


def compute_smt_node_hash(left: Hash32, right: Hash32) -> Hash32:
    """Hash of a sparse-Merkle-tree inner node (keccak256 inlined: a state root after every
    transaction hashes about log2(n) of these per write)."""
    return keccak_256(SMT_NODE_TAG + left + right).digest()  # type: ignore[no-any-return]


def compute_tree_node_hash(left: Hash32, right: Hash32) -> Hash32:
    """Hash of an inner node of a binary (tx / trace / withdrawal) Merkle tree."""
    return keccak256(TREE_NODE_TAG + left + right)


def encode_address(address: bytes) -> bytes:
    """abi.encode(address): the 20 bytes left-padded to a 32-byte word."""
    return b"\x00" * 12 + address


def encode_uint(value: int) -> bytes:
    """abi.encode(uint256): a 32-byte big-endian word."""
    return value.to_bytes(32, "big")


WORD = 32


def _encode_word(abi_type: str, value: Any) -> bytes:
    if abi_type == "bytes32":
        if not isinstance(value, bytes) or len(value) != WORD:
            raise ValueError(f"bytes32 needs 32 bytes, got {value!r}")
        return value
    if abi_type == "address":
        if not isinstance(value, bytes) or len(value) != 20:
            raise ValueError(f"address needs 20 bytes, got {value!r}")
        return b"\x00" * 12 + value
    if abi_type == "bool":
        if value not in (True, False):
            raise ValueError(f"bool needs True or False, got {value!r}")
        return encode_uint(int(value))
    if abi_type == "int256":
        if not -(2**255) <= value < 2**255:
            raise ValueError(f"{value} is out of int256 range")
        return int(value).to_bytes(WORD, "big", signed=True)
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:])
        if not isinstance(value, int) or not 0 <= value < 2**bits:
            raise ValueError(f"{value!r} is out of {abi_type} range")
        return encode_uint(int(value))
    raise ValueError(f"unsupported ABI type {abi_type}")


def _decode_word(abi_type: str, word: bytes) -> Any:
    if abi_type == "bytes32":
        return word
    if abi_type == "int256":
        return int.from_bytes(word, "big", signed=True)
    value = int.from_bytes(word, "big")
    if abi_type == "address":
        if value >> 160:
            raise ValueError("address word has non-zero padding")
        return word[12:]
    if abi_type == "bool":
        if value > 1:
            raise ValueError("bool word is neither 0 nor 1")
        return bool(value)
    if abi_type.startswith("uint"):
        if value >> int(abi_type[4:]):
            raise ValueError(f"{value} is out of {abi_type} range")
        return value
    raise ValueError(f"unsupported ABI type {abi_type}")


def encode_abi(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """abi.encode(values) for static word types, `bytes`, `int256[]` and `bytes32[]`."""
    if len(types) != len(values):
        raise ValueError("as many values as types are needed")
    head: list[bytes] = []
    tail: list[bytes] = []
    offset = WORD * len(types)
    for abi_type, value in zip(types, values, strict=True):
        if abi_type == "bytes":
            padding = b"\x00" * (-len(value) % WORD)
            dynamic = encode_uint(len(value)) + bytes(value) + padding
        elif abi_type in ("int256[]", "bytes32[]"):
            item = abi_type[:-2]
            dynamic = encode_uint(len(value)) + b"".join(_encode_word(item, v) for v in value)
        else:
            head.append(_encode_word(abi_type, value))
            continue
        head.append(encode_uint(offset))
        tail.append(dynamic)
        offset += len(dynamic)
    return b"".join(head) + b"".join(tail)


def decode_abi(types: Sequence[str], data: bytes) -> list[Any]:
    """Inverse of `encode_abi`; raises ValueError unless `data` is exactly the canonical
    encoding of some values of `types`."""
    if len(data) < WORD * len(types):
        raise ValueError("data shorter than its head")
    values: list[Any] = []
    for i, abi_type in enumerate(types):
        word = data[WORD * i: WORD * (i + 1)]
        if abi_type not in ("bytes", "int256[]", "bytes32[]"):
            values.append(_decode_word(abi_type, word))
            continue
        offset = int.from_bytes(word, "big")
        if offset + WORD > len(data):
            raise ValueError("dynamic offset points past the end")
        length = int.from_bytes(data[offset: offset + WORD], "big")
        start = offset + WORD
        if abi_type == "bytes":
            if start + length > len(data):
                raise ValueError("bytes run past the end")
            values.append(data[start: start + length])
        else:
            if start + WORD * length > len(data):
                raise ValueError("array runs past the end")
            item = abi_type[:-2]
            values.append([_decode_word(item, data[start + WORD * j: start + WORD * (j + 1)])
                           for j in range(length)])
    if encode_abi(types, values) != data:
        raise ValueError("not the canonical encoding")
    return values
