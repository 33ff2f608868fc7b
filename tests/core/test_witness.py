"""State witnesses: a verifier with no node database re-executes a batch and gets the node's
root; every tampering, omission or missing opening is caught with a precise typed error."""

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import compute_tx_commitment
from flavum.core.encoding import compute_smt_leaf_hash, compute_smt_node_hash, keccak256
from flavum.core.errors import BadSignature, InvalidTransaction, StateRootMismatch
from flavum.core.merkle import verify_smt_proof
from flavum.core.merkle_partial import PartialSparseMerkleTree, WitnessIncomplete
from flavum.core.state import (
    Object,
    State,
    compute_account_key,
    compute_state_root,
    get_balance,
    get_nonce,
    get_state_proof,
    set_balance,
    set_deposit_applied,
    set_grant,
    set_nonce,
    set_object,
)
from flavum.core.stf import Execution, Outcome, process_transaction
from flavum.core.transactions import (
    DeployModel,
    Deposit,
    GrantAccess,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
)
from flavum.core.types import (
    NO_OBJECT,
    ZERO_ADDRESS,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)
from flavum.core.witness import (
    InvalidWitness,
    NodeKind,
    StateWitness,
    WitnessNode,
    _decode_tree,
    build_partial_state,
    verify_batch_transition,
)
from flavum.core.witness_build import (
    _expand,
    _read_node,
    compute_batch_access,
    compute_batch_witness,
    compute_state_witness,
)
from flavum.core.witness_codec import witness_from_json, witness_to_json

from .conftest import DOMAIN, ETH, User, sign

USERS = [User(bytes([0] * 31 + [i + 1])) for i in range(24)]
ADDRESSES = [u.address for u in USERS]
EVM = compute_ledger_id("evm")
TOKEN_ADDRESS = Address(b"\x70" * 20)
TOKEN = compute_asset_id(EVM, TOKEN_ADDRESS)
LEDGER = Hash32(b"\x4c" * 32)
COMMITMENTS = [Hash32(bytes([0xC0 + i]) * 32) for i in range(3)]


def h(i: int) -> Hash32:
    return keccak256(i.to_bytes(32, "big"))


@dataclass
class Batch:
    pre: State
    post: State
    txs: list[Transaction]
    executions: list[Execution | None]
    outcomes: list[Outcome]
    roots: list[Hash32]  # the state root after each transaction

    @property
    def prev_root(self) -> Hash32:
        return compute_state_root(self.pre)

    @property
    def new_root(self) -> Hash32:
        return compute_state_root(self.post)


# --- random pre-states and valid batches ---------------------------------------------------


@st.composite
def pre_states(draw: Any) -> State:
    state = State(DOMAIN)
    for address in ADDRESSES:
        for asset in (ETH, TOKEN):
            amount = draw(st.sampled_from([0, 0, 1, 5, 100, 10_000]))
            if amount:
                set_balance(state, address, asset, Amount(amount))
        nonce = draw(st.integers(0, 3))
        if nonce:
            set_nonce(state, address, Nonce(nonce))
    # Bystanders make the tree deeper and its untouched subtrees opaque.
    for i in range(draw(st.integers(10, 200))):
        set_balance(state, Address(h(i)[:20]), ETH, Amount(draw(st.integers(1, 50))))
    for i in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from([ObjectKind.MODEL, ObjectKind.DATA, ObjectKind.RESULT]))
        owner = draw(st.sampled_from(ADDRESSES))
        obj = Object(
            object_id=ObjectId(h(10_000 + i)), kind=kind, owner=owner,
            access=draw(st.sampled_from(list(Access))),
            commitment=draw(st.sampled_from(COMMITMENTS)), metadata_hash=h(20_000 + i),
            fee_asset=ETH, fee=Amount(draw(st.sampled_from([0, 0, 1, 3])))
            if kind == ObjectKind.MODEL else Amount(0),
        )
        set_object(state, obj)
        for grantee in draw(st.lists(st.sampled_from(ADDRESSES), max_size=2)):
            set_grant(state, obj.object_id, owner, grantee, True)
    for i in range(draw(st.integers(0, 5))):
        set_deposit_applied(state, h(30_000 + i))
    compute_state_root(state)
    return state


