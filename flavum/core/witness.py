"""State witnesses: re-executing a batch with no node database.

A verifier holds a batch's transactions (with the executions of its inferences), the previous
state root (from the ledger) and a *state witness*. From them alone it

1. rebuilds the part of the pre-state the batch touches, checked against the previous root
   (`build_partial_state`),
2. re-executes the transactions with the real `process_transaction` over that partial state,
3. computes the new root with the real `compute_state_root` and compares it with the claimed
   one (`verify_batch_transition`).

What a witness holds
====================
- The pre-state *contents* of every entry the batch reads or writes: nonces, balances, objects
  (all fields), grants and applied deposits. An entry that is absent is listed too, as zero /
  None / False: re-execution must know that it is absent, and the tree proves it.
- A multiproof of all their leaf keys: the pre-state tree pruned to the paths of those keys,
  written in pre-order as a list of nodes

    INNER                 an inner node; its left subtree follows, then its right subtree
    EMPTY                 an empty subtree (hash ZERO_HASH)
    OPAQUE(hash)          a subtree the verifier need not see into (never empty)
    LEAF(key, value_hash) a lone leaf: a witnessed entry's, or another key's that ends a
                          non-inclusion path, or an opening (below)

  The verifier rebuilds the root from it; every witnessed entry's path must end at a LEAF or
  EMPTY node, never inside an OPAQUE one.
- Openings. Deleting a leaf from a compact tree collapses its parent when what remains on the
  other side is a lone leaf (the leaf moves up) and keeps the parent when it is an inner node.
  When that other side is OPAQUE the verifier cannot tell, so the witness opens it: as a LEAF,
  or as an INNER whose children are OPAQUE / EMPTY. Openings are just more expanded nodes in
  the same list. A verifier that needs one and does not have it raises `WitnessIncomplete`:
  it never guesses, since a wrong guess would let a node pass off a non-canonical root.

Which openings: opaque nodes never move while updates are applied (a collapse only ever moves
a lone leaf up, and a lone leaf hidden in an OPAQUE node is opened before it can move). A
verifier needs OPAQUE sibling B of a subtree A opened exactly when A can become empty: A holds
no OPAQUE node and every leaf in it is deleted by the batch. The witness opens every such B.
That does not depend on the order in which the verifier applies the batch's net leaf updates
(this `State` folds them in by first write; a contract or another implementation may sort
them): each opening is needed when the deletions come first, and no other is ever needed.
Since every transaction commits its post-state root, the verifier computes a root after each
transaction: the witness also opens what the deletions on the way need (an entry deleted by one
transaction and set again by a later one, a leaf inserted and deleted again). That can open a
little more than a given order needs; never less.

The node side (which entries a batch touches, the witness that opens them) is
witness_build.py. The pruned tree is the partial tree of merkle_partial.py; the JSON form of a
witness is witness_codec.py.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar, cast, overload

from flavum.core.batch import TxCommitment, compute_tx_commitment
from flavum.core.errors import (
    InvalidProof,
    InvalidTransaction,
    MalformedTransaction,
    StateRootMismatch,
)
from flavum.core.merkle import (
    SMT_DEPTH,
    PartialSmtNode,
    SmtInner,
    SmtLeaf,
    SmtOpaque,
    SparseMerkleTree,
    holds_two_leaves,
)
from flavum.core.merkle_partial import PartialSparseMerkleTree, WitnessIncomplete
from flavum.core.state import (
    Domain,
    Object,
    State,
    compute_account_key,
    compute_balance_key,
    compute_deposit_key,
    compute_grant_key,
    compute_object_key,
    compute_state_root,
    set_balance,
    set_deposit_applied,
    set_grant,
    set_nonce,
    set_object,
)
from flavum.core.stf import Execution, Outcome, process_transaction
from flavum.core.transactions import Transaction, compute_tx_hash
from flavum.core.types import ZERO_HASH, Address, Amount, AssetId, Hash32, Nonce, ObjectId

# --- errors ---------------------------------------------------------------------------------


class InvalidWitness(InvalidProof):
    """A witness that is malformed or contradicts the previous state root."""

    code = "invalid_witness"


# --- the witness ----------------------------------------------------------------------------


class NodeKind(IntEnum):
    """Kinds of the nodes of a witness's pruned tree (see the module docstring)."""

    INNER = 0
    EMPTY = 1
    OPAQUE = 2
    LEAF = 3


@dataclass(frozen=True)
class WitnessNode:
    """One node of the pruned tree, in pre-order. `hash` is set for OPAQUE only, `key` and
    `value_hash` for LEAF only."""

    kind: NodeKind
    hash: Hash32 | None = None
    key: Hash32 | None = None
    value_hash: Hash32 | None = None


