"""Content-addressed storage for batch data: the `DataStore` interface and the content id.

For each batch the node publishes one self-contained blob. Its content id (CID) names it in
every store, and the 32 bytes of the batch header's `data_pointer` are that CID's digest.

The CID scheme: CIDv1, multicodec `raw` (0x55), multihash sha2-256 over the WHOLE blob,
written in multibase base32 (lower case, prefix "b", so it starts with "bafkrei"). This is
  - what PyPI `ipfs-cid` computes (`cid_sha256_hash`), and
  - the CID of a raw IPFS block: Helia's `blockstore.put(CID.createV1(raw.code, sha256(b)), b)`,
    and the CID `ipfs block put --cid-codec raw` prints;
  - for blobs up to one chunk, also the CID `@helia/unixfs` `addBytes` gives (checked with
    @helia/unixfs 8.0.5: equal up to 1,048,576 bytes, its default chunk; above that it builds a
    `dag-pb` DAG whose root CID, "bafybei...", differs).
The blob is stored as ONE raw block, whatever its size, and not as a UnixFS DAG: a UnixFS
CID depends on the chunker and DAG layout, so it could not be recomputed from the 32 bytes
alone. With the raw scheme:
  - `data_pointer = sha256(blob)`: anyone rebuilds the CID from the 32 bytes on a ledger
    (`cid_from_digest`) and fetches the blob from any store; anyone checks it with a plain
    sha256, and so can a contract (the EVM has a sha256 precompile).
  - Caveat: a local Helia 7 blockstore takes blocks of any size (40 MB tested), but Helia's
    bitswap (read in its source, not measured) refuses to SEND a block over 4,193,648 bytes to
    another peer, and kubo's limit is lower (1-2 MiB, not measured here). Flavum's IPFS store
    reads blocks over its node's HTTP API, so this does not bite here; replicating multi-MB
    blobs across IPFS peers by bitswap would need a chunked layout, and its pointer would then
    name a manifest instead of the blob.

Every store checks, on EVERY `get`, that the bytes hash to the CID asked for, before returning
them (`ContentMismatch` otherwise, `DataUnavailable` when the store has nothing under it).
Backends implement the three primitive hooks; the checks live here, once.

`BatchDataLedger` is what a store that keeps batch data on a ledger itself (evm_calldata.py)
needs of that ledger; a ledger meets it without this package knowing the ledger's type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

from flavum.core.types import Hash32
from flavum.da.errors import ContentMismatch, InvalidCid

# CIDv1 (0x01), codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20).
CID_PREFIX = bytes([0x01, 0x55, 0x12, 0x20])
MULTIBASE_BASE32 = "b"
DIGEST_SIZE = 32


def compute_digest(data: bytes) -> Hash32:
    """The 32-byte digest a blob's CID carries, and the batch header's data pointer: sha256."""
    return Hash32(hashlib.sha256(data).digest())


def cid_from_digest(digest: bytes) -> str:
    """The CID string (CIDv1 raw sha2-256, base32) of the blob whose sha256 is `digest`."""
    if len(digest) != DIGEST_SIZE:
        raise InvalidCid(f"a data pointer has {DIGEST_SIZE} bytes, not {len(digest)}")
    text = base64.b32encode(CID_PREFIX + digest).decode().lower().rstrip("=")
    return MULTIBASE_BASE32 + text


def digest_from_cid(cid: str) -> Hash32:
    """The 32-byte sha256 digest inside `cid`; the inverse of `cid_from_digest`.

    Only the canonical spelling is accepted (the one `cid_from_digest` writes), so one blob has
    exactly one name in every store; anything else raises InvalidCid.
    """
    if not isinstance(cid, str) or not cid.startswith(MULTIBASE_BASE32):
        raise InvalidCid(f"not a base32 CIDv1: {cid!r}")
    body = cid[1:]
    if body != body.lower() or not body.isascii():
        raise InvalidCid(f"not a canonical base32 CIDv1 (lower case, no padding): {cid!r}")
    try:
        decoded = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise InvalidCid(f"not valid base32: {cid!r}") from exc
    if len(decoded) != len(CID_PREFIX) + DIGEST_SIZE or not decoded.startswith(CID_PREFIX):
        raise InvalidCid(f"not a CIDv1 raw sha2-256: {cid!r}")
    digest = decoded[len(CID_PREFIX):]
    # Base32 has spare bits in its last character: refuse spellings that are not canonical.
    if cid_from_digest(digest) != cid:
        raise InvalidCid(f"not the canonical spelling of a CID: {cid!r}")
    return Hash32(digest)


def compute_cid(data: bytes) -> str:
    """The content id of `data`: CIDv1 raw sha2-256 of the whole blob (as `ipfs-cid`)."""
    return cid_from_digest(compute_digest(data))


def check_content(cid: str, data: bytes, store: str) -> None:
    """Raise ContentMismatch unless `data` hashes to `cid` (which must be canonical)."""
    expected = digest_from_cid(cid)
    if not hmac.compare_digest(compute_digest(data), expected):
        raise ContentMismatch(cid, store, f"got {len(data)} bytes hashing to {compute_cid(data)}")


class DataStore(ABC):
    """A content-addressed blob store: put bytes, get them back by their CID.

    `put`, `get` and `has` are the interface; they validate the CID and check content here,
    then call a backend's `_store` / `_load` / `_contains`.
    """

    #: A short human-readable name of this store (kind and location), used in errors and logs.
    name: str

    def put(self, data: bytes) -> str:
        """Store `data` and return its CID. Idempotent: putting the same bytes again is a no-op
        that returns the same CID (and a store may use it to repair a corrupted copy)."""
        data = bytes(data)
        cid = compute_cid(data)
        self._store(cid, data)
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes stored under `cid`, checked to hash to it.

        Raises DataUnavailable when the store has nothing under `cid` (StoreUnreachable, a
        subclass, when the store could not be asked), ContentMismatch when what it has does not
        hash to `cid`, InvalidCid when `cid` is not a canonical CIDv1 raw sha2-256.
        """
        digest_from_cid(cid)
        data = self._load(cid)
        check_content(cid, data, self.name)
        return data

    def has(self, cid: str) -> bool:
        """Whether the store holds an object under `cid`. Cheap: it does not read or check the
        bytes, so a corrupted object still counts; only `get` proves availability."""
        digest_from_cid(cid)
        return self._contains(cid)

    @abstractmethod
    def _store(self, cid: str, data: bytes) -> None:
        """Keep `data` under `cid` (already computed from `data`)."""

    @abstractmethod
    def _load(self, cid: str) -> bytes:
        """The raw bytes under `cid`, unchecked; DataUnavailable when there are none."""

    @abstractmethod
    def _contains(self, cid: str) -> bool:
        """Whether an object exists under `cid`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class BatchDataLedger(Protocol):
    """A ledger whose batch transactions can carry the batch data (capability
    `carries_batch_data`: the EVM rollup's `submitBatchWithData` checks it against the data
    pointer): it posts the blob `batch_data_source` gives for a header's data pointer, and reads
    posted blobs back by their pointer."""

    data_location: str  # which ledger and contract hold the data, for names and messages
    batch_data_source: Callable[[Hash32], bytes | None] | None

    def batch_data(self, data_pointer: Hash32) -> bytes | None:
        """The blob posted with a batch under this data pointer (unchecked); None if none."""