def draw_tx(data: Any, state: State, step: int) -> tuple[Transaction, Execution | None]:
    """One plausible transaction against `state` (it may still be refused)."""
    action = data.draw(st.sampled_from([
        "transfer", "transfer_all", "transfer_new", "deploy", "submit", "transfer_object",
        "grant", "revoke", "infer", "withdraw_object", "withdraw_all", "deposit",
        "deposit_again",
    ]))
    user = data.draw(st.sampled_from(USERS))
    nonce = get_nonce(state, user.address)
    asset = data.draw(st.sampled_from([ETH, TOKEN]))
    owned = sorted(i for i, o in state.objects.items() if o.owner == user.address)
    if action in ("transfer", "transfer_all", "transfer_new"):
        balance = get_balance(state, user.address, asset)
        amount = balance if action == "transfer_all" else data.draw(st.integers(1, 120))
        to = data.draw(st.sampled_from(ADDRESSES))
        if action == "transfer_new":
            to = Address(h(50_000 + step)[:20])
        return sign(user, nonce, Transfer(to, asset, Amount(amount))), None
    if action == "deploy":
        body: Any = DeployModel(h(step), h(step + 1), ZERO_HASH, data.draw(
            st.sampled_from(list(Access))), ETH, Amount(data.draw(st.integers(0, 3))))
        return sign(user, nonce, body), None
    if action == "submit":
        body = SubmitData(data.draw(st.sampled_from(COMMITMENTS)), ZERO_HASH,
                          data.draw(st.sampled_from(list(Access))))
        return sign(user, nonce, body), None
    if action in ("transfer_object", "grant", "revoke", "withdraw_object") and owned:
        object_id = data.draw(st.sampled_from(owned))
        other = data.draw(st.sampled_from(ADDRESSES))
        if action == "transfer_object":
            body = TransferObject(object_id, other)
        elif action == "withdraw_object":
            body = Withdraw(LEDGER, other, ETH, Amount(0), object_id)
        else:
            body = GrantAccess(object_id, other, action == "grant")
        return sign(user, nonce, body), None
    if action == "infer":
        models = sorted(i for i, o in state.objects.items() if o.kind == ObjectKind.MODEL)
        datas = sorted(i for i, o in state.objects.items() if o.kind == ObjectKind.DATA)
        if models and datas:
            model_id = data.draw(st.sampled_from(models))
            data_id = data.draw(st.sampled_from(datas))
            execution = Execution(state.objects[data_id].commitment, (step, -1))
            return sign(user, nonce, Infer(model_id, data_id, Amount(5))), execution
    if action == "withdraw_all":
        balance = get_balance(state, user.address, asset)
        body = Withdraw(LEDGER, user.address, asset, Amount(balance), NO_OBJECT)
        return sign(user, nonce, body), None
    event = h(30_000 + data.draw(st.integers(0, 5))) if action == "deposit_again" else h(
        60_000 + step)
    commitment = data.draw(st.sampled_from([ZERO_HASH, COMMITMENTS[0]]))
    token = ZERO_ADDRESS if asset == ETH else TOKEN_ADDRESS
    body = Deposit(EVM, event, data.draw(st.sampled_from(ADDRESSES)), token,
                   Amount(data.draw(st.sampled_from([0, 7]))), commitment, ZERO_HASH)
    return Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ZERO_ADDRESS, Nonce(0), body), None


def draw_batch(data: Any, pre: State, max_txs: int = 20) -> Batch:
    post = pre.copy()
    txs: list[Transaction] = []
    executions: list[Execution | None] = []
    outcomes: list[Outcome] = []
    roots: list[Hash32] = []
    for step in range(data.draw(st.integers(1, max_txs))):
        tx, execution = draw_tx(data, post, step)
        try:
            outcomes.append(process_transaction(post, tx, execution))
        except InvalidTransaction:
            continue  # the sequencer refuses it: it is not in the batch
        roots.append(compute_state_root(post))
        txs.append(tx)
        executions.append(execution)
    return Batch(pre, post, txs, executions, outcomes, roots)


