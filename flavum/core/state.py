"""Rollup state: accounts, balances, objects, grants and applied deposits, under one state root.

Every entry is a leaf of one sparse Merkle tree: `key = keccak256(abi.encode(KEY_TAG, ...))`
names the entry and `value_hash` commits to its content. Absent and zero are the same thing
(a zero balance or a never-used account has no leaf), so equal states have equal roots.

Writes go through `_write`, which records the old value in a journal while a transaction runs:
`rollback` restores the state exactly as it was, so a refused transaction changes nothing.
The tree is brought up to date lazily, from the keys written since, by `compute_state_root`.
"""

# The write functions define closures: their annotations are not evaluated on every call.
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from flavum.core.encoding import (
    compute_tag,
    encode_abi,
    encode_address,
    encode_uint,
    hash_tagged,
    keccak256,
)
from flavum.core.errors import InsufficientBalance
from flavum.core.merkle import SmtProof, SparseMerkleTree
from flavum.core.types import (
    MAX_UINT256,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    AssetId,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)

ACCOUNT_KEY_TAG = compute_tag("state.account")
BALANCE_KEY_TAG = compute_tag("state.balance")
OBJECT_KEY_TAG = compute_tag("state.object")
GRANT_KEY_TAG = compute_tag("state.grant")
DEPOSIT_KEY_TAG = compute_tag("state.deposit")
NONCE_TAG = compute_tag("value.nonce")
AMOUNT_TAG = compute_tag("value.amount")
OBJECT_TAG = compute_tag("value.object")
PRESENT_PREIMAGE = b"flavum.value.present"
PRESENT = keccak256(PRESENT_PREIMAGE)  # value hash of a grant or an applied deposit
ROLLUP_ID_TAG = compute_tag("rollup.id")


@dataclass(frozen=True)
class Domain:
    """Which rollup on which chain: part of every signature."""

    chain_id: ChainId
    rollup_id: Hash32


def compute_rollup_id(chain_id: ChainId, rollup: Address) -> Hash32:
    """The id of the rollup whose contract is at `rollup` on chain `chain_id`:
    keccak256(abi.encode(ROLLUP_ID_TAG, chain_id, rollup)) (FlavumHashes.rollupIdOf). Two
    deployments never share it, so a transaction signed for one is refused by every other."""
    return hash_tagged(ROLLUP_ID_TAG, ("uint256", "address"), (chain_id, rollup))


@dataclass(frozen=True)
class Object:
    """An owned object. Fields that do not apply to a kind are zero."""

    object_id: ObjectId
    kind: ObjectKind
    owner: Address
    access: Access
    commitment: Hash32  # MODEL: ONNX content hash; DATA: input commitment; RESULT: outputs hash
    metadata_hash: Hash32
    vk_hash: Hash32 = ZERO_HASH  # MODEL: the circuit's verifying key
    fee_asset: AssetId = AssetId(ZERO_HASH)  # MODEL: fee per inference, paid to the owner
    fee: Amount = Amount(0)
    model_id: ObjectId = ObjectId(ZERO_HASH)  # RESULT: lineage
    data_id: ObjectId = ObjectId(ZERO_HASH)  # RESULT: lineage


OBJECT_ABI: Final = (
    "bytes32", "uint8", "address", "uint8", "bytes32", "bytes32", "bytes32", "bytes32",
    "uint256", "bytes32", "bytes32",
)


def compute_object_preimage(obj: Object) -> bytes:
    """abi.encode(OBJECT_TAG, <the object's fields in order>): what the object's leaf hashes."""
    return encode_abi(("bytes32", *OBJECT_ABI), (
        OBJECT_TAG, obj.object_id, int(obj.kind), obj.owner, int(obj.access), obj.commitment,
        obj.metadata_hash, obj.vk_hash, obj.fee_asset, obj.fee, obj.model_id, obj.data_id,
    ))


def compute_number_preimage(tag: Hash32, value: int) -> bytes:
    """abi.encode(tag, uint256 value): what a nonce's (NONCE_TAG) or balance's (AMOUNT_TAG)
    leaf hashes."""
    return tag + encode_uint(value)


def compute_object_hash(obj: Object) -> Hash32:
    """The object's leaf value: keccak256 of its preimage."""
    return keccak256(compute_object_preimage(obj))


def compute_account_key(address: Address) -> Hash32:
    return keccak256(ACCOUNT_KEY_TAG + encode_address(address))


def compute_balance_key(address: Address, asset: AssetId) -> Hash32:
    return keccak256(BALANCE_KEY_TAG + encode_address(address) + asset)


def compute_object_key(object_id: ObjectId) -> Hash32:
    return keccak256(OBJECT_KEY_TAG + object_id)


def compute_grant_key(object_id: ObjectId, owner: Address, grantee: Address) -> Hash32:
    return keccak256(GRANT_KEY_TAG + object_id + encode_address(owner) + encode_address(grantee))


def compute_deposit_key(event_id: Hash32) -> Hash32:
    return keccak256(DEPOSIT_KEY_TAG + event_id)


_MISSING: Final = object()


