"""Transactions: what they carry, how they are encoded, signed and checked without state.

A transaction is an envelope (type, domain, sender, nonce) around a typed body. The sender signs
`compute_signing_hash(tx)`, which binds the chain id and the rollup id, so a transaction signed
for one rollup or chain is refused by every other (`WrongDomain`). The wire format is
`abi.encode(uint8 type, uint256 chain_id, bytes32 rollup_id, address sender, uint64 nonce,
bytes body, bytes signature)` with `body = abi.encode(<the body's fields>)`.

Deposit is a system transaction: it comes from a ledger watcher, carries the ledger event it
mirrors, has no signature and is applied at most once per event. It names its ledger and the
token, not the asset: the asset credited is `compute_asset_id(ledger, token)`, so a deposit
said to come from one ledger can only credit that ledger's assets.
"""

from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any, ClassVar

from eth_keys.constants import SECPK1_N
from eth_keys.datatypes import PrivateKey
from eth_keys.datatypes import Signature as EcdsaSignature

from flavum.core.assets import compute_asset_id
from flavum.core.encoding import compute_tag, decode_abi, encode_abi, hash_tagged, keccak256
from flavum.core.errors import BadSignature, MalformedTransaction
from flavum.core.types import (
    NO_OBJECT,
    ZERO_ADDRESS,
    Access,
    Address,
    Amount,
    AssetId,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
    Signature,
)

TX_SIGN_TAG = compute_tag("tx.sign")
TX_HASH_TAG = compute_tag("tx.hash")
MAX_NONCE = 2**64 - 1
EMPTY_SIGNATURE = Signature(b"")


class TxType(IntEnum):
    TRANSFER = 1
    TRANSFER_OBJECT = 2
    GRANT_ACCESS = 3
    DEPLOY_MODEL = 4
    SUBMIT_DATA = 5
    INFER = 6
    WITHDRAW = 7
    DEPOSIT = 8  # system transaction
    DEPLOY_TRAINABLE = 9
    TRAIN = 10


MAX_TRAIN_ROWS = 256
"""The most DATA objects one Train may name: its one-step fraud proof reads every one of them."""


@dataclass(frozen=True)
class Transfer:
    """Move `amount` of `asset` to `to`."""

    TYPE: ClassVar[TxType] = TxType.TRANSFER
    ABI: ClassVar[tuple[str, ...]] = ("address", "bytes32", "uint256")
    to: Address
    asset: AssetId
    amount: Amount


@dataclass(frozen=True)
class TransferObject:
    """Give an object to `to`; grants made by the previous owner stop applying."""

    TYPE: ClassVar[TxType] = TxType.TRANSFER_OBJECT
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "address")
    object_id: ObjectId
    to: Address


@dataclass(frozen=True)
class GrantAccess:
    """Let `grantee` use an owned object (`allowed=False` revokes)."""

    TYPE: ClassVar[TxType] = TxType.GRANT_ACCESS
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "address", "bool")
    object_id: ObjectId
    grantee: Address
    allowed: bool


@dataclass(frozen=True)
class DeployModel:
    """Create a MODEL object: ONNX content hash, the circuit's vk hash, a fee per inference."""

    TYPE: ClassVar[TxType] = TxType.DEPLOY_MODEL
    ABI: ClassVar[tuple[str, ...]] = (
        "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "uint256"
    )
    model_hash: Hash32
    vk_hash: Hash32
    metadata_hash: Hash32
    access: Access
    fee_asset: AssetId
    fee: Amount


@dataclass(frozen=True)
class SubmitData:
    """Create a DATA object whose commitment is the circuit's Poseidon hash of the input."""

    TYPE: ClassVar[TxType] = TxType.SUBMIT_DATA
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "bytes32", "uint8")
    commitment: Hash32
    metadata_hash: Hash32
    access: Access


@dataclass(frozen=True)
class Infer:
    """Run `model_id` on `data_id`, paying at most `max_fee` to the model's owner."""

    TYPE: ClassVar[TxType] = TxType.INFER
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "bytes32", "uint256")
    model_id: ObjectId
    data_id: ObjectId
    max_fee: Amount


@dataclass(frozen=True)
class DeployTrainable:
    """Create the first version of a trainable model: its weight commitment, the MODEL objects
    of its architecture's step circuit and inference circuit (docs/training.md), a fee per
    inference or training."""

    TYPE: ClassVar[TxType] = TxType.DEPLOY_TRAINABLE
    ABI: ClassVar[tuple[str, ...]] = (
        "bytes32", "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "uint256"
    )
    step_model_id: ObjectId
    inference_model_id: ObjectId
    weight_commitment: Hash32
    metadata_hash: Hash32
    access: Access
    fee_asset: AssetId
    fee: Amount