def roundtrip(witness: StateWitness) -> StateWitness:
    return witness_from_json(json.loads(json.dumps(witness_to_json(witness))))


def verify(batch: Batch, witness: StateWitness, **change: Any) -> list[Outcome]:
    """The outcomes of verify_batch_transition, after checking each transaction's commitment
    against the node's: its post-state root and its emissions."""
    args: dict[str, Any] = {
        "domain": DOMAIN, "prev_root": batch.prev_root, "witness": witness, "txs": batch.txs,
        "executions": batch.executions, "claimed_root": batch.new_root,
    }
    args.update(change)
    done = verify_batch_transition(**args)
    assert [c for _, c in done] == [
        compute_tx_commitment(o.tx_hash, root, o.trace, o.withdrawal)
        for o, root in zip(batch.outcomes, batch.roots, strict=True)
    ]
    return [o for o, _ in done]


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- the verifier gets the node's root -----------------------------------------------------


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_verifier_root_equals_node_root(pre: State, data: Any) -> None:
    batch = draw_batch(data, pre)
    prev_root = batch.prev_root
    witness = roundtrip(compute_batch_witness(batch.pre, batch.txs, batch.executions))
    assert verify(batch, witness) == batch.outcomes
    assert compute_state_root(batch.pre) == prev_root  # the node's pre-state is untouched


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_openings_suffice_in_any_order_and_each_is_needed(pre: State, data: Any) -> None:
    """The witness's tree takes the batch's net leaf updates in any order to the node's root;
    closing any opening again makes the deletions-first order or re-execution (a root after
    every transaction) raise WitnessIncomplete."""
    batch = draw_batch(data, pre)
    access = compute_batch_access(batch.pre, batch.txs, batch.executions)
    witness = compute_state_witness(batch.pre, access)
    updates = data.draw(st.permutations(access.leaf_updates))
    assert apply_updates(witness, updates) == batch.new_root
    assert verify(batch, witness) == batch.outcomes
    if access.deleted != {key for key, value in access.leaf_updates if value is None}:
        # A leaf deleted and set again later: the witness opens what the deletions would need
        # together, a little more than the intermediate roots may need (harmless, not minimal).
        return
    deletions_first = sorted(access.leaf_updates, key=lambda u: u[1] is not None)
    for closed in closings(witness):
        # Needed by the worst order of the net updates, or by the roots after each transaction.
        assert needs_opening(apply_updates, closed, deletions_first) or needs_opening(
            verify, batch, closed)


def needs_opening(run: Any, *args: Any) -> bool:
    try:
        run(*args)
    except WitnessIncomplete as exc:
        return "opening" in str(exc)
    return False


def apply_updates(witness: StateWitness, updates: Any) -> Hash32:
    tree = PartialSparseMerkleTree(_decode_tree(witness.tree))
    for key, value in updates:
        if value is None:
            tree.delete(key)
        else:
            tree.set(key, value)
    return tree.root()


def test_openings_are_exercised() -> None:
    """A hand-made case: deleting a balance whose sibling is an untouched lone leaf."""
    state = State(DOMAIN)
    alice, bob = USERS[0], USERS[1]
    set_balance(state, alice.address, ETH, Amount(10))
    for i in range(40):
        set_balance(state, Address(h(i)[:20]), ETH, Amount(1))
    tx = sign(alice, 0, Transfer(bob.address, ETH, Amount(10)))  # alice's balance leaf goes
    post = state.copy()
    outcome = process_transaction(post, tx)
    batch = Batch(state, post, [tx], [None], [outcome], [compute_state_root(post)])
    witness = compute_batch_witness(state, batch.txs, batch.executions)
    assert verify(batch, roundtrip(witness)) == [outcome]
    assert any(True for _ in closings(witness)), "this deletion needs an opening"
    for closed in closings(witness):
        with pytest.raises(WitnessIncomplete, match="opening"):
            verify(batch, closed)