@dataclass(frozen=True)
class StateWitness:
    """Pre-state contents of every entry a batch touches, and their multiproof with openings.

    Zero, None and False mean "absent", exactly as in the state (absent == zero).
    """

    nonces: tuple[tuple[Address, Nonce], ...]
    balances: tuple[tuple[Address, AssetId, Amount], ...]
    objects: tuple[tuple[ObjectId, Object | None], ...]
    grants: tuple[tuple[ObjectId, Address, Address, bool], ...]
    deposits: tuple[tuple[Hash32, bool], ...]
    tree: tuple[WitnessNode, ...]


# --- state tables that know which keys they may answer for ---------------------------------

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def describe_entry(table: str, key: Any) -> str:
    """A person's name for a state entry, for error messages."""
    if table == "nonces":
        return f"the nonce of 0x{key.hex()}"
    if table == "balances":
        return f"the balance of 0x{key[0].hex()} in asset 0x{key[1].hex()}"
    if table == "objects":
        return f"object 0x{key.hex()}"
    if table == "grants":
        return f"the grant on object 0x{key[0].hex()} by 0x{key[1].hex()} to 0x{key[2].hex()}"
    return f"deposit event 0x{key.hex()}"


class StrictTable(dict[K, V]):
    """A state table (dict) that answers only for keys it knows.

    A key is known when it was given (present or absent) or loaded; an unknown key is loaded
    through `load` (the node side: read the full pre-state and record the key) or, without
    `load` (the verifier side), raises WitnessIncomplete instead of reading as absent.
    Only the dict operations the state uses are guarded: get, in, [], []=, del, pop.
    """

    def __init__(self, name: str, load: Callable[[K], V | None] | None = None) -> None:
        super().__init__()
        self.name = name
        self.known: set[K] = set()
        self._load = load

    def _know(self, key: K) -> None:
        if key in self.known:
            return
        if self._load is None:
            raise WitnessIncomplete(f"{describe_entry(self.name, key)} is not in the witness")
        value = self._load(key)
        self.known.add(key)
        if value is not None:
            dict.__setitem__(self, key, value)

    def add_known(self, key: K, value: V | None) -> None:
        """Know `key` as present with `value`, or as absent (None)."""
        self.known.add(key)
        if value is not None:
            dict.__setitem__(self, key, value)

    def copy_table(self) -> "StrictTable[K, V]":
        other: StrictTable[K, V] = StrictTable(self.name, self._load)
        other.known = set(self.known)
        dict.update(other, self)
        return other

    @overload
    def get(self, key: K, default: None = None, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V, /) -> V: ...
    @overload
    def get(self, key: K, default: T, /) -> V | T: ...
    def get(self, key: K, default: Any = None, /) -> Any:
        self._know(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        self._know(cast(K, key))
        return dict.__contains__(self, key)

    def __getitem__(self, key: K) -> V:
        self._know(key)
        return dict.__getitem__(self, key)

    def __setitem__(self, key: K, value: V) -> None:
        self._know(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: K) -> None:
        self._know(key)
        dict.__delitem__(self, key)

    @overload
    def pop(self, key: K, /) -> V: ...
    @overload
    def pop(self, key: K, default: V, /) -> V: ...
    @overload
    def pop(self, key: K, default: T, /) -> V | T: ...
    def pop(self, key: K, *default: Any) -> Any:
        self._know(key)
        return dict.pop(self, key, *default)


# --- the pruned tree, as the witness lists it ----------------------------------------------


def encode_tree(node: PartialSmtNode, out: list[WitnessNode]) -> None:
    """Append `node`'s subtree to `out` in pre-order."""
    if node is None:
        out.append(WitnessNode(NodeKind.EMPTY))
    elif isinstance(node, SmtOpaque):
        out.append(WitnessNode(NodeKind.OPAQUE, hash=node.hash))
    elif isinstance(node, SmtLeaf):
        out.append(WitnessNode(NodeKind.LEAF, key=node.key, value_hash=node.value_hash))
    else:
        out.append(WitnessNode(NodeKind.INNER))
        encode_tree(node.left, out)
        encode_tree(node.right, out)


def _decode_tree(nodes: Sequence[WitnessNode]) -> PartialSmtNode:
    """The pruned tree of a witness; InvalidWitness unless it is a well-formed compact tree."""
    cursor = 0

    def decode(prefix: int, depth: int) -> PartialSmtNode:
        nonlocal cursor
        if cursor >= len(nodes):
            raise InvalidWitness("malformed witness tree: it ends early")
        node = nodes[cursor]
        cursor += 1
        if node.kind == NodeKind.EMPTY:
            return None
        if node.kind == NodeKind.OPAQUE:
            if node.hash is None or node.hash == ZERO_HASH:
                raise InvalidWitness(f"malformed witness tree: opaque node {cursor - 1}")
            return SmtOpaque(node.hash)
        if node.kind == NodeKind.LEAF:
            if node.key is None or node.value_hash is None:
                raise InvalidWitness(f"malformed witness tree: leaf node {cursor - 1}")
            # A leaf sits on its own key's path: the key starts with the position's bits.
            if (int.from_bytes(node.key, "big") ^ prefix) >> (SMT_DEPTH - depth) != 0:
                raise InvalidWitness(
                    f"witness tree: leaf 0x{node.key.hex()} is off its path at depth {depth}"
                )
            return SmtLeaf(node.key, node.value_hash)
        if depth >= SMT_DEPTH:
            raise InvalidWitness("malformed witness tree: an inner node below depth 255")
        left = decode(prefix, depth + 1)
        right = decode(prefix | (1 << (255 - depth)), depth + 1)
        # A canonical inner node holds at least two leaves (opaque subtrees are not empty).
        if not (holds_two_leaves(left, right) or isinstance(left, SmtOpaque)
                or isinstance(right, SmtOpaque)):
            raise InvalidWitness(f"witness tree: non-canonical inner node at depth {depth}")
        return SmtInner(left, right)

    top = decode(0, 0)
    if cursor != len(nodes):
        raise InvalidWitness(f"malformed witness tree: {len(nodes) - cursor} nodes left over")
    return top


# --- leaf keys and value hashes of entries, through the state's own setters -----------------


class _LeafRecorder(SparseMerkleTree):
    """A stand-in tree that records the leaf updates the state folds in, in order."""

    __slots__ = ("updates",)

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[Hash32, Hash32 | None]] = []

    def set(self, key: Hash32, value_hash: Hash32) -> None:
        self.updates.append((key, value_hash))

    def delete(self, key: Hash32) -> None:
        self.updates.append((key, None))

    def root(self) -> Hash32:
        return ZERO_HASH  # nothing is hashed: only the updates matter


