"""The one codec for bytes written as text ("0x"-prefixed hex), and the JSON forms built on it.

Every layer (store, witness, batch data, API, CLI) writes bytes with `to_hex` and reads them
back with `from_hex`. Reading is strict: only hex digits, an even number of them, and the size
the reader expects; anything else raises `MalformedHex` naming what was read. A caller that
reports input errors its own way catches `MalformedHex` and raises its own error.

The JSON forms of objects, trace entries, withdrawals, batch headers and executions are the
ones the node stores and the API serves: hashes and addresses in hex, amounts as decimal
strings (they exceed JSON's safe integers), enums by name.
"""

from typing import Any

from flavum.core.batch import BatchHeader, Trace, TraceEntry, TrainingTrace, Withdrawal
from flavum.core.errors import MalformedHex
from flavum.core.state import Object
from flavum.core.stf import AnyExecution, Execution, TrainingExecution
from flavum.core.types import (
    NO_OBJECT,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    AssetId,
    Hash32,
    ObjectId,
    ObjectKind,
)

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
ADDRESS_SIZE = 20
_SHOWN = 70  # characters of a refused text quoted in the error


def to_hex(value: bytes) -> str:
    """`value` as "0x" followed by two lowercase hex digits a byte."""
    return "0x" + value.hex()


def from_hex(
    text: object, size: int | None = None, what: str = "value", *, prefix_optional: bool = False
) -> bytes:
    """The bytes `text` spells in hex ("0x…"), of exactly `size` bytes when a size is given.

    `prefix_optional` also accepts bare hex digits (input typed by a person); the canonical
    forms the node writes and reads back always carry the prefix.
    """
    if not isinstance(text, str):
        raise MalformedHex(f"{what} must be a 0x-prefixed hex string, got {_shown(text)}")
    if text.startswith("0x"):
        digits = text[2:]
    elif prefix_optional:
        digits = text
    else:
        raise MalformedHex(f"{what} must start with 0x: {_shown(text)}")
    # bytes.fromhex would also skip spaces: one value, one spelling.
    if len(digits) % 2 != 0 or not HEX_DIGITS.issuperset(digits):
        raise MalformedHex(f"{what} is not hex: {_shown(text)}")
    value = bytes.fromhex(digits)
    if size is not None and len(value) != size:
        raise MalformedHex(f"{what} must be {size} bytes, got {len(value)}")
    return value


def parse_address(text: str) -> Address:
    """A 20-byte address typed as hex, with or without its 0x prefix."""
    return Address(from_hex(text, ADDRESS_SIZE, "address", prefix_optional=True))


def _hash(data: dict[str, Any], name: str) -> Hash32:
    return Hash32(from_hex(data[name], 32, name))


# --- JSON forms ---


def object_to_json(obj: Object) -> dict[str, Any]:
    return {
        "object_id": to_hex(obj.object_id), "kind": obj.kind.name, "owner": to_hex(obj.owner),
        "access": obj.access.name, "commitment": to_hex(obj.commitment),
        "metadata_hash": to_hex(obj.metadata_hash), "vk_hash": to_hex(obj.vk_hash),
        "fee_asset": to_hex(obj.fee_asset), "fee": str(obj.fee), "model_id": to_hex(obj.model_id),
        "data_id": to_hex(obj.data_id),
    }


def object_from_json(data: dict[str, Any]) -> Object:
    return Object(
        object_id=ObjectId(_hash(data, "object_id")), kind=ObjectKind[data["kind"]],
        owner=Address(from_hex(data["owner"], ADDRESS_SIZE, "owner")),
        access=Access[data["access"]], commitment=_hash(data, "commitment"),
        metadata_hash=_hash(data, "metadata_hash"), vk_hash=_hash(data, "vk_hash"),
        fee_asset=AssetId(_hash(data, "fee_asset")), fee=Amount(int(data["fee"])),
        model_id=ObjectId(_hash(data, "model_id")), data_id=ObjectId(_hash(data, "data_id")),
    )


