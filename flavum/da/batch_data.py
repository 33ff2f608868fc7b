"""Batch data: the self-contained blob published for every batch.

Checking a batch needs nothing but this blob, the batch header a ledger recorded, and the blobs
it references by content id (the SRS of each circuit). The blob holds:

- the header's fields except the data pointer (the pointer is the blob's own sha256 digest,
  so the blob cannot hold it): number, previous and new state root, tx/trace/withdrawal roots;
- the domain (chain id, rollup id) the transactions are signed for;
- every transaction in its wire encoding, with the execution (input commitment and outputs)
  of each inference;
- the state witness: the pre-state entries the batch touches, proven against the previous root;
- the proof of every inference trace entry (ezkl proof.json), in trace order;
- for every circuit those proofs need: its verifying key, its settings, and the content id of
  the SRS its keys were made with.

The encoding is canonical JSON (sorted keys, no spaces), so one batch has one blob and one id.
"""

import base64
import json
from dataclasses import dataclass
from typing import Any

from flavum.core.errors import FlavumError
from flavum.core.stf import Execution
from flavum.core.types import Hash32
from flavum.core.witness import StateWitness

FORMAT_VERSION = 1


class MalformedBatchData(FlavumError):
    """A blob that is not batch data of this format."""

    code = "malformed_batch_data"


@dataclass(frozen=True)
class TraceProof:
    tx_hash: Hash32
    model_id: Hash32
    status: str  # proven | failed
    proof: bytes | None  # ezkl proof.json
    reason: str | None = None
    row: int = 0  # which inference of a batched proof this entry is


@dataclass(frozen=True)
class CircuitData:
    vk: bytes
    settings: bytes  # ezkl settings.json
    srs_cid: str  # the SRS the keys were set up with, in the same data store
    srs_logrows: int


@dataclass(frozen=True)
class BatchData:
    number: int
    prev_state_root: Hash32
    state_root: Hash32
    tx_root: Hash32
    trace_root: Hash32
    withdrawal_root: Hash32
    chain_id: int
    rollup_id: Hash32
    txs: tuple[bytes, ...]
    executions: tuple[Execution | None, ...]
    witness: StateWitness
    proofs: tuple[TraceProof, ...]
    circuits: dict[Hash32, CircuitData]  # by vk hash

    def to_bytes(self) -> bytes:
        data = {
            "version": FORMAT_VERSION,
            "header": {
                "number": self.number, "prev_state_root": _hex(self.prev_state_root),
                "state_root": _hex(self.state_root), "tx_root": _hex(self.tx_root),
                "trace_root": _hex(self.trace_root), "withdrawal_root": _hex(self.withdrawal_root),
            },
            "domain": {"chain_id": self.chain_id, "rollup_id": _hex(self.rollup_id)},
            "txs": [
                {"raw": _hex(raw), "execution": None if ex is None else {
                    "input_commitment": _hex(ex.input_commitment), "outputs": list(ex.outputs)}}
                for raw, ex in zip(self.txs, self.executions, strict=True)
            ],
            "witness": self.witness.to_json(),
            "proofs": [
                {"tx_hash": _hex(p.tx_hash), "model_id": _hex(p.model_id), "status": p.status,
                 "proof": None if p.proof is None else _compact_proof(p.proof),
                 "reason": p.reason, "row": p.row}
                for p in self.proofs
            ],
            "circuits": {
                _hex(vk_hash): {"vk": base64.b64encode(c.vk).decode(),
                                "settings": json.loads(c.settings),
                                "srs": {"cid": c.srs_cid, "logrows": c.srs_logrows}}
                for vk_hash, c in self.circuits.items()
            },
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "BatchData":
        try:
            data = json.loads(blob)
            if data["version"] != FORMAT_VERSION:
                raise MalformedBatchData(f"batch data version {data['version']} is unknown")
            header = data["header"]
            return cls(
                number=int(header["number"]),
                prev_state_root=_hash(header["prev_state_root"]),
                state_root=_hash(header["state_root"]),
                tx_root=_hash(header["tx_root"]),
                trace_root=_hash(header["trace_root"]),
                withdrawal_root=_hash(header["withdrawal_root"]),
                chain_id=int(data["domain"]["chain_id"]),
                rollup_id=_hash(data["domain"]["rollup_id"]),
                txs=tuple(_unhex(t["raw"]) for t in data["txs"]),
                executions=tuple(_execution(t["execution"]) for t in data["txs"]),
                witness=StateWitness.from_json(data["witness"]),
                proofs=tuple(
                    TraceProof(_hash(p["tx_hash"]), _hash(p["model_id"]), str(p["status"]),
                               None if p["proof"] is None else _expand_proof(p["proof"]),
                               p.get("reason"), int(p.get("row", 0)))
                    for p in data["proofs"]
                ),
                circuits={
                    _hash(vk_hash): CircuitData(
                        base64.b64decode(c["vk"], validate=True),
                        json.dumps(c["settings"]).encode(), str(c["srs"]["cid"]),
                        int(c["srs"]["logrows"]))
                    for vk_hash, c in data["circuits"].items()
                },
            )
        except MalformedBatchData:
            raise
        except FlavumError as exc:
            raise MalformedBatchData(f"batch data: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedBatchData(f"batch data is malformed: {exc!r}") from exc


def _compact_proof(proof_json: bytes) -> dict[str, Any]:
    """ezkl's proof.json with its proof bytes once, as hex (ezkl writes them twice: a list of
    decimal bytes and `hex_proof`), and without its unverified `pretty_public_inputs`."""
    proof = json.loads(proof_json)
    proof.pop("hex_proof", None)
    proof.pop("pretty_public_inputs", None)
    proof["proof"] = _hex(bytes(proof["proof"]))
    return dict(proof)


def _expand_proof(proof: dict[str, Any]) -> bytes:
    """proof.json as ezkl reads it, from `_compact_proof`'s form."""
    full = dict(proof)
    raw = _unhex(full["proof"])
    full["proof"] = list(raw)
    full["hex_proof"] = _hex(raw)
    return json.dumps(full).encode()


def _execution(value: Any) -> Execution | None:
    if value is None:
        return None
    return Execution(_hash(value["input_commitment"]), tuple(int(x) for x in value["outputs"]))


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _unhex(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ValueError(f"not 0x-hex: {text!r}")
    return bytes.fromhex(text[2:])


def _hash(text: str) -> Hash32:
    value = _unhex(text)
    if len(value) != 32:
        raise ValueError(f"not 32 bytes: {text}")
    return Hash32(value)
