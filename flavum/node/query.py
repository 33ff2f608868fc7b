"""The node's read model: typed records of everything the API shows.

The API reads the node only through `NodeQuery` (and changes it through the sequencer and the
model service). Records hold domain types (bytes, ints, core dataclasses): writing them as JSON
is the API's job, with the one codec. Lookups of one thing return None when it is absent; the
caller words the NotFound.
"""

import json
from dataclasses import dataclass
from typing import Any

from flavum.core.batch import Trace, TrainingTrace, Withdrawal
from flavum.core.codec import to_hex
from flavum.core.errors import FlavumError, NotFound
from flavum.core.genesis import DEV_ASSET
from flavum.core.state import Object
from flavum.core.types import (
    NO_OBJECT,
    Access,
    Address,
    Amount,
    AssetId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)
from flavum.l1.interface import RegisteredModel
from flavum.ml.errors import ModelRejected
from flavum.node.config import COIN_UNITS, DEV_UNIT, native_asset
from flavum.node.ledgers import LedgerLink
from flavum.node.models import ModelRecord, interpret_outputs
from flavum.node.node import Node
from flavum.node.store import BatchRecord, LedgerPost, StoredTx, TraceRecord


@dataclass(frozen=True)
class Account:
    """An account of the live (soft-confirmed) state: its nonce and non-zero balances."""

    address: Address
    nonce: Nonce
    balances: dict[AssetId, Amount]
    native_asset: AssetId  # the asset fees are paid in


@dataclass(frozen=True)
class LedgerInfo:
    """One ledger the node posts to, with what it can do and its last error."""

    name: str
    ledger_id: Hash32
    verifies_proofs: bool
    anchors_only: bool
    last_error: str | None
    # posting | unreachable (retrying) | chain_reset | deposit_reorged | error (an unexpected
    # exception: see last_error) | reverted (posting stopped) | frozen (escape mode) |
    # replaced (posting stopped: this node's key is not the rollup's sequencer)
    state: str
    reverted_batch: int | None  # the node's own batch a fraud proof reverted: posting stopped
    # the newest batch seen deeper than the confirmations there: a chain that lacks it forgot
    # it (chain_reset); None: none yet
    confirmed_batch: int | None
    deployment: dict[str, Any] | None  # EVM: the rollup's contracts
    custody_address: str | None  # Litecoin: where deposits go
    anchor_address: str | None  # Litecoin: the address that pays the anchors' fees


@dataclass(frozen=True)
class Status:
    chain_id: int
    rollup_id: Hash32
    state_root: Hash32
    genesis_root: Hash32
    native_asset: AssetId
    transactions: int
    pending: int  # accepted, not yet in a block
    blocks: int
    batches: int
    last_batch: BatchRecord | None
    ledgers: tuple[LedgerInfo, ...]


@dataclass(frozen=True)
class BatchDetail:
    """A sealed batch with its ledger posts, transactions, trace entries and withdrawals."""

    record: BatchRecord
    posts: tuple[LedgerPost, ...]
    confirmations: dict[str, int | None]  # by ledger name, asked now; None: it cannot say
    # by ledger name, for ledgers that settle by fraud proofs: blocks left in its challenge
    # window (0: final) and the block it is final from; None: no window there, or unknown
    finality: dict[str, tuple[int, int] | None]
    # by ledger name: (state, last_error) of a ledger that is not posting now; the batch's
    # post there is as last seen
    ledger_faults: dict[str, tuple[str, str | None]]
    tx_hashes: tuple[Hash32, ...]
    traces: tuple[Trace, ...]
    withdrawals: tuple[Withdrawal, ...]


@dataclass(frozen=True)
class AssetInfo:
    """How amounts of an asset read: its unit and decimals, and the ledger whose coin it is."""

    asset: AssetId
    unit: str
    decimals: int
    ledger: str | None  # None: the dev asset of the genesis


@dataclass(frozen=True)
class ModelOnLedger:
    """A model's binding to its verifier on one ledger that registers models."""

    ledger: str
    registration: RegisteredModel | None  # None: not registered there (yet), or unknown
    known: bool  # False: the ledger could not be asked now (a fault)


@dataclass(frozen=True)
class TracePage:
    """Trace entries, most recent first, and the cursor of the next (older) page."""

    records: tuple[TraceRecord, ...]
    next_before: int | None  # pass as `before` for the next page; None: this is the last


@dataclass(frozen=True)
class WithdrawalInfo:
    withdrawal: Withdrawal
    batch: int | None  # None: not sealed in a batch yet


@dataclass(frozen=True)
class WithdrawalProof:
    """A withdrawal's Merkle proof in its batch's withdrawal root."""

    withdrawal: Withdrawal
    batch: int
    index: int
    proof: tuple[Hash32, ...]