class RecordingState(State):
    """A State whose tree records leaf updates instead of hashing them."""

    def __init__(self, domain: Domain) -> None:
        super().__init__(domain)
        self.recorder = _LeafRecorder()
        self._tree = self.recorder


def _compute_leaf_values(domain: Domain, witness: StateWitness) -> dict[Hash32, Hash32]:
    """Leaf key -> value hash of every present witnessed entry, computed by writing the entries
    with the state's own setters (the one definition of each leaf's value)."""
    scratch = RecordingState(domain)
    for address, nonce in witness.nonces:
        set_nonce(scratch, address, nonce)
    for address, asset, amount in witness.balances:
        set_balance(scratch, address, asset, amount)
    for _, obj in witness.objects:
        if obj is not None:
            set_object(scratch, obj)
    for object_id, owner, grantee, allowed in witness.grants:
        set_grant(scratch, object_id, owner, grantee, allowed)
    for event_id, applied in witness.deposits:
        if applied:
            set_deposit_applied(scratch, event_id)
    compute_state_root(scratch)
    return {key: value for key, value in scratch.recorder.updates if value is not None}


# --- the verifier ---------------------------------------------------------------------------


class PartialState(State):
    """A State holding exactly the witnessed entries over a partial tree.

    The real get_/set_ functions, `process_transaction` and `compute_state_root` run on it
    unchanged; reading an entry the witness does not give raises WitnessIncomplete.
    """

    def __init__(self, domain: Domain, tree: PartialSparseMerkleTree) -> None:
        super().__init__(domain)
        self.nonces: StrictTable[Address, Nonce] = StrictTable("nonces")
        self.balances: StrictTable[tuple[Address, AssetId], Amount] = StrictTable("balances")
        self.objects: StrictTable[ObjectId, Object] = StrictTable("objects")
        self.grants: StrictTable[tuple[ObjectId, Address, Address], bool] = StrictTable(
            "grants"
        )
        self.deposits: StrictTable[Hash32, bool] = StrictTable("deposits")
        self._tree = tree

    def copy(self) -> "PartialState":
        self._sync_tree()
        tree = self._tree
        if not isinstance(tree, PartialSparseMerkleTree):  # pragma: no cover - set in __init__
            raise TypeError("a partial state's tree is partial")
        other = PartialState(self.domain, tree.copy())
        other.nonces = self.nonces.copy_table()
        other.balances = self.balances.copy_table()
        other.objects = self.objects.copy_table()
        other.grants = self.grants.copy_table()
        other.deposits = self.deposits.copy_table()
        return other


