"""Trace storage: content-addressed stores for the data of each batch.

`open_store(url)` gives a `DataStore`; `compute_cid`, `cid_from_digest` and `digest_from_cid`
convert between a blob, its CID and the 32-byte data pointer in a batch header.
"""

from flavum.da.errors import (
    ContentMismatch,
    DataAvailabilityError,
    DataUnavailable,
    InvalidCid,
    StoreUnreachable,
)
from flavum.da.factory import open_store
from flavum.da.interface import (
    DataStore,
    check_content,
    cid_from_digest,
    compute_cid,
    compute_digest,
    digest_from_cid,
)

__all__ = [
    "ContentMismatch",
    "DataAvailabilityError",
    "DataStore",
    "DataUnavailable",
    "InvalidCid",
    "StoreUnreachable",
    "check_content",
    "cid_from_digest",
    "compute_cid",
    "compute_digest",
    "digest_from_cid",
    "open_store",
]
