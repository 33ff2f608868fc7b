"""How the EVM rollup takes a batch's transactions: packed into one `bytes` argument.

`FlavumRollup.submitBatch(header, txs, inferences, forced)` reads `txs` as (empty when the
batch has no transactions):

    chain id (32 bytes) | rollup id (32) | count (4) | count records, back to back
    record: flags (1) | [chain id (32) | rollup id (32), if flags bit 2] | type (1) |
            sender (20) | nonce (8) | body length (4) | body | signature length (2) |
            signature | post-state root (32) | [withdrawal leaf (32), if flags bit 0] |
            [trace leaf (32), if flags bit 1]

A record is the transaction's envelope without the ABI words of its wire encoding and, unless
it was signed for another domain than the batch's first transaction (the rules refuse it, but
it can be posted and then challenged), without its domain. The batch's domain is its first
transaction's (whose record never names its own), and the contract requires it to be its own:
a batch made for one deployment is refused at posting by every other. The contract hashes a
record as it hashes the wire bytes, so tx hashes and signatures are those of
`flavum.core.transactions`.
Posting packed saves calldata: the wire encoding's offset, length and padding words are mostly
zero bytes but still paid, and a zero leaf for what a transaction did not emit is 32 bytes
more. The wire encoding of every posted transaction is rebuilt from its record
(`decode_posted_txs`); every field has one encoding, so one batch has one posting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flavum.core.batch import TxCommitment
from flavum.core.encoding import decode_abi, encode_abi
from flavum.core.errors import MalformedTransaction
from flavum.core.transactions import ENVELOPE_ABI, compute_tx_hash, decode_transaction
from flavum.core.types import ZERO_HASH, Hash32
from flavum.l1.errors import LedgerError
from flavum.l1.interface import BatchTx

EMITS_WITHDRAWAL = 1  # bits of a record's flags
EMITS_TRACE = 2
OWN_DOMAIN = 4
_MAX_BODY = 2**32 - 1
_MAX_SIGNATURE = 2**16 - 1
_MALFORMED = "packed transactions are malformed"


def encode_posted_txs(txs: Sequence[BatchTx]) -> bytes:
    """The `txs` argument of submitBatch. LedgerError for a transaction the contract cannot
    take: one that is not a canonical envelope, or too long for the length fields."""
    if not txs:
        return b""
    envelopes = [_envelope(t.raw) for t in txs]
    domain = (envelopes[0][1], envelopes[0][2])
    parts = [domain[0].to_bytes(32, "big"), domain[1], len(txs).to_bytes(4, "big")]
    for (tx_type, chain_id, rollup_id, sender, nonce, body, signature), t in zip(
            envelopes, txs, strict=True):
        if len(body) > _MAX_BODY or len(signature) > _MAX_SIGNATURE:
            raise LedgerError("a transaction's body or signature is too long to post",
                              reason="transaction too long")
        c = t.commitment
        own_domain = (chain_id, rollup_id) != domain
        flags = ((EMITS_WITHDRAWAL if c.withdrawal_leaf != ZERO_HASH else 0)
                 | (EMITS_TRACE if c.trace_leaf != ZERO_HASH else 0)
                 | (OWN_DOMAIN if own_domain else 0))
        parts.append(bytes([flags]))
        if own_domain:
            parts += [chain_id.to_bytes(32, "big"), rollup_id]
        parts += [bytes([tx_type]), sender, nonce.to_bytes(8, "big"),
                  len(body).to_bytes(4, "big"), body, len(signature).to_bytes(2, "big"),
                  signature, c.post_state_root]
        parts += [leaf for leaf in (c.withdrawal_leaf, c.trace_leaf) if leaf != ZERO_HASH]
    return b"".join(parts)


def decode_posted_txs(data: bytes) -> list[BatchTx]:
    """The transactions of a submitBatch `txs` argument, each in its wire encoding with its
    commitment; LedgerError unless `data` is what the contract accepts."""
    if not data:
        return []
    reader = _Reader(data)
    batch_domain = (reader.uint(32), reader.take(32))
    count = reader.uint(4)
    if count == 0:
        raise LedgerError(_MALFORMED, reason=_MALFORMED)
    txs = []
    for i in range(count):
        flags = reader.uint(1)
        # The first record's domain is the batch's: it never names its own.
        if flags > EMITS_WITHDRAWAL | EMITS_TRACE | OWN_DOMAIN or (i == 0 and flags & OWN_DOMAIN):
            raise LedgerError(_MALFORMED, reason=_MALFORMED)
        chain_id, rollup_id = batch_domain
        if flags & OWN_DOMAIN:
            chain_id, rollup_id = reader.uint(32), reader.take(32)
            if (chain_id, rollup_id) == batch_domain:  # one encoding per transaction
                raise LedgerError(_MALFORMED, reason=_MALFORMED)
        tx_type, sender, nonce = reader.uint(1), reader.take(20), reader.uint(8)
        body = reader.take(reader.uint(4))
        signature = reader.take(reader.uint(2))
        post_root = Hash32(reader.take(32))
        withdrawal_leaf = Hash32(reader.leaf() if flags & EMITS_WITHDRAWAL else ZERO_HASH)
        trace_leaf = Hash32(reader.leaf() if flags & EMITS_TRACE else ZERO_HASH)
        raw = encode_abi(ENVELOPE_ABI, [tx_type, chain_id, rollup_id, sender, nonce, body,
                                        signature])
        try:
            tx_hash = compute_tx_hash(decode_transaction(raw))
        except MalformedTransaction as exc:
            raise LedgerError(f"a posted transaction does not decode: {exc}",
                              reason="transaction does not decode") from exc
        txs.append(BatchTx(raw, TxCommitment(tx_hash, post_root, withdrawal_leaf, trace_leaf)))
    if not reader.done():
        raise LedgerError(_MALFORMED, reason=_MALFORMED)
    return txs


def _envelope(raw: bytes) -> list[Any]:
    """The envelope fields of a canonical wire encoding, as the contract's txHashOf takes it."""
    try:
        return decode_abi(ENVELOPE_ABI, raw)
    except ValueError as exc:
        raise LedgerError(f"transaction is not canonically encoded: {exc}",
                          reason="transaction is not canonically encoded") from exc


class _Reader:
    """Big-endian fields of `data`, read in order; LedgerError past the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise LedgerError(_MALFORMED, reason=_MALFORMED)
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def leaf(self) -> bytes:
        leaf = self.take(32)
        if leaf == ZERO_HASH:  # an announced leaf is never zero: one encoding per commitment
            raise LedgerError(_MALFORMED, reason=_MALFORMED)
        return leaf

    def done(self) -> bool:
        return self.at == len(self.data)
