"""The rollup contract's ABI forms of what Flavum posts and proves with: batch headers,
withdrawals, and a challenge's fields for the committed transaction leaf before a position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flavum.core.batch import BatchHeader, Withdrawal, compute_tx_leaf
from flavum.core.merkle import compute_tree_proof
from flavum.core.types import ZERO_HASH, Hash32
from flavum.l1.interface import BatchTx


def leaf_before(txs: Sequence[BatchTx], index: int) -> tuple[Any, ...]:
    """A challenge's fields for the committed leaf before transaction `index` (the state
    there): its tx hash, post-state root, withdrawal and trace leaves and tree proof."""
    if index == 0:
        return ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH, []
    prev = txs[index - 1].commitment
    leaves = [compute_tx_leaf(t.commitment) for t in txs]
    return (prev.tx_hash, prev.post_state_root, prev.withdrawal_leaf, prev.trace_leaf,
            compute_tree_proof(leaves, index - 1))


def header_tuple(h: BatchHeader) -> tuple[Any, ...]:
    return (h.number, h.prev_state_root, h.state_root, h.tx_root, h.trace_root,
            h.withdrawal_root, h.data_pointer)


def header_from_abi(value: Any) -> BatchHeader:
    """A BatchHeader from the decoded Header struct of a rollup call (a tuple or a dict)."""
    if isinstance(value, dict):
        value = (value["number"], value["prevStateRoot"], value["stateRoot"], value["txRoot"],
                 value["traceRoot"], value["withdrawalRoot"], value["dataPointer"])
    number, prev_root, state_root, tx_root, trace_root, withdrawal_root, pointer = value
    return BatchHeader(int(number), Hash32(bytes(prev_root)), Hash32(bytes(state_root)),
                       Hash32(bytes(tx_root)), Hash32(bytes(trace_root)),
                       Hash32(bytes(withdrawal_root)), Hash32(bytes(pointer)))


def withdrawal_tuple(w: Withdrawal, w3: Any) -> tuple[Any, ...]:
    return (w.withdrawal_id, w.ledger, w3.to_checksum_address(w.recipient), w.asset, w.amount,
            w.object_id, w.object_kind, w.commitment, w.model_id)