class State:
    """The rollup state. Read and write it through the get_/set_ functions below."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.nonces: dict[Address, Nonce] = {}
        self.balances: dict[tuple[Address, AssetId], Amount] = {}
        self.objects: dict[ObjectId, Object] = {}
        self.grants: dict[tuple[ObjectId, Address, Address], bool] = {}
        self.deposits: dict[Hash32, bool] = {}
        self._tree = SparseMerkleTree()
        # leaf key -> a function giving the leaf's current value hash (None: no leaf)
        self._dirty: dict[Hash32, Callable[[], Hash32 | None]] = {}
        self._journal: list[tuple[dict[Any, Any], Any, Any]] | None = None

    # --- transactions: snapshot / commit / rollback ---

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        journal = self._journal or []
        for table, key, old in reversed(journal):
            if old is _MISSING:
                table.pop(key, None)  # absent before; a write may have left it absent too
            else:
                table[key] = old
        # Written leaves stay marked dirty: recomputing them from restored values is harmless.
        self._journal = None

    def _write(
        self,
        table_name: str,
        key: Any,
        value: Any,
        leaf_key: Hash32,
        leaf_value: Callable[[], Hash32 | None],
    ) -> None:
        table: dict[Any, Any] = getattr(self, table_name)
        if self._journal is not None:
            self._journal.append((table, key, table.get(key, _MISSING)))
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
        self._dirty[leaf_key] = leaf_value

    def _sync_tree(self) -> None:
        for leaf_key, leaf_value in self._dirty.items():
            value_hash = leaf_value()
            if value_hash is None:
                self._tree.delete(leaf_key)
            else:
                self._tree.set(leaf_key, value_hash)
        self._dirty.clear()

    def copy(self) -> State:
        """An independent copy (used by dry runs and tests)."""
        other = State(self.domain)
        self._sync_tree()
        other.nonces = dict(self.nonces)
        other.balances = dict(self.balances)
        other.objects = dict(self.objects)
        other.grants = dict(self.grants)
        other.deposits = dict(self.deposits)
        other._tree = self._tree.copy()
        return other


# --- reads ---


def get_nonce(state: State, address: Address) -> Nonce:
    return state.nonces.get(address, Nonce(0))


def get_balance(state: State, address: Address, asset: AssetId) -> Amount:
    return state.balances.get((address, asset), Amount(0))


def get_object(state: State, object_id: ObjectId) -> Object | None:
    return state.objects.get(object_id)


def is_granted(state: State, object_id: ObjectId, owner: Address, grantee: Address) -> bool:
    return (object_id, owner, grantee) in state.grants


def is_deposit_applied(state: State, event_id: Hash32) -> bool:
    return event_id in state.deposits


def is_allowed(state: State, obj: Object, user: Address) -> bool:
    """May `user` use `obj`: it is common, or theirs, or its current owner granted them."""
    if obj.access == Access.COMMON or obj.owner == user:
        return True
    return is_granted(state, obj.object_id, obj.owner, user)


# --- writes ---


def set_nonce(state: State, address: Address, nonce: Nonce) -> None:
    def leaf() -> Hash32 | None:
        value = state.nonces.get(address, 0)
        return keccak256(compute_number_preimage(NONCE_TAG, value)) if value else None

    state._write("nonces", address, nonce or None, compute_account_key(address), leaf)


def set_balance(state: State, address: Address, asset: AssetId, amount: Amount) -> None:
    def leaf() -> Hash32 | None:
        value = state.balances.get((address, asset), 0)
        return keccak256(compute_number_preimage(AMOUNT_TAG, value)) if value else None

    key = (address, asset)
    state._write("balances", key, amount or None, compute_balance_key(address, asset), leaf)


def increase_balance(state: State, address: Address, asset: AssetId, amount: Amount) -> None:
    new = get_balance(state, address, asset) + amount
    # uint256 like the ledgers' token balances; cannot be reached with honest deposits.
    if new > MAX_UINT256:
        raise InsufficientBalance("balance would overflow uint256")
    set_balance(state, address, asset, Amount(new))


def decrease_balance(state: State, address: Address, asset: AssetId, amount: Amount) -> None:
    balance = get_balance(state, address, asset)
    if balance < amount:
        raise InsufficientBalance(
            f"0x{address.hex()} holds {balance} of asset 0x{asset.hex()[:12]}…, needs {amount}"
        )
    set_balance(state, address, asset, Amount(balance - amount))


def set_object(state: State, obj: Object) -> None:
    object_id = obj.object_id

    def leaf() -> Hash32 | None:
        current = state.objects.get(object_id)
        return compute_object_hash(current) if current is not None else None

    state._write("objects", object_id, obj, compute_object_key(object_id), leaf)


def delete_object(state: State, object_id: ObjectId) -> None:
    def leaf() -> Hash32 | None:
        current = state.objects.get(object_id)
        return compute_object_hash(current) if current is not None else None

    state._write("objects", object_id, None, compute_object_key(object_id), leaf)


def set_grant(
    state: State, object_id: ObjectId, owner: Address, grantee: Address, allowed: bool
) -> None:
    key = (object_id, owner, grantee)

    def leaf() -> Hash32 | None:
        return PRESENT if key in state.grants else None

    leaf_key = compute_grant_key(object_id, owner, grantee)
    state._write("grants", key, True if allowed else None, leaf_key, leaf)


def set_deposit_applied(state: State, event_id: Hash32) -> None:
    def leaf() -> Hash32 | None:
        return PRESENT if event_id in state.deposits else None

    state._write("deposits", event_id, True, compute_deposit_key(event_id), leaf)


# --- commitment ---


def compute_state_root(state: State) -> Hash32:
    """The root of the state tree, after folding in every write since the last call."""
    state._sync_tree()
    return state._tree.root()


def get_state_proof(state: State, leaf_key: Hash32) -> SmtProof:
    """Inclusion or non-inclusion proof of `leaf_key` against `compute_state_root(state)`."""
    state._sync_tree()
    return state._tree.prove(leaf_key)


def get_leaf_value(state: State, leaf_key: Hash32) -> Hash32 | None:
    state._sync_tree()
    return state._tree.get(leaf_key)
