"""Building a batch's state witness on the node (the verifier's side is witness.py).

`compute_batch_access(pre_state, txs, executions)` replays the batch on a recording overlay of
the pre-batch state (nothing is copied): every entry any get_/set_ touches is recorded, and so
are the batch's net leaf updates. `compute_state_witness(pre_state, access)` then reads the
contents and builds the multiproof with its openings from the pre-batch state, through its
public proofs (`get_state_proof`, `get_leaf_value`). `compute_tx_access` records one
transaction's entries, up to its refusal if the rules refuse it (core/step_witness.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from flavum.core.encoding import compute_smt_node_hash
from flavum.core.errors import InvalidTransaction
from flavum.core.merkle import (
    SMT_DEPTH,
    PartialSmtNode,
    SmtInner,
    SmtLeaf,
    SmtOpaque,
    compute_key_bit,
    compute_subtree_hash,
)
from flavum.core.merkle_partial import closed_subtree
from flavum.core.state import (
    Object,
    State,
    compute_state_root,
    get_leaf_value,
    get_state_proof,
)
from flavum.core.stf import Execution, process_transaction
from flavum.core.transactions import Transaction
from flavum.core.types import Address, Amount, AssetId, Hash32, Nonce, ObjectId
from flavum.core.witness import (
    RecordingState,
    StateWitness,
    StrictTable,
    WitnessNode,
    compute_witness_entries,
    encode_tree,
)


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
    overlay = RecordingState(pre_state.domain)
    nonces: StrictTable[Address, Nonce] = StrictTable("nonces", pre_state.nonces.get)
    balances: StrictTable[tuple[Address, AssetId], Amount] = StrictTable(
        "balances", pre_state.balances.get
    )
    objects: StrictTable[ObjectId, Object] = StrictTable("objects", pre_state.objects.get)
    grants: StrictTable[tuple[ObjectId, Address, Address], bool] = StrictTable(
        "grants", pre_state.grants.get
    )
    deposits: StrictTable[Hash32, bool] = StrictTable("deposits", pre_state.deposits.get)
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
    contents = StateWitness(nonces, balances, objects, grants, deposits, tree=())
    targets = sorted(
        (int.from_bytes(leaf_key, "big"), SMT_DEPTH)
        for _, _, leaf_key, _ in compute_witness_entries(contents)
    )
    tree = _expand(pre_state, targets)
    deleted = {int.from_bytes(k, "big") for k in access.deleted}
    _open_for_deletions(pre_state, tree, 0, 0, deleted)
    nodes: list[WitnessNode] = []
    encode_tree(tree, nodes)
    return replace(contents, tree=tuple(nodes))


def compute_batch_witness(
    pre_state: State, txs: Sequence[Transaction], executions: Sequence[Execution | None]
) -> StateWitness:
    """`compute_state_witness` of the batch's `compute_batch_access`."""
    return compute_state_witness(pre_state, compute_batch_access(pre_state, txs, executions))
