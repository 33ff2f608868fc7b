"""Ledgers: where batches are anchored, deposits come from, and withdrawals are paid.

A `Ledger` is one narrow interface with capability flags, so the node and the verifier treat an
EVM chain that verifies every proof and a ledger that only anchors headers (Litecoin) the same
way, and never ask which one they hold: `Capabilities.verifies_proofs` tells whether acceptance
of a batch on that ledger implies its inference proofs were checked there, `registers_models`
whether each model is bound to an on-ledger verifier first, `pays_withdrawals` whether the
ledger's own signers pay withdrawals (users do not claim them). A call outside a ledger's
capabilities raises `LedgerUnsupported`. `FakeLedger` (fake.py) implements it in memory for
tests; `open_ledger` (factory.py) opens the one a configuration names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flavum.core.batch import BatchHeader, TraceEntry, TxCommitment, Withdrawal
from flavum.core.encoding import keccak256
from flavum.core.field import POINT_BYTES, felt_to_signed
from flavum.core.merkle import SmtProof
from flavum.core.model_binding import ModelBinding, compute_public_row_commitment
from flavum.core.state import Object
from flavum.core.step_witness import StepWitness
from flavum.core.stf import AnyExecution, Execution, TrainingExecution
from flavum.core.types import ZERO_HASH, Address, Amount, AssetId, Hash32, ObjectId
from flavum.l1.errors import LedgerUnsupported


@dataclass(frozen=True)
class Capabilities:
    """What a ledger does with what it is given."""

    verifies_proofs: bool  # batch acceptance implies every inference proof verified on it
    anchors_only: bool  # records headers without checking them (verification is off-ledger)
    bridges_assets: bool  # deposits / withdrawals of coins and tokens
    bridges_objects: bool  # withdrawals of DATA / RESULT objects (as NFTs)
    forced_inclusion: bool  # users can queue transactions the sequencer must include
    registers_models: bool  # a model is bound to an on-ledger verifier before its proofs post
    pays_withdrawals: bool  # the ledger's signers pay withdrawals of anchored batches
    carries_batch_data: bool  # a batch transaction can carry the batch data (DA on the ledger)
    # its batches are final after a challenge window; one-step fraud proofs revert bad ones
    settles_by_fraud_proofs: bool = False
    # frozen when no batch is accepted for a while: users withdraw from the last final state
    escape_hatch: bool = False


@dataclass(frozen=True)
class ProvenInference:
    """One verifier call: a proof and its public values, and the trace rows it covers.

    `rows` lists (tx_hash, result_id) of the trace entries it proves, in trace order: as many
    as the model's registration pinned (`ModelLayout`), and the public values are read with it.

    Without per-row inputs, the public values are the input commitment (one Poseidon hash)
    followed by the outputs: the outputs are split into len(rows) equal slices, row i taking
    slice i, and every row carries the one input commitment. A model with a batch dimension,
    proven once for N inputs, therefore yields N trace leaves (or one, when it is registered
    with one row: one Infer covers all N).

    With per-row inputs (a batched model with one input commitment per row, see
    flavum.ml.batching), the public values are [c_0, ..., c_{N-1}, outputs of row 0, ...,
    outputs of row N-1] and `rows` has exactly N entries, in the proof's row order: row i's
    leaf has commitment c_i and the i-th of N equal slices of the outputs. A padding row
    (filling the proof's N rows when fewer requests were packed) is (ZERO_HASH, ZERO_HASH)
    and yields no trace leaf. With row points (polycommit) no commitment is public: c_i is
    keccak256 of the proof's i-th KZG point. With public rows (common data) the public values
    are [row 0, ..., row N-1, outputs...], each row `row_width` values, and c_i is
    compute_public_row_commitment of row i.
    """

    model_id: ObjectId
    proof: bytes
    instances: tuple[int, ...]
    rows: tuple[tuple[Hash32, ObjectId], ...]


@dataclass(frozen=True)
class ModelLayout:
    """How a ledger reads a model's proofs, pinned when the model is registered: the trace rows
    per proof (padding rows included), whether each row has its own input commitment and
    whether those are KZG points in the proof (polycommit) rather than public values."""

    rows: int = 1
    per_row_inputs: bool = False
    row_points: bool = False
    row_width: int = 0  # > 0: public rows, this many input values per row (before the outputs)
    training_step: bool = False  # one step of a training per proof (FlavumRollup.Inference)
    version_inference: bool = False  # [H(params), H(row), outputs]: an inference on a version


def compute_layout(binding: ModelBinding) -> ModelLayout:
    """The layout a model's binding pins (what its registration stores)."""
    return ModelLayout(binding.rows, binding.per_row_inputs, binding.row_points, binding.row_width,
                       binding.training_step, binding.version_inference)


@dataclass(frozen=True)
class CircuitFiles:
    """A model's compiled circuit, as a ledger that registers models builds its verifier from:
    the verifying key, ezkl settings and SRS, the circuit's directory (a ledger keeps what it
    generates under it) and the layout the ledger must read its proofs with."""

    vk_path: Path
    settings_path: Path
    srs_path: Path
    directory: Path
    layout: ModelLayout


@dataclass(frozen=True)
class ForcedRequest:
    """A transaction a user queued on the ledger, that batches must include in time."""

    request_id: int
    tx_hash: Hash32
    raw_tx: bytes
    requester: Address
    queued_at_block: int
    processed: bool


@dataclass(frozen=True)
class ForcedOutcome:
    """How a batch settled a forced request: included, or refused as invalid at that point."""

    request_id: int
    batch_number: int
    included: bool


@dataclass(frozen=True)
class LedgerQueues:
    """What a ledger holds that batches must take in time: its inbox deposits and forced
    requests, each due within `window` blocks of where it was made (head: the ledger's block)."""

    head: int
    window: int
    deposits: int  # inbox deposits made
    deposits_consumed: int  # taken by accepted batches (the first ones, in index order)
    pending_deposit_blocks: tuple[int, ...]  # the block of each deposit not taken yet
    forced: tuple[ForcedRequest, ...]  # every forced request, processed or not
    outcomes: tuple[ForcedOutcome, ...]  # how accepted batches settled the processed ones

    def overdue_deposits(self) -> list[int]:
        """Indices of unconsumed deposits older than the window (the next batch must take
        them: the rollup refuses one that does not)."""
        return [self.deposits_consumed + i for i, block in enumerate(self.pending_deposit_blocks)
                if self.head - block > self.window]

    def overdue_forced(self) -> list[int]:
        """Ids of pending forced requests older than the window."""
        return [r.request_id for r in self.forced
                if not r.processed and self.head - r.queued_at_block > self.window]


@dataclass(frozen=True)
class ForcedInclusion:
    """How a batch processes a forced request: included as its transaction `tx_index`, or
    refused (the transaction was invalid; recorded on the ledger for all to check)."""

    request_id: int
    included: bool
    tx_index: int = 0


@dataclass(frozen=True)
class BatchTx:
    """One transaction of a batch as posted: its wire encoding and what it did."""

    raw: bytes
    commitment: TxCommitment


@dataclass(frozen=True)
class DepositEvent:
    """A bridge deposit as the ledger recorded it; `event_id` names it once and for all.

    `index` is its number in the bridge's inbox on a ledger that numbers deposits (the EVM
    bridge stores each one's Deposit body hash, and batches must take them in index order);
    None on a ledger that does not (Litecoin)."""

    event_id: Hash32
    index: int | None
    block_number: int
    block_hash: Hash32
    log_index: int
    depositor: Address
    recipient: Address
    asset: AssetId
    token: Address
    amount: Amount
    data_commitment: Hash32
    metadata_hash: Hash32
    payload: bytes = b""


@dataclass(frozen=True)
class BatchStatus:
    number: int
    accepted: bool
    batch_hash: Hash32 | None = None
    withdrawal_root: Hash32 | None = None
    tx_hash: Hash32 | None = None  # the ledger transaction that posted it, when known


@dataclass(frozen=True)
class BatchRevert:
    """A fraud proof the ledger accepted: batch `number` and every later one were reverted."""

    number: int
    batch_hash: Hash32  # batch `number` as it was accepted before the revert
    tx_index: int  # its transaction proven fraudulent
    reason: str  # the one-step executor's verdict
    challenger: Address
    prize: Amount  # the sequencer's bond, paid to the challenger
    block_number: int


@dataclass(frozen=True)
class Bond:
    """The sequencer's bond on a ledger that settles by fraud proofs: batches are refused
    while it is under the minimum (a successful challenge takes all of it)."""

    amount: Amount
    minimum: Amount

    @property
    def is_short(self) -> bool:
        return self.amount < self.minimum


@dataclass(frozen=True)
class EscapeStatus:
    """Whether the ledger's rollup is frozen in escape mode: from block `escape_at_block`,
    `escape_delay` + 1 blocks after the last standing batch was accepted (`last_batch_block`),
    as of block `head` (read then)."""

    escape_delay: int
    last_batch_block: int
    escape_at_block: int
    head: int

    @property
    def escaped(self) -> bool:
        return self.head >= self.escape_at_block

    @property
    def blocks_left(self) -> int:
        """Blocks still to be mined before the rollup is frozen."""
        return max(0, self.escape_at_block - self.head)


@dataclass(frozen=True)
class SequencerRoles:
    """Who posts to a rollup and who can change that, as of block `head`: the admin proposes a
    new sequencer (`pending`), who can be activated from block `pending_at_block` on,
    `rotation_delay` blocks after the proposal (longer than the forced and challenge windows:
    users can leave first). `poster` is the address this ledger handle posts with (None: it
    holds no key)."""

    admin: Address
    sequencer: Address
    rotation_delay: int
    pending: Address | None
    pending_at_block: int | None
    head: int
    poster: Address | None

    @property
    def may_post(self) -> bool:
        return self.poster == self.sequencer

    @property
    def due(self) -> bool:
        """A rotation is pending and its delay is over: anyone may activate it."""
        return self.pending_at_block is not None and self.head >= self.pending_at_block


@dataclass(frozen=True)
class EscapeBalance:
    """A balance leaf of the escape root: `account` holds `amount` of `asset`."""

    account: Address
    asset: AssetId
    amount: Amount


EscapeLeaf = EscapeBalance | Object  # what an escape withdrawal pays: a balance or an object


@dataclass(frozen=True)
class PostedBatch:
    """What a ledger recorded of a batch: its full header, or (an anchoring ledger) its hash
    and data pointer, from which the header is rebuilt with the blob's fields."""

    number: int
    header: BatchHeader | None = None
    batch_hash: Hash32 | None = None
    data_pointer: Hash32 | None = None


@dataclass(frozen=True)
class LedgerAddresses:
    """Where users reach the rollup on a ledger: the EVM contracts' deployment, or Litecoin's
    custody (deposits go there) and anchor (it pays the anchors' fees) addresses."""

    deployment: dict[str, Any] | None = None
    custody_address: str | None = None
    anchor_address: str | None = None


@dataclass(frozen=True)
class RegisteredModel:
    """A model's binding on a ledger: its verifier (its own, or the reusable one reading the
    VKA of digest `vka_digest`), the layout its proofs are read with, and the batch whose state
    root showed the model (`standing`: that batch was not reverted since)."""

    model_id: ObjectId
    verifier: Address
    vk_hash: Hash32
    owner: Address
    reusable: bool
    layout: ModelLayout = field(default_factory=ModelLayout)
    vka_digest: Hash32 = ZERO_HASH
    batch_number: int = 0
    standing: bool = True


@dataclass(frozen=True)
class ModelRegistration:
    """What binds a model to its verifier, with no registrar: the MODEL object as it stands in
    a batch's state root, its leaf's proof there, the preimage of its metadata hash (its
    binding: which verifier code and VKA it committed to) and its circuit's files, from which
    the ledger builds that verifier."""

    model: Object
    binding: ModelBinding
    proof: SmtProof
    circuit: CircuitFiles


def proven_executions(inference: ProvenInference, layout: ModelLayout
                      ) -> list[tuple[Hash32, AnyExecution]]:
    """What a proof proves of each of its trace rows, read from its public values (and, for
    row points, its bytes; for public rows, the rows' values hashed) as the rollup contract
    reads them (see ProvenInference): (the Infer's tx hash, its execution), in row order,
    padding rows left out. Outputs are the field elements read as signed integers. A training
    step proves its Train's execution so far: the params commitment it ends at (the last
    step's is the Train's). An inference on a version proves its row's commitment and outputs;
    the weights it took are public value 0, which its trace leaf binds."""
    if layout.training_step:
        (tx_hash, _), = inference.rows
        return [(tx_hash, TrainingExecution(Hash32(inference.instances[-1].to_bytes(32, "big"))))]
    if layout.version_inference:
        # [H(params), H(row), outputs]: the weights are the version's, which the node checks
        # (the trace leaf binds them) before it relies on this execution.
        (tx_hash, _), = inference.rows
        values = inference.instances
        if len(values) < 3:
            raise ValueError(f"{len(values)} public values hold no version inference")
        return [(tx_hash, Execution(Hash32(values[1].to_bytes(32, "big")),
                                    tuple(felt_to_signed(v) for v in values[2:])))]
    rows = len(inference.rows)
    values = inference.instances
    width = layout.row_width
    per_row_inputs = layout.per_row_inputs or layout.row_points or width > 0
    # Public values before the outputs: none for row points, the rows themselves for public
    # rows, else the commitments.
    heads = 0 if layout.row_points else rows * width if width else rows if per_row_inputs else 1
    per_row = (len(values) - heads) // rows if rows else 0
    if rows == 0 or per_row == 0 or heads + per_row * rows != len(values):
        raise ValueError(f"{len(values)} public values do not split into {rows} rows")
    if layout.row_points and len(inference.proof) < POINT_BYTES * rows:
        raise ValueError(f"a proof of {len(inference.proof)} bytes holds no point per row")
    executions = []
    for r, (tx_hash, _) in enumerate(inference.rows):
        if tx_hash == ZERO_HASH:
            continue  # a padding row
        if layout.row_points:
            commitment = keccak256(inference.proof[POINT_BYTES * r: POINT_BYTES * (r + 1)])
        elif width:
            commitment = compute_public_row_commitment(values[r * width: (r + 1) * width])
        else:
            commitment = Hash32((values[r] if per_row_inputs else values[0]).to_bytes(32, "big"))
        outputs = values[heads + r * per_row: heads + (r + 1) * per_row]
        executions.append((tx_hash, Execution(commitment,
                                              tuple(felt_to_signed(v) for v in outputs))))
    return executions


def proven_inference(model_id: ObjectId, proof: Any,
                     rows: Sequence[tuple[Hash32, ObjectId]]) -> ProvenInference:
    """A ProvenInference from a flavum.zk Proof (proof bytes and instances as ezkl made them).

    For a batched model with one commitment per row, `rows` names every row of the proof in
    order, (ZERO_HASH, ZERO_HASH) for a padding row."""
    return ProvenInference(model_id, bytes(proof.proof_bytes), tuple(proof.instances),
                           tuple((Hash32(t), ObjectId(r)) for t, r in rows))


class Ledger(ABC):
    """One ledger the rollup posts to. Implementations: evm.py (EvmLedger), litecoin.py
    (LitecoinLedger), fake.py (FakeLedger)."""

    name: str
    ledger_id: Hash32
    capabilities: Capabilities

    @abstractmethod
    def head(self) -> int:
        """The ledger's current block number."""

    @abstractmethod
    def post_batch(
        self,
        header: BatchHeader,
        txs: Sequence[BatchTx] = (),
        inferences: Sequence[ProvenInference] = (),
        forced: Sequence[ForcedInclusion] = (),
        registrations: Sequence[ModelRegistration] = (),
    ) -> Hash32 | None:
        """Post a batch with its transactions (a ledger that checks them refuses a header
        whose roots do not follow from them); idempotent by number: a batch already accepted
        with this very header returns the hash of the transaction that posted it (None if
        unknown) without posting. `registrations` bind, on a ledger that registers models,
        the models the batch proves that have no standing registration yet (their proofs are
        against this batch's state root)."""

    @abstractmethod
    def batch_status(self, number: int) -> BatchStatus: ...

    @abstractmethod
    def posted_batch(self, number: int) -> PostedBatch | None:
        """What the ledger recorded of batch `number`, read back from the ledger itself (a full
        header, or an anchor's batch hash and data pointer); None when it holds no such batch."""

    @abstractmethod
    def batch_depth(self, number: int) -> int | None:
        """How many blocks deep the transaction that posted batch `number` is (0: not mined
        yet); None when the batch is not posted, or the ledger cannot tell."""

    @abstractmethod
    def next_batch_number(self) -> int: ...

    @abstractmethod
    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        """Deposit events in blocks from_block..to_block (inclusive), in ledger order."""

    @abstractmethod
    def block_hash(self, number: int) -> Hash32 | None:
        """The hash of block `number` on the current chain; None beyond the head."""

    @abstractmethod
    def finalize_withdrawal(
        self, withdrawal: Withdrawal, batch_number: int, index: int, proof: Sequence[Hash32],
        sender_key: bytes,
    ) -> Hash32:
        """Pay (or mint) `withdrawal`, proven at `index` of the batch's withdrawal tree."""

    @abstractmethod
    def is_withdrawal_finalized(self, withdrawal: Withdrawal) -> bool: ...

    @abstractmethod
    def queue_forced_transaction(self, raw_tx: bytes, sender_key: bytes) -> int:
        """Queue a signed rollup transaction on the ledger; returns its request id."""

    @abstractmethod
    def forced_requests(self, only_pending: bool = True) -> list[ForcedRequest]: ...

    def queues(self) -> LedgerQueues:
        """The inbox deposits and forced requests batches must take in time, and how they
        did (capabilities.forced_inclusion)."""
        raise LedgerUnsupported(f"ledger {self.name} has no forced inclusion",
                                reason="no forced inclusion")

    def addresses(self) -> LedgerAddresses:
        """Where users reach the rollup on this ledger (nothing, unless the ledger says)."""
        return LedgerAddresses()

    def check_deployment(self) -> None:
        """Raise ChainReset when the chain no longer holds the rollup's contracts (nothing to
        check on a ledger without any)."""
        return None

    # --- capabilities.registers_models ---

    def model(self, model_id: ObjectId) -> RegisteredModel | None:
        """The verifier a model is bound to on this ledger; None when it is not registered."""
        raise LedgerUnsupported(f"ledger {self.name} registers no models",
                                reason="no model registry")

    def register_model(self, header: BatchHeader, registration: ModelRegistration,
                       sender_key: bytes) -> RegisteredModel:
        """Bind a model shown in accepted batch `header.number` to the verifier its binding
        names (built from its circuit), paid by `sender_key`: anyone may do it. Idempotent:
        a model registered from a standing batch is returned as it is."""
        raise LedgerUnsupported(f"ledger {self.name} registers no models",
                                reason="no model registry")

    # --- capabilities.settles_by_fraud_proofs ---

    def posted_txs(self, number: int) -> list[BatchTx]:
        """The transactions of accepted batch `number` as posted, with their commitments."""
        raise LedgerUnsupported(f"ledger {self.name} does not hold batch transactions",
                                reason="no fraud proofs")

    def posted_executions(self, number: int) -> dict[Hash32, AnyExecution]:
        """The Infer executions the proofs posted with accepted batch `number` prove, by tx
        hash (`proven_executions` of each posted inference)."""
        raise LedgerUnsupported(f"ledger {self.name} does not hold batch proofs",
                                reason="no fraud proofs")

    def final_at_block(self, number: int) -> int:
        """The block from which accepted batch `number` is final (its withdrawals payable)."""
        raise LedgerUnsupported(f"ledger {self.name} has no challenge window",
                                reason="no fraud proofs")

    def challenge(self, header: BatchHeader, txs: Sequence[BatchTx], index: int,
                  witness: StepWitness, trace: TraceEntry | None, sender_key: bytes) -> Hash32:
        """Submit a one-step fraud proof of transaction `index` of the batch with `header`
        (`txs` as posted; `witness` built on the state before the transaction; `trace` the
        trace entry it committed). LedgerError when the ledger finds no fraud in it."""
        raise LedgerUnsupported(f"ledger {self.name} takes no fraud proofs",
                                reason="no fraud proofs")

    def posted_forced(self, number: int) -> list[ForcedInclusion]:
        """How accepted batch `number` settled forced requests, as posted (a refusal with the
        position it was judged at)."""
        raise LedgerUnsupported(f"ledger {self.name} takes no fraud proofs",
                                reason="no fraud proofs")

    def challenge_refusal(self, header: BatchHeader, txs: Sequence[BatchTx],
                          refusal: ForcedInclusion, raw: bytes, witness: StepWitness,
                          sender_key: bytes) -> Hash32:
        """Prove that the batch with `header` (`txs` as posted) refused forced request
        `refusal` although its transaction `raw` is valid at the refusal's position (`witness`
        built on the state there). LedgerError when the ledger finds it invalid there."""
        raise LedgerUnsupported(f"ledger {self.name} takes no fraud proofs",
                                reason="no fraud proofs")

    def batch_reverts(self) -> list[BatchRevert]:
        """Every revert of batches by a fraud proof, in ledger order."""
        raise LedgerUnsupported(f"ledger {self.name} takes no fraud proofs",
                                reason="no fraud proofs")

    def bond(self) -> Bond:
        """The sequencer's bond and the minimum it must hold to post."""
        raise LedgerUnsupported(f"ledger {self.name} holds no bond", reason="no fraud proofs")

    def top_up_bond(self, amount: Amount, sender_key: bytes) -> Hash32:
        """Pay `amount` into the sequencer's bond from `sender_key` (anyone may)."""
        raise LedgerUnsupported(f"ledger {self.name} holds no bond", reason="no fraud proofs")

    # --- sequencer rotation (an EVM rollup's admin) ---

    def _no_rotation(self) -> LedgerUnsupported:
        return LedgerUnsupported(f"ledger {self.name} has no sequencer rotation",
                                 reason="no sequencer rotation")

    def sequencer_roles(self) -> SequencerRoles:
        """The admin, the sequencer and a pending rotation."""
        raise self._no_rotation()

    def propose_sequencer(self, sequencer: Address, admin_key: bytes) -> Hash32:
        """Propose `sequencer` (the admin's call); it can be activated after the delay."""
        raise self._no_rotation()

    def cancel_sequencer(self, admin_key: bytes) -> Hash32:
        """Withdraw the pending proposal (the admin's call)."""
        raise self._no_rotation()

    def activate_sequencer(self, sender_key: bytes) -> Hash32:
        """Make the proposed sequencer the sequencer once its delay is over (anyone may)."""
        raise self._no_rotation()

    # --- capabilities.escape_hatch ---

    def _no_escape_hatch(self) -> LedgerUnsupported:
        return LedgerUnsupported(f"ledger {self.name} has no escape hatch",
                                 reason="no escape hatch")

    def escape_status(self) -> EscapeStatus:
        """Whether the rollup is frozen, and from which block."""
        raise self._no_escape_hatch()

    def escape_root(self) -> Hash32:
        """The state root escape withdrawals are proven against (the last final batch's).
        NotEscaped before the freeze."""
        raise self._no_escape_hatch()

    def pays_asset(self, asset: AssetId) -> bool:
        """Whether this ledger's bridge pays `asset` (its native coin, or a token it holds)."""
        raise self._no_escape_hatch()

    def escape_withdraw(self, leaf: EscapeLeaf, proof: SmtProof, sender_key: bytes) -> Hash32:
        """Pay a balance leaf, or mint a DATA/RESULT object leaf, of the escape root to the
        account it names (`sender_key` only pays the gas), proven by `proof`; each leaf once."""
        raise self._no_escape_hatch()

    def is_escape_spent(self, leaf_key: Hash32) -> bool:
        """Whether the state leaf `leaf_key` was paid out in escape mode."""
        raise self._no_escape_hatch()

    def deposits_consumed(self) -> int:
        """How many of the inbox's deposits accepted batches took (the rest: refundable once
        frozen)."""
        raise self._no_escape_hatch()

    def escape_refund_deposit(self, deposit: DepositEvent, sender_key: bytes) -> Hash32:
        """Refund a deposit no accepted batch consumed to its recipient (frozen rollup only)."""
        raise self._no_escape_hatch()

    def is_deposit_refunded(self, index: int) -> bool:
        raise self._no_escape_hatch()

    # --- capabilities.pays_withdrawals ---

    def pay_withdrawal(self, header: BatchHeader, withdrawal: Withdrawal, index: int,
                       proof: Sequence[Hash32], *, confirmations: int) -> str:
        """Pay one withdrawal of batch `header` (proven at `index` of its withdrawal tree) once
        the batch is `confirmations` blocks deep; returns the payout's transaction id. Paid
        once: an earlier payout of it is returned instead. WithdrawalRefused when this ledger
        can never pay it."""
        raise LedgerUnsupported(f"ledger {self.name} does not pay withdrawals itself: "
                                "users finalize them", reason="finalized by users")
