"""The one-step witness: what the L1 executor (contracts/src/FlavumStep.sol) needs to re-run
one transaction on its own, between two committed state roots.

It lists every state entry the transaction touches (read or written, up to its refusal if the
rules refuse it) with the entry's value preimage as it is before the transaction, each with a
sparse-Merkle proof against the pre-state root; and for every entry whose value changes, a
proof to fold the change into the root, against the root after the changes listed before it
(with the last sibling's preimage where a deletion needs it). The executor recomputes the
values from the transaction and the pre-state values itself: the witness carries no claim of
the post-state, only what proves the pre-state and the shape of the tree.
"""

from dataclasses import dataclass

from flavum.core.encoding import keccak256
from flavum.core.errors import InvalidTransaction
from flavum.core.merkle import SmtProof, SmtSibling, SparseMerkleTree
from flavum.core.state import (
    AMOUNT_TAG,
    NONCE_TAG,
    PRESENT_PREIMAGE,
    State,
    compute_account_key,
    compute_balance_key,
    compute_deposit_key,
    compute_grant_key,
    compute_number_preimage,
    compute_object_key,
    compute_object_preimage,
    compute_state_root,
    get_leaf_value,
    get_state_proof,
)
from flavum.core.stf import Execution, process_transaction
from flavum.core.transactions import Transaction
from flavum.core.types import Hash32
from flavum.core.witness_build import compute_tx_access


@dataclass(frozen=True)
class StepEntry:
    key: Hash32
    preimage: bytes  # empty: the entry is absent
    proof: SmtProof  # against the pre-state root


@dataclass(frozen=True)
class StepWrite:
    key: Hash32
    proof: SmtProof  # against the root after the writes before this one
    sibling: SmtSibling | None


@dataclass(frozen=True)
class StepWitness:
    pre_root: Hash32
    entries: tuple[StepEntry, ...]
    writes: tuple[StepWrite, ...]
    refusal: InvalidTransaction | None  # why the rules refuse the transaction, if they do


def _entries(state: State, tx: Transaction, execution: Execution | None
             ) -> tuple[list[tuple[Hash32, bytes]], InvalidTransaction | None]:
    access, refusal = compute_tx_access(state, tx, execution)
    entries: list[tuple[Hash32, bytes]] = []
    for address in sorted(access.nonces):
        nonce = state.nonces.get(address, 0)
        entries.append((compute_account_key(address),
                        compute_number_preimage(NONCE_TAG, nonce) if nonce else b""))
    for address, asset in sorted(access.balances):
        amount = state.balances.get((address, asset), 0)
        entries.append((compute_balance_key(address, asset),
                        compute_number_preimage(AMOUNT_TAG, amount) if amount else b""))
    for object_id in sorted(access.objects):
        obj = state.objects.get(object_id)
        entries.append((compute_object_key(object_id),
                        b"" if obj is None else compute_object_preimage(obj)))
    for grant in sorted(access.grants):
        entries.append((compute_grant_key(*grant),
                        PRESENT_PREIMAGE if grant in state.grants else b""))
    for event_id in sorted(access.deposits):
        entries.append((compute_deposit_key(event_id),
                        PRESENT_PREIMAGE if event_id in state.deposits else b""))
    return entries, refusal


def compute_step_witness(pre_state: State, tx: Transaction,
                         execution: Execution | None) -> StepWitness:
    """The witness for re-running `tx` on `pre_state` (left unchanged) on L1."""
    pre_root = compute_state_root(pre_state)
    entries, refusal = _entries(pre_state, tx, execution)
    step_entries = []
    for key, preimage in entries:
        # The preimages are rebuilt here: they must hash to what the state holds.
        value_hash = keccak256(preimage) if preimage else None
        if get_leaf_value(pre_state, key) != value_hash:
            raise ValueError(f"the preimage of entry 0x{key.hex()} does not match the state")
        step_entries.append(StepEntry(key, preimage, get_state_proof(pre_state, key)))
    writes: list[StepWrite] = []
    if refusal is None:
        post = pre_state.copy()
        process_transaction(post, tx, execution)
        tree: SparseMerkleTree = pre_state.copy()._tree
        for key, _ in entries:
            new = get_leaf_value(post, key)
            if new == get_leaf_value(pre_state, key):
                continue
            proof, sibling = tree.prove_update(key)
            writes.append(StepWrite(key, proof, sibling))
            if new is None:
                tree.delete(key)
            else:
                tree.set(key, new)
    return StepWitness(pre_root, tuple(step_entries), tuple(writes), refusal)
