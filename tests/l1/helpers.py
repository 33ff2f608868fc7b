"""Small builders shared by the ledger tests.

A batch is posted with its transactions (`ledger.post_batch(*batch)`): real signed ones, each
committed with an arbitrary post-state root (the last one the batch's state root, unless a
test names it) and the trace or withdrawal leaf it is said to emit, so the header's roots
follow from them as the rollup contract checks.

A model is bound to its verifier as ModelRegistry.sol requires, with no registrar: a MODEL
object whose metadata hash is the hash of its real binding (`bind_model`), in a small state of
its own that a batch commits to as its state root; then either that batch's posting registers
it (`registrations=[bound.registration()]`) or anyone does, once the batch is accepted
(`register`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from flavum.core.batch import (
    BatchHeader,
    TraceEntry,
    Withdrawal,
    compute_batch_header,
    compute_tx_commitment,
)
from flavum.core.encoding import keccak256
from flavum.core.model_binding import ModelBinding, compute_model_binding_hash
from flavum.core.state import (
    Object,
    State,
    compute_object_key,
    compute_state_root,
    get_state_proof,
    set_object,
)
from flavum.core.transactions import (
    Body,
    Infer,
    Transaction,
    Transfer,
    Withdraw,
    compute_tx_hash,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import (
    ZERO_HASH,
    Access,
    Amount,
    AssetId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_abi import header_tuple
from flavum.l1.evm_escape import object_tuple
from flavum.l1.evm_posting import encode_posted_txs
from flavum.l1.evm_step import proof_arg
from flavum.l1.interface import (
    BatchTx,
    CircuitFiles,
    ModelLayout,
    ModelRegistration,
    ProvenInference,
    proven_inference,
)
from flavum.l1.verifiers import compute_reusable_code_hash

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, DOMAIN, GENESIS_ROOT, PerRowModel, ProvenModel


class Batch(NamedTuple):
    """A batch as posted: its header and its transactions, `ledger.post_batch(*batch)`."""

    header: BatchHeader
    txs: tuple[BatchTx, ...]


def h(label: str) -> Hash32:
    return keccak256(label.encode())


def mine(ledger: EvmLedger, blocks: int) -> None:
    tester = getattr(ledger.w3.provider, "ethereum_tester", None)
    if tester is not None:
        tester.mine_blocks(blocks)
        return
    for _ in range(blocks):
        ledger.w3.provider.make_request("evm_mine", [])


def trace_of(model: ProvenModel, model_id: ObjectId, tx_hash: Hash32, result_id: ObjectId,
             outputs: Sequence[int] | None = None) -> TraceEntry:
    return TraceEntry(
        tx_hash=tx_hash, model_id=model_id, data_id=ObjectId(h("data")),
        input_commitment=model.execution.input_commitment.be_bytes,
        outputs=tuple(model.execution.outputs if outputs is None else outputs),
        result_id=result_id,
    )


def signed(body: Body, nonce: int) -> Transaction:
    """`body` signed by ALICE with `nonce`, for DOMAIN."""
    tx = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ALICE, Nonce(nonce), body)
    return sign_transaction(tx, ALICE_KEY)


def nonce_of(number: int, index: int) -> int:
    """The nonce of transaction `index` of batch `number`: distinct in every batch."""
    return 1000 * number + index


def infer_tx(trace: TraceEntry, nonce: int) -> Transaction:
    """The Infer transaction said to emit `trace` (its hash need not be trace.tx_hash)."""
    return signed(Infer(trace.model_id, trace.data_id, Amount(0)), nonce)


def withdraw_tx(w: Withdrawal, nonce: int) -> Transaction:
    return signed(Withdraw(w.ledger, w.recipient, w.asset, w.amount, w.object_id), nonce)


def batch_of(number: int, prev_root: Hash32,
             emitted: Sequence[tuple[Transaction, TraceEntry | None, Withdrawal | None]],
             state_root: Hash32 | None = None) -> Batch:
    """Batch `number` of these transactions, each with the trace and withdrawal it emits;
    transaction i's post-state root is h("state<number>.<i>"), the last one `state_root`
    (by default h("state<number>"))."""
    txs = []
    last = h(f"state{number}") if state_root is None else state_root
    for i, (tx, trace, withdrawal) in enumerate(emitted):
        post_root = last if i == len(emitted) - 1 else h(f"state{number}.{i}")
        commitment = compute_tx_commitment(compute_tx_hash(tx), post_root, trace, withdrawal)
        txs.append(BatchTx(encode_transaction(tx), commitment))
    return Batch(header_of(number, prev_root, txs), tuple(txs))


def header_of(number: int, prev_root: Hash32, txs: Sequence[BatchTx]) -> BatchHeader:
    """The header whose roots follow from `txs`' commitments, data pointer h("data<number>")."""
    return compute_batch_header(number, prev_root, [t.commitment for t in txs],
                                h(f"data{number}"))


def make_batch(
    number: int, *, prev_root: Hash32 = GENESIS_ROOT, traces: Sequence[TraceEntry] = (),
    withdrawals: Sequence[Withdrawal] = (), txs: Sequence[Transaction] | None = None,
    state_root: Hash32 | None = None,
) -> Batch:
    """Batch `number`: `txs` (emitting nothing; by default one Transfer when there are no
    traces or withdrawals), then an Infer per trace and a Withdraw per withdrawal; its state
    root `state_root` (by default h("state<number>"))."""
    if txs is None:
        txs = [] if traces or withdrawals else [
            signed(Transfer(BOB, AssetId(h("asset")), Amount(1)), nonce_of(number, 0))]
    emitted: list[tuple[Transaction, TraceEntry | None, Withdrawal | None]] = [
        (tx, None, None) for tx in txs]
    for trace in traces:
        emitted.append((infer_tx(trace, nonce_of(number, len(emitted))), trace, None))
    for w in withdrawals:
        emitted.append((withdraw_tx(w, nonce_of(number, len(emitted))), None, w))
    return batch_of(number, prev_root, emitted, state_root)


