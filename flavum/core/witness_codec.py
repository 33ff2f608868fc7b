"""The JSON form of a state witness: `witness_to_json` and its strict inverse `witness_from_json`.

A witness is a dict of JSON values (the caller serializes it)::

    {"version": 1,
     "nonces":   [["0x<address>", "<nonce, decimal>"], ...],          # "0": absent
     "balances": [["0x<address>", "0x<asset>", "<amount, decimal>"], ...],  # "0": absent
     "objects":  [["0x<object id>", null | {"kind": 1, "owner": "0x..", "access": 0,
                   "commitment": "0x..", "metadata_hash": "0x..", "vk_hash": "0x..",
                   "fee_asset": "0x..", "fee": "<decimal>", "model_id": "0x..",
                   "data_id": "0x.."}], ...],
     "grants":   [["0x<object id>", "0x<owner>", "0x<grantee>", true | false], ...],
     "deposits": [["0x<event id>", true | false], ...],
     "tree":     ["i", "e", "h<64 hex: hash>", "l<64 hex: key><64 hex: value hash>", ...]}

Integers are decimal strings (a uint256 does not fit a JSON number everywhere); tree tokens
carry bare lowercase hex to keep the list compact. Reading refuses anything but this canonical
form (one witness, one JSON text) with InvalidWitness.
"""

from dataclasses import fields
from typing import Any, Final

from flavum.core.codec import from_hex, to_hex
from flavum.core.errors import MalformedHex
from flavum.core.state import Object
from flavum.core.transactions import MAX_NONCE
from flavum.core.types import (
    MAX_UINT256,
    Access,
    Address,
    Amount,
    AssetId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)
from flavum.core.witness import InvalidWitness, NodeKind, StateWitness, WitnessNode

WITNESS_VERSION: Final = 1
_FIELDS: Final = {"version", "nonces", "balances", "objects", "grants", "deposits", "tree"}
_OBJECT_HASH_FIELDS: Final = (
    "commitment", "metadata_hash", "vk_hash", "fee_asset", "model_id", "data_id"
)


def witness_to_json(witness: StateWitness) -> dict[str, Any]:
    """A dict of JSON values (see the module docstring); `json.dumps` it to send it."""
    return {
        "version": WITNESS_VERSION,
        "nonces": [[to_hex(a), str(n)] for a, n in witness.nonces],
        "balances": [[to_hex(a), to_hex(s), str(v)] for a, s, v in witness.balances],
        "objects": [
            [to_hex(i), None if o is None else _object_to_json(o)] for i, o in witness.objects
        ],
        "grants": [[to_hex(i), to_hex(o), to_hex(g), bool(v)] for i, o, g, v in witness.grants],
        "deposits": [[to_hex(e), bool(v)] for e, v in witness.deposits],
        "tree": [_node_to_token(node) for node in witness.tree],
    }


def witness_from_json(data: object) -> StateWitness:
    """Inverse of `witness_to_json`; raises InvalidWitness on anything malformed."""
    top = _as_dict(data, "witness")
    if set(top) != _FIELDS:
        raise InvalidWitness(f"malformed witness: fields {sorted(top)}, need {_FIELDS}")
    if top["version"] != WITNESS_VERSION:
        raise InvalidWitness(f"unknown witness version {top['version']!r}")
    nonces = tuple(
        (Address(_bytes(r[0], 20, "address")), Nonce(_uint(r[1], MAX_NONCE, "nonce")))
        for r in _rows(top["nonces"], 2, "nonces")
    )
    balances = tuple(
        (
            Address(_bytes(r[0], 20, "address")),
            AssetId(_bytes(r[1], 32, "asset")),
            Amount(_uint(r[2], MAX_UINT256, "amount")),
        )
        for r in _rows(top["balances"], 3, "balances")
    )
    objects = tuple(_object_row(r) for r in _rows(top["objects"], 2, "objects"))
    grants = tuple(
        (
            ObjectId(_bytes(r[0], 32, "object id")),
            Address(_bytes(r[1], 20, "owner")),
            Address(_bytes(r[2], 20, "grantee")),
            _bool(r[3], "grant"),
        )
        for r in _rows(top["grants"], 4, "grants")
    )
    deposits = tuple(
        (Hash32(_bytes(r[0], 32, "event id")), _bool(r[1], "deposit"))
        for r in _rows(top["deposits"], 2, "deposits")
    )
    tokens = top["tree"]
    if not isinstance(tokens, list):
        raise InvalidWitness("malformed witness: tree must be a list")
    tree = tuple(_node_from_token(token) for token in tokens)
    return StateWitness(nonces, balances, objects, grants, deposits, tree)


