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
It does assume the verifier applies the *net* updates of the whole batch once; a verifier
that recomputes a root after every block would also need the openings of entries deleted in
one block and re-created in a later one.

Node side
=========
`compute_batch_access(pre_state, txs, executions)` replays the batch on a recording overlay of
the pre-batch state (nothing is copied): every entry any get_/set_ touches is recorded, and so
are the batch's net leaf updates. `compute_state_witness(pre_state, access)` then reads the
contents and builds the multiproof with its openings from the pre-batch state, through its
public proofs (`get_state_proof`, `get_leaf_value`).

The pruned tree is the partial tree of merkle_partial.py; the JSON form of a witness is
witness_codec.py.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar, cast, overload

from flavum.core.batch import TxCommitment, compute_tx_commitment
from flavum.core.encoding import compute_smt_node_hash
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
    compute_key_bit,
    compute_subtree_hash,
    holds_two_leaves,
)
from flavum.core.merkle_partial import PartialSparseMerkleTree, WitnessIncomplete, closed_subtree
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
    get_leaf_value,
    get_state_proof,
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


@dataclass(frozen=True)
class BatchAccess:
    """Every entry a batch reads or writes, its net leaf updates (leaf key, value hash after
    the batch; None: no leaf) in the order this `State` folds them in, and every leaf key it
    deletes on the way (after some transaction: each one's post-state root is committed)."""

    nonces: frozenset[Address]
    balances: frozenset[tuple[Address, AssetId]]
    objects: frozenset[ObjectId]
    grants: frozenset[tuple[ObjectId, Address, Address]]
    deposits: frozenset[Hash32]
    leaf_updates: tuple[tuple[Hash32, Hash32 | None], ...]
    deleted: frozenset[Hash32]


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


class _StrictTable(dict[K, V]):
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

    def copy_table(self) -> "_StrictTable[K, V]":
        other: _StrictTable[K, V] = _StrictTable(self.name, self._load)
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


def _encode_tree(node: PartialSmtNode, out: list[WitnessNode]) -> None:
    """Append `node`'s subtree to `out` in pre-order."""
    if node is None:
        out.append(WitnessNode(NodeKind.EMPTY))
    elif isinstance(node, SmtOpaque):
        out.append(WitnessNode(NodeKind.OPAQUE, hash=node.hash))
    elif isinstance(node, SmtLeaf):
        out.append(WitnessNode(NodeKind.LEAF, key=node.key, value_hash=node.value_hash))
    else:
        out.append(WitnessNode(NodeKind.INNER))
        _encode_tree(node.left, out)
        _encode_tree(node.right, out)


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


class _RecordingState(State):
    """A State whose tree records leaf updates instead of hashing them."""

    def __init__(self, domain: Domain) -> None:
        super().__init__(domain)
        self.recorder = _LeafRecorder()
        self._tree = self.recorder


def _compute_leaf_values(domain: Domain, witness: StateWitness) -> dict[Hash32, Hash32]:
    """Leaf key -> value hash of every present witnessed entry, computed by writing the entries
    with the state's own setters (the one definition of each leaf's value)."""
    scratch = _RecordingState(domain)
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
        self.nonces: _StrictTable[Address, Nonce] = _StrictTable("nonces")
        self.balances: _StrictTable[tuple[Address, AssetId], Amount] = _StrictTable("balances")
        self.objects: _StrictTable[ObjectId, Object] = _StrictTable("objects")
        self.grants: _StrictTable[tuple[ObjectId, Address, Address], bool] = _StrictTable(
            "grants"
        )
        self.deposits: _StrictTable[Hash32, bool] = _StrictTable("deposits")
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


def _check_unique(keys: Sequence[Any], table: str) -> None:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            raise InvalidWitness(f"witness lists {describe_entry(table, key)} twice")
        seen.add(key)


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
    _check_unique([a for a, _ in witness.nonces], "nonces")
    _check_unique([(a, s) for a, s, _ in witness.balances], "balances")
    _check_unique([i for i, _ in witness.objects], "objects")
    _check_unique([(i, o, g) for i, o, g, _ in witness.grants], "grants")
    _check_unique([e for e, _ in witness.deposits], "deposits")
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

    for address, nonce in witness.nonces:
        check("nonces", address, compute_account_key(address), nonce != 0)
        state.nonces.add_known(address, nonce or None)
    for address, asset, amount in witness.balances:
        check("balances", (address, asset), compute_balance_key(address, asset), amount != 0)
        state.balances.add_known((address, asset), amount or None)
    for object_id, obj in witness.objects:
        check("objects", object_id, compute_object_key(object_id), obj is not None)
        state.objects.add_known(object_id, obj)
    for object_id, owner, grantee, allowed in witness.grants:
        key = (object_id, owner, grantee)
        check("grants", key, compute_grant_key(object_id, owner, grantee), allowed)
        state.grants.add_known(key, True if allowed else None)
    for event_id, applied in witness.deposits:
        check("deposits", event_id, compute_deposit_key(event_id), applied)
        state.deposits.add_known(event_id, True if applied else None)
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


