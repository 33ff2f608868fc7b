"""The Litecoin ledger: batch headers anchored in OP_RETURN outputs, deposits to a federation.

Litecoin cannot run a verifier, so this ledger anchors and custodies; it checks nothing:
`capabilities.anchors_only` is True and `verifies_proofs` is False. A batch is final for this
ledger once its header is anchored (with the confirmations the caller asks for); whether the
batch is valid is decided by the independent verifiers (`flavum verify`), not by Litecoin.
Withdrawals are not claimed by users: the federation pays them (`pays_withdrawals`). Custody is
a k-of-n multisig whose keys independent signers hold; each verifies the batch before it
co-signs a payout (litecoin_federation.py, flavum/signer.py). The node holds no federation
key unless configured with some (`federation_keys`, development only).

`LitecoinLedger` is the adapter behind the `Ledger` interface; what it writes on chain and how
it reads it back is in litecoin_chain.py, the keys and scripts in litecoin_script.py, the
custody and anchor wallet (coins, journal, building and signing spends) in
litecoin_wallet.py, the co-sign requests to the signers in litecoin_federation.py, the RPC
client in litecoin_rpc.py.

Withdrawal recipients are the 20-byte witness program of a P2WPKH address (hash160 of the
recipient's compressed public key, see `compute_recipient`).
"""

from __future__ import annotations

from collections.abc import Sequence

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import BatchHeader, Withdrawal, compute_batch_hash, compute_withdrawal_leaf
from flavum.core.merkle import compute_tree_proof, compute_tree_root, verify_tree_proof
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Address, Amount, Hash32
from flavum.l1.errors import (
    AnchorUnderfunded,
    BatchNotFinal,
    CustodyUnderfunded,
    LedgerError,
    LedgerUnsupported,
    PayoutUnsigned,
    RpcError,
    WithdrawalRefused,
)
from flavum.l1.interface import (
    BatchStatus,
    BatchTx,
    Capabilities,
    DepositEvent,
    ForcedInclusion,
    ForcedRequest,
    Ledger,
    LedgerAddresses,
    ModelRegistration,
    PostedBatch,
    ProvenInference,
)
from flavum.l1.litecoin_chain import (
    Anchor,
    ChainScanner,
    ParkedDeposit,
    Payout,
    classify_deposit,
    compute_litecoin_deposit_event_id,
    encode_anchor,
    encode_deposit_tag,
    encode_payout_tag,
)
from flavum.l1.litecoin_federation import CosignRequest, gather_signatures
from flavum.l1.litecoin_rpc import RPC_INVALID_PARAMETER, LitecoinRpc, to_ltc
from flavum.l1.litecoin_script import (
    MultisigAccount,
    compute_public_key,
    encode_segwit_v0_address,
    parse_private_key,
    segwit_hrp,
)
from flavum.l1.litecoin_wallet import DUST_LIMIT, FederationWallet, Spend


