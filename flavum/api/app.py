"""The node's HTTP API (FastAPI): submit signed transactions, read state, blocks and batches.

One error model: every refusal is a 4xx JSON body `{"error": <code>, "message": <text>}` where
`code` is the `code` of the FlavumError raised; bad input never gives a 500.
"""

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from flavum.core import errors
from flavum.core.codec import (
    ADDRESS_SIZE,
    from_hex,
    header_to_json,
    object_to_json,
    to_hex,
    trace_to_json,
    withdrawal_to_json,
)
from flavum.core.types import Address, Hash32, ObjectId, ObjectKind
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.node.config import native_asset
from flavum.node.models import CompileJob, DeployOptions, interpret_outputs
from flavum.node.node import Node
from flavum.node.sequencer import Receipt
from flavum.node.store import BatchRecord

EXPLORER_PAGE = Path(__file__).with_name("explorer.html")
LIMIT = Query(100, ge=1, le=1000, description="How many, most recent first.")
BATCH_NUMBER = PathParam(..., ge=0, le=2**62)
STATUS_BY_ERROR: dict[type[errors.FlavumError], int] = {
    errors.NotFound: 404,
    errors.DuplicateTransaction: 409,
    errors.InvalidTransaction: 422,
    InvalidInput: 422,
    ModelRejected: 422,
}


class SubmitRequest(BaseModel):
    raw: str  # hex of the transaction's wire encoding


class CompileRequest(BaseModel):
    onnx: str  # base64 of the ONNX file
    calibration: list[list[float]]  # sample inputs, one flattened row per inference
    proven_output: str | None = None  # logits (default for classifiers) or probabilities
    min_agreement: float | None = None
    batch_size: int = 1  # N > 1: one proof covers N inferences


