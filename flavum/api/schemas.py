"""The API's response models: what `/openapi.json` documents for each endpoint.

The handlers build their JSON with the one codec; FastAPI validates it against these models
before sending it, so the documented schema cannot drift from what is sent. Field order is the
codec's order (it is the order on the wire). Hashes and addresses are "0x" hex strings, amounts
decimal strings (they exceed a JSON number's exact range).
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Hash = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$", description="32 bytes, 0x hex")]
AddressHex = Annotated[str, Field(pattern=r"^0x[0-9a-f]{40}$", description="20 bytes, 0x hex")]
Hex = Annotated[str, Field(pattern=r"^0x[0-9a-f]*$", description="bytes, 0x hex")]
Amount = Annotated[str, Field(pattern=r"^[0-9]+$", description="an integer amount, in decimal")]


class Schema(BaseModel):
    """A response body: a field the model does not name is refused (a 500 in tests, not a
    silently undocumented field)."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A response body other work may grow (the ledger's fault states): extra fields pass."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(Schema):
    """Every refusal: `error` is the FlavumError's code."""

    error: str
    message: str


class ObjectJson(Schema):
    object_id: Hash
    kind: str = Field(description="MODEL, DATA or RESULT")
    owner: AddressHex
    access: str = Field(description="OWNED or COMMON")
    commitment: Hash
    metadata_hash: Hash
    vk_hash: Hash
    fee_asset: Hash
    fee: Amount
    model_id: Hash
    data_id: Hash


class TraceJson(Schema):
    """A trace entry: an inference's proven input commitment and fixed-point outputs, or a
    training's chain of step proofs (`kind` "training", docs/training.md)."""

    kind: str = Field("inference", description="inference or training")
    tx_hash: Hash
    model_id: Hash | None = Field(None, description="inference: the model")
    data_id: Hash | None = Field(None, description="inference: the data object")
    input_commitment: Hash | None = Field(None, description="inference: the input's")
    outputs: list[int] | None = Field(None, description="inference: fixed-point outputs")
    result_id: Hash | None = Field(None, description="inference: the RESULT object")
    circuit_id: Hash | None = Field(None, description="inference on a trained version: its "
                                    "architecture's inference circuit (MODEL)")
    weights: Hash | None = Field(None, description="inference on a trained version: its "
                                 "weight commitment H(θ), which the proof took")
    step_model_id: Hash | None = Field(None, description="training: the step circuit's MODEL")
    params_in: Hash | None = Field(None, description="training: the parent's weights")
    steps: int | None = Field(None, description="training: proven SGD steps")
    rows_hash: Hash | None = Field(None, description="training: the rows, in order")
    params_out: Hash | None = Field(None, description="training: the new version's weights")
    version_id: Hash | None = Field(None, description="training: the new version")


class WithdrawalJson(Schema):
    withdrawal_id: Hash
    ledger: Hash
    recipient: AddressHex
    asset: Hash
    amount: Amount
    object_id: Hash
    object_kind: int
    commitment: Hash
    model_id: Hash


class ProvenOutputs(Schema):
    """The values the proof binds: fixed-point integers, value = integer / 2**scale."""

    fixed_point: list[int]
    scale: int


class InferenceResult(Schema):
    """An inference's outputs as people read them, derived outside the circuit from the proven
    fixed-point outputs (`proven`)."""

    values: list[list[float]] = Field(description="the proven outputs dequantized")
    proven_output: str = Field(description="what `values` are: logits, probabilities, scores "
                                           "(other class scores) or values (a regression)")
    proven: ProvenOutputs
    probabilities: list[list[float]] | None = Field(
        None, description="only where the model applies softmax/sigmoid")
    prediction: list[int] | None = Field(None, description="the class index, for a classifier")
    label: list[str | int] | None = Field(
        None, description="the class's label, for a classifier trained on labels other than "
                          "0..K-1 (string labels); null: the class index is the label")