# --- tampering -------------------------------------------------------------------------------


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_tampered_entries_are_caught(pre: State, data: Any) -> None:
    batch = draw_batch(data, pre)
    witness = compute_batch_witness(batch.pre, batch.txs, batch.executions)
    if witness.nonces:
        i = data.draw(st.integers(0, len(witness.nonces) - 1))
        address, nonce = witness.nonces[i]
        bad = replace(witness, nonces=put(witness.nonces, i, (address, Nonce(nonce + 1))))
        with pytest.raises(InvalidWitness, match=f"nonce of 0x{address.hex()}"):
            verify(batch, bad)
    if witness.balances:
        i = data.draw(st.integers(0, len(witness.balances) - 1))
        address, asset, amount = witness.balances[i]
        changed = (address, asset, Amount(amount + data.draw(st.integers(1, 5))))
        bad = replace(witness, balances=put(witness.balances, i, changed))
        with pytest.raises(InvalidWitness, match=f"balance of 0x{address.hex()}"):
            verify(batch, bad)
    present = [i for i, (_, o) in enumerate(witness.objects) if o is not None]
    if present:
        i = data.draw(st.sampled_from(present))
        object_id, obj = witness.objects[i]
        assert obj is not None
        field = data.draw(st.sampled_from(["owner", "fee", "commitment", "access", "kind"]))
        changes: dict[str, Any] = {
            "owner": Address(b"\x99" * 20), "fee": Amount(obj.fee + 1),
            "commitment": Hash32(b"\x98" * 32),
            "access": Access.COMMON if obj.access == Access.OWNED else Access.OWNED,
            "kind": ObjectKind.DATA if obj.kind != ObjectKind.DATA else ObjectKind.MODEL,
        }
        tampered = replace(obj, **{field: changes[field]})
        bad = replace(witness, objects=put(witness.objects, i, (object_id, tampered)))
        with pytest.raises(InvalidWitness, match=f"object 0x{object_id.hex()}"):
            verify(batch, bad)
    if witness.objects:
        i = data.draw(st.integers(0, len(witness.objects) - 1))
        object_id, obj = witness.objects[i]
        if obj is None:  # claim a present object where there is none
            fake = Object(object_id, ObjectKind.DATA, ADDRESSES[0], Access.COMMON,
                          COMMITMENTS[0], ZERO_HASH)
            bad = replace(witness, objects=put(witness.objects, i, (object_id, fake)))
        else:  # claim absent an object that exists
            bad = replace(witness, objects=put(witness.objects, i, (object_id, None)))
        with pytest.raises(InvalidWitness, match=f"object 0x{object_id.hex()}"):
            verify(batch, bad)
    if witness.grants:
        i = data.draw(st.integers(0, len(witness.grants) - 1))
        object_id, owner, grantee, allowed = witness.grants[i]
        bad = replace(witness, grants=put(witness.grants, i, (object_id, owner, grantee,
                                                               not allowed)))
        with pytest.raises(InvalidWitness, match="grant on object"):
            verify(batch, bad)
    if witness.deposits:
        i = data.draw(st.integers(0, len(witness.deposits) - 1))
        event_id, applied = witness.deposits[i]
        bad = replace(witness, deposits=put(witness.deposits, i, (event_id, not applied)))
        with pytest.raises(InvalidWitness, match=f"deposit event 0x{event_id.hex()}"):
            verify(batch, bad)


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_tampered_tree_nodes_are_caught(pre: State, data: Any) -> None:
    """A changed sibling hash, leaf or opening no longer hashes to the previous root."""
    batch = draw_batch(data, pre)
    witness = compute_batch_witness(batch.pre, batch.txs, batch.executions)
    tree = witness.tree
    candidates = [i for i, n in enumerate(tree) if n.kind in (NodeKind.OPAQUE, NodeKind.LEAF)]
    i = data.draw(st.sampled_from(candidates))
    node = tree[i]
    if node.kind == NodeKind.OPAQUE:
        assert node.hash is not None
        changed = replace(node, hash=flip(node.hash))
    elif data.draw(st.booleans()):
        assert node.value_hash is not None
        changed = replace(node, value_hash=flip(node.value_hash))
    else:
        # Another key with the same path bits as far as this leaf's depth is unknown: flip the
        # last bit, which keeps a shallow leaf on its path.
        assert node.key is not None
        changed = replace(node, key=Hash32(node.key[:31] + bytes([node.key[31] ^ 1])))
    bad = replace(witness, tree=put(tree, i, changed))
    with pytest.raises(InvalidWitness, match="previous state root"):
        verify(batch, bad)


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_omitted_entries_give_witness_incomplete(pre: State, data: Any) -> None:
    batch = draw_batch(data, pre)
    witness = compute_batch_witness(batch.pre, batch.txs, batch.executions)
    tables = [name for name in ("nonces", "balances", "objects", "grants", "deposits")
              if getattr(witness, name)]
    if not tables:
        return  # every drawn transaction was refused: an empty batch touches nothing
    name = data.draw(st.sampled_from(tables))
    rows = getattr(witness, name)
    i = data.draw(st.integers(0, len(rows) - 1))
    bad = replace(witness, **{name: rows[:i] + rows[i + 1:]})
    with pytest.raises(WitnessIncomplete, match="is not in the witness"):
        verify(batch, bad)


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_pruned_paths_give_witness_incomplete(pre: State, data: Any) -> None:
    """Closing a path that a witnessed entry needs: the entry cannot be proven."""
    batch = draw_batch(data, pre)
    witness = compute_batch_witness(batch.pre, batch.txs, batch.executions)
    if witness.tree[0].kind != NodeKind.INNER:
        return  # a tree of one leaf or none: nothing to close
    bad = replace(witness, tree=(WitnessNode(NodeKind.OPAQUE, hash=batch.prev_root),))
    with pytest.raises(WitnessIncomplete, match="does not prove"):
        verify(batch, bad)


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_tampered_batch_or_root_is_caught(pre: State, data: Any) -> None:
    batch = draw_batch(data, pre)
    witness = compute_batch_witness(batch.pre, batch.txs, batch.executions)
    with pytest.raises(StateRootMismatch):
        verify(batch, witness, claimed_root=flip(batch.new_root))
    with pytest.raises(InvalidWitness, match="previous state root"):
        verify(batch, witness, prev_root=flip(batch.prev_root))
    if not batch.txs:
        return
    i = data.draw(st.integers(0, len(batch.txs) - 1))
    tx = batch.txs[i]
    if tx.is_system:
        # A deposit is not signed: a changed amount or recipient is a valid other transaction
        # whose result differs from the claimed root (or touches an entry not in the witness).
        body: Any = tx.body
        changed = replace(tx, body=replace(body, amount=Amount(body.amount + 1)))
        with pytest.raises((StateRootMismatch, WitnessIncomplete)):
            verify(batch, witness, txs=put(batch.txs, i, changed))
    else:
        changed = replace(tx, nonce=Nonce(tx.nonce + 1))  # the signature no longer matches
        with pytest.raises(BadSignature, match=f"transaction {i}"):
            verify(batch, witness, txs=put(batch.txs, i, changed))
    if len(batch.txs) > 1:  # dropping a transaction changes the result
        with pytest.raises((StateRootMismatch, InvalidTransaction, WitnessIncomplete)):
            verify(batch, witness, txs=batch.txs[:-1], executions=batch.executions[:-1])