class DataRequest(BaseModel):
    model_id: str
    values: list[float] | list[list[float]]


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="Flavum node",
        version="0.1.0",
        description="A machine-learning L2 rollup: signed transactions, ZK-proven inference.",
    )
    sequencer = node.sequencer
    store = node.store
    models = node.models

    def receipt_json(receipt: Receipt) -> dict[str, Any]:
        data = receipt_to_json(receipt)
        trace = receipt.outcome.trace
        if trace is not None:
            model = sequencer.object(trace.model_id)
            if model is not None:
                data["result"] = interpret_outputs(models.record(model.vk_hash), trace.outputs)
        return data

    @app.exception_handler(errors.FlavumError)
    async def flavum_error(_: Request, exc: errors.FlavumError) -> JSONResponse:
        status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return JSONResponse({"error": "bad_request", "message": message}, status_code=400)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return EXPLORER_PAGE.read_text()

    @app.post("/v1/transactions")
    def submit(body: SubmitRequest) -> dict[str, Any]:
        raw = parse_hex(body.raw, "raw", error=errors.MalformedTransaction)
        return receipt_json(sequencer.submit(raw))

    @app.get("/v1/transactions/{tx_hash}")
    def transaction(tx_hash: str) -> dict[str, Any]:
        stored = store.get_tx(parse_hash(tx_hash, "tx_hash"))
        if stored is None:
            raise errors.NotFound(f"no transaction {tx_hash}")
        return {"tx_hash": to_hex(stored.hash), "seq": stored.seq, "block": stored.block,
                "raw": to_hex(stored.raw)}

    @app.get("/v1/accounts/{address}")
    def account(address: str) -> dict[str, Any]:
        who = parse_address(address)
        nonce, balances = sequencer.account(who)
        return {"address": to_hex(who), "nonce": nonce,
                "balances": {to_hex(asset): str(amount) for asset, amount in balances.items()},
                "native_asset": to_hex(native_asset())}

    @app.get("/v1/objects/{object_id}")
    def object_(object_id: str) -> dict[str, Any]:
        obj = sequencer.object(ObjectId(parse_hash(object_id, "object_id")))
        if obj is None:
            raise errors.NotFound(f"no object {object_id}")
        return object_to_json(obj)

    @app.get("/v1/status")
    def status() -> dict[str, Any]:
        root = sequencer.state_root()
        last_block = store.last_block()
        batches = store.batches()
        return {
            "chain_id": sequencer.config.chain_id,
            "rollup_id": to_hex(sequencer.config.rollup_id),
            "state_root": to_hex(root),
            "genesis_root": to_hex(sequencer.genesis_root),
            "native_asset": to_hex(native_asset()),
            "transactions": store.count_txs(),
            "pending": sequencer.pending,
            "blocks": 0 if last_block is None else last_block.number + 1,
            "batches": len(batches),
            "last_batch": batch_to_json(batches[-1]) if batches else None,
            "ledgers": [ledger_json(link) for link in node.ledgers],
        }

    def ledger_json(link: Any) -> dict[str, Any]:
        caps = link.ledger.capabilities
        deployment = getattr(link.ledger, "deployment", None)
        return {"name": link.name, "ledger_id": to_hex(link.ledger.ledger_id),
                "verifies_proofs": caps.verifies_proofs, "anchors_only": caps.anchors_only,
                "last_error": link.last_error,
                "deployment": deployment.to_json() if deployment is not None else None,
                # Litecoin: where deposits go, and the address that pays the anchors' fees
                "custody_address": getattr(link.ledger, "custody_address", None),
                "anchor_address": getattr(link.ledger, "anchor_address", None)}

    def link_confirmations(name: str, number: int) -> int | None:
        """Asked of the ledger now; None when it cannot say (or cannot be reached)."""
        link = next((link for link in node.ledgers if link.name == name), None)
        if link is None:
            return None
        try:
            return link.depth(number)
        except errors.FlavumError:
            return None

    @app.get("/v1/ledgers")
    def ledgers() -> list[dict[str, Any]]:
        return [ledger_json(link) for link in node.ledgers]

    @app.get("/v1/batches")
    def batches() -> list[dict[str, Any]]:
        return [{**batch_to_json(b), "ledgers": store.ledger_posts(b.header.number)}
                for b in store.batches()]

    @app.get("/v1/batches/{number}")
    def batch(number: int = BATCH_NUMBER) -> dict[str, Any]:
        record = store.get_batch(number)
        if record is None:
            raise errors.NotFound(f"no batch {number}")
        first_seq, last_seq = store.batch_seq_span(record)
        return {
            **batch_to_json(record),
            "ledgers": [{**post, "confirmations": link_confirmations(post["name"], number)}
                        for post in store.ledger_posts(number)],
            "tx_hashes": [to_hex(h) for h in store.tx_hashes(first_seq, last_seq)],
            "traces": [trace_to_json(t) for t in store.traces_in(first_seq, last_seq)],
            "withdrawals": [withdrawal_to_json(w)
                            for w in store.withdrawals_in(first_seq, last_seq)],
        }

    @app.post("/v1/models/compile")
    def compile_model(body: CompileRequest) -> dict[str, Any]:
        try:
            onnx_bytes = base64.b64decode(body.onnx, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ModelRejected("onnx must be base64") from exc
        if body.proven_output not in (None, "logits", "probabilities"):
            raise InvalidInput("proven_output is logits or probabilities")
        if not 1 <= body.batch_size <= 64:
            raise InvalidInput("batch_size is between 1 and 64")
        options = DeployOptions(
            batch_size=body.batch_size,
            proven_output=body.proven_output,
            min_agreement=models.options.min_agreement if body.min_agreement is None
            else body.min_agreement,
            circuit=models.options.circuit,
        )
        return job_to_json(models.start_compile(onnx_bytes, body.calibration, options))

    @app.get("/v1/models/compile/{job_id}")
    def compile_status(job_id: str) -> dict[str, Any]:
        return job_to_json(models.job(job_id))

    @app.get("/v1/models/{object_id}")
    def model(object_id: str) -> dict[str, Any]:
        obj = sequencer.object(ObjectId(parse_hash(object_id, "object_id")))
        if obj is None or obj.kind != ObjectKind.MODEL:
            raise errors.NotFound(f"no model {object_id}")
        return {**object_to_json(obj), "record": models.record(obj.vk_hash).to_json()}

    @app.post("/v1/data/commit")
    def commit_data(body: DataRequest) -> dict[str, Any]:
        obj = sequencer.object(ObjectId(parse_hash(body.model_id, "model_id")))
        if obj is None or obj.kind != ObjectKind.MODEL:
            raise errors.NotFound(f"no model {body.model_id}")
        commitment = models.commit_data(obj.vk_hash, body.values)
        return {"commitment": to_hex(commitment), "model_id": body.model_id}

    @app.get("/v1/models")
    def models_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        out = []
        for obj in store.objects(ObjectKind.MODEL, limit):
            vk_hash = Hash32(from_hex(obj["vk_hash"]))
            out.append({**obj, "record": models.record(vk_hash).to_json()})
        return out

    @app.get("/v1/data")
    def data_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        """DATA objects. The node's copy of the values is shown for common data only: owned
        data shows its commitment, never its values."""
        out = []
        for obj in store.objects(ObjectKind.DATA, limit):
            entry = {**obj, "values": None}
            if obj["access"] == "COMMON":
                held = store.get_data_input(Hash32(from_hex(obj["commitment"])))
                entry["values"] = json.loads(held[1]) if held else None
            out.append(entry)
        return out

    @app.get("/v1/traces")
    def traces_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        return [{**trace_to_json(r.entry), "batch": r.batch, "proof_status": r.proof_status,
                 "reason": r.reason} for r in store.recent_traces(limit)]

    @app.get("/v1/withdrawals")
    def withdrawals_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        return [{**withdrawal_to_json(w), "batch": batch}
                for w, batch in store.recent_withdrawals(limit)]

    @app.get("/v1/withdrawals/{withdrawal_id}/proof")
    def withdrawal_proof(withdrawal_id: str) -> dict[str, Any]:
        withdrawal, batch, index, proof = node.withdrawal_proof(
            Hash32(parse_hash(withdrawal_id, "withdrawal_id")))
        return {"withdrawal": withdrawal_to_json(withdrawal), "batch": batch, "index": index,
                "proof": [to_hex(p) for p in proof]}

    @app.get("/v1/traces/{tx_hash}")
    def trace(tx_hash: str) -> dict[str, Any]:
        record = store.get_trace(Hash32(parse_hash(tx_hash, "tx_hash")))
        if record is None:
            raise errors.NotFound(f"no trace entry for transaction {tx_hash}")
        return {**trace_to_json(record.entry), "batch": record.batch,
                "proof_status": record.proof_status, "reason": record.reason}

    @app.get("/v1/traces/{tx_hash}/proof")
    def proof(tx_hash: str) -> dict[str, Any]:
        record = store.get_trace(Hash32(parse_hash(tx_hash, "tx_hash")))
        if record is None or record.proof is None:
            raise errors.NotFound(f"no proof (yet) for transaction {tx_hash}")
        return {"tx_hash": tx_hash, "proof": json.loads(record.proof)}

    @app.post("/v1/traces/{tx_hash}/verify")
    def verify_trace(tx_hash: str) -> dict[str, Any]:
        record = store.get_trace(Hash32(parse_hash(tx_hash, "tx_hash")))
        if record is None or record.proof is None:
            raise errors.NotFound(f"no proof (yet) for transaction {tx_hash}")
        model = sequencer.object(record.entry.model_id)
        if model is None:
            raise errors.NotFound("the trace's model no longer exists on this rollup")
        models.verify_trace(record.entry, model.vk_hash, record.proof)
        return {"tx_hash": tx_hash, "verified": True,
                "input_commitment": to_hex(record.entry.input_commitment),
                "outputs": list(record.entry.outputs)}

    @app.post("/v1/batches/seal")
    def seal() -> dict[str, Any]:
        record = sequencer.seal_batch()
        return {"sealed": record is not None,
                "batch": batch_to_json(record) if record is not None else None}

    return app


def receipt_to_json(receipt: Receipt) -> dict[str, Any]:
    outcome = receipt.outcome
    return {
        "tx_hash": to_hex(receipt.tx_hash),
        "seq": receipt.seq,
        "status": "accepted",
        "object_id": to_hex(outcome.object_id) if outcome.object_id else None,
        "trace": trace_to_json(outcome.trace) if outcome.trace else None,
        "withdrawal": withdrawal_to_json(outcome.withdrawal) if outcome.withdrawal else None,
    }


def job_to_json(job: CompileJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "stage": job.stage, "fraction": job.fraction, "done": job.done,
        "record": job.record.to_json() if job.record else None,
        "metadata_hash": to_hex(job.record.metadata_hash) if job.record else None,
        "error": {"error": job.error[0], "message": job.error[1]} if job.error else None,
    }


def batch_to_json(record: BatchRecord) -> dict[str, Any]:
    return {
        **header_to_json(record.header),
        "batch_hash": to_hex(record.batch_hash),
        "first_block": record.first_block,
        "last_block": record.last_block,
        "tx_count": record.tx_count,
        "sealed_at": record.sealed_at,
    }


def parse_hex(text: str, name: str, size: int | None = None,
              error: type[errors.FlavumError] = InvalidInput) -> bytes:
    """The bytes of a hex argument (0x optional); a malformed one is refused as `error`."""
    try:
        return from_hex(text, size, name, prefix_optional=True)
    except errors.MalformedHex as exc:
        raise error(str(exc)) from exc


def parse_hash(text: str, name: str) -> bytes:
    return parse_hex(text, name, 32)


def parse_address(text: str) -> Address:
    return Address(parse_hex(text, "address", ADDRESS_SIZE))
