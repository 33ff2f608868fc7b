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
- for every circuit those proofs need: its verifying key, its settings, and the content ids of
  the SRS its keys were made with and of the ONNX graph it proves;
- the record of every model those proofs are for, by the MODEL's metadata hash: the preimage
  of its binding (`compute_record_binding`, flavum.core.model_binding), which pins that SRS,
  that graph's hash and its verifiers' code.

The encoding is canonical JSON (sorted keys, no spaces), so one batch has one blob and one id.
"""

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flavum.core.batch import BatchRoots
from flavum.core.codec import execution_from_json, execution_to_json, from_hex, to_hex
from flavum.core.encoding import keccak256
from flavum.core.errors import FlavumError
from flavum.core.model_binding import ModelBinding
from flavum.core.stf import Execution
from flavum.core.types import Hash32
from flavum.core.witness import StateWitness
from flavum.core.witness_codec import witness_from_json, witness_to_json
from flavum.da.errors import MalformedBatchData

FORMAT_VERSION = 2


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
    model_cid: str  # the ONNX graph the circuit proves, in the same data store


@dataclass(frozen=True)
class BatchData(BatchRoots):
    """The published blob: the batch's roots, its domain, and what checking it needs."""

    chain_id: int
    rollup_id: Hash32
    txs: tuple[bytes, ...]
    executions: tuple[Execution | None, ...]
    witness: StateWitness
    proofs: tuple[TraceProof, ...]
    circuits: dict[Hash32, CircuitData]  # by vk hash
    # The records of the models the batch proves, by MODEL metadata hash (their binding's
    # preimage: flavum.core.model_binding.compute_record_binding), as canonical JSON.
    records: dict[Hash32, bytes]

    def to_bytes(self) -> bytes:
        data = {
            "version": FORMAT_VERSION,
            "header": {
                "number": self.number, "prev_state_root": to_hex(self.prev_state_root),
                "state_root": to_hex(self.state_root), "tx_root": to_hex(self.tx_root),
                "trace_root": to_hex(self.trace_root),
                "withdrawal_root": to_hex(self.withdrawal_root),
            },
            "domain": {"chain_id": self.chain_id, "rollup_id": to_hex(self.rollup_id)},
            "txs": [
                {"raw": to_hex(raw), "execution": None if ex is None else execution_to_json(ex)}
                for raw, ex in zip(self.txs, self.executions, strict=True)
            ],
            "witness": witness_to_json(self.witness),
            "proofs": [
                {"tx_hash": to_hex(p.tx_hash), "model_id": to_hex(p.model_id), "status": p.status,
                 "proof": None if p.proof is None else _compact_proof(p.proof),
                 "reason": p.reason, "row": p.row}
                for p in self.proofs
            ],
            "circuits": {
                to_hex(vk_hash): {"vk": base64.b64encode(c.vk).decode(),
                                "settings": json.loads(c.settings),
                                "srs": {"cid": c.srs_cid, "logrows": c.srs_logrows},
                                "model_cid": c.model_cid}
                for vk_hash, c in self.circuits.items()
            },
            "records": {to_hex(h): json.loads(r) for h, r in self.records.items()},
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
                prev_state_root=_hash(header["prev_state_root"], "prev_state_root"),
                state_root=_hash(header["state_root"], "state_root"),
                tx_root=_hash(header["tx_root"], "tx_root"),
                trace_root=_hash(header["trace_root"], "trace_root"),
                withdrawal_root=_hash(header["withdrawal_root"], "withdrawal_root"),
                chain_id=int(data["domain"]["chain_id"]),
                rollup_id=_hash(data["domain"]["rollup_id"], "rollup_id"),
                txs=tuple(from_hex(t["raw"], what="raw") for t in data["txs"]),
                executions=tuple(None if t["execution"] is None
                                 else execution_from_json(t["execution"]) for t in data["txs"]),
                witness=witness_from_json(data["witness"]),
                proofs=tuple(
                    TraceProof(_hash(p["tx_hash"], "tx_hash"), _hash(p["model_id"], "model_id"),
                               str(p["status"]),
                               None if p["proof"] is None else _expand_proof(p["proof"]),
                               p.get("reason"), int(p.get("row", 0)))
                    for p in data["proofs"]
                ),
                circuits={
                    _hash(vk_hash, "vk_hash"): CircuitData(
                        base64.b64decode(c["vk"], validate=True),
                        json.dumps(c["settings"]).encode(), str(c["srs"]["cid"]),
                        int(c["srs"]["logrows"]), str(c["model_cid"]))
                    for vk_hash, c in data["circuits"].items()
                },
                records={_hash(h, "metadata_hash"): encode_model_record(r)
                         for h, r in data["records"].items()},
            )
        except MalformedBatchData:
            raise
        except FlavumError as exc:
            raise MalformedBatchData(f"batch data: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedBatchData(f"batch data is malformed: {exc!r}") from exc


def _compact_proof(proof_json: bytes) -> Any:
    """ezkl's proof.json with its proof bytes once, as hex (ezkl writes them twice: a list of
    decimal bytes and `hex_proof`), and without its unverified `pretty_public_inputs`. A
    training's proof is the list of its step proofs, each compacted."""
    proof = json.loads(proof_json)
    if isinstance(proof, list):
        return [_compact_proof(json.dumps(step).encode()) for step in proof]
    proof.pop("hex_proof", None)
    proof.pop("pretty_public_inputs", None)
    proof["proof"] = to_hex(bytes(proof["proof"]))
    return dict(proof)


def _expand_proof(proof: Any) -> bytes:
    """proof.json as ezkl reads it, from `_compact_proof`'s form."""
    if isinstance(proof, list):
        return json.dumps([json.loads(_expand_proof(step)) for step in proof]).encode()
    full = dict(proof)
    raw = from_hex(full["proof"], what="proof")
    full["proof"] = list(raw)
    full["hex_proof"] = to_hex(raw)
    return json.dumps(full).encode()


def _hash(text: str, what: str) -> Hash32:
    return Hash32(from_hex(text, 32, what))


def encode_model_record(record: Mapping[str, Any]) -> bytes:
    """A model record's canonical JSON (sorted keys): what its record hash hashes, and what
    a batch's data publishes for anyone to check a model's binding against."""
    return json.dumps(record, sort_keys=True).encode()


def compute_record_binding(record: Mapping[str, Any]) -> ModelBinding:
    """The binding a model record (the node's JSON of a compiled model) gives its MODEL: the
    record's hash, then the record's own fields for the SRS, the verifiers and the layout.
    Raises KeyError or ValueError for a record that lacks them. A record of a trainable
    architecture's circuit (flavum/node/training.py, `kind` "step" or "inference") has one row
    per proof; a step's proofs are read with the training-step layout, an inference circuit's
    with the version layout (the weights' commitment first, then the row's)."""
    binding = ModelBinding(
        record_hash=keccak256(encode_model_record(record)),
        srs_hash=Hash32(bytes.fromhex(str(record["srs_sha256"]))),
        verifier_code_hash=_hash32(record["verifier_code_hash"]),
        vka_digest=_hash32(record["vka_digest"]),
        reusable_code_hash=_hash32(record["reusable_code_hash"]),
        rows=1, per_row_inputs=False,
    )
    if "kind" in record:
        return replace(binding, training_step=record["kind"] == "step",
                       version_inference=record["kind"] == "inference")
    batch_size = int(record["batch_size"])
    visibility = record.get("visibility", {}).get("input")
    return replace(
        binding,
        rows=batch_size,
        per_row_inputs=batch_size > 1,  # a batched model commits to each row
        # KZG points in the proof rather than public values (polycommit).
        row_points=visibility == "polycommit",
        # The rows themselves as public values (common data): their width.
        row_width=math.prod(record["input_shape"]) if visibility == "public" else 0,
    )


def _hash32(text: object) -> Hash32:
    value = bytes.fromhex(str(text).removeprefix("0x"))
    if len(value) != 32:
        raise ValueError(f"{text!r} is not a 32-byte hash")
    return Hash32(value)