class Receipt(Schema):
    tx_hash: Hash
    seq: int
    status: str = Field(description="accepted")
    object_id: Hash | None
    trace: TraceJson | None
    withdrawal: WithdrawalJson | None
    result: InferenceResult | None = Field(None, description="an inference's result")


class StoredTransaction(Schema):
    tx_hash: Hash
    seq: int
    block: int | None = Field(description="none while it waits for a block")
    raw: Hex = Field(description="the transaction's wire encoding")


class Account(Schema):
    address: AddressHex
    nonce: int
    balances: dict[str, Amount] = Field(description="asset id (0x hex) to amount")
    native_asset: Hash


class Ledger(Open):
    name: str
    ledger_id: Hash
    verifies_proofs: bool
    anchors_only: bool
    last_error: str | None
    state: str = Field(description="posting, reverted, frozen or replaced")
    reverted_batch: int | None
    deployment: dict[str, Any] | None = Field(description="EVM: the rollup's contracts")
    custody_address: str | None = Field(description="Litecoin: where deposits go")
    anchor_address: str | None = Field(description="Litecoin: pays the anchors' fees")


class Batch(Schema):
    """A batch header with where its blocks are."""

    number: int
    prev_state_root: Hash
    state_root: Hash
    tx_root: Hash
    trace_root: Hash
    withdrawal_root: Hash
    data_pointer: Hash
    batch_hash: Hash
    first_block: int
    last_block: int
    tx_count: int
    sealed_at: float


class LedgerPost(Open):
    """A batch's state on one ledger."""

    name: str
    state: str = Field(description="pending, blocked, posted, anchored, accepted, reverted "
                                   "or error")
    tx_hash: Hex | None = Field(description="the ledger transaction that carried it")
    detail: str | None
    updated_at: float


class LedgerPostDetail(LedgerPost):
    """A post with its confirmations and, on a ledger that settles by fraud proofs, its
    challenge window."""

    confirmations: int | None
    final: bool | None = None
    blocks_to_final: int | None = None
    final_at_block: int | None = Field(None, description="withdrawals payable from this block")


class BatchSummary(Batch):
    ledgers: list[LedgerPost]


class BatchDetail(Batch):
    ledgers: list[LedgerPostDetail]
    tx_hashes: list[Hash]
    traces: list[TraceJson]
    withdrawals: list[WithdrawalJson]


class Status(Schema):
    chain_id: int
    rollup_id: Hash
    state_root: Hash
    genesis_root: Hash
    native_asset: Hash
    transactions: int
    pending: int = Field(description="accepted, not yet in a block")
    blocks: int
    batches: int
    last_batch: Batch | None
    ledgers: list[Ledger]


class ModelRecord(Schema):
    """What the node knows of a compiled model; its canonical JSON is the MODEL's metadata."""

    model_hash: str
    vk_hash: str
    circuit_key: str
    logrows: int
    input_shape: list[int]
    batch_size: int
    input_scale: int
    output_shapes: list[list[int]]
    output_scales: list[int] = Field(description="value = proven integer / 2**scale")
    proven_output: str = Field(description="what the proven values are: logits, probabilities, "
                                           "scores or values (outputs: a record made before "
                                           "these were told apart)")
    postprocess: str = Field(description="how probabilities follow from the proven logits: "
                                         "softmax, sigmoid, sigmoid_l1 or none")
    rewrites: list[str]
    accuracy: dict[str, Any]
    visibility: dict[str, str]
    srs_sha256: str
    circuit_model_sha256: str
    verifier_code_hash: str
    vka_digest: str
    reusable_code_hash: str
    class_labels: list[str | int] | None = Field(
        None, description="the classes' labels where they are not 0..K-1 (string labels); "
                          "absent: the class index is the label")


class Model(ObjectJson):
    record: ModelRecord | None = Field(description="none: a trainable model's version or an "
                                                   "architecture's circuit (see its lineage)")