# --- the node side --------------------------------------------------------------------------


def compute_batch_access(
    pre_state: State, txs: Sequence[Transaction], executions: Sequence[Execution | None]
) -> BatchAccess:
    """Replay a batch on a recording overlay of `pre_state` (which is left unchanged) and
    return every entry it touched and the leaf updates it makes.

    Every transaction must be valid (a batch holds no refused one): its error propagates.
    """
    return _record_access(pre_state, txs, executions, keep_refusal=False)[0]


def compute_tx_access(
    pre_state: State, tx: Transaction, execution: Execution | None
) -> tuple[BatchAccess, InvalidTransaction | None]:
    """The entries one transaction touches on `pre_state` (left unchanged), and its refusal
    if the rules refuse it: then the entries it read up to the refusal."""
    return _record_access(pre_state, [tx], [execution], keep_refusal=True)


def _record_access(
    pre_state: State, txs: Sequence[Transaction], executions: Sequence[Execution | None],
    keep_refusal: bool,
) -> tuple[BatchAccess, InvalidTransaction | None]:
    overlay = _RecordingState(pre_state.domain)
    nonces: _StrictTable[Address, Nonce] = _StrictTable("nonces", pre_state.nonces.get)
    balances: _StrictTable[tuple[Address, AssetId], Amount] = _StrictTable(
        "balances", pre_state.balances.get
    )
    objects: _StrictTable[ObjectId, Object] = _StrictTable("objects", pre_state.objects.get)
    grants: _StrictTable[tuple[ObjectId, Address, Address], bool] = _StrictTable(
        "grants", pre_state.grants.get
    )
    deposits: _StrictTable[Hash32, bool] = _StrictTable("deposits", pre_state.deposits.get)
    overlay.nonces, overlay.balances, overlay.objects = nonces, balances, objects
    overlay.grants, overlay.deposits = grants, deposits
    refusal: InvalidTransaction | None = None
    for tx, execution in zip(txs, executions, strict=True):
        try:
            process_transaction(overlay, tx, execution)
        except InvalidTransaction as exc:
            if not keep_refusal:
                raise
            refusal = exc
            break
        # Every transaction commits its post-state root: fold its writes in now, so a leaf
        # deleted in between (and set again later) is recorded too.
        compute_state_root(overlay)
    # A leaf is deleted on the way when an update removes a value that was there.
    current: dict[Hash32, Hash32 | None] = {}
    deleted = set()
    for key, value in overlay.recorder.updates:
        before = current[key] if key in current else get_leaf_value(pre_state, key)
        if value is None and before is not None:
            deleted.add(key)
        current[key] = value
    access = BatchAccess(
        nonces=frozenset(nonces.known),
        balances=frozenset(balances.known),
        objects=frozenset(objects.known),
        grants=frozenset(grants.known),
        deposits=frozenset(deposits.known),
        leaf_updates=tuple(current.items()),
        deleted=frozenset(deleted),
    )
    return access, refusal


def _read_node(state: State, path_int: int, depth: int) -> PartialSmtNode:
    """The node of `state`'s tree at a position, opened one level, from a public proof."""
    path_key = Hash32(path_int.to_bytes(32, "big"))
    proof = get_state_proof(state, path_key)
    siblings = proof.siblings
    if len(siblings) < depth:
        raise ValueError(f"no node at depth {depth} on the path of 0x{path_key.hex()}")
    end: PartialSmtNode
    if proof.other_key is not None and proof.other_value_hash is not None:
        end = SmtLeaf(proof.other_key, proof.other_value_hash)
    else:
        value_hash = get_leaf_value(state, path_key)
        end = None if value_hash is None else SmtLeaf(path_key, value_hash)
    if len(siblings) == depth:
        return end
    below = compute_subtree_hash(end)  # the hash of the child on the path, folded up to depth + 1
    for d in range(len(siblings) - 1, depth, -1):
        if compute_key_bit(path_int, d):
            below = compute_smt_node_hash(siblings[d], below)
        else:
            below = compute_smt_node_hash(below, siblings[d])
    on_path, off_path = closed_subtree(below), closed_subtree(siblings[depth])
    if compute_key_bit(path_int, depth):
        return SmtInner(off_path, on_path)
    return SmtInner(on_path, off_path)