def test_json_refuses_malformed_witnesses() -> None:
    state = State(DOMAIN)
    set_balance(state, USERS[0].address, ETH, Amount(3))
    for i in range(5):
        set_balance(state, Address(h(i)[:20]), ETH, Amount(1))
    tx = sign(USERS[0], 0, Transfer(USERS[1].address, ETH, Amount(1)))
    good = witness_to_json(compute_batch_witness(state, [tx], [None]))
    assert witness_to_json(witness_from_json(good)) == good
    bad_cases = [
        {**good, "version": 2},
        {**good, "nonces": [["0x12", "0"]]},
        {**good, "balances": [[good["balances"][0][0], good["balances"][0][1], "-1"]]},
        {**good, "balances": [[good["balances"][0][0], good["balances"][0][1], "01"]]},
        {**good, "tree": ["x"]},
        {**good, "tree": good["tree"] + ["e"]},
        {**good, "tree": good["tree"][:-1]},
        {k: v for k, v in good.items() if k != "grants"},
        "not a witness",
    ]
    for case in bad_cases:
        with pytest.raises(InvalidWitness):
            verify_batch_transition(
                DOMAIN, compute_state_root(state), witness_from_json(case), [tx], [None],
                ZERO_HASH,
            )


def test_duplicate_and_misfiled_entries_are_refused() -> None:
    state = State(DOMAIN)
    set_balance(state, USERS[0].address, ETH, Amount(3))
    tx = sign(USERS[0], 0, Transfer(USERS[1].address, ETH, Amount(1)))
    witness = compute_batch_witness(state, [tx], [None])
    doubled = replace(witness, nonces=witness.nonces + witness.nonces[:1])
    with pytest.raises(InvalidWitness, match="twice"):
        build_partial_state(DOMAIN, compute_state_root(state), doubled)


