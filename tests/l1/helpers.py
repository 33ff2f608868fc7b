"""Small builders shared by the ledger tests.

A batch is posted with its transactions (`ledger.post_batch(*batch)`): real signed ones, each
committed with an arbitrary post-state root (the last one the batch's state root) and the
trace or withdrawal leaf it is said to emit, so the header's roots follow from them as the
rollup contract checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from flavum.core.batch import (
    BatchHeader,
    TraceEntry,
    Withdrawal,
    compute_batch_header,
    compute_tx_commitment,
)
from flavum.core.encoding import keccak256
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
from flavum.core.types import Amount, AssetId, Hash32, Nonce, ObjectId
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_posting import encode_posted_txs
from flavum.l1.interface import BatchTx, ProvenInference, proven_inference

from .conftest import ALICE, ALICE_KEY, BOB, DOMAIN, GENESIS_ROOT, ProvenModel


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
             emitted: Sequence[tuple[Transaction, TraceEntry | None, Withdrawal | None]]
             ) -> Batch:
    """Batch `number` of these transactions, each with the trace and withdrawal it emits;
    transaction i's post-state root is h("state<number>.<i>"), the last one h("state<number>")."""
    txs = []
    for i, (tx, trace, withdrawal) in enumerate(emitted):
        post_root = h(f"state{number}" if i == len(emitted) - 1 else f"state{number}.{i}")
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
) -> Batch:
    """Batch `number`: `txs` (emitting nothing; by default one Transfer when there are no
    traces or withdrawals), then an Infer per trace and a Withdraw per withdrawal."""
    if txs is None:
        txs = [] if traces or withdrawals else [
            signed(Transfer(BOB, AssetId(h("asset")), Amount(1)), nonce_of(number, 0))]
    emitted: list[tuple[Transaction, TraceEntry | None, Withdrawal | None]] = [
        (tx, None, None) for tx in txs]
    for trace in traces:
        emitted.append((infer_tx(trace, nonce_of(number, len(emitted))), trace, None))
    for w in withdrawals:
        emitted.append((withdraw_tx(w, nonce_of(number, len(emitted))), None, w))
    return batch_of(number, prev_root, emitted)


def one_inference(model: ProvenModel, model_id: ObjectId, number: int = 0,
                  prev_root: Hash32 = GENESIS_ROOT
                  ) -> tuple[BatchHeader, tuple[BatchTx, ...], ProvenInference]:
    """Batch `number` of one Infer whose trace (named by the Infer's own hash) the model's
    proof proves: its header, its transactions and the proven inference."""
    result_id = ObjectId(h(f"result{number}"))
    tx = signed(Infer(model_id, ObjectId(h("data")), Amount(0)), nonce_of(number, 0))
    tx_hash = compute_tx_hash(tx)
    trace = trace_of(model, model_id, tx_hash, result_id)
    header, txs = batch_of(number, prev_root, [(tx, trace, None)])
    return header, txs, proven_inference(model_id, model.proof, [(tx_hash, result_id)])


def tx_tuples(txs: Sequence[BatchTx]) -> bytes:
    """The contract's packed `txs` argument, for calling submitBatch directly."""
    return encode_posted_txs(txs)