class LineageStep(Schema):
    """One version of a trainable model and the training that made it (none for the first)."""

    version: ObjectJson
    training: TraceJson | None


class DataObject(ObjectJson):
    values: list[float] | None = Field(description="common data only")


class CompileJob(Schema):
    job_id: str
    stage: str
    fraction: float | None
    done: bool
    record: ModelRecord | None
    metadata_hash: Hash | None
    error: ErrorBody | None


class DataCommitment(Schema):
    commitment: Hash
    model_id: str


class CircuitRecord(Schema):
    """A circuit of a trainable architecture (its step or its inference circuit): deploy it
    with `DeployModel(graph_hash, vk_hash, metadata_hash)`."""

    kind: str = Field(description="step or inference")
    family: str
    options: dict[str, Any] = Field(description="the family's shape and learning rate")
    scale: int
    vk_hash: str
    graph_hash: str
    circuit_model_sha256: str
    logrows: int
    srs_sha256: str
    verifier_code_hash: str
    vka_digest: str
    reusable_code_hash: str
    metadata_hash: Hash


class TrainableJob(Schema):
    """The build of a trainable architecture's circuits and its first weights."""

    job_id: str
    stage: str = Field(description="queued, building, step, inference, verifier, done, failed")
    done: bool
    step: CircuitRecord | None
    inference: CircuitRecord | None
    weight_commitment: Hash | None = Field(description="the first version's weights (kept by "
                                                       "the node): DeployTrainable names it")
    error: ErrorBody | None


class TrainingRow(Schema):
    commitment: Hash = Field(description="the row's: SubmitData names it")
    model_id: str
    row: list[float] = Field(description="the row as the step circuit takes it")


class TraceRecord(TraceJson):
    seq: int = Field(description="the Infer's place in the node's log: a listing's cursor")
    batch: int | None
    proof_status: str = Field(description="queued, proving, proven or failed")
    reason: str | None = Field(description="why proving failed")
    proof_seconds: float | None = Field(description="from the Infer's receipt to its proof "
                                                    "(none until proven)")
    result: InferenceResult | None = Field(description="the outputs read as numbers (none: "
                                                       "the model is gone, or this node does "
                                                       "not hold its record)")


class TracePage(Schema):
    """A page of trace entries, most recent first."""

    traces: list[TraceRecord]
    next_before: int | None = Field(description="pass as `before` for the next, older page; "
                                                "none: this is the last page")


class AssetInfo(Schema):
    """How amounts of an asset read."""

    asset: Hash
    unit: str = Field(description="dev, ETH, LTC")
    decimals: int
    ledger: str | None = Field(description="the ledger whose native coin it is")


class ModelVerifier(Schema):
    """A model's verifier on one ledger that binds models to verifiers."""

    ledger: str
    known: bool = Field(description="false: the ledger could not be asked now")
    registered: bool
    verifier: AddressHex | None = None
    reusable: bool | None = Field(None, description="the reusable verifier reading a VKA")
    vka_digest: Hash | None = None
    batch: int | None = Field(None, description="the batch whose state root showed the model")
    standing: bool | None = Field(None, description="false: that batch was reverted")


class TraceProof(Schema):
    tx_hash: str
    proof: dict[str, Any] | list[dict[str, Any]] = Field(
        description="ezkl's proof.json; a training's: one per step, in order")


class TraceVerified(Schema):
    tx_hash: str
    verified: bool
    input_commitment: Hash
    outputs: list[int]


class WithdrawalInBatch(WithdrawalJson):
    batch: int | None = Field(description="none until it is sealed in a batch")


class WithdrawalProof(Schema):
    """What finalizing a withdrawal on L1 needs: its batch, leaf index and Merkle proof."""

    withdrawal: WithdrawalJson
    batch: int
    index: int
    proof: list[Hash]


class Sealed(Schema):
    sealed: bool
    batch: Batch | None