# --- the partial state and tree --------------------------------------------------------------


@SETTINGS
@given(pre=pre_states(), data=st.data())
def test_partial_state_proofs_match_the_full_state(pre: State, data: Any) -> None:
    batch = draw_batch(data, pre)
    access = compute_batch_access(batch.pre, batch.txs, batch.executions)
    witness = compute_state_witness(batch.pre, access)
    partial = build_partial_state(DOMAIN, batch.prev_root, witness)
    assert compute_state_root(partial) == batch.prev_root
    for address in access.nonces:
        key = compute_account_key(address)
        proof = get_state_proof(partial, key)
        assert proof == get_state_proof(batch.pre, key)
        value = batch.pre._tree.get(key)
        assert verify_smt_proof(batch.prev_root, key, value, proof)
    # Touching an entry nobody witnessed raises instead of reading zero.
    stranger = Address(b"\xee" * 20)
    with pytest.raises(WitnessIncomplete, match="is not in the witness"):
        get_balance(partial, stranger, ETH)
    with pytest.raises(WitnessIncomplete, match="is not in the witness"):
        set_nonce(partial, stranger, Nonce(1))
    copy = partial.copy()
    assert compute_state_root(copy) == compute_state_root(partial)


def test_partial_tree_matches_the_full_tree_on_updates() -> None:
    """Setting and deleting through a fully opened partial tree gives the full tree's roots."""
    state = State(DOMAIN)
    for i in range(64):
        set_balance(state, Address(h(i)[:20]), ETH, Amount(i + 1))
    full = state.copy()._tree
    keys = [k for k, _ in full.items()]
    targets = keys[:10] + [h(1000 + i) for i in range(5)]
    # The node-side pruning along `targets`, with the node-side opener.
    tree = PartialSparseMerkleTree(
        _expand(state, sorted((int.from_bytes(k, "big"), 256) for k in targets)),
        opener=lambda path, depth: _read_node(state, path, depth),
    )
    assert tree.root() == full.root()
    for i, key in enumerate(targets):
        if i % 3 == 0:
            full.delete(key)
            tree.delete(key)
        else:
            full.set(key, h(2000 + i))
            tree.set(key, h(2000 + i))
        assert tree.root() == full.root()


# --- size ------------------------------------------------------------------------------------


