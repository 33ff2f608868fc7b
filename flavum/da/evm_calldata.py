"""EVM calldata as the data store of batch data: the blob rides in the batch transaction.

The rollup's `submitBatchWithData(header, txs, inferences, forced, data)` takes the batch's
blob as one more calldata argument, checks `sha256(data) == header.dataPointer` on chain (the
sha256 precompile) and emits `BatchDataPosted(number, dataPointer, size)`. So a batch accepted
this way has its data on the ledger itself, as available as the ledger: no other service to trust.
Reading it back: the event names the transaction, the transaction's input holds the blob.

`EvmCalldataStore(ledger, side)` is a `DataStore` over any `BatchDataLedger` (interface.py), the
EVM ledger's part that this store needs:
- `put(blob)` keeps the blob in `side` (a durable local store: the outbox, which also survives
  a node restart between sealing and posting) and, for batch data, lets the ledger's
  `post_batch` find it by the header's data pointer, so the batch goes out with it;
- `get(cid)` reads a batch blob from the chain; anything else (the SRS files the circuits name,
  megabytes: far too big for calldata) comes from `side`, which a verifier points at wherever
  the SRS is published. With no `side`, only batch blobs are readable, and `put` refuses.

Calldata costs 16 gas a nonzero byte, and under EIP-7623 (Prague) a data-heavy transaction pays
at least 40 gas a nonzero byte; the JSON blob has almost no zero bytes. Blobs are limited by
the block gas limit (about 700 KB at 30M gas) and by nodes' transaction size limits (128 KB
on geth's pool): this backend suits small batches; larger ones belong in blobs (EIP-4844) or
an external store.
"""

from __future__ import annotations

from flavum.core.types import Hash32
from flavum.da.errors import DataUnavailable, StoreUnreachable
from flavum.da.interface import BatchDataLedger, DataStore, cid_from_digest, digest_from_cid


class EvmCalldataStore(DataStore):
    """Batch blobs in the calldata of the batches that carry them; other blobs in `side`."""

    def __init__(self, ledger: BatchDataLedger, side: DataStore | None = None,
                 *, attach: bool = True) -> None:
        self.ledger = ledger
        self.side = side
        self.name = f"evm-calldata:{ledger.data_location}"
        self._read: dict[str, bytes] = {}  # blobs read from the chain (immutable once posted)
        if attach:
            ledger.batch_data_source = self.outgoing

    def outgoing(self, data_pointer: Hash32) -> bytes | None:
        """The blob to post with the batch whose header has `data_pointer` (the ledger asks)."""
        if self.side is None:
            return None
        cid = cid_from_digest(data_pointer)
        if not self.side.has(cid):
            return None
        try:
            return self.side.get(cid)
        except DataUnavailable:
            return None

    def _store(self, cid: str, data: bytes) -> None:
        if self.side is None:
            raise StoreUnreachable(
                f"{self.name}: a read-only calldata store (no side store) cannot take blobs; "
                "batch data is put on the ledger by posting its batch")
        self.side.put(data)

    def _load(self, cid: str) -> bytes:
        cached = self._read.get(cid)
        if cached is not None:
            return cached
        data = self.ledger.batch_data(digest_from_cid(cid))
        if data is not None:
            self._read[cid] = data
            return data
        if self.side is not None:
            try:
                return self.side.get(cid)
            except DataUnavailable as exc:
                raise DataUnavailable(
                    f"{self.name}: no batch transaction carries {cid}, and {exc}") from exc
        raise DataUnavailable(f"{self.name}: no batch transaction carries {cid}")

    def _contains(self, cid: str) -> bool:
        if cid in self._read or (self.side is not None and self.side.has(cid)):
            return True
        return self.ledger.batch_data(digest_from_cid(cid)) is not None