def compute_witness_entries(witness: StateWitness) -> list[tuple[str, Any, Hash32, Any]]:
    """Every entry the witness gives, table by table: (table, key, leaf key, value), the value
    None where the entry is absent (as the state's tables hold it)."""
    return [
        *(("nonces", a, compute_account_key(a), n or None) for a, n in witness.nonces),
        *(("balances", (a, s), compute_balance_key(a, s), v or None)
          for a, s, v in witness.balances),
        *(("objects", i, compute_object_key(i), o) for i, o in witness.objects),
        *(("grants", (i, o, g), compute_grant_key(i, o, g), True if v else None)
          for i, o, g, v in witness.grants),
        *(("deposits", e, compute_deposit_key(e), True if v else None)
          for e, v in witness.deposits),
    ]


def build_partial_state(domain: Domain, prev_root: Hash32, witness: StateWitness) -> PartialState:
    """The pre-state restricted to the witnessed entries, each checked against `prev_root`.

    Raises InvalidWitness if the pruned tree does not hash to `prev_root` or an entry's
    contents disagree with its leaf, WitnessIncomplete if the tree does not reach an entry.
    """
    tree = PartialSparseMerkleTree(_decode_tree(witness.tree))
    root = tree.root()
    if root != prev_root:
        raise InvalidWitness(
            f"the witness tree hashes to 0x{root.hex()}, not to the previous state root "
            f"0x{prev_root.hex()} (a tampered sibling, leaf or opening)"
        )
    entries = compute_witness_entries(witness)
    seen: set[tuple[str, Any]] = set()
    for table, key, _, _ in entries:
        if (table, key) in seen:
            raise InvalidWitness(f"witness lists {describe_entry(table, key)} twice")
        seen.add((table, key))
    for object_id, obj in witness.objects:
        if obj is not None and obj.object_id != object_id:
            raise InvalidWitness(
                f"witness lists object 0x{object_id.hex()} with id 0x{obj.object_id.hex()}"
            )
    values = _compute_leaf_values(domain, witness)
    state = PartialState(domain, tree)

    def check(table: str, key: Any, leaf_key: Hash32, present: bool) -> None:
        expected = values.get(leaf_key) if present else None
        try:
            actual = tree.get(leaf_key)
        except WitnessIncomplete as exc:
            raise WitnessIncomplete(
                f"the witness tree does not prove {describe_entry(table, key)}: {exc}"
            ) from exc
        if actual != expected:
            said = "absent" if expected is None else f"value hash 0x{expected.hex()}"
            real = "absent" if actual is None else f"value hash 0x{actual.hex()}"
            raise InvalidWitness(
                f"bad witness entry: {describe_entry(table, key)} is {said} in the witness "
                f"but {real} under the previous state root"
            )

    tables: dict[str, StrictTable[Any, Any]] = {
        "nonces": state.nonces, "balances": state.balances, "objects": state.objects,
        "grants": state.grants, "deposits": state.deposits,
    }
    for table, key, leaf_key, value in entries:
        check(table, key, leaf_key, value is not None)
        tables[table].add_known(key, value)
    return state


def verify_batch_transition(
    domain: Domain,
    prev_root: Hash32,
    witness: StateWitness,
    txs: Sequence[Transaction],
    executions: Sequence[Execution | None],
    claimed_root: Hash32,
) -> list[tuple[Outcome, TxCommitment]]:
    """Re-execute a batch over its witness and check the claimed new state root; return each
    transaction's outcome with its commitment (the state root after it, its emissions).

    Raises InvalidWitness / WitnessIncomplete (the witness), the transaction's own
    InvalidTransaction subclass (the batch holds a transaction the rules refuse), or
    StateRootMismatch (the claimed root is not what the transactions give).
    """
    if len(txs) != len(executions):
        raise MalformedTransaction(f"{len(txs)} transactions but {len(executions)} executions")
    state = build_partial_state(domain, prev_root, witness)
    done: list[tuple[Outcome, TxCommitment]] = []
    root = prev_root
    for index, (tx, execution) in enumerate(zip(txs, executions, strict=True)):
        where = f"transaction {index} (0x{compute_tx_hash(tx).hex()})"
        try:
            outcome = process_transaction(state, tx, execution)
            root = compute_state_root(state)
        except (InvalidTransaction, WitnessIncomplete) as exc:
            raise type(exc)(f"{where}: {exc}") from exc
        done.append((outcome, compute_tx_commitment(outcome.tx_hash, root, outcome.trace,
                                                    outcome.withdrawal)))
    if root != claimed_root:
        raise StateRootMismatch(
            f"re-execution gives state root 0x{root.hex()}, the batch claims "
            f"0x{claimed_root.hex()}"
        )
    return done
