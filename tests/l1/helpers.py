"""Small builders shared by the ledger tests."""

from __future__ import annotations

from collections.abc import Sequence

from flavum.core.batch import BatchHeader, TraceEntry, Withdrawal, compute_batch_header
from flavum.core.encoding import keccak256
from flavum.core.types import Hash32, ObjectId
from flavum.l1.evm import EvmLedger
from flavum.l1.interface import ProvenInference, proven_inference

from .conftest import GENESIS_ROOT, ProvenModel


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


def make_batch(
    number: int, *, prev_root: Hash32 = GENESIS_ROOT, traces: Sequence[TraceEntry] = (),
    withdrawals: Sequence[Withdrawal] = (), tx_hashes: Sequence[Hash32] | None = None,
) -> BatchHeader:
    if tx_hashes is None:
        tx_hashes = [t.tx_hash for t in traces] or [h(f"tx{number}")]
    return compute_batch_header(number, prev_root, h(f"state{number}"), list(tx_hashes),
                                list(traces), list(withdrawals), h(f"data{number}"))


def one_inference(model: ProvenModel, model_id: ObjectId, number: int = 0,
                  prev_root: Hash32 = GENESIS_ROOT) -> tuple[BatchHeader, ProvenInference]:
    tx_hash, result_id = h(f"infer{number}"), ObjectId(h(f"result{number}"))
    header = make_batch(number, prev_root=prev_root,
                        traces=[trace_of(model, model_id, tx_hash, result_id)])
    return header, proven_inference(model_id, model.proof, [(tx_hash, result_id)])
