"""The DataStore contract, run against every backend (memory, local, S3 on moto, IPFS on Helia)."""

from __future__ import annotations

import hashlib
import os

import ipfs_cid
import pytest

from flavum.da import (
    ContentMismatch,
    DataUnavailable,
    InvalidCid,
    cid_from_digest,
    compute_cid,
    compute_digest,
    digest_from_cid,
)
from tests.da.conftest import Backend

SIZES = [0, 1, 31, 4096, 256 * 1024 + 1, 1024 * 1024, 5 * 1000 * 1000 + 7]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    cid = backend.store.put(data)
    # The CID is the one IPFS gives these bytes, as PyPI ipfs-cid computes it.
    assert cid == ipfs_cid.cid_sha256_hash(data)
    assert cid == compute_cid(data)
    assert backend.store.has(cid)
    assert backend.store.get(cid) == data


def test_fetch_by_ledger_pointer(backend: Backend) -> None:
    """Only the 32-byte pointer of a batch header is needed to name and fetch the blob."""
    data = os.urandom(3000) * 7
    cid = backend.store.put(data)
    pointer = digest_from_cid(cid)
    assert pointer == hashlib.sha256(data).digest() == compute_digest(data)
    assert backend.store.get(cid_from_digest(pointer)) == data


def test_missing_cid_is_unavailable(backend: Backend) -> None:
    cid = compute_cid(b"never stored " + os.urandom(16))
    assert not backend.store.has(cid)
    with pytest.raises(DataUnavailable) as info:
        backend.store.get(cid)
    assert cid in str(info.value)


def test_tampered_object_is_refused(backend: Backend) -> None:
    data = os.urandom(10_000)
    cid = backend.store.put(data)
    backend.tamper(cid, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ContentMismatch) as info:
        backend.store.get(cid)
    assert info.value.cid == cid
    assert cid in str(info.value)
    # A truncated object and an empty one are refused too.
    backend.tamper(cid, data[:5000])
    with pytest.raises(ContentMismatch):
        backend.store.get(cid)
    backend.tamper(cid, b"")
    with pytest.raises(ContentMismatch):
        backend.store.get(cid)


def test_put_is_idempotent(backend: Backend) -> None:
    data = os.urandom(50_000)
    first = backend.store.put(data)
    second = backend.store.put(data)
    assert first == second
    assert backend.store.get(first) == data
    other = backend.store.put(data + b"\x00")
    assert other != first
    assert backend.store.get(first) == data
    assert backend.store.get(other) == data + b"\x00"


@pytest.mark.parametrize("bad", [
    "",
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0 (dag-pb)
    "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # dag-pb, not raw
    "BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",  # upper case
    "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",  # truncated
    "../../etc/passwd",
])
def test_invalid_cid_is_refused(backend: Backend, bad: str) -> None:
    with pytest.raises(InvalidCid):
        backend.store.get(bad)
    with pytest.raises(InvalidCid):
        backend.store.has(bad)


def test_same_cid_in_every_backend(all_backends: list[Backend]) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    cids = {b.kind: b.store.put(data) for b in all_backends}
    assert set(cids.values()) == {ipfs_cid.cid_sha256_hash(data)}
    # A blob put in one store is found in another under the same pointer.
    pointer = digest_from_cid(cids["memory"])
    for b in all_backends:
        assert b.store.get(cid_from_digest(pointer)) == data