def _bytes(value: object, size: int, what: str) -> bytes:
    try:
        return from_hex(value, size, what)
    except MalformedHex as exc:
        raise InvalidWitness(f"malformed witness: {exc}") from exc


def _uint(value: object, maximum: int, what: str) -> int:
    # Canonical decimal only: one witness, one JSON text.
    if not isinstance(value, str) or not value.isdecimal() or not value.isascii():
        raise InvalidWitness(f"malformed witness: {what} must be a decimal string")
    if len(value) > 1 and value[0] == "0":
        raise InvalidWitness(f"malformed witness: {what} has leading zeros")
    number = int(value)
    if number > maximum:
        raise InvalidWitness(f"malformed witness: {what} out of range")
    return number


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidWitness(f"malformed witness: {what} must be true or false")
    return value


def _as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidWitness(f"malformed witness: {what} must be an object")
    return value


def _rows(value: object, width: int, what: str) -> list[list[Any]]:
    if not isinstance(value, list):
        raise InvalidWitness(f"malformed witness: {what} must be a list")
    for row in value:
        if not isinstance(row, list) or len(row) != width:
            raise InvalidWitness(f"malformed witness: each of {what} has {width} fields")
    return value


def _object_to_json(obj: Object) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": int(obj.kind), "owner": to_hex(obj.owner), "access": int(obj.access),
        "fee": str(obj.fee),
    }
    for name in _OBJECT_HASH_FIELDS:
        out[name] = to_hex(getattr(obj, name))
    return out


def _object_row(row: list[Any]) -> tuple[ObjectId, Object | None]:
    object_id = ObjectId(_bytes(row[0], 32, "object id"))
    return object_id, None if row[1] is None else _object_from_json(object_id, row[1])


def _object_from_json(object_id: ObjectId, value: object) -> Object:
    data = _as_dict(value, "object")
    names = {f.name for f in fields(Object)} - {"object_id"}
    if set(data) != names:
        raise InvalidWitness(f"malformed witness: object fields {sorted(data)}")
    kind, access = data["kind"], data["access"]
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in set(ObjectKind):
        raise InvalidWitness(f"malformed witness: object kind {kind!r}")
    if not isinstance(access, int) or isinstance(access, bool) or access not in set(Access):
        raise InvalidWitness(f"malformed witness: object access {access!r}")
    hashes = {name: Hash32(_bytes(data[name], 32, name)) for name in _OBJECT_HASH_FIELDS}
    return Object(
        object_id=object_id,
        kind=ObjectKind(kind),
        owner=Address(_bytes(data["owner"], 20, "owner")),
        access=Access(access),
        commitment=hashes["commitment"],
        metadata_hash=hashes["metadata_hash"],
        vk_hash=hashes["vk_hash"],
        fee_asset=AssetId(hashes["fee_asset"]),
        fee=Amount(_uint(data["fee"], MAX_UINT256, "fee")),
        model_id=ObjectId(hashes["model_id"]),
        data_id=ObjectId(hashes["data_id"]),
    )


def _node_to_token(node: WitnessNode) -> str:
    if node.kind == NodeKind.INNER:
        return "i"
    if node.kind == NodeKind.EMPTY:
        return "e"
    if node.kind == NodeKind.OPAQUE and node.hash is not None:
        return "h" + node.hash.hex()
    if node.key is not None and node.value_hash is not None:
        return "l" + node.key.hex() + node.value_hash.hex()
    raise InvalidWitness(f"malformed witness node {node!r}")


def _node_from_token(token: object) -> WitnessNode:
    if token == "i":
        return WitnessNode(NodeKind.INNER)
    if token == "e":
        return WitnessNode(NodeKind.EMPTY)
    if isinstance(token, str) and token[:1] in ("h", "l"):
        size = 64 if token[0] == "h" else 128
        if len(token) != 1 + size or not all(c in "0123456789abcdef" for c in token[1:]):
            raise InvalidWitness(f"malformed witness tree token {token[:80]!r}")
        raw = bytes.fromhex(token[1:])
        if token[0] == "h":
            return WitnessNode(NodeKind.OPAQUE, hash=Hash32(raw))
        return WitnessNode(NodeKind.LEAF, key=Hash32(raw[:32]), value_hash=Hash32(raw[32:]))
    raise InvalidWitness(f"malformed witness tree token {str(token)[:80]!r}")
