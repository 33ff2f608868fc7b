"""Batches: the header posted to ledgers, and the leaves of its tx, trace and withdrawal roots.

A trace entry records one inference: which model ran on which committed input and what it
output; a training trace records one Train (its chain of step proofs). Its leaf is what the ZK
proofs' public values must match. A withdrawal leaf is what a
ledger's bridge pays out against, with a Merkle proof to the batch's withdrawal root.

Every transaction of a batch is committed with what it did: its leaf in the tx root is
`keccak256(abi.encode(TX_LEAF_TAG, tx_hash, post_state_root, withdrawal_leaf, trace_leaf))`
(a zero leaf where it emitted none). The header's other roots follow from those leaves alone:
the state root is the last transaction's post-state root (the previous root for an empty
batch), the withdrawal and trace roots are the trees of the non-zero emitted leaves in order.
So one transaction can be re-executed on its own (a one-step fraud proof): from the previous
leaf's post-state root to its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from flavum.core.encoding import compute_tag, encode_abi, hash_tagged, keccak256
from flavum.core.merkle import compute_tree_root
from flavum.core.types import NO_OBJECT, ZERO_HASH, Address, Amount, AssetId, Hash32, ObjectId

TRACE_TAG = compute_tag("batch.trace")
WITHDRAWAL_TAG = compute_tag("batch.withdrawal")
OUTPUTS_TAG = compute_tag("batch.outputs")
HEADER_TAG = compute_tag("batch.header")
TX_LEAF_TAG = compute_tag("batch.tx")
TRAINING_TAG = compute_tag("batch.training")
ROWS_TAG = compute_tag("batch.rows")
VERSION_TAG = compute_tag("batch.version")


def compute_outputs_hash(outputs: Sequence[int]) -> Hash32:
    """Commitment to an inference's fixed-point outputs: keccak256(abi.encode(TAG, int256[]))."""
    return keccak256(encode_abi(("bytes32", "int256[]"), (OUTPUTS_TAG, list(outputs))))


@dataclass(frozen=True)
class TraceEntry:
    """One inference: `model_id` ran on the input committed by `input_commitment`."""

    tx_hash: Hash32
    model_id: ObjectId
    data_id: ObjectId
    input_commitment: Hash32
    outputs: tuple[int, ...]  # fixed-point, at the circuit's output scale
    result_id: ObjectId
    # An inference on a trainable version: the inference circuit's MODEL and the version's
    # weight commitment H(θ), which its leaf's model word binds (compute_version_word).
    circuit_id: ObjectId = NO_OBJECT
    weights: Hash32 = ZERO_HASH


@dataclass(frozen=True)
class TrainingTrace:
    """One training: `steps` proven SGD steps of step circuit `step_model_id` from the params
    committed by `params_in` on the rows committed by `rows_hash` (in order, `steps` equal
    batches) to the params committed by `params_out`, which version `version_id` holds.

    Its leaf has the layout of an inference's (`compute_trace_claim`): the rollup contract
    rebuilds it from the chained step proofs, the one-step executor from the state."""

    tx_hash: Hash32
    step_model_id: ObjectId
    params_in: Hash32
    steps: int
    rows_hash: Hash32
    params_out: Hash32
    version_id: ObjectId


Trace = TraceEntry | TrainingTrace


def compute_rows_hash(commitments: Sequence[Hash32]) -> Hash32:
    """The rows of a training, in order: h = keccak256(abi.encode(ROWS_TAG, h, c)) from h = 0."""
    h = ZERO_HASH
    for commitment in commitments:
        h = hash_tagged(ROWS_TAG, ("bytes32", "bytes32"), (h, commitment))
    return h


def compute_training_word(step_model_id: ObjectId, params_in: Hash32, steps: int) -> Hash32:
    """A training leaf's model word: the step circuit, where the chain starts, its length."""
    return hash_tagged(TRAINING_TAG, ("bytes32", "bytes32", "uint64"),
                       (step_model_id, params_in, steps))


def compute_version_word(circuit_id: ObjectId, weights: Hash32) -> Hash32:
    """The model word of an inference on a version: the architecture's inference circuit and
    the weights H(θ) its proof took as an input (public value 0)."""
    return hash_tagged(VERSION_TAG, ("bytes32", "bytes32"), (circuit_id, weights))