def _expand(state: State, targets: Sequence[tuple[int, int]]) -> PartialSmtNode:
    """`state`'s tree pruned to the positions on the targets' paths: a target (key, d) opens
    every node on the key's path down to depth d (SMT_DEPTH: to where the path ends)."""

    def expand(path_int: int, depth: int, here: Sequence[tuple[int, int]]) -> PartialSmtNode:
        node = _read_node(state, path_int, depth)
        if not isinstance(node, SmtInner):
            return node
        deeper = [t for t in here if t[1] > depth]
        left = [t for t in deeper if not compute_key_bit(t[0], depth)]
        right = [t for t in deeper if compute_key_bit(t[0], depth)]
        if left:
            node.left = expand(left[0][0], depth + 1, left)
        if right:
            node.right = expand(right[0][0], depth + 1, right)
        return node

    if not targets:
        return closed_subtree(compute_state_root(state))
    return expand(targets[0][0], 0, targets)


def _open_for_deletions(
    state: State, node: PartialSmtNode, prefix: int, depth: int, deleted: set[int]
) -> tuple[bool, bool]:
    """Open, in the pruned tree `node` (at position prefix / depth), every OPAQUE sibling of a
    subtree that the deletions can empty. Returns (can this subtree become empty, does it hold
    a deleted leaf)."""
    if node is None:
        # A leaf the batch inserts here and deletes again empties this position once more.
        shift = SMT_DEPTH - depth
        return True, any(k >> shift == prefix >> shift for k in deleted)
    if isinstance(node, SmtOpaque):
        return False, False  # it holds leaves the batch does not touch
    if isinstance(node, SmtLeaf):
        gone = int.from_bytes(node.key, "big") in deleted
        return gone, gone
    right_prefix = prefix | (1 << (255 - depth))
    left_empties, left_deletes = _open_for_deletions(state, node.left, prefix, depth + 1, deleted)
    right_empties, right_deletes = _open_for_deletions(
        state, node.right, right_prefix, depth + 1, deleted
    )
    # An opened node is still not emptiable (what it hides is untouched): results stand.
    if isinstance(node.right, SmtOpaque) and left_empties and left_deletes:
        node.right = _read_node(state, right_prefix, depth + 1)
    if isinstance(node.left, SmtOpaque) and right_empties and right_deletes:
        node.left = _read_node(state, prefix, depth + 1)
    return left_empties and right_empties, left_deletes or right_deletes


def compute_state_witness(pre_state: State, access: BatchAccess) -> StateWitness:
    """The witness of a batch that makes `access` on `pre_state` (the state before the batch,
    left unchanged): contents, multiproof, and the openings its deletions need (see the
    module docstring)."""
    nonces = tuple((a, Nonce(pre_state.nonces.get(a, 0))) for a in sorted(access.nonces))
    balances = tuple(
        (a, s, Amount(pre_state.balances.get((a, s), 0))) for a, s in sorted(access.balances)
    )
    objects = tuple((i, pre_state.objects.get(i)) for i in sorted(access.objects))
    grants = tuple((i, o, g, (i, o, g) in pre_state.grants) for i, o, g in sorted(access.grants))
    deposits = tuple((e, e in pre_state.deposits) for e in sorted(access.deposits))
    leaf_keys = (
        [compute_account_key(a) for a, _ in nonces]
        + [compute_balance_key(a, s) for a, s, _ in balances]
        + [compute_object_key(i) for i, _ in objects]
        + [compute_grant_key(i, o, g) for i, o, g, _ in grants]
        + [compute_deposit_key(e) for e, _ in deposits]
    )
    targets = sorted((int.from_bytes(k, "big"), SMT_DEPTH) for k in leaf_keys)
    tree = _expand(pre_state, targets)
    deleted = {int.from_bytes(k, "big") for k in access.deleted}
    _open_for_deletions(pre_state, tree, 0, 0, deleted)
    nodes: list[WitnessNode] = []
    _encode_tree(tree, nodes)
    return StateWitness(nonces, balances, objects, grants, deposits, tuple(nodes))


def compute_batch_witness(
    pre_state: State, txs: Sequence[Transaction], executions: Sequence[Execution | None]
) -> StateWitness:
    """`compute_state_witness` of the batch's `compute_batch_access`."""
    return compute_state_witness(pre_state, compute_batch_access(pre_state, txs, executions))