class NodeQuery:
    """Reads of one node: its store, live state, models and ledgers."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._store = node.store
        self._sequencer = node.sequencer
        self._models = node.models

    # --- transactions, accounts, objects ---

    def transaction(self, tx_hash: Hash32) -> StoredTx | None:
        return self._store.get_tx(tx_hash)

    def account(self, address: Address) -> Account:
        nonce, balances = self._sequencer.account(address)
        return Account(address, nonce, balances, native_asset())

    def object(self, object_id: ObjectId) -> Object | None:
        return self._sequencer.object(object_id)

    def result(self, trace: Trace) -> dict[str, Any] | None:
        """An inference's outputs read as numbers, probabilities and class (None: a training,
        its model is gone, or this node does not hold its record)."""
        if isinstance(trace, TrainingTrace):
            return None
        model = self._sequencer.object(trace.model_id)
        if model is None:
            return None
        try:
            record = self._models.record(model.vk_hash)
        except ModelRejected:  # this node never compiled it
            return None
        return interpret_outputs(record, trace.outputs)

    # --- the node and its ledgers ---

    def status(self) -> Status:
        sequencer = self._sequencer
        last_block = self._store.last_block()
        batches = self._store.batches()
        return Status(
            chain_id=sequencer.config.domain.chain_id,
            rollup_id=sequencer.config.domain.rollup_id,
            state_root=sequencer.state_root(),
            genesis_root=sequencer.genesis_root,
            native_asset=native_asset(),
            transactions=self._store.count_txs(),
            pending=sequencer.pending,
            blocks=0 if last_block is None else last_block.number + 1,
            batches=len(batches),
            last_batch=batches[-1] if batches else None,
            ledgers=tuple(self.ledgers()),
        )

    def ledgers(self) -> list[LedgerInfo]:
        return [_ledger_info(link) for link in self._node.ledgers]

    def assets(self) -> list[AssetInfo]:
        """The dev asset and each ledger's native coin, with their units."""
        assets = [AssetInfo(DEV_ASSET, *DEV_UNIT, None)]
        for spec in self._node.config.ledgers:
            unit, decimals = COIN_UNITS.get(spec.kind, COIN_UNITS["evm"])
            assets.append(AssetInfo(native_asset(spec.name), unit, decimals, spec.name))
        return assets

    # --- batches ---

    def batches(self) -> list[BatchRecord]:
        return self._store.batches()

    def ledger_posts(self, number: int) -> list[LedgerPost]:
        """Batch `number`'s state on each ledger."""
        return self._store.ledger_posts(number)

    def batch(self, number: int) -> BatchDetail | None:
        record = self._store.get_batch(number)
        if record is None:
            return None
        first_seq, last_seq = self._store.batch_seq_span(record)
        posts = self._store.ledger_posts(number)
        posted = {post.name for post in posts}
        # A ledger the batch has not reached yet (e.g. one that does not answer) is listed too.
        posts += [LedgerPost(link.name, "pending", None, None, record.sealed_at)
                  for link in self._node.ledgers if link.name not in posted]
        return BatchDetail(
            record=record,
            posts=tuple(posts),
            confirmations={post.name: self._confirmations(post.name, number) for post in posts},
            finality={post.name: self._finality(post, number) for post in posts},
            ledger_faults={link.name: (link.state, link.last_error)
                           for link in self._node.ledgers if link.state != "posting"},
            tx_hashes=tuple(self._store.tx_hashes(first_seq, last_seq)),
            traces=tuple(self._store.traces_in(first_seq, last_seq)),
            withdrawals=tuple(self._store.withdrawals_in(first_seq, last_seq)),
        )

    def _finality(self, post: LedgerPost, number: int) -> tuple[int, int] | None:
        link = self._reachable(post.name)
        if (link is None or post.state != "accepted"
                or not link.ledger.capabilities.settles_by_fraud_proofs):
            return None
        try:
            final_at = link.ledger.final_at_block(number)
            return max(0, final_at - link.ledger.head()), final_at
        except FlavumError:
            return None

    def _reachable(self, name: str) -> LedgerLink | None:
        """The link of ledger `name`, unless it has a fault: a ledger that does not answer
        (or holds another chain) is not asked, the answer is "unknown"."""
        link = next((link for link in self._node.ledgers if link.name == name), None)
        return None if link is None or link.fault is not None else link

    def _confirmations(self, name: str, number: int) -> int | None:
        link = self._reachable(name)
        if link is None:
            return None
        try:
            return link.depth(number)
        except FlavumError:
            return None

    # --- models and data ---

    def model(self, object_id: ObjectId) -> Object | None:
        obj = self._sequencer.object(object_id)
        return obj if obj is not None and obj.kind == ObjectKind.MODEL else None

    def model_record(self, model: Object) -> ModelRecord | None:
        """What this node knows of a MODEL's compiled circuit (None: a trainable model's
        version, or the circuit of a trainable architecture: docs/training.md)."""
        if model.model_id != NO_OBJECT or self._node.training.is_step(model.vk_hash):
            return None
        return self._models.record(model.vk_hash)

    def model_registrations(self, model_id: ObjectId) -> list[ModelOnLedger]:
        """The model's verifier on each ledger that binds models to verifiers."""
        found = []
        for link in self._node.ledgers:
            if not link.ledger.capabilities.registers_models:
                continue
            reachable = self._reachable(link.name)
            try:
                registered = reachable.ledger.model(model_id) if reachable else None
            except FlavumError:
                reachable = None
                registered = None
            found.append(ModelOnLedger(link.name, registered, reachable is not None))
        return found

    def objects(self, kind: ObjectKind, limit: int) -> list[Object]:
        """Objects of a kind as of the last block, most recent first."""
        return self._store.objects(kind, limit)

    def common_values(self, data: Object) -> list[float] | None:
        """The node's copy of a DATA object's values, for common data only: owned data shows
        its commitment, never its values."""
        if data.access != Access.COMMON:
            return None
        held = self._store.get_data_input(data.commitment)
        return None if held is None else list(json.loads(held[1]))

    # --- traces and their proofs ---

    def trace(self, tx_hash: Hash32) -> TraceRecord | None:
        return self._store.get_trace(tx_hash)

    def traces(self, limit: int) -> list[TraceRecord]:
        return self._store.recent_traces(limit)

    def traces_of_model(self, model_id: ObjectId, before: int | None, limit: int) -> TracePage:
        """The inferences that ran `model_id`, the model gone or not."""
        return self._page(("model_id",), model_id, before, limit)

    def traces_of_object(self, object_id: ObjectId, before: int | None, limit: int) -> TracePage:
        """The inferences an object took part in: as their model, their data or their result."""
        return self._page(("model_id", "data_id", "result_id"), object_id, before, limit)

    def traces_of_account(self, address: Address, before: int | None, limit: int) -> TracePage:
        """The inferences an account sent (it owns their results)."""
        return self._page(("sender",), address, before, limit)

    def _page(self, keys: tuple[str, ...], value: bytes, before: int | None,
              limit: int) -> TracePage:
        # One indexed query per key (an id is of one kind: at most one of them matches), and
        # one entry more than asked: whether an older page exists.
        found = [r for key in keys for r in self._store.traces_by(key, value, before, limit + 1)]
        found.sort(key=lambda r: r.seq, reverse=True)
        records = tuple(found[:limit])
        return TracePage(records, records[-1].seq if len(found) > limit else None)

    def lineage(self, version_id: ObjectId) -> list[tuple[Object, TrainingTrace | None]]:
        """A trainable model's versions from `version_id` back to the first, each with the
        training that made it (None for the first, or one this node did not record)."""
        chain = []
        current = self._sequencer.object(version_id)
        if current is None or current.kind != ObjectKind.MODEL or current.model_id == NO_OBJECT:
            raise NotFound(f"no trainable version {to_hex(version_id)}")
        while current is not None:
            made = [t.entry for t in self._store.traces_by("result_id", current.object_id, None, 1)
                    if isinstance(t.entry, TrainingTrace)]
            chain.append((current, made[0] if made else None))
            parent = current.data_id
            current = None if parent == NO_OBJECT else self._sequencer.object(parent)
        return chain

    def verify_trace(self, entry: Trace, proof: bytes) -> None:
        """Check a trace entry's proof against its model's verifying key (InvalidProof); a
        training's step proofs and their chain."""
        if isinstance(entry, TrainingTrace):
            self._node.training.verify_training(entry, proof)
            return
        versions = self._node.prover.versions
        if entry.circuit_id != NO_OBJECT and versions is not None:  # an Infer on a version
            circuit = self._sequencer.object(entry.circuit_id)
            if circuit is None:
                raise NotFound("the trace's inference circuit no longer exists on this rollup")
            versions.verify_trace(circuit, entry, proof)
            return
        model = self._sequencer.object(entry.model_id)
        if model is None:
            raise NotFound("the trace's model no longer exists on this rollup")
        self._models.verify_trace(entry, model.vk_hash, proof)

    # --- withdrawals ---

    def withdrawals(self, limit: int) -> list[WithdrawalInfo]:
        return [WithdrawalInfo(w, batch) for w, batch in self._store.recent_withdrawals(limit)]

    def withdrawal_proof(self, withdrawal_id: Hash32) -> WithdrawalProof:
        """NotFound when the withdrawal is unknown or not in a sealed batch yet."""
        withdrawal, batch, index, proof = self._node.withdrawal_proof(withdrawal_id)
        return WithdrawalProof(withdrawal, batch, index, proof)


def _ledger_info(link: LedgerLink) -> LedgerInfo:
    ledger = link.ledger
    caps = ledger.capabilities
    addresses = ledger.addresses()
    return LedgerInfo(
        name=link.name, ledger_id=ledger.ledger_id, verifies_proofs=caps.verifies_proofs,
        anchors_only=caps.anchors_only, last_error=link.last_error, state=link.state,
        reverted_batch=None if link.reverted is None else link.reverted.number,
        confirmed_batch=link.confirmed_batch(),
        deployment=addresses.deployment, custody_address=addresses.custody_address,
        anchor_address=addresses.anchor_address,
    )