def test_witness_size_for_100_transfers_over_10k_accounts() -> None:
    """Measured, printed with -s: bytes of JSON per transaction. 100 distinct senders among
    10^4 funded accounts pay 100 distinct other accounts: 300 entries, nothing shared."""
    state = State(DOMAIN)
    senders = [User(h(90_000 + i)) for i in range(100)]
    for i in range(10_000 - len(senders)):
        set_balance(state, Address(h(i)[:20]), ETH, Amount(1_000))
    for user in senders:
        set_balance(state, user.address, ETH, Amount(1_000))
    compute_state_root(state)
    post = state.copy()
    txs: list[Transaction] = []
    for i, user in enumerate(senders):
        to = Address(h(i * 97)[:20])
        # Every tenth sender empties its balance: its leaf is deleted.
        amount = Amount(1_000 if i % 10 == 0 else 3)
        tx = sign(user, 0, Transfer(to, ETH, amount))
        process_transaction(post, tx)
        txs.append(tx)
    witness = compute_batch_witness(state, txs, [None] * 100)
    text = json.dumps(witness_to_json(witness), separators=(",", ":"))
    done = verify_batch_transition(
        DOMAIN, compute_state_root(state), witness_from_json(json.loads(text)), txs,
        [None] * 100, compute_state_root(post),
    )
    assert len(done) == 100
    per_tx = len(text) / 100
    print(f"\nwitness: {len(text)} bytes of JSON, {per_tx:.0f} per transfer, "
          f"{len(witness.tree)} tree nodes, {len(witness.balances)} balances")
    assert per_tx < 4_000


# --- helpers ---------------------------------------------------------------------------------


def put(rows: Any, i: int, value: Any) -> Any:
    return type(rows)(list(rows[:i]) + [value] + list(rows[i + 1:]))


def flip(value: bytes) -> Hash32:
    return Hash32(bytes([value[0] ^ 1]) + value[1:])


def closings(witness: StateWitness) -> Any:
    """Witnesses with one opening closed again: an expanded node that no witnessed entry's path
    goes through (an opened inner node or an opened lone leaf) replaced by its hash."""
    from flavum.core.state import (
        compute_balance_key,
        compute_deposit_key,
        compute_grant_key,
        compute_object_key,
    )

    keys = (
        [compute_account_key(a) for a, _ in witness.nonces]
        + [compute_balance_key(a, s) for a, s, _ in witness.balances]
        + [compute_object_key(i) for i, _ in witness.objects]
        + [compute_grant_key(i, o, g) for i, o, g, _ in witness.grants]
        + [compute_deposit_key(e) for e, _ in witness.deposits]
    )
    key_ints = [int.from_bytes(k, "big") for k in keys]
    tree = witness.tree
    spans: list[tuple[int, int, int, int, Hash32]] = []  # start, end, prefix, depth, hash

    def walk(i: int, prefix: int, depth: int) -> tuple[int, Hash32]:
        node = tree[i]
        if node.kind == NodeKind.EMPTY:
            return i + 1, ZERO_HASH
        if node.kind == NodeKind.OPAQUE:
            assert node.hash is not None
            return i + 1, node.hash
        if node.kind == NodeKind.LEAF:
            assert node.key is not None and node.value_hash is not None
            digest = compute_smt_leaf_hash(node.key, node.value_hash)
            spans.append((i, i + 1, prefix, depth, digest))
            return i + 1, digest
        end, left = walk(i + 1, prefix, depth + 1)
        end, right = walk(end, prefix | (1 << (255 - depth)), depth + 1)
        digest = compute_smt_node_hash(left, right)
        spans.append((i, end, prefix, depth, digest))
        return end, digest

    walk(0, 0, 0)
    for start, end, prefix, depth, digest in spans:
        on_a_path = any((k ^ prefix) >> (256 - depth) == 0 for k in key_ints)
        if on_a_path or depth == 0:
            continue
        closed = tree[:start] + (WitnessNode(NodeKind.OPAQUE, hash=digest),) + tree[end:]
        yield replace(witness, tree=closed)