def trace_to_json(t: Trace) -> dict[str, Any]:
    if isinstance(t, TrainingTrace):
        return {
            "kind": "training", "tx_hash": to_hex(t.tx_hash),
            "step_model_id": to_hex(t.step_model_id), "params_in": to_hex(t.params_in),
            "steps": t.steps, "rows_hash": to_hex(t.rows_hash),
            "params_out": to_hex(t.params_out), "version_id": to_hex(t.version_id),
        }
    entry = {
        "tx_hash": to_hex(t.tx_hash), "model_id": to_hex(t.model_id),
        "data_id": to_hex(t.data_id), "input_commitment": to_hex(t.input_commitment),
        "outputs": list(t.outputs), "result_id": to_hex(t.result_id),
    }
    if t.circuit_id != NO_OBJECT:  # an inference on a trainable version
        entry |= {"circuit_id": to_hex(t.circuit_id), "weights": to_hex(t.weights)}
    return entry


def trace_from_json(data: dict[str, Any]) -> Trace:
    if data.get("kind") == "training":
        return TrainingTrace(
            tx_hash=_hash(data, "tx_hash"), step_model_id=ObjectId(_hash(data, "step_model_id")),
            params_in=_hash(data, "params_in"), steps=int(data["steps"]),
            rows_hash=_hash(data, "rows_hash"), params_out=_hash(data, "params_out"),
            version_id=ObjectId(_hash(data, "version_id")),
        )
    return TraceEntry(
        tx_hash=_hash(data, "tx_hash"), model_id=ObjectId(_hash(data, "model_id")),
        data_id=ObjectId(_hash(data, "data_id")), input_commitment=_hash(data, "input_commitment"),
        outputs=tuple(int(x) for x in data["outputs"]),
        result_id=ObjectId(_hash(data, "result_id")),
        circuit_id=ObjectId(_hash(data, "circuit_id")) if "circuit_id" in data else NO_OBJECT,
        weights=_hash(data, "weights") if "weights" in data else ZERO_HASH,
    )


def withdrawal_to_json(w: Withdrawal) -> dict[str, Any]:
    return {
        "withdrawal_id": to_hex(w.withdrawal_id), "ledger": to_hex(w.ledger),
        "recipient": to_hex(w.recipient), "asset": to_hex(w.asset), "amount": str(w.amount),
        "object_id": to_hex(w.object_id), "object_kind": w.object_kind,
        "commitment": to_hex(w.commitment), "model_id": to_hex(w.model_id),
    }


def withdrawal_from_json(data: dict[str, Any]) -> Withdrawal:
    return Withdrawal(
        withdrawal_id=_hash(data, "withdrawal_id"), ledger=_hash(data, "ledger"),
        recipient=Address(from_hex(data["recipient"], ADDRESS_SIZE, "recipient")),
        asset=AssetId(_hash(data, "asset")), amount=Amount(int(data["amount"])),
        object_id=ObjectId(_hash(data, "object_id")), object_kind=int(data["object_kind"]),
        commitment=_hash(data, "commitment"), model_id=ObjectId(_hash(data, "model_id")),
    )


def header_to_json(h: BatchHeader) -> dict[str, Any]:
    return {
        "number": h.number, "prev_state_root": to_hex(h.prev_state_root),
        "state_root": to_hex(h.state_root), "tx_root": to_hex(h.tx_root),
        "trace_root": to_hex(h.trace_root), "withdrawal_root": to_hex(h.withdrawal_root),
        "data_pointer": to_hex(h.data_pointer),
    }


def header_from_json(data: dict[str, Any]) -> BatchHeader:
    return BatchHeader(
        number=int(data["number"]), prev_state_root=_hash(data, "prev_state_root"),
        state_root=_hash(data, "state_root"), tx_root=_hash(data, "tx_root"),
        trace_root=_hash(data, "trace_root"), withdrawal_root=_hash(data, "withdrawal_root"),
        data_pointer=_hash(data, "data_pointer"),
    )


def execution_to_json(execution: AnyExecution) -> dict[str, Any]:
    if isinstance(execution, TrainingExecution):
        return {"params_out": to_hex(execution.params_out)}
    return {"input_commitment": to_hex(execution.input_commitment),
            "outputs": list(execution.outputs)}


def execution_from_json(data: dict[str, Any]) -> AnyExecution:
    if "params_out" in data:
        return TrainingExecution(_hash(data, "params_out"))
    return Execution(_hash(data, "input_commitment"), tuple(int(x) for x in data["outputs"]))


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