class LitecoinLedger(Ledger):
    """A Litecoin Core node: anchors batch headers, holds deposits in federation custody,
    pays withdrawals from it. See litecoin_chain.py for what is written on chain."""

    capabilities = Capabilities(
        verifies_proofs=False, anchors_only=True, bridges_assets=True, bridges_objects=False,
        forced_inclusion=False, registers_models=False, pays_withdrawals=True,
        carries_batch_data=False,
    )

    def __init__(
        self, rpc_url: str, rpc_user: str, rpc_password: str, *, threshold: int,
        signers: Sequence[str] = (), federation_keys: Sequence[str | bytes] = (),
        federation_public_keys: Sequence[str | bytes] | None = None,
        anchor_key: str | bytes | None = None, anchor_public_key: str | bytes | None = None,
        name: str = "litecoin", watch_wallet: str = "flavum-watch", start_height: int = 0,
        fee_rate: int = 10, min_conf: int = 1, genesis_state_root: Hash32 | None = None,
        rescan_from: int = 0, timeout_s: float = 30.0, signer_timeout_s: float = 600.0,
    ) -> None:
        """`signers` are the URLs of the federation's signers (litecoin_federation.py), asked
        in turn to co-sign each payout; `federation_public_keys` names every member of the
        custody multisig, `threshold` of whom sign a payout. `federation_keys` are private
        keys this node signs with itself before asking the signers: a development shortcut
        (the node then holds those members' keys; with `threshold` of them it needs no
        signer). `federation_public_keys` defaults to those keys' own.
        `anchor_key` signs anchors and pays their fees (fund its `anchor_address`); without it
        (a signer's or a verifier's read-only handle) `anchor_public_key` names the anchor
        account and nothing can be posted. `start_height` is where scans begin, `fee_rate` in
        litoshis per vbyte, `min_conf` the confirmations a custody coin needs before it is
        spent, `rescan_from` the block time from which the watch-only wallet looks for
        custody coins when first created; `signer_timeout_s` bounds one co-sign request (a
        signer verifies every batch it has not seen before answering)."""
        self.name = name
        self.ledger_id = compute_ledger_id(name)
        self.asset = compute_asset_id(self.ledger_id)
        self.rpc = LitecoinRpc(rpc_url, rpc_user, rpc_password, timeout_s)
        self.signing_keys = tuple(parse_private_key(k) for k in federation_keys)
        self.signers = tuple(signers)
        self.signer_timeout_s = signer_timeout_s
        if federation_public_keys is None and not self.signing_keys:
            raise LedgerError("federation_public_keys names the federation's members")
        if federation_public_keys is None:
            public = tuple(compute_public_key(k) for k in self.signing_keys)
        else:
            public = tuple(_public_key(k) for k in federation_public_keys)
        self.custody = MultisigAccount(threshold, public)
        own = {compute_public_key(k) for k in self.signing_keys}
        if not own <= set(public):
            raise LedgerError("a federation key of this node is not a member of the custody "
                              "multisig")
        self.anchor_signing_key = None if anchor_key is None else parse_private_key(anchor_key)
        # The node's handle (it anchors, so it pays) must be able to gather a threshold.
        if self.anchor_signing_key is not None and len(own) + len(self.signers) < threshold:
            raise LedgerError(f"this node holds {len(own)} federation keys and names "
                              f"{len(self.signers)} signers: a payout needs {threshold} "
                              "signatures")
        if self.anchor_signing_key is not None:
            anchor_public = compute_public_key(self.anchor_signing_key)
        elif anchor_public_key is not None:
            anchor_public = _public_key(anchor_public_key)
        else:
            raise LedgerError("the anchor key, or its public key for a read-only handle, is "
                              "needed to recognise the anchors")
        self.anchor_account = MultisigAccount(1, (anchor_public,))
        if anchor_public in public:
            raise LedgerError("the anchor key must not be a federation key")
        self.genesis_state_root = genesis_state_root
        self.scanner = ChainScanner(self.rpc, self.custody, self.anchor_account, start_height)
        self.wallet = FederationWallet(self.rpc, self.scanner, watch_wallet, fee_rate=fee_rate,
                                       min_conf=min_conf, rescan_from=rescan_from)
        self._headers: dict[Hash32, BatchHeader] = {}  # posted by this object, by batch hash
        self._proposed: dict[Hash32, Spend] = {}  # payouts not signed enough yet, by leaf

    # --- node basics ---------------------------------------------------------------------------

    @property
    def chain(self) -> str:
        """"main", "test", "signet" or "regtest"."""
        return self.rpc.chain

    @property
    def hrp(self) -> str:
        return segwit_hrp(self.chain)

    @property
    def custody_address(self) -> str:
        return self.custody.address(self.hrp)

    @property
    def anchor_address(self) -> str:
        return self.anchor_account.address(self.hrp)

    def head(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def block_hash(self, number: int) -> Hash32 | None:
        if number < 0:
            return None
        try:
            return Hash32(bytes.fromhex(self.rpc.call("getblockhash", number)))
        except RpcError as exc:
            if exc.rpc_code == RPC_INVALID_PARAMETER:  # height out of range
                return None
            raise

    def compute_recipient(self, address: str) -> Address:
        """The withdrawal recipient for a P2WPKH address of this chain (its 20-byte program)."""
        info = self.rpc.call("validateaddress", address)
        program = info.get("witness_program", "")
        if not info.get("isvalid") or info.get("witness_version") != 0 or len(program) != 40:
            raise WithdrawalRefused(f"{address} is not a P2WPKH address of this chain",
                                    reason="recipient is not P2WPKH")
        return Address(bytes.fromhex(program))

    def addresses(self) -> LedgerAddresses:
        return LedgerAddresses(custody_address=self.custody_address,
                               anchor_address=self.anchor_address)

    def payout_address(self, recipient: Address) -> str:
        return encode_segwit_v0_address(self.hrp, recipient)

    # --- reading the chain ---------------------------------------------------------------------

    def anchors(self, include_mempool: bool = False) -> dict[int, Anchor]:
        """Anchored batches 0..n-1 by number: the first anchor of each number in chain order
        (then mempool order), up to the first missing number."""
        head = self.head()
        first: dict[int, Anchor] = {}
        for block in self.scanner.blocks(self.scanner.start_height, head):
            for tx in block.txs:
                found = tx.anchor
                if found is not None and found[0] not in first:
                    first[found[0]] = Anchor(found[0], found[1], found[2], tx.txid, block.height,
                                             head - block.height + 1)
        if include_mempool:
            for tx in self.scanner.mempool():
                found = tx.anchor
                if found is not None and found[0] not in first:
                    first[found[0]] = Anchor(found[0], found[1], found[2], tx.txid, None, 0)
        anchored: dict[int, Anchor] = {}
        while len(anchored) in first:
            anchored[len(anchored)] = first[len(anchored)]
        return anchored

    def anchor(self, number: int, include_mempool: bool = False) -> Anchor | None:
        return self.anchors(include_mempool).get(number)

    def payouts(self, include_mempool: bool = True) -> dict[Hash32, Payout]:
        """Federation payouts by withdrawal leaf (the first of each leaf)."""
        head = self.head()
        found: dict[Hash32, Payout] = {}
        for block in self.scanner.blocks(self.scanner.start_height, head):
            for tx in block.txs:
                leaf = tx.payout_leaf
                if leaf is not None and leaf not in found:
                    found[leaf] = Payout(leaf, tx.txid, block.height, head - block.height + 1)
        if include_mempool:
            for tx in self.scanner.mempool():
                leaf = tx.payout_leaf
                if leaf is not None and leaf not in found:
                    found[leaf] = Payout(leaf, tx.txid, None, 0)
        return found

    def payout(self, withdrawal: Withdrawal) -> Payout | None:
        return self.payouts().get(compute_withdrawal_leaf(withdrawal))

    def _deposits_and_parked(self, from_block: int, to_block: int,
                             ) -> tuple[list[DepositEvent], list[ParkedDeposit]]:
        events: list[DepositEvent] = []
        parked: list[ParkedDeposit] = []
        for block in self.scanner.blocks(from_block, to_block):
            for index, tx in enumerate(block.txs):
                # Payout change returns to custody; coinbase outputs are not deposits.
                if tx.custody_amount == 0 or tx.spent_by_custody or tx.coinbase:
                    continue
                recipient, reason = classify_deposit(tx)
                txid = Hash32(bytes.fromhex(tx.txid))
                if recipient is None:
                    parked.append(ParkedDeposit(tx.txid, block.height, block.hash,
                                                Amount(tx.custody_amount), reason,
                                                tx.only_data or b""))
                    continue
                events.append(DepositEvent(
                    event_id=compute_litecoin_deposit_event_id(self.ledger_id, txid), index=None,
                    block_number=block.height, block_hash=block.hash, log_index=index,
                    depositor=ZERO_ADDRESS, recipient=recipient, asset=self.asset,
                    token=ZERO_ADDRESS, amount=Amount(tx.custody_amount),
                    data_commitment=ZERO_HASH, metadata_hash=ZERO_HASH, payload=txid,
                ))
        return events, parked

    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        """Well-tagged payments to custody in blocks from_block..to_block. `log_index` is the
        transaction's index in its block, `payload` its txid; the depositor is unknown (zero).
        No inbox numbers them (`index` None): the id is the txid's."""
        return self._deposits_and_parked(from_block, to_block)[0]

    def parked_deposits(self, from_block: int, to_block: int) -> list[ParkedDeposit]:
        """Payments to custody that are not well-formed deposits: never credited."""
        return self._deposits_and_parked(from_block, to_block)[1]

    def custody_balance(self, min_conf: int = 1) -> Amount:
        return Amount(self.wallet.balance(self.custody, min_conf))

    def anchor_balance(self, min_conf: int = 0) -> Amount:
        return Amount(self.wallet.balance(self.anchor_account, min_conf))

    # --- batches -------------------------------------------------------------------------------

    def next_batch_number(self) -> int:
        return len(self.anchors())

    def batch_status(self, number: int) -> BatchStatus:
        """Accepted = anchored in a block (>= 1 confirmation); `batch_depth` tells how deep. The
        withdrawal root is not on chain: it is known only for headers posted by this object (a
        payout takes the header and checks it against the anchor)."""
        found = self.anchor(number)
        if found is None:
            return BatchStatus(number, accepted=False)
        header = self._headers.get(found.batch_hash)
        return BatchStatus(number, True, found.batch_hash,
                           header.withdrawal_root if header is not None else None,
                           Hash32(bytes.fromhex(found.txid)))

    def posted_batch(self, number: int) -> PostedBatch | None:
        """The anchor's batch hash and data pointer: the rest of the header is in the data."""
        found = self.anchor(number)
        if found is None:
            return None
        return PostedBatch(number, None, found.batch_hash, found.data_pointer)

    def batch_depth(self, number: int) -> int | None:
        found = self.anchor(number, include_mempool=True)
        return None if found is None else found.confirmations

    def post_batch(
        self, header: BatchHeader, txs: Sequence[BatchTx] = (),
        inferences: Sequence[ProvenInference] = (), forced: Sequence[ForcedInclusion] = (),
        registrations: Sequence[ModelRegistration] = (),
    ) -> Hash32 | None:
        """Anchor the header (transactions and proofs are not sent: this ledger cannot check
        them; they are in the batch data). Idempotent:
        an anchor of this header in the chain or the mempool is returned, not made again."""
        if forced:
            raise LedgerUnsupported("Litecoin has no forced-inclusion queue",
                                    reason="no forced inclusion")
        batch_hash = compute_batch_hash(header)
        self._headers[batch_hash] = header
        self.wallet.resend_journal()
        anchored = self.anchors(include_mempool=True)
        existing = anchored.get(header.number)
        if existing is not None:
            if existing.batch_hash != batch_hash:
                raise LedgerError(f"the ledger holds another batch {header.number}",
                                  reason="batch hash mismatch")
            return Hash32(bytes.fromhex(existing.txid))
        if header.number != len(anchored):
            raise LedgerError(f"batch {len(anchored)} must be anchored before batch "
                              f"{header.number}", reason="batch number out of order")
        previous = self.genesis_state_root
        if header.number:  # known when this adapter posted the previous header itself
            before = self._headers.get(anchored[header.number - 1].batch_hash)
            previous = before.state_root if before is not None else None
        if previous is not None and header.prev_state_root != previous:
            raise LedgerError("previous state root mismatch", reason="previous state root mismatch")
        if self.anchor_signing_key is None:
            raise LedgerError("this handle holds no anchor key: it cannot anchor batches")
        txid = self.wallet.spend(
            self.anchor_account, [self.anchor_signing_key], payment=None,
            data=encode_anchor(header), underfunded=AnchorUnderfunded,
            what=f"anchor of batch {header.number}")
        return Hash32(bytes.fromhex(txid))

    # --- withdrawals ---------------------------------------------------------------------------

    def pay_withdrawal(self, header: BatchHeader, withdrawal: Withdrawal, index: int,
                       proof: Sequence[Hash32], *, confirmations: int) -> str:
        """Pay one LTC withdrawal of an anchored batch from custody; returns the payout txid.
        The payout is signed by this node's own federation keys (development) and then by the
        signers, asked in turn until `threshold` signatures are in (each signer checks the
        batch and the payout on its own: litecoin_federation.py). Paid once: a payout of this
        leaf already in the chain, the mempool or the watch-only wallet is returned instead.
        Refuses (typed error, nothing sent, still pending) when the batch is not anchored
        under `confirmations` blocks, custody cannot cover the amount (CustodyUnderfunded) or
        fewer than `threshold` members sign (PayoutUnsigned, with each signer's refusal)."""
        self.check_payable(withdrawal)
        leaf = compute_withdrawal_leaf(withdrawal)
        anchored = self.anchor(header.number)
        if anchored is None or anchored.confirmations < confirmations:
            depth = 0 if anchored is None else anchored.confirmations
            raise BatchNotFinal(f"batch {header.number} has {depth} of {confirmations} "
                                "confirmations", reason="batch not final")
        if anchored.batch_hash != compute_batch_hash(header):
            raise WithdrawalRefused(f"the header is not the anchored batch {header.number}",
                                    reason="batch hash mismatch")
        if not verify_tree_proof(header.withdrawal_root, leaf, index, proof):
            raise WithdrawalRefused("the withdrawal is not in the batch's withdrawal root",
                                    reason="bad withdrawal proof")
        self.wallet.resend_journal()
        paid = self.payouts().get(leaf)
        if paid is not None:
            return paid.txid
        what = f"payout of withdrawal 0x{withdrawal.withdrawal_id.hex()}"
        # A signer co-signs one transaction per leaf: the one proposed before is proposed
        # again (with the signatures it has) for as long as it can still be mined.
        spend = self._proposed.get(leaf)
        if spend is None or not self.wallet.is_unspent(spend):
            spend = self.wallet.build(
                self.custody, payment=(self.payout_address(withdrawal.recipient),
                                       int(withdrawal.amount)),
                data=encode_payout_tag(withdrawal), underfunded=CustodyUnderfunded, what=what)
        spend = self.wallet.sign(spend, self.signing_keys)
        request = CosignRequest(header.number, index, tuple(proof), withdrawal, spend.raw)
        refusals: list[tuple[str, str, str]] = []
        if self.signers:
            if self.anchor_signing_key is None:
                raise LedgerError("co-sign requests are signed with the anchor key: this "
                                  "handle has none")
            spend, refusals = gather_signatures(self.wallet, spend, self.signers, request,
                                                self.anchor_signing_key, self.signer_timeout_s)
        self._proposed[leaf] = spend
        if not spend.complete:
            said = "; ".join(f"{url}: {message}" for url, _, message in refusals)
            raise PayoutUnsigned(f"{what}: fewer than {self.custody.threshold} federation "
                                 f"members signed" + (f" ({said})" if said else ""),
                                 refusals=tuple(refusals))
        txid = self.wallet.send(spend)
        del self._proposed[leaf]
        return txid

    def pay_withdrawals(self, header: BatchHeader, withdrawals: Sequence[Withdrawal], *,
                        confirmations: int) -> list[str]:
        """Pay every withdrawal of this ledger in a batch. `withdrawals` is the batch's full
        list in tree order (other ledgers' are skipped); it must hash to the header's root.
        Stops at the first refusal (those paid before it stay paid, and are found again)."""
        leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
        if compute_tree_root(leaves) != header.withdrawal_root:
            raise WithdrawalRefused("the withdrawals do not hash to the batch's withdrawal root",
                                    reason="withdrawal root mismatch")
        txids = []
        for index, withdrawal in enumerate(withdrawals):
            if withdrawal.ledger != self.ledger_id:
                continue
            txids.append(self.pay_withdrawal(header, withdrawal, index,
                                             compute_tree_proof(leaves, index),
                                             confirmations=confirmations))
        return txids

    def check_payable(self, withdrawal: Withdrawal) -> None:
        """WithdrawalRefused unless the withdrawal is LTC of this ledger, above dust."""
        if withdrawal.ledger != self.ledger_id:
            raise WithdrawalRefused("the withdrawal is for another ledger", reason="wrong ledger")
        if withdrawal.object_kind != 0:
            raise WithdrawalRefused("Litecoin pays coins, not objects", reason="object withdrawal")
        if withdrawal.asset != self.asset:
            raise WithdrawalRefused("Litecoin pays LTC only", reason="wrong asset")
        if withdrawal.amount <= DUST_LIMIT:
            raise WithdrawalRefused(f"{withdrawal.amount} litoshis is too small to pay",
                                    reason="below dust")

    def finalize_withdrawal(
        self, withdrawal: Withdrawal, batch_number: int, index: int, proof: Sequence[Hash32],
        sender_key: bytes,
    ) -> Hash32:
        raise LedgerUnsupported(
            "Litecoin cannot check a withdrawal proof: the federation pays LTC withdrawals "
            "(pay_withdrawal / pay_withdrawals)", reason="paid by the federation")

    def is_withdrawal_finalized(self, withdrawal: Withdrawal) -> bool:
        """Paid: a payout of the leaf is in a block."""
        return compute_withdrawal_leaf(withdrawal) in self.payouts(include_mempool=False)

    # --- forced inclusion: none on this ledger -------------------------------------------------

    def queue_forced_transaction(self, raw_tx: bytes, sender_key: bytes) -> int:
        raise LedgerUnsupported("Litecoin has no forced-inclusion queue",
                                reason="no forced inclusion")

    def forced_requests(self, only_pending: bool = True) -> list[ForcedRequest]:
        return []  # nothing can be queued here

    # --- a user's side: deposits ---------------------------------------------------------------

    def deposit_from_wallet(self, wallet: str, recipient: Address, amount: int,
                            data: bytes | None = None) -> str:
        """Pay `amount` litoshis from a Litecoin Core wallet to custody, tagged for `recipient`
        (`data` replaces the tag: tests use it for malformed ones). Returns the txid."""
        tag = encode_deposit_tag(recipient) if data is None else data
        raw = self.rpc.call("createrawtransaction", [],
                            [{self.custody_address: to_ltc(amount)}, {"data": tag.hex()}])
        funded = self.rpc.call("fundrawtransaction", raw, wallet=wallet)
        signed = self.rpc.call("signrawtransactionwithwallet", funded["hex"], wallet=wallet)
        if not signed.get("complete"):
            raise LedgerError("the depositor's wallet could not sign the deposit")
        return str(self.rpc.call("sendrawtransaction", signed["hex"]))


def _public_key(key: str | bytes) -> bytes:
    return bytes.fromhex(key.removeprefix("0x")) if isinstance(key, str) else key
