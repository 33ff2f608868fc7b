"""What the Litecoin chain says to the rollup: three OP_RETURN records, and a scanner of them.

Everything is read back from the chain, so a restarted node (or one that lost its local state)
sees what is anchored, deposited and paid:

- Anchor: a transaction spent by the anchor key (a 1-of-1 P2WSH multisig) with one OP_RETURN of
  76 bytes: b"FLA1" | batch number (8 bytes, big-endian) | data pointer (32) | batch hash (32).
  The first anchor of each number, in chain order, counts; batch n counts once 0..n-1 do.
- Deposit: a transaction paying the custody address (a k-of-n P2WSH multisig of the federation
  keys) with one OP_RETURN of 24 bytes: b"FLV1" | L2 recipient (20 bytes). The amount is the
  sum of its custody outputs, in litoshis. Any other payment to custody (no tag, a malformed
  tag, several OP_RETURNs, the zero recipient) is parked: never credited, listed by
  `parked_deposits` with its reason, left in custody for the federation to refund by hand.
- Payout: a transaction spent by the custody multisig with one OP_RETURN of 36 bytes:
  b"FLW1" | withdrawal leaf (32). Before paying, the federation looks for a payout of that
  leaf in the chain, the mempool and its watch-only wallet (which keeps the transactions it
  sent, and sends them again), so a withdrawal is paid once, also across restarts.

`ChainScanner` reads blocks (cached by hash, so a reorg is read afresh) and the mempool into
`TxFacts`: what one transaction means to the rollup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flavum.core.batch import BatchHeader, Withdrawal, compute_batch_hash, compute_withdrawal_leaf
from flavum.core.encoding import compute_tag, hash_tagged
from flavum.core.types import ZERO_ADDRESS, Address, Amount, Hash32
from flavum.l1.errors import LedgerError, RpcError
from flavum.l1.litecoin_rpc import LitecoinRpc, to_litoshis
from flavum.l1.litecoin_script import MultisigAccount, decode_op_return

ANCHOR_MAGIC = b"FLA1"
DEPOSIT_MAGIC = b"FLV1"
PAYOUT_MAGIC = b"FLW1"
ANCHOR_SIZE = len(ANCHOR_MAGIC) + 8 + 32 + 32  # 76
DEPOSIT_TAG_SIZE = len(DEPOSIT_MAGIC) + 20  # 24
PAYOUT_SIZE = len(PAYOUT_MAGIC) + 32  # 36
DEPOSIT_EVENT_TAG = compute_tag("l1.litecoin.deposit")


def encode_anchor(header: BatchHeader) -> bytes:
    return (ANCHOR_MAGIC + header.number.to_bytes(8, "big") + header.data_pointer
            + compute_batch_hash(header))


def encode_deposit_tag(recipient: Address) -> bytes:
    if len(recipient) != 20:
        raise LedgerError("an L2 recipient is 20 bytes")
    return DEPOSIT_MAGIC + recipient


def encode_payout_tag(withdrawal: Withdrawal) -> bytes:
    return PAYOUT_MAGIC + compute_withdrawal_leaf(withdrawal)


def compute_litecoin_deposit_event_id(ledger_id: Hash32, txid: Hash32) -> Hash32:
    """Id of a deposit: keccak256(abi.encode(TAG, ledger, txid)). A transaction can be in the
    chain only once, so a deposit re-mined in another block by a reorg keeps its id and the
    rollup state refuses to credit it again (DepositAlreadyApplied). The txid leaves out the
    witness (BIP 141), so a segwit deposit cannot be re-mined under another txid; a legacy
    input's signature can be malleated into another txid, but the two spend the same coins, so
    only one of them is ever in the chain (the confirmations keep the watcher from crediting
    the one a reorg replaces). Litecoin numbers no deposits: the txid is their only name."""
    return hash_tagged(DEPOSIT_EVENT_TAG, ("bytes32", "bytes32"), (ledger_id, txid))


@dataclass(frozen=True)
class Anchor:
    number: int
    data_pointer: Hash32  # where the batch's data is: what a verifier needs to check it
    batch_hash: Hash32
    txid: str
    height: int | None  # None while in the mempool
    confirmations: int


@dataclass(frozen=True)
class Payout:
    leaf: Hash32
    txid: str
    height: int | None
    confirmations: int


@dataclass(frozen=True)
class ParkedDeposit:
    """A payment to custody that is not a well-formed deposit: never credited."""

    txid: str
    block_number: int
    block_hash: Hash32
    amount: Amount
    reason: str
    data: bytes  # the OP_RETURN data, if there was exactly one


@dataclass(frozen=True)
class TxFacts:
    """What one transaction means to the rollup."""

    txid: str
    coinbase: bool
    data: tuple[bytes | None, ...]  # every OP_RETURN output (None: not a single push)
    custody_amount: int  # litoshis paid to custody
    spent_by_custody: bool
    spent_by_anchor_key: bool

    @property
    def only_data(self) -> bytes | None:
        return self.data[0] if len(self.data) == 1 else None

    @property
    def anchor(self) -> tuple[int, Hash32, Hash32] | None:
        data = self.only_data
        if not self.spent_by_anchor_key or data is None or len(data) != ANCHOR_SIZE:
            return None
        if not data.startswith(ANCHOR_MAGIC):
            return None
        return (int.from_bytes(data[4:12], "big"), Hash32(data[12:44]), Hash32(data[44:76]))

    @property
    def payout_leaf(self) -> Hash32 | None:
        data = self.only_data
        if not self.spent_by_custody or data is None or len(data) != PAYOUT_SIZE:
            return None
        return Hash32(data[4:]) if data.startswith(PAYOUT_MAGIC) else None


@dataclass(frozen=True)
class BlockFacts:
    height: int
    hash: Hash32
    txs: tuple[TxFacts, ...]


def classify_deposit(facts: TxFacts) -> tuple[Address | None, str]:
    """The recipient of a payment to custody, or None and why it is parked."""
    if not facts.data:
        return None, "no OP_RETURN tag"
    if len(facts.data) > 1:
        return None, "several OP_RETURN outputs"
    data = facts.data[0]
    if data is None:
        return None, "the OP_RETURN is not a single push"
    if not data.startswith(DEPOSIT_MAGIC):
        return None, "the OP_RETURN is not a deposit tag"
    if len(data) != DEPOSIT_TAG_SIZE:
        return None, f"a deposit tag has {DEPOSIT_TAG_SIZE} bytes, not {len(data)}"
    recipient = Address(data[len(DEPOSIT_MAGIC):])
    if recipient == ZERO_ADDRESS:
        return None, "the recipient is the zero address"
    return recipient, ""


class ChainScanner:
    """Reads the rollup's records from a Litecoin Core node: the custody and anchor accounts
    tell who spent or was paid; scans start at block `start_height`."""

    def __init__(self, rpc: LitecoinRpc, custody: MultisigAccount,
                 anchor_account: MultisigAccount, start_height: int = 0) -> None:
        self.rpc = rpc
        self.custody = custody
        self.anchor_account = anchor_account
        self.start_height = start_height
        self._blocks: dict[str, BlockFacts] = {}  # by block hash
        self._mempool: dict[str, TxFacts] = {}  # by txid

    def head(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def facts(self, tx: dict[str, Any]) -> TxFacts:
        data: list[bytes | None] = []
        custody_amount = 0
        custody_script = self.custody.script_pubkey.hex()
        for out in tx["vout"]:
            script = out["scriptPubKey"]
            if script.get("type") == "nulldata":
                data.append(decode_op_return(bytes.fromhex(script["hex"])))
            elif script.get("hex") == custody_script:
                custody_amount += to_litoshis(out["value"])
        vins = tx["vin"]
        return TxFacts(
            txid=tx["txid"], coinbase=any("coinbase" in vin for vin in vins),
            data=tuple(data), custody_amount=custody_amount,
            spent_by_custody=any(self.custody.is_spender_of(vin) for vin in vins),
            spent_by_anchor_key=any(self.anchor_account.is_spender_of(vin) for vin in vins),
        )

    def blocks(self, start: int, end: int) -> list[BlockFacts]:
        """The facts of blocks start..end of the current chain (cached by block hash)."""
        start, end = max(start, 0), min(end, self.head())
        if end < start:
            return []
        hashes = self.rpc.batch([("getblockhash", [n]) for n in range(start, end + 1)])
        missing = [h for h in hashes if h not in self._blocks]
        for block_hash, block in zip(missing, self.rpc.batch(
                [("getblock", [h, 2]) for h in missing]), strict=True):
            self._blocks[block_hash] = BlockFacts(
                int(block["height"]), Hash32(bytes.fromhex(block_hash)),
                tuple(self.facts(tx) for tx in block["tx"]))
        return [self._blocks[h] for h in hashes]

    def mempool(self) -> list[TxFacts]:
        txids = list(self.rpc.call("getrawmempool"))
        missing = [t for t in txids if t not in self._mempool]
        answers = []
        for txid in missing:
            try:
                answers.append(self.rpc.call("getrawtransaction", txid, True))
            except RpcError:
                continue  # mined or evicted since getrawmempool
        for tx in answers:
            self._mempool[tx["txid"]] = self.facts(tx)
        current = set(txids)
        for txid in list(self._mempool):
            if txid not in current:
                del self._mempool[txid]
        return [self._mempool[t] for t in txids if t in self._mempool]
