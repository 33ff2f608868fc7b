"""Errors of the trace storage layer (flavum/da), under Flavum's one hierarchy.

A reader that gets bytes back from any store can trust them: every store checks the bytes
against their content id before returning them, and raises `ContentMismatch` otherwise.
"""

from flavum.core.errors import FlavumError


class DataAvailabilityError(FlavumError):
    """Base of the storage layer's errors."""

    code = "data_availability_error"


class InvalidCid(DataAvailabilityError):
    """A string or pointer that is not a content id of the kind Flavum writes
    (CIDv1, codec raw, sha2-256)."""

    code = "invalid_cid"


class DataUnavailable(DataAvailabilityError):
    """The store has no object under this content id."""

    code = "data_unavailable"


class StoreUnreachable(DataUnavailable):
    """The store itself could not be reached or answered with an error, so the data is not
    available from it now (a retry or another store may have it)."""

    code = "store_unreachable"


class ContentMismatch(DataAvailabilityError):
    """A store returned (or holds) bytes that do not hash to the content id asked for:
    the stored object was corrupted or tampered with, or the store lies."""

    code = "content_mismatch"

    def __init__(self, cid: str, store: str, detail: str = "") -> None:
        self.cid = cid
        self.store = store
        message = f"{store}: the bytes stored under {cid} do not hash to that content id"
        super().__init__(f"{message} ({detail})" if detail else message)


class MalformedBatchData(FlavumError):
    """A blob that is not batch data of this format (read from a store, but not a store's
    failure: the bytes arrived whole and are not what a batch publishes)."""

    code = "malformed_batch_data"
