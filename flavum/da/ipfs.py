"""DataStore on an IPFS node: Flavum's Helia node (ipfs/server.mjs) over its HTTP API.

Each blob is one raw IPFS block (see interface.py for the CID scheme), so the CID this store
returns is the CID that IPFS gives the same bytes. The node computes the CID of what it stored
and this client compares it with its own; every read is checked again here, so a faulty or
lying node cannot hand back wrong bytes.

The node's API (all on loopback by default):
  POST /blocks (body: the bytes) -> the CID as text;  GET/HEAD /blocks/<cid> -> bytes | 404.
"""

from __future__ import annotations

import httpx

from flavum.da.errors import ContentMismatch, DataUnavailable, StoreUnreachable
from flavum.da.interface import DataStore


class IpfsStore(DataStore):
    """Blobs as raw blocks on the Helia node at `api_url` (e.g. "http://127.0.0.1:5001")."""

    def __init__(self, api_url: str, *, timeout: float = 60.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.name = f"ipfs+{self.api_url}"
        self.client = httpx.Client(base_url=self.api_url, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def _request(self, method: str, path: str, cid: str, **kwargs: object) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise StoreUnreachable(f"{self.name}: {method} {cid} failed: {exc}") from exc

    def _store(self, cid: str, data: bytes) -> None:
        response = self._request(
            "POST", "/blocks", cid, content=data,
            headers={"content-type": "application/octet-stream"},
        )
        if response.status_code != 200:
            raise StoreUnreachable(
                f"{self.name}: storing {cid} failed: HTTP {response.status_code} "
                f"{response.text.strip()[:200]}"
            )
        stored = response.text.strip()
        # The node hashed what it received: another CID means it got (or kept) other bytes.
        if stored != cid:
            raise ContentMismatch(cid, self.name, f"the node stored the bytes as {stored[:80]!r}")

    def _load(self, cid: str) -> bytes:
        response = self._request("GET", f"/blocks/{cid}", cid)
        if response.status_code == 404:
            raise DataUnavailable(f"{self.name}: no object {cid}")
        if response.status_code != 200:
            raise StoreUnreachable(
                f"{self.name}: reading {cid} failed: HTTP {response.status_code} "
                f"{response.text.strip()[:200]}"
            )
        return response.content

    def _contains(self, cid: str) -> bool:
        response = self._request("HEAD", f"/blocks/{cid}", cid)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise StoreUnreachable(
                f"{self.name}: looking up {cid} failed: HTTP {response.status_code}"
            )
        return True