@dataclass(frozen=True)
class Train:
    """Run `steps` proven SGD steps from version `model_id` on the rows `data_ids` (step i on
    the i-th equal slice), paying at most `max_fee` to the version's owner; creates the new
    version."""

    TYPE: ClassVar[TxType] = TxType.TRAIN
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "uint64", "uint256", "bytes32[]")
    model_id: ObjectId
    steps: int
    max_fee: Amount
    data_ids: tuple[ObjectId, ...]


@dataclass(frozen=True)
class Withdraw:
    """Burn a balance (`object_id` zero) or an object, payable on `ledger` to `recipient`."""

    TYPE: ClassVar[TxType] = TxType.WITHDRAW
    ABI: ClassVar[tuple[str, ...]] = ("bytes32", "address", "bytes32", "uint256", "bytes32")
    ledger: Hash32
    recipient: Address
    asset: AssetId
    amount: Amount
    object_id: ObjectId


@dataclass(frozen=True)
class Deposit:
    """Credit `amount` of `token` and/or mint a DATA object, mirroring deposit `event_id` of
    `ledger`. On a ledger with a deposit inbox (the EVM bridge), keccak256 of this body's
    encoding is what the bridge stored for the deposit."""

    TYPE: ClassVar[TxType] = TxType.DEPOSIT
    ABI: ClassVar[tuple[str, ...]] = (
        "bytes32", "bytes32", "address", "address", "uint256", "bytes32", "bytes32"
    )
    ledger: Hash32
    event_id: Hash32
    recipient: Address
    token: Address  # zero: the ledger's native coin
    amount: Amount
    data_commitment: Hash32  # zero: no data object
    metadata_hash: Hash32

    @property
    def asset(self) -> AssetId:
        """What the deposit credits: compute_asset_id(ledger, token), never a free field."""
        return compute_asset_id(self.ledger, self.token)


Body = (
    Transfer | TransferObject | GrantAccess | DeployModel | SubmitData | Infer | Withdraw | Deposit
    | DeployTrainable | Train
)
BODY_CLASSES: dict[TxType, type[Any]] = {
    cls.TYPE: cls
    for cls in (
        Transfer, TransferObject, GrantAccess, DeployModel, SubmitData, Infer, Withdraw, Deposit,
        DeployTrainable, Train,
    )
}
ENVELOPE_ABI = ("uint8", "uint256", "bytes32", "address", "uint64", "bytes", "bytes")


@dataclass(frozen=True)
class Transaction:
    """A transaction envelope; `signature` is empty until signed (and always for Deposit)."""

    chain_id: ChainId
    rollup_id: Hash32
    sender: Address
    nonce: Nonce
    body: Body
    signature: Signature = EMPTY_SIGNATURE

    @property
    def type(self) -> TxType:
        return self.body.TYPE

    @property
    def is_system(self) -> bool:
        return self.body.TYPE == TxType.DEPOSIT


def encode_body(body: Body) -> bytes:
    """abi.encode of the body's fields, in declaration order."""
    return encode_abi(body.ABI, [getattr(body, f.name) for f in fields(body)])


def decode_body(tx_type: TxType, data: bytes) -> Body:
    cls = BODY_CLASSES[tx_type]
    try:
        values = decode_abi(cls.ABI, data)
    except ValueError as exc:
        raise MalformedTransaction(f"cannot decode {tx_type.name} body: {exc}") from exc
    kwargs = {}
    for f, abi_type, value in zip(fields(cls), cls.ABI, values, strict=True):
        kwargs[f.name] = _from_abi(abi_type, f.name, value)
    return cls(**kwargs)  # type: ignore[no-any-return]


def encode_transaction(tx: Transaction) -> bytes:
    """The canonical wire encoding (see the module docstring)."""
    return encode_abi(
        ENVELOPE_ABI,
        [
            int(tx.type), tx.chain_id, tx.rollup_id, tx.sender, tx.nonce,
            encode_body(tx.body), tx.signature,
        ],
    )


def decode_transaction(data: bytes) -> Transaction:
    """Inverse of `encode_transaction`; raises MalformedTransaction on anything else."""
    try:
        values = decode_abi(ENVELOPE_ABI, data)
    except ValueError as exc:
        raise MalformedTransaction(f"cannot decode transaction: {exc}") from exc
    tx_type, chain_id, rollup_id, sender, nonce, body, signature = values
    if tx_type not in BODY_CLASSES:
        raise MalformedTransaction(f"unknown transaction type {tx_type}")
    return Transaction(
        chain_id=ChainId(chain_id),
        rollup_id=Hash32(rollup_id),
        sender=Address(sender),
        nonce=Nonce(nonce),
        body=decode_body(TxType(tx_type), body),
        signature=Signature(signature),
    )


def compute_signing_hash(tx: Transaction) -> Hash32:
    """What the sender signs: the domain, the envelope and the body."""
    return hash_tagged(
        TX_SIGN_TAG,
        ("uint256", "bytes32", "uint8", "address", "uint64", "bytes32"),
        (tx.chain_id, tx.rollup_id, int(tx.type), tx.sender, tx.nonce,
         keccak256(encode_body(tx.body))),
    )


