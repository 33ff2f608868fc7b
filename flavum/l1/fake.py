"""An in-memory ledger for fast node tests: the EVM contracts' rules, without an EVM.

It keeps blocks (with hashes), accepts batches in order from the sequencer only (and keeps
their headers), records deposits and forced requests, and pays withdrawals against accepted
withdrawal roots, once.
It does not verify ZK proofs (capabilities.verifies_proofs is False): it anchors headers.
`mine`, `reorg` and `deposit` let a test drive it like a chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from flavum.core.assets import compute_asset_id, compute_deposit_id, compute_ledger_id
from flavum.core.batch import (
    BatchHeader,
    Withdrawal,
    compute_batch_hash,
    compute_batch_header,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import encode_uint, keccak256
from flavum.core.errors import InvalidTransaction, MalformedTransaction
from flavum.core.merkle import verify_tree_proof
from flavum.core.transactions import (
    Deposit,
    Infer,
    address_of,
    compute_tx_hash,
    decode_transaction,
    recover_signer,
)
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Address, Amount, Hash32
from flavum.l1.errors import LedgerError
from flavum.l1.interface import (
    BatchStatus,
    BatchTx,
    Capabilities,
    DepositEvent,
    ForcedInclusion,
    ForcedRequest,
    Ledger,
    ModelRegistration,
    PostedBatch,
    ProvenInference,
)


@dataclass
class _Block:
    number: int
    hash: Hash32
    deposits: list[DepositEvent] = field(default_factory=list)


@dataclass(frozen=True)
class _Post:
    header: BatchHeader
    batch_hash: Hash32
    tx_hash: Hash32  # made up: the fake has no transactions
    block: int  # the block the post was mined in


class FakeLedger(Ledger):
    capabilities = Capabilities(
        verifies_proofs=False, anchors_only=True, bridges_assets=True, bridges_objects=True,
        forced_inclusion=True, registers_models=False, pays_withdrawals=False,
        carries_batch_data=False,
    )

    def __init__(self, sequencer: Address, genesis_state_root: Hash32, name: str = "evm",
                 forced_window: int = 100) -> None:
        self.name = name
        self.ledger_id = compute_ledger_id(name)
        self.sequencer = sequencer
        self.forced_window = forced_window
        self.last_state_root = genesis_state_root
        self.batches: list[_Post] = []
        self.forced: list[ForcedRequest] = []
        self.forced_head = 0
        self.finalized: set[Hash32] = set()
        self.paid: list[Withdrawal] = []
        self._salt = 0  # makes blocks re-mined after a reorg get new hashes
        self.blocks: list[_Block] = [_Block(0, self._new_hash(0))]

    def _new_hash(self, number: int) -> Hash32:
        self._salt += 1
        return keccak256(b"fake-block" + encode_uint(number) + encode_uint(self._salt))

    # --- driving the chain -----------------------------------------------------------------

    def mine(self, count: int = 1) -> None:
        for _ in range(count):
            number = len(self.blocks)
            self.blocks.append(_Block(number, self._new_hash(number)))

    def reorg(self, depth: int, remine: bool = False) -> None:
        """Drop the last `depth` blocks and mine as many new ones: empty, or (`remine`) the
        first of them holding the dropped deposits again, in their order (as a reorg re-mines
        the transactions it dropped)."""
        dropped = [e for b in self.blocks[len(self.blocks) - depth:] for e in b.deposits]
        del self.blocks[len(self.blocks) - depth:]
        self.mine(depth)
        if remine:
            block = self.blocks[-depth]
            block.deposits = [replace(e, block_number=block.number, block_hash=block.hash,
                                      log_index=i) for i, e in enumerate(dropped)]

    def deposit(self, depositor: Address, recipient: Address, amount: int,
                data_commitment: Hash32 = ZERO_HASH, metadata_hash: Hash32 = ZERO_HASH,
                token: Address = ZERO_ADDRESS) -> DepositEvent:
        """Record a deposit in a new block, numbered like the bridge's inbox."""
        index = sum(len(b.deposits) for b in self.blocks)  # a reorg drops the count with them
        self.mine()
        block = self.blocks[-1]
        event = DepositEvent(
            event_id=compute_deposit_id(self.ledger_id, index), index=index,
            block_number=block.number, block_hash=block.hash, log_index=0,
            depositor=depositor, recipient=recipient,
            asset=compute_asset_id(self.ledger_id, token), token=token, amount=Amount(amount),
            data_commitment=data_commitment, metadata_hash=metadata_hash,
        )
        block.deposits.append(event)
        return event

    # --- Ledger ----------------------------------------------------------------------------

    def head(self) -> int:
        return len(self.blocks) - 1

    def block_hash(self, number: int) -> Hash32 | None:
        return self.blocks[number].hash if 0 <= number < len(self.blocks) else None

    def next_batch_number(self) -> int:
        return len(self.batches)

    def batch_status(self, number: int) -> BatchStatus:
        if number >= len(self.batches):
            return BatchStatus(number, accepted=False)
        post = self.batches[number]
        return BatchStatus(number, True, post.batch_hash, post.header.withdrawal_root,
                           post.tx_hash)

    def posted_batch(self, number: int) -> PostedBatch | None:
        if number >= len(self.batches):
            return None
        post = self.batches[number]
        return PostedBatch(number, post.header, post.batch_hash, post.header.data_pointer)

    def batch_depth(self, number: int) -> int | None:
        if number >= len(self.batches):
            return None
        return self.head() - self.batches[number].block + 1

    def post_batch(self, header: BatchHeader, txs: Sequence[BatchTx] = (),
                   inferences: Sequence[ProvenInference] = (),
                   forced: Sequence[ForcedInclusion] = (),
                   registrations: Sequence[ModelRegistration] = (),
                   sender: Address | None = None) -> Hash32:
        if sender is not None and sender != self.sequencer:
            raise LedgerError("only the sequencer posts batches", reason="unauthorised")
        batch_hash = compute_batch_hash(header)
        if header.number < len(self.batches):
            if self.batches[header.number].batch_hash != batch_hash:
                raise LedgerError(f"the ledger holds another batch {header.number}",
                                  reason="batch hash mismatch")
            return self.batches[header.number].tx_hash
        if header.number != len(self.batches):
            raise LedgerError("batch number out of order", reason="batch number out of order")
        if header.prev_state_root != self.last_state_root:
            raise LedgerError("previous state root mismatch", reason="previous state root mismatch")
        # The rollup contract's check: the header's roots follow from the transactions.
        try:
            commitments = [replace(t.commitment,
                                   tx_hash=compute_tx_hash(decode_transaction(t.raw)))
                           for t in txs]
        except MalformedTransaction as exc:  # the contract's txHashOf reverts on it
            raise LedgerError(f"transaction is not canonically encoded: {exc}",
                              reason="transaction is not canonically encoded") from exc
        if compute_batch_header(header.number, header.prev_state_root, commitments,
                                header.data_pointer) != header:
            raise LedgerError("the header's roots do not follow from the transactions",
                              reason="roots do not follow from the transactions")
        tx_hashes = [c.tx_hash for c in commitments]
        head = self.forced_head
        for f in forced:
            if f.request_id != head:
                raise LedgerError("forced requests out of order", reason="forced out of order")
            if f.included and not (f.tx_index < len(tx_hashes)
                                   and tx_hashes[f.tx_index] == self.forced[head].tx_hash):
                raise LedgerError("forced transaction not in the batch",
                                  reason="forced transaction not in the batch")
            if not f.included and f.tx_index > len(tx_hashes):
                raise LedgerError("refusal position past the batch",
                                  reason="refusal position past the batch")
            head += 1
        if head < len(self.forced) and self.head() + 1 >= (
                self.forced[head].queued_at_block + self.forced_window):
            raise LedgerError("batch skips an overdue forced request",
                              reason="batch skips an overdue forced request")
        for i in range(self.forced_head, head):
            self.forced[i] = _processed(self.forced[i])
        self.forced_head = head
        self.mine()
        tx_hash = keccak256(b"fake-post" + batch_hash)
        self.batches.append(_Post(header, batch_hash, tx_hash, self.head()))
        self.last_state_root = header.state_root
        return tx_hash

    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        last = min(to_block, self.head())
        return [e for b in self.blocks[max(from_block, 0): last + 1] for e in b.deposits]

    def finalize_withdrawal(self, withdrawal: Withdrawal, batch_number: int, index: int,
                            proof: Sequence[Hash32], sender_key: bytes) -> Hash32:
        if withdrawal.ledger != self.ledger_id:
            raise LedgerError("withdrawal is for another ledger", reason="wrong ledger")
        if batch_number >= len(self.batches):
            raise LedgerError("batch not accepted", reason="batch not accepted")
        leaf = compute_withdrawal_leaf(withdrawal)
        if leaf in self.finalized:
            raise LedgerError("withdrawal already finalized", reason="withdrawal already finalized")
        if not verify_tree_proof(self.batches[batch_number].header.withdrawal_root, leaf, index,
                                 proof):
            raise LedgerError("bad withdrawal proof", reason="bad withdrawal proof")
        self.finalized.add(leaf)
        self.paid.append(withdrawal)
        self.mine()
        return keccak256(b"fake-finalize" + leaf + address_of(sender_key))

    def is_withdrawal_finalized(self, withdrawal: Withdrawal) -> bool:
        return compute_withdrawal_leaf(withdrawal) in self.finalized

    def queue_forced_transaction(self, raw_tx: bytes, sender_key: bytes) -> int:
        """As FlavumStep.checkForcible (but for the domain, which this fake does not hold)."""
        try:
            tx = decode_transaction(raw_tx)
            if isinstance(tx.body, Deposit | Infer):
                raise LedgerError(f"a {type(tx.body).__name__} cannot be forced",
                                  reason="not forcible")
            if recover_signer(tx) != tx.sender:
                raise LedgerError("bad signature", reason="bad signature")
        except InvalidTransaction as exc:
            raise LedgerError(f"not a rollup transaction: {exc}", reason=str(exc)) from exc
        self.mine()
        request = ForcedRequest(len(self.forced), compute_tx_hash(tx), raw_tx,
                                address_of(sender_key), self.head(), False)
        self.forced.append(request)
        return request.request_id

    def forced_requests(self, only_pending: bool = True) -> list[ForcedRequest]:
        return [r for r in self.forced if not (only_pending and r.processed)]


def _processed(request: ForcedRequest) -> ForcedRequest:
    return ForcedRequest(request.request_id, request.tx_hash, request.raw_tx, request.requester,
                         request.queued_at_block, True)
