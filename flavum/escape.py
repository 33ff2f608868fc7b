"""The escape hatch, the user's side: leaving a frozen rollup with nothing but the ledger.

Once a ledger's rollup is frozen (no batch accepted for its escape delay), every batch it holds
is final and its last state root is the escape root. `compute_final_state` rebuilds that state
the way the challenger does (challenger.py): every posted batch replayed from genesis, each
Infer's execution read from the proof posted for it. `plan_escape` lists what an account takes
out: each balance and each DATA/RESULT object it holds there, with the leaf's inclusion proof,
and the deposits to it that no batch consumed; `execute_escape` sends them. The bridge pays
each leaf once, to the account the leaf names, whoever sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flavum.challenger import Challenger
from flavum.core.encoding import keccak256
from flavum.core.errors import FlavumError, StateRootMismatch
from flavum.core.merkle import SmtProof, verify_smt_proof
from flavum.core.state import (
    AMOUNT_TAG,
    State,
    compute_balance_key,
    compute_number_preimage,
    compute_object_hash,
    compute_object_key,
    compute_state_root,
    get_state_proof,
)
from flavum.core.types import Address, Hash32, ObjectKind
from flavum.l1.interface import DepositEvent, EscapeBalance, EscapeLeaf, Ledger

WITHDRAWABLE_KINDS = (ObjectKind.DATA, ObjectKind.RESULT)  # a MODEL stays in the rollup

PAYABLE = "payable"
SPENT = "spent"  # paid out already
NOT_PAID_HERE = "not paid by this ledger"  # its bridge holds no such asset (dev, other ledgers)


@dataclass(frozen=True)
class EscapeClaim:
    """One leaf of the escape root an account can take out, its proof and its status."""

    leaf: EscapeLeaf
    key: Hash32
    proof: SmtProof
    status: str  # PAYABLE, SPENT or NOT_PAID_HERE


@dataclass(frozen=True)
class EscapePlan:
    account: Address
    root: Hash32  # the state root every claim is proven against
    claims: tuple[EscapeClaim, ...]
    refunds: tuple[DepositEvent, ...]  # deposits to the account no batch consumed, unrefunded


@dataclass(frozen=True)
class EscapeSent:
    """A claim or a refund sent, and the ledger transaction that paid it."""

    item: EscapeClaim | DepositEvent
    tx: Hash32


def compute_final_state(ledger: Ledger, genesis: State) -> State:
    """The state after the ledger's last accepted batch, replayed from `genesis` with nothing
    but the ledger. StateRootMismatch when a batch does not replay to what it commits (a
    fraud nobody challenged in time: the escape root is then not the rules' state, and no
    proof from the replayed state would verify against it)."""
    replica = Challenger(ledger, genesis, None)
    fraud = replica.replay()
    if fraud is not None:
        raise StateRootMismatch(
            f"batch {fraud.number}, transaction {fraud.index} does not replay to what it "
            f"commits ({fraud.reason}): the ledger's state is not the rules' state")
    return replica.state


def compute_leaf_value_hash(leaf: EscapeLeaf) -> Hash32:
    """The value hash of the state leaf an escape claim proves."""
    if isinstance(leaf, EscapeBalance):
        return keccak256(compute_number_preimage(AMOUNT_TAG, leaf.amount))
    return compute_object_hash(leaf)


def plan_escape(ledger: Ledger, state: State, account: Address, from_block: int = 0
                ) -> EscapePlan:
    """What `account` can take out of `state` (the final state) through `ledger`: its
    balances and DATA/RESULT objects with their proofs, and its deposits from `from_block` on
    that no batch consumed."""
    root = compute_state_root(state)
    leaves: list[tuple[EscapeLeaf, Hash32]] = []
    for (owner, asset), amount in sorted(state.balances.items()):
        if owner == account and amount > 0:
            leaves.append((EscapeBalance(account, asset, amount),
                           compute_balance_key(account, asset)))
    for object_id, obj in sorted(state.objects.items()):
        if obj.owner == account and obj.kind in WITHDRAWABLE_KINDS:
            leaves.append((obj, compute_object_key(object_id)))
    claims = []
    for leaf, key in leaves:
        proof = get_state_proof(state, key)
        if not verify_smt_proof(root, key, compute_leaf_value_hash(leaf), proof):
            raise FlavumError(f"the replayed state does not prove its own leaf {key.hex()}")
        claims.append(EscapeClaim(leaf, key, proof, _status(ledger, leaf, key)))
    consumed = ledger.deposits_consumed()
    refunds = tuple(
        d for d in ledger.deposits(from_block, ledger.head())
        if d.recipient == account and d.index is not None and d.index >= consumed
        and not ledger.is_deposit_refunded(d.index))
    return EscapePlan(account, root, tuple(claims), refunds)


def _status(ledger: Ledger, leaf: EscapeLeaf, key: Hash32) -> str:
    if ledger.is_escape_spent(key):
        return SPENT
    if isinstance(leaf, EscapeBalance) and not ledger.pays_asset(leaf.asset):
        return NOT_PAID_HERE
    return PAYABLE


def execute_escape(ledger: Ledger, plan: EscapePlan, sender_key: bytes) -> list[EscapeSent]:
    """Send every payable claim and every refund of `plan` (`sender_key` pays the gas; each
    pays the plan's account). NotEscaped before the freeze, StateRootMismatch when the plan
    is not proven against the ledger's escape root."""
    root = ledger.escape_root()
    if root != plan.root:
        raise StateRootMismatch(f"the replayed state root {plan.root.hex()} is not the "
                                f"ledger's escape root {root.hex()}")
    sent = []
    for claim in plan.claims:
        if claim.status == PAYABLE:
            sent.append(EscapeSent(claim, ledger.escape_withdraw(claim.leaf, claim.proof,
                                                                 sender_key)))
    for deposit in plan.refunds:
        sent.append(EscapeSent(deposit, ledger.escape_refund_deposit(deposit, sender_key)))
    return sent