def compute_tx_hash(tx: Transaction) -> Hash32:
    """The transaction's id and its leaf in a batch's tx root; it covers the signature."""
    return _compute_tx_hash(compute_signing_hash(tx), tx.signature)


def _compute_tx_hash(signing_hash: Hash32, signature: Signature) -> Hash32:
    return hash_tagged(TX_HASH_TAG, ("bytes32", "bytes"), (signing_hash, signature))


def sign_transaction(tx: Transaction, private_key: bytes) -> Transaction:
    """Return `tx` signed with `private_key`; the sender must be that key's address."""
    key = PrivateKey(private_key)
    if key.public_key.to_canonical_address() != tx.sender:
        raise BadSignature("the signing key is not the sender's")
    signature = key.sign_msg_hash(compute_signing_hash(tx)).to_bytes()
    return replace(tx, signature=Signature(signature))


def recover_signer(tx: Transaction) -> Address:
    """The address that signed `tx`; raises BadSignature if the signature is malformed."""
    return _recover_signer(tx.signature, compute_signing_hash(tx))


def _recover_signer(signature: Signature, signing_hash: Hash32) -> Address:
    if len(signature) != 65:
        raise BadSignature(f"signature must be 65 bytes, got {len(signature)}")
    s = int.from_bytes(signature[32:64], "big")
    # Low-s only: otherwise the same transaction would have two valid signatures and two hashes.
    if s > SECPK1_N // 2:
        raise BadSignature("signature s value is not canonical (high s)")
    try:
        public_key = EcdsaSignature(signature).recover_public_key_from_msg_hash(signing_hash)
    except Exception as exc:
        raise BadSignature(f"signature does not recover a key: {exc}") from exc
    return Address(public_key.to_canonical_address())


@dataclass(frozen=True)
class Recovered:
    """A transaction's wire bytes, what they decode to, its hash and the address its signature
    recovers to, all computed once from those bytes (`recover_transaction`). The sequencer
    recovers signers in worker processes, off its commit path; `process_recovered` then uses
    this signer and hash instead of computing them again."""

    raw: bytes
    tx: Transaction
    tx_hash: Hash32
    # None: a system transaction (unsigned), or a signature that recovers no key (the state
    # transition recovers it again, and raises BadSignature at its own step).
    signer: Address | None


def recover_transaction(raw: bytes) -> Recovered:
    """Decode `raw` and recover its signer; raises MalformedTransaction if it does not decode."""
    tx = decode_transaction(raw)
    signing_hash = compute_signing_hash(tx)
    signer = None
    if not tx.is_system:
        try:
            signer = _recover_signer(tx.signature, signing_hash)
        except BadSignature:
            pass  # raised by the state transition, after the checks that come before it
    return Recovered(raw, tx, _compute_tx_hash(signing_hash, tx.signature), signer)


def address_of(private_key: bytes) -> Address:
    """The 20-byte Ethereum-style address of a secp256k1 private key."""
    return Address(PrivateKey(private_key).public_key.to_canonical_address())


def validate_transaction(tx: Transaction) -> None:
    """Stateless checks: field ranges, and for a system transaction no sender or signature."""
    if not 0 <= tx.nonce <= MAX_NONCE:
        raise MalformedTransaction("nonce out of range")
    if tx.is_system:
        if tx.sender != ZERO_ADDRESS or tx.signature or tx.nonce != 0:
            raise MalformedTransaction("a deposit has no sender, nonce or signature")
        return
    body = tx.body
    if isinstance(body, DeployModel | SubmitData | DeployTrainable) and (
            body.access not in tuple(Access)):
        raise MalformedTransaction(f"unknown access mode {body.access}")
    if isinstance(body, Train):
        validate_train(body)
    if isinstance(body, Withdraw) and (body.object_id == NO_OBJECT) == (body.amount == 0):
        raise MalformedTransaction("a withdrawal moves either an amount or an object, not both")


def validate_train(body: Train) -> None:
    """A Train names at least one step, at most MAX_TRAIN_ROWS rows, as many rows per step."""
    if body.steps < 1:
        raise MalformedTransaction("a training runs at least one step")
    if not 1 <= len(body.data_ids) <= MAX_TRAIN_ROWS:
        raise MalformedTransaction(f"a training names 1 to {MAX_TRAIN_ROWS} rows, "
                                   f"not {len(body.data_ids)}")
    if len(body.data_ids) % body.steps:
        raise MalformedTransaction(f"{len(body.data_ids)} rows do not split into "
                                   f"{body.steps} equal batches")


def _from_abi(abi_type: str, name: str, value: Any) -> Any:
    if abi_type == "uint8" and name == "access":
        if value not in (Access.OWNED, Access.COMMON):
            raise MalformedTransaction(f"unknown access mode {value}")
        return Access(value)
    if abi_type == "bytes32[]":
        return tuple(value)
    return value
