"""The CID scheme: CIDv1 raw sha2-256, base32; the 32-byte data pointer is its digest."""

from __future__ import annotations

import hashlib

import ipfs_cid
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flavum.core.errors import FlavumError
from flavum.da import (
    ContentMismatch,
    InvalidCid,
    check_content,
    cid_from_digest,
    compute_cid,
    compute_digest,
    digest_from_cid,
)

# sha256("") as a raw CIDv1: a well-known IPFS value.
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_known_vector() -> None:
    assert compute_cid(b"") == EMPTY_CID
    assert digest_from_cid(EMPTY_CID) == hashlib.sha256(b"").digest()


@given(st.binary(max_size=4096))
def test_matches_ipfs_cid(data: bytes) -> None:
    cid = compute_cid(data)
    assert cid == ipfs_cid.cid_sha256_hash(data)
    assert cid.startswith("bafkrei")
    assert digest_from_cid(cid) == compute_digest(data) == hashlib.sha256(data).digest()
    assert ipfs_cid.cid_sha256_unwrap_digest(cid) == digest_from_cid(cid)


@given(st.binary(min_size=32, max_size=32))
def test_pointer_round_trip(digest: bytes) -> None:
    cid = cid_from_digest(digest)
    assert cid == ipfs_cid.cid_sha256_wrap_digest(digest)
    assert digest_from_cid(cid) == digest


@pytest.mark.parametrize("length", [0, 20, 31, 33, 64])
def test_pointer_must_be_32_bytes(length: int) -> None:
    with pytest.raises(InvalidCid):
        cid_from_digest(b"\x01" * length)


def test_only_the_canonical_spelling_is_a_cid() -> None:
    # The last base32 character of a CID carries 2 spare bits; another value of them decodes
    # to the same bytes. Accepting it would give one blob two names (two files, two keys).
    assert EMPTY_CID.endswith("u")
    for last in "vwx":
        with pytest.raises(InvalidCid):
            digest_from_cid(EMPTY_CID[:-1] + last)
    with pytest.raises(InvalidCid):
        digest_from_cid(EMPTY_CID + "====")
    with pytest.raises(InvalidCid):
        digest_from_cid("B" + EMPTY_CID[1:].upper())
    with pytest.raises(InvalidCid):
        digest_from_cid("z" + EMPTY_CID[1:])
    with pytest.raises(InvalidCid):
        digest_from_cid("b!!!")
    with pytest.raises(InvalidCid):
        digest_from_cid(None)  # type: ignore[arg-type]


def test_check_content() -> None:
    check_content(EMPTY_CID, b"", "test")
    with pytest.raises(ContentMismatch) as info:
        check_content(EMPTY_CID, b"x", "test")
    assert info.value.cid == EMPTY_CID
    assert isinstance(info.value, FlavumError)
    assert info.value.code == "content_mismatch"
