"""In-memory DataStore: the fake for fast tests (nothing survives the process)."""

from __future__ import annotations

from flavum.da.errors import DataUnavailable
from flavum.da.interface import DataStore


class MemoryStore(DataStore):
    """Blobs in a dict keyed by CID. `objects` is open so tests can tamper with it."""

    def __init__(self) -> None:
        self.name = "memory:"
        self.objects: dict[str, bytes] = {}

    def _store(self, cid: str, data: bytes) -> None:
        # Content-addressed: an existing entry under `cid` is replaced by the right bytes,
        # which also repairs a corrupted one.
        self.objects[cid] = data

    def _load(self, cid: str) -> bytes:
        try:
            return self.objects[cid]
        except KeyError:
            raise DataUnavailable(f"{self.name}: no object {cid}") from None

    def _contains(self, cid: str) -> bool:
        return cid in self.objects