def one_inference(model: ProvenModel, model_id: ObjectId, number: int = 0,
                  prev_root: Hash32 = GENESIS_ROOT, state_root: Hash32 | None = None
                  ) -> tuple[BatchHeader, tuple[BatchTx, ...], ProvenInference]:
    """Batch `number` of one Infer whose trace (named by the Infer's own hash) the model's
    proof proves: its header, its transactions and the proven inference."""
    result_id = ObjectId(h(f"result{number}"))
    tx = signed(Infer(model_id, ObjectId(h("data")), Amount(0)), nonce_of(number, 0))
    tx_hash = compute_tx_hash(tx)
    trace = trace_of(model, model_id, tx_hash, result_id)
    header, txs = batch_of(number, prev_root, [(tx, trace, None)], state_root)
    return header, txs, proven_inference(model_id, model.proof, [(tx_hash, result_id)])


def tx_tuples(txs: Sequence[BatchTx]) -> bytes:
    """The contract's packed `txs` argument, for calling submitBatch directly."""
    return encode_posted_txs(txs)


# --- binding models to their verifiers ------------------------------------------------------


def model_binding(model: ProvenModel | PerRowModel, layout: ModelLayout = ModelLayout(), *,
                  own: bool = True) -> ModelBinding:
    """The binding a DeployModel of `model` commits to, as the node's model record makes it:
    its own verifier's code hash (`own`; else none, its proofs go to the reusable verifier),
    its VKA's digest, the reusable verifier's code hash, and the layout of its proofs."""
    build = model.verifier
    return ModelBinding(
        record_hash=h(f"model record {model.artifacts.vk_hash.hex()}"),
        srs_hash=Hash32(bytes.fromhex(model.artifacts.srs_sha256)),
        verifier_code_hash=build.code_hash if own else ZERO_HASH,
        vka_digest=build.vka_digest,
        reusable_code_hash=compute_reusable_code_hash(),
        rows=layout.rows,
        per_row_inputs=layout.per_row_inputs,
        row_points=layout.row_points,
        row_width=layout.row_width,
        training_step=layout.training_step,
    )


def model_object(model: ProvenModel | PerRowModel, model_id: ObjectId, binding: ModelBinding
                 ) -> Object:
    """Alice's MODEL object of `model`, its metadata hash the hash of `binding`."""
    return Object(model_id, ObjectKind.MODEL, ALICE, Access.COMMON, h("onnx"),
                  compute_model_binding_hash(binding), model.artifacts.vk_hash)


def state_of(*objects: Object) -> State:
    state = State(DOMAIN)
    for obj in objects:
        set_object(state, obj)
    return state


@dataclass(frozen=True)
class BoundModel:
    """A MODEL object committed to its binding, the small state holding it (a batch that
    commits to `root` shows the model) and its circuit's files."""

    model: Object
    binding: ModelBinding
    state: State
    circuit: CircuitFiles

    @property
    def model_id(self) -> ObjectId:
        return self.model.object_id

    @property
    def root(self) -> Hash32:
        return compute_state_root(self.state)

    def registration(self) -> ModelRegistration:
        """The model, its binding and its leaf's proof in `root`."""
        proof = get_state_proof(self.state, compute_object_key(self.model_id))
        return ModelRegistration(self.model, self.binding, proof, self.circuit)


def bind_model(model: ProvenModel | PerRowModel, model_id: ObjectId,
               layout: ModelLayout = ModelLayout(), *, own: bool = True) -> BoundModel:
    """`model` deployed as `model_id` with its real binding (`model_binding`), alone in a
    state."""
    binding = model_binding(model, layout, own=own)
    obj = model_object(model, model_id, binding)
    return BoundModel(obj, binding, state_of(obj), model.circuit(layout))


def register(ledger: EvmLedger, bound: BoundModel, number: int = 0,
             prev_root: Hash32 = GENESIS_ROOT, key: bytes = BOB_KEY) -> Batch:
    """Post batch `number` (one Transfer) whose state root shows the model, then bind the
    model with the registry's `register`, sent by `key` (by default Bob's: anyone may).
    Returns the batch."""
    batch = make_batch(number, prev_root=prev_root, state_root=bound.root)
    ledger.post_batch(*batch)
    ledger.register_model(batch.header, bound.registration(), key)
    return batch


def registration_arg(ledger: EvmLedger, registration: ModelRegistration, verifier: str,
                     vka: Sequence[bytes] = ()) -> tuple[Any, ...]:
    """ModelRegistry.Registration naming `verifier` (and `vka`: the reusable path) as given,
    not as the ledger would choose it: what a registrant sends by hand, or an attacker."""
    b = registration.binding
    return (object_tuple(ledger.w3, registration.model),
            (b.record_hash, b.srs_hash, b.verifier_code_hash, b.vka_digest,
             b.reusable_code_hash, b.rows, b.inputs),
            proof_arg(registration.proof), verifier, list(vka))


def send_registration(ledger: EvmLedger, header: BatchHeader, arg: tuple[Any, ...],
                      key: bytes = BOB_KEY) -> Any:
    """The registry's `register(header, arg)`, sent by `key`; its receipt."""
    fn = ledger.registry.functions.register(header_tuple(header), arg)
    return ledger._transact("register", key, fn, gas=3_000_000)