def compute_trace_claim(entry: Trace) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The five words a trace leaf hashes (FlavumStep.TraceClaim): (tx hash, model word,
    input commitment, outputs hash, result id). A training's are (tx hash, training word,
    rows hash, params out, version id). An inference on a version's model word is its version
    word: the rollup reads it from the proof, whose verifier is the inference circuit's."""
    if isinstance(entry, TrainingTrace):
        return (entry.tx_hash,
                compute_training_word(entry.step_model_id, entry.params_in, entry.steps),
                entry.rows_hash, entry.params_out, entry.version_id)
    model_word = (entry.model_id if entry.circuit_id == NO_OBJECT
                  else compute_version_word(entry.circuit_id, entry.weights))
    return (entry.tx_hash, model_word, entry.input_commitment,
            compute_outputs_hash(entry.outputs), entry.result_id)


def compute_trace_leaf(entry: Trace) -> Hash32:
    return hash_tagged(
        TRACE_TAG, ("bytes32", "bytes32", "bytes32", "bytes32", "bytes32"),
        compute_trace_claim(entry),
    )


@dataclass(frozen=True)
class Withdrawal:
    """A claim payable on `ledger`: an amount of `asset`, or an object (kind and commitment)."""

    withdrawal_id: Hash32  # the Withdraw transaction's hash: makes every leaf unique
    ledger: Hash32
    recipient: Address
    asset: AssetId
    amount: Amount
    object_id: ObjectId
    object_kind: int  # 0 for a balance withdrawal, else an ObjectKind
    commitment: Hash32
    model_id: ObjectId


def compute_withdrawal_leaf(w: Withdrawal) -> Hash32:
    return hash_tagged(
        WITHDRAWAL_TAG,
        ("bytes32", "bytes32", "address", "bytes32", "uint256", "bytes32", "uint8", "bytes32",
         "bytes32"),
        (w.withdrawal_id, w.ledger, w.recipient, w.asset, w.amount, w.object_id,
         w.object_kind, w.commitment, w.model_id),
    )


@dataclass(frozen=True)
class BatchRoots:
    """A batch's number and roots: the header without its data pointer (the batch data, which
    the pointer names, holds these)."""

    number: int
    prev_state_root: Hash32
    state_root: Hash32
    tx_root: Hash32
    trace_root: Hash32
    withdrawal_root: Hash32


@dataclass(frozen=True)
class BatchHeader(BatchRoots):
    """What a ledger records of a batch."""

    data_pointer: Hash32  # content id of the published batch data


def compute_batch_hash(h: BatchHeader) -> Hash32:
    return hash_tagged(
        HEADER_TAG,
        ("uint64", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32"),
        (h.number, h.prev_state_root, h.state_root, h.tx_root, h.trace_root, h.withdrawal_root,
         h.data_pointer),
    )


@dataclass(frozen=True)
class TxCommitment:
    """One transaction of a batch and what it did: the state root after it, its emissions."""

    tx_hash: Hash32
    post_state_root: Hash32
    withdrawal_leaf: Hash32 = ZERO_HASH  # zero: it emitted no withdrawal
    trace_leaf: Hash32 = ZERO_HASH  # zero: it emitted no trace entry


def compute_tx_leaf(c: TxCommitment) -> Hash32:
    return hash_tagged(
        TX_LEAF_TAG, ("bytes32", "bytes32", "bytes32", "bytes32"),
        (c.tx_hash, c.post_state_root, c.withdrawal_leaf, c.trace_leaf),
    )


def compute_tx_commitment(tx_hash: Hash32, post_state_root: Hash32,
                          trace: Trace | None, withdrawal: Withdrawal | None) -> TxCommitment:
    """The commitment of a transaction that emitted `trace` and/or `withdrawal` (or neither)."""
    return TxCommitment(
        tx_hash, post_state_root,
        ZERO_HASH if withdrawal is None else compute_withdrawal_leaf(withdrawal),
        ZERO_HASH if trace is None else compute_trace_leaf(trace),
    )


def compute_batch_header(
    number: int,
    prev_state_root: Hash32,
    commitments: Sequence[TxCommitment],
    data_pointer: Hash32,
) -> BatchHeader:
    """The header whose roots follow from the transactions' commitments (module docstring)."""
    return BatchHeader(
        number=number,
        prev_state_root=prev_state_root,
        state_root=commitments[-1].post_state_root if commitments else prev_state_root,
        tx_root=compute_tree_root([compute_tx_leaf(c) for c in commitments]),
        trace_root=compute_tree_root(
            [c.trace_leaf for c in commitments if c.trace_leaf != ZERO_HASH]),
        withdrawal_root=compute_tree_root(
            [c.withdrawal_leaf for c in commitments if c.withdrawal_leaf != ZERO_HASH]),
        data_pointer=data_pointer,
    )
