"""The node's HTTP API (FastAPI): submit signed transactions, read state, blocks and batches.

Reads go through the node's read model (`NodeQuery`), writes through the sequencer and the
model service; this module turns their typed records into JSON with the one codec. Each
endpoint declares its response model (`schemas`): FastAPI checks the JSON against it before
sending, and `/openapi.json` documents it; `/docs` and `/redoc` are served offline (`docs`).

One error model: every refusal is a 4xx JSON body `{"error": <code>, "message": <text>}` where
`code` is the `code` of the FlavumError raised; bad input never gives a 500.
"""

import base64
import binascii
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from flavum.api import schemas as s
from flavum.api.docs import add_offline_docs
from flavum.api.guard import GuardSettings, RequestGuard, load_token
from flavum.core import errors
from flavum.core.batch import TrainingTrace
from flavum.core.codec import (
    ADDRESS_SIZE,
    from_hex,
    header_to_json,
    object_to_json,
    to_hex,
    trace_to_json,
    withdrawal_to_json,
)
from flavum.core.state import Object
from flavum.core.types import NO_OBJECT, Address, Hash32, ObjectId, ObjectKind
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.node.models import CompileJob, DeployOptions
from flavum.node.node import Node
from flavum.node.query import (
    Account,
    LedgerInfo,
    ModelOnLedger,
    NodeQuery,
    Status,
    TracePage,
    WithdrawalProof,
)
from flavum.node.sequencer import Receipt
from flavum.node.store import BatchRecord, LedgerPost, TraceRecord
from flavum.node.training import StepRecord, TrainableJob
from flavum.zk.training import DEFAULT_SCALE

T = TypeVar("T")
EXPLORER = Path(__file__).with_name("explorer")
LIMIT = Query(100, ge=1, le=1000, description="How many, most recent first.")
PAGE_LIMIT = Query(50, ge=1, le=500, description="How many on this page, most recent first.")
BEFORE = Query(None, ge=1, le=2**62, description="A page's cursor: entries before this seq "
                                                 "(the previous page's `next_before`).")
BATCH_NUMBER = PathParam(..., ge=0, le=2**62)
STATUS_BY_ERROR: dict[type[errors.FlavumError], int] = {
    errors.NotFound: 404,
    errors.DuplicateTransaction: 409,
    errors.InvalidTransaction: 422,
    InvalidInput: 422,
    ModelRejected: 422,
}
# Every refusal has the one error body (documented once for all endpoints).
ERRORS: dict[int | str, dict[str, Any]] = {"4XX": {"model": s.ErrorBody,
                                                   "description": "refused: see `error`"}}


class SubmitRequest(BaseModel):
    raw: str  # hex of the transaction's wire encoding


class CompileRequest(BaseModel):
    onnx: str  # base64 of the ONNX file
    calibration: list[list[float]]  # sample inputs, one flattened row per inference
    proven_output: str | None = None  # logits (default for classifiers) or probabilities
    min_agreement: float | None = None
    batch_size: int = 1  # N > 1: one proof covers N inferences
    # How a row is committed: hashed (Poseidon, a public value), polycommit (a KZG point in
    # the proof: faster to prove per inference; see flavum.zk.polycommit) or public (the row's
    # values are public values, for common data only; see flavum.zk.public_rows).
    input_visibility: str = "hashed"


class TrainableRequest(BaseModel):
    family: str  # logistic, softmax, mlp or softmax-mlp
    features: int
    classes: int | None = None  # the softmax families
    hidden: int | None = None  # the hidden-layer families
    batch: int  # rows a step
    learning_rate: float
    scale: int = DEFAULT_SCALE  # fixed point 2**-scale
    seed: int | None = None  # the hidden-layer families' start (default 0); others start at 0


class RowRequest(BaseModel):
    model_id: str  # a trainable model's version, or its step circuit
    features: list[float]
    # 0 or 1 for the binary families, a class index for the softmax ones; none: an inference
    # row [x, 1] for the version's inference circuit
    label: float | None = None


class DataRequest(BaseModel):
    model_id: str
    values: list[float] | list[list[float]]


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="Flavum node",
        version="0.1.0",
        description="A machine-learning L2 rollup: signed transactions, ZK-proven inference.",
        docs_url=None, redoc_url=None, responses=ERRORS,
    )
    add_offline_docs(app)
    query = NodeQuery(node)
    sequencer = node.sequencer
    models = node.models
    config = node.config
    app.add_middleware(RequestGuard, settings=GuardSettings(  # type: ignore[arg-type]
        max_body_bytes=config.max_body_bytes, max_upload_bytes=config.max_upload_bytes,
        hosts=frozenset({config.host, "127.0.0.1", "localhost", "::1"}),
        token=load_token(config.home)))

    def receipt_json(receipt: Receipt) -> dict[str, Any]:
        data = receipt_to_json(receipt)
        trace = receipt.outcome.trace
        if trace is not None:
            result = query.result(trace)
            if result is not None:
                data["result"] = result
        return data

    def trace_json(record: TraceRecord) -> dict[str, Any]:
        return {**trace_record_to_json(record), "result": query.result(record.entry)}

    def proven_trace(tx_hash: str) -> tuple[TraceRecord, bytes]:
        record = query.trace(Hash32(parse_hash(tx_hash, "tx_hash")))
        if record is None or record.proof is None:
            raise errors.NotFound(f"no proof (yet) for transaction {tx_hash}")
        return record, record.proof

    @app.exception_handler(errors.FlavumError)
    async def flavum_error(_: Request, exc: errors.FlavumError) -> JSONResponse:
        status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return JSONResponse({"error": "bad_request", "message": message}, status_code=400)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return (EXPLORER / "index.html").read_text()

    app.mount("/explorer", StaticFiles(directory=EXPLORER), name="explorer")

    @app.post("/v1/transactions", response_model=s.Receipt,
              response_model_exclude_unset=True)
    def submit(body: SubmitRequest) -> dict[str, Any]:
        """Submit a signed transaction (hex of its wire encoding); the receipt has `result` for an
        inference."""
        raw = parse_hex(body.raw, "raw", error=errors.MalformedTransaction)
        return receipt_json(sequencer.submit(raw))

    @app.get("/v1/transactions/{tx_hash}", response_model=s.StoredTransaction)
    def transaction(tx_hash: str) -> dict[str, Any]:
        """An accepted transaction and the block it is in."""
        stored = found(query.transaction(Hash32(parse_hash(tx_hash, "tx_hash"))),
                       f"transaction {tx_hash}")
        return {"tx_hash": to_hex(stored.hash), "seq": stored.seq, "block": stored.block,
                "raw": to_hex(stored.raw)}

    @app.get("/v1/accounts/{address}", response_model=s.Account)
    def account(address: str) -> dict[str, Any]:
        """An account's nonce and balances."""
        return account_to_json(query.account(parse_address(address)))

    @app.get("/v1/objects/{object_id}", response_model=s.ObjectJson)
    def object_(object_id: str) -> dict[str, Any]:
        """Any object: a model, a data point or a result."""
        obj = query.object(ObjectId(parse_hash(object_id, "object_id")))
        return object_to_json(found(obj, f"object {object_id}"))

    @app.get("/v1/status", response_model=s.Status)
    def status() -> dict[str, Any]:
        """The node's chain, state root, counts and ledgers."""
        return status_to_json(query.status())

    @app.get("/v1/ledgers", response_model=list[s.Ledger])
    def ledgers() -> list[dict[str, Any]]:
        """The ledgers the node posts to: capabilities, deployment, state and last error."""
        return [ledger_to_json(info) for info in query.ledgers()]

    @app.get("/v1/assets", response_model=list[s.AssetInfo])
    def assets() -> list[dict[str, Any]]:
        """The assets amounts are counted in: the dev asset and each ledger's native coin, with
        the unit and decimals to read them by."""
        return [{"asset": to_hex(a.asset), "unit": a.unit, "decimals": a.decimals,
                 "ledger": a.ledger} for a in query.assets()]

    @app.get("/v1/batches", response_model=list[s.BatchSummary])
    def batches() -> list[dict[str, Any]]:
        """Sealed batches with their state on each ledger."""
        return [{**batch_to_json(b),
                 "ledgers": [post_to_json(p) for p in query.ledger_posts(b.header.number)]}
                for b in query.batches()]

    @app.get("/v1/batches/{number}", response_model=s.BatchDetail,
             response_model_exclude_unset=True)
    def batch(number: int = BATCH_NUMBER) -> dict[str, Any]:
        """A batch with its confirmations and challenge window on each ledger, its transactions,
        traces and withdrawals."""
        detail = found(query.batch(number), f"batch {number}")
        return {
            **batch_to_json(detail.record),
            "ledgers": [{**post_to_json(p), "confirmations": detail.confirmations[p.name],
                         **_finality_to_json(detail.finality[p.name]),
                         **_fault_to_json(detail.ledger_faults.get(p.name))}
                        for p in detail.posts],
            "tx_hashes": [to_hex(h) for h in detail.tx_hashes],
            "traces": [trace_to_json(t) for t in detail.traces],
            "withdrawals": [withdrawal_to_json(w) for w in detail.withdrawals],
        }

    @app.post("/v1/models/compile", response_model=s.CompileJob)
    def compile_model(body: CompileRequest) -> dict[str, Any]:
        """Start compiling an ONNX model into a circuit; returns the job."""
        try:
            onnx_bytes = base64.b64decode(body.onnx, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ModelRejected("onnx must be base64") from exc
        if body.proven_output not in (None, "logits", "probabilities"):
            raise InvalidInput("proven_output is logits or probabilities")
        if not 1 <= body.batch_size <= 64:
            raise InvalidInput("batch_size is between 1 and 64")
        if body.input_visibility not in ("hashed", "polycommit", "public"):
            raise InvalidInput("input_visibility is hashed, polycommit or public")
        options = DeployOptions(
            batch_size=body.batch_size,
            proven_output=body.proven_output,
            min_agreement=models.options.min_agreement if body.min_agreement is None
            else body.min_agreement,
            circuit=replace(models.options.circuit, input_visibility=body.input_visibility),
            limits=models.options.limits,
        )
        return job_to_json(models.start_compile(onnx_bytes, body.calibration, options))

    @app.get("/v1/models/compile/{job_id}", response_model=s.CompileJob)
    def compile_status(job_id: str) -> dict[str, Any]:
        """A compile job's stage, progress, and record or error."""
        return job_to_json(models.job(job_id))

    @app.post("/v1/models/trainable", response_model=s.TrainableJob)
    def build_trainable(body: TrainableRequest) -> dict[str, Any]:
        """Start building a trainable architecture's step and inference circuits and its first
        weights (docs/training.md); returns the job."""
        options: dict[str, Any] = {"features": body.features, "batch": body.batch,
                                   "learning_rate": body.learning_rate}
        options.update({k: v for k, v in (("classes", body.classes), ("hidden", body.hidden))
                        if v is not None})
        return trainable_job_to_json(node.training.start_build(body.family, options,
                                                               body.scale, body.seed))

    @app.get("/v1/models/trainable/{job_id}", response_model=s.TrainableJob)
    def trainable_status(job_id: str) -> dict[str, Any]:
        """A trainable build's stage, and its circuits' records and first weights or error."""
        return trainable_job_to_json(node.training.job(job_id))

    def known_model(object_id: str, name: str) -> Object:
        return found(query.model(ObjectId(parse_hash(object_id, name))), f"model {object_id}")

    def model_json(model: Object) -> dict[str, Any]:
        record = query.model_record(model)
        return {**object_to_json(model), "record": None if record is None else record.to_json()}

    @app.get("/v1/models/{object_id}", response_model=s.Model)
    def model(object_id: str) -> dict[str, Any]:
        """A model with its compile record and accuracy report."""
        return model_json(known_model(object_id, "object_id"))

    @app.get("/v1/models/{object_id}/lineage", response_model=list[s.LineageStep])
    def lineage(object_id: str) -> list[dict[str, Any]]:
        """A trainable model's versions, from this one back to the first, each with the
        training (parent's weights, rows, steps, new weights) that made it."""
        chain = query.lineage(ObjectId(parse_hash(object_id, "object_id")))
        return [{"version": object_to_json(version),
                 "training": None if training is None else trace_to_json(training)}
                for version, training in chain]

    @app.get("/v1/models/{object_id}/verifiers", response_model=list[s.ModelVerifier])
    def model_verifiers(object_id: str) -> list[dict[str, Any]]:
        """The verifier the model is bound to on each ledger that checks proofs (no entry: not
        registered there yet)."""
        model = known_model(object_id, "object_id")
        return [registration_to_json(r) for r in query.model_registrations(model.object_id)]

    @app.post("/v1/data/commit", response_model=s.DataCommitment)
    def commit_data(body: DataRequest) -> dict[str, Any]:
        """Keep a data point's values for a model; returns their commitment."""
        model = known_model(body.model_id, "model_id")
        commitment = models.commit_data(model.vk_hash, body.values)
        return {"commitment": to_hex(commitment), "model_id": body.model_id}

    @app.post("/v1/data/commit-row", response_model=s.TrainingRow)
    def commit_row(body: RowRequest) -> dict[str, Any]:
        """Keep a training example (features and label) as a row of a trainable model's
        family (one-hot label for the softmax families), or features without a label as an
        inference row [x, 1] of a version (to run it with an Infer); returns its commitment."""
        model = known_model(body.model_id, "model_id")
        step = query.model(model.model_id) if model.model_id != NO_OBJECT else model
        if step is None or not node.training.is_step(step.vk_hash):
            raise InvalidInput(f"model {body.model_id} is not trainable")
        if body.label is None:
            circuit = query.model(ObjectId(model.vk_hash))
            if model.model_id == NO_OBJECT or circuit is None:
                raise InvalidInput("an inference row (no label) is for a trained model's "
                                   "version, not its step circuit")
            commitment = node.prover.versions.commit_row(circuit.vk_hash, body.features)
            return {"commitment": to_hex(commitment), "model_id": body.model_id,
                    "row": [*body.features, 1.0]}
        commitment, row = node.training.commit_example(step.vk_hash, body.features, body.label)
        return {"commitment": to_hex(commitment), "model_id": body.model_id,
                "row": [float(v) for v in row]}

    @app.get("/v1/models", response_model=list[s.Model])
    def models_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        """Models, most recent first."""
        return [model_json(m) for m in query.objects(ObjectKind.MODEL, limit)]

    @app.get("/v1/data", response_model=list[s.DataObject])
    def data_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        """DATA objects. The node's copy of the values is shown for common data only: owned
        data shows its commitment, never its values."""
        return [{**object_to_json(d), "values": query.common_values(d)}
                for d in query.objects(ObjectKind.DATA, limit)]

    @app.get("/v1/traces", response_model=list[s.TraceRecord])
    def traces_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        """Trace entries with their proof status."""
        return [trace_json(r) for r in query.traces(limit)]

    # --- trace entries by model, object and account (paginated by seq) ---

    @app.get("/v1/models/{object_id}/traces", response_model=s.TracePage)
    def model_traces(object_id: str, limit: int = PAGE_LIMIT,
                     before: int | None = BEFORE) -> dict[str, Any]:
        """The inferences that ran a model, most recent first (also once the model is gone)."""
        model_id = ObjectId(parse_hash(object_id, "object_id"))
        return trace_page_json(query.traces_of_model(model_id, before, limit))

    @app.get("/v1/objects/{object_id}/traces", response_model=s.TracePage)
    def object_traces(object_id: str, limit: int = PAGE_LIMIT,
                      before: int | None = BEFORE) -> dict[str, Any]:
        """The inferences an object took part in (as their model, data or result), most
        recent first."""
        key = ObjectId(parse_hash(object_id, "object_id"))
        return trace_page_json(query.traces_of_object(key, before, limit))

    @app.get("/v1/accounts/{address}/traces", response_model=s.TracePage)
    def account_traces(address: str, limit: int = PAGE_LIMIT,
                       before: int | None = BEFORE) -> dict[str, Any]:
        """The inferences an account sent, most recent first."""
        return trace_page_json(query.traces_of_account(parse_address(address), before, limit))

    def trace_page_json(page: TracePage) -> dict[str, Any]:
        return {"traces": [trace_json(r) for r in page.records], "next_before": page.next_before}

    @app.get("/v1/withdrawals", response_model=list[s.WithdrawalInBatch])
    def withdrawals_list(limit: int = LIMIT) -> list[dict[str, Any]]:
        """Withdrawal claims and the batch each is sealed in."""
        return [{**withdrawal_to_json(w.withdrawal), "batch": w.batch}
                for w in query.withdrawals(limit)]

    @app.get("/v1/withdrawals/{withdrawal_id}/proof", response_model=s.WithdrawalProof)
    def withdrawal_proof(withdrawal_id: str) -> dict[str, Any]:
        """What finalizing a withdrawal on L1 needs: its batch, index and Merkle proof."""
        proof = query.withdrawal_proof(Hash32(parse_hash(withdrawal_id, "withdrawal_id")))
        return withdrawal_proof_to_json(proof)

    @app.get("/v1/traces/{tx_hash}", response_model=s.TraceRecord)
    def trace(tx_hash: str) -> dict[str, Any]:
        """An inference's trace entry with its proof status."""
        record = query.trace(Hash32(parse_hash(tx_hash, "tx_hash")))
        return trace_json(found(record, f"trace entry for transaction {tx_hash}"))

    @app.get("/v1/traces/{tx_hash}/proof", response_model=s.TraceProof)
    def proof(tx_hash: str) -> dict[str, Any]:
        """An inference's ezkl proof (a training's: its step proofs, in order)."""
        _, proof_json = proven_trace(tx_hash)
        return {"tx_hash": tx_hash, "proof": json.loads(proof_json)}

    @app.post("/v1/traces/{tx_hash}/verify", response_model=s.TraceVerified)
    def verify_trace(tx_hash: str) -> dict[str, Any]:
        """Verify an inference's proof with its model's vk and bind its public values (a
        training's: every step proof and their chain)."""
        record, proof_json = proven_trace(tx_hash)
        query.verify_trace(record.entry, proof_json)
        if isinstance(record.entry, TrainingTrace):
            return {"tx_hash": tx_hash, "verified": True,
                    "input_commitment": to_hex(record.entry.params_in),
                    "outputs": []}
        return {"tx_hash": tx_hash, "verified": True,
                "input_commitment": to_hex(record.entry.input_commitment),
                "outputs": list(record.entry.outputs)}

    @app.post("/v1/batches/seal", response_model=s.Sealed)
    def seal() -> dict[str, Any]:
        """Seal a batch now (once its proofs are made). An operator endpoint: needs the token."""
        record = sequencer.seal_batch()
        return {"sealed": record is not None,
                "batch": batch_to_json(record) if record is not None else None}

    return app


# --- JSON of the read model's records ---


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


def account_to_json(account: Account) -> dict[str, Any]:
    return {"address": to_hex(account.address), "nonce": account.nonce,
            "balances": {to_hex(asset): str(amount) for asset, amount in account.balances.items()},
            "native_asset": to_hex(account.native_asset)}


def status_to_json(status: Status) -> dict[str, Any]:
    return {
        "chain_id": status.chain_id,
        "rollup_id": to_hex(status.rollup_id),
        "state_root": to_hex(status.state_root),
        "genesis_root": to_hex(status.genesis_root),
        "native_asset": to_hex(status.native_asset),
        "transactions": status.transactions,
        "pending": status.pending,
        "blocks": status.blocks,
        "batches": status.batches,
        "last_batch": batch_to_json(status.last_batch) if status.last_batch else None,
        "ledgers": [ledger_to_json(info) for info in status.ledgers],
    }


def ledger_to_json(info: LedgerInfo) -> dict[str, Any]:
    return {"name": info.name, "ledger_id": to_hex(info.ledger_id),
            "verifies_proofs": info.verifies_proofs, "anchors_only": info.anchors_only,
            "last_error": info.last_error,
            "state": info.state,
            "reverted_batch": info.reverted_batch, "confirmed_batch": info.confirmed_batch,
            "deployment": info.deployment,
            "custody_address": info.custody_address, "anchor_address": info.anchor_address}


def post_to_json(post: LedgerPost) -> dict[str, Any]:
    return {"name": post.name, "state": post.state,
            "tx_hash": to_hex(post.tx_hash) if post.tx_hash else None, "detail": post.detail,
            "updated_at": post.updated_at}


def batch_to_json(record: BatchRecord) -> dict[str, Any]:
    return {
        **header_to_json(record.header),
        "batch_hash": to_hex(record.batch_hash),
        "first_block": record.first_block,
        "last_block": record.last_block,
        "tx_count": record.tx_count,
        "sealed_at": record.sealed_at,
    }


def trace_record_to_json(record: TraceRecord) -> dict[str, Any]:
    return {**trace_to_json(record.entry), "seq": record.seq, "batch": record.batch,
            "proof_status": record.proof_status, "reason": record.reason,
            "proof_seconds": record.proof_seconds}


def registration_to_json(found: ModelOnLedger) -> dict[str, Any]:
    registered = found.registration
    if registered is None:
        return {"ledger": found.ledger, "known": found.known, "registered": False}
    return {"ledger": found.ledger, "known": True, "registered": True,
            "verifier": to_hex(registered.verifier), "reusable": registered.reusable,
            "vka_digest": to_hex(registered.vka_digest), "batch": registered.batch_number,
            "standing": registered.standing}


def withdrawal_proof_to_json(proof: WithdrawalProof) -> dict[str, Any]:
    return {"withdrawal": withdrawal_to_json(proof.withdrawal), "batch": proof.batch,
            "index": proof.index, "proof": [to_hex(p) for p in proof.proof]}


def job_to_json(job: CompileJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "stage": job.stage, "fraction": job.fraction, "done": job.done,
        "record": job.record.to_json() if job.record else None,
        "metadata_hash": to_hex(job.record.metadata_hash) if job.record else None,
        "error": {"error": job.error[0], "message": job.error[1]} if job.error else None,
    }


def trainable_job_to_json(job: TrainableJob) -> dict[str, Any]:
    def record(r: StepRecord | None) -> dict[str, Any] | None:
        return None if r is None else {**r.to_json(), "metadata_hash": to_hex(r.metadata_hash)}

    return {
        "job_id": job.job_id, "stage": job.stage, "done": job.done,
        "step": record(job.step), "inference": record(job.inference),
        "weight_commitment": None if job.params_commitment is None
        else to_hex(job.params_commitment),
        "error": {"error": job.error[0], "message": job.error[1]} if job.error else None,
    }


def found(value: T | None, what: str) -> T:
    """`value`, or NotFound ("no <what>") when there is none."""
    if value is None:
        raise errors.NotFound(f"no {what}")
    return value


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


def _fault_to_json(fault: tuple[str, str | None] | None) -> dict[str, Any]:
    """A ledger that is not posting now (unreachable, chain_reset, ...): its state and why."""
    return {} if fault is None else {"ledger_state": fault[0], "ledger_error": fault[1]}


def _finality_to_json(finality: tuple[int, int] | None) -> dict[str, Any]:
    """A batch's challenge window on a ledger that settles by fraud proofs (nothing otherwise):
    its withdrawals are payable from `final_at_block` on."""
    if finality is None:
        return {}
    blocks_left, final_at = finality
    return {"final": blocks_left == 0, "blocks_to_final": blocks_left, "final_at_block": final_at}
