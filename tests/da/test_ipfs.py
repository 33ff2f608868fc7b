"""The IPFS store: against the real Helia node, and against a node that lies."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from flavum.da import ContentMismatch, StoreUnreachable, compute_cid, open_store
from tests.da.conftest import HeliaNode, free_port, start_helia


class LyingNode(BaseHTTPRequestHandler):
    """Answers like the Helia node's API, but with the wrong bytes and the wrong CIDs."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self._reply(200, compute_cid(body + b"!").encode())

    def do_GET(self) -> None:
        if self.path.endswith("/" + compute_cid(b"fails")):
            self._reply(500, b"boom")
        else:
            self._reply(200, b"not what you asked for")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def lying_node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LyingNode)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_wrong_bytes_from_the_node_are_refused(lying_node: str) -> None:
    store = open_store(f"ipfs+{lying_node}")
    cid = compute_cid(b"the real batch")
    with pytest.raises(ContentMismatch) as info:
        store.get(cid)
    assert info.value.cid == cid


def test_wrong_cid_from_the_node_on_put_is_refused(lying_node: str) -> None:
    store = open_store(f"ipfs+{lying_node}")
    with pytest.raises(ContentMismatch):
        store.put(b"a batch")


def test_node_error_is_unreachable(lying_node: str) -> None:
    store = open_store(f"ipfs+{lying_node}")
    with pytest.raises(StoreUnreachable):
        store.get(compute_cid(b"fails"))


def test_no_node_is_unreachable() -> None:
    store = open_store(f"ipfs+http://127.0.0.1:{free_port()}?timeout=2")
    with pytest.raises(StoreUnreachable):
        store.put(b"x")
    with pytest.raises(StoreUnreachable):
        store.get(compute_cid(b"x"))


def test_helia_refuses_other_cids(helia_node: HeliaNode) -> None:
    for bad in ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "nonsense",
                "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"]:
        assert httpx.get(f"{helia_node.url}/blocks/{bad}").status_code == 400


def test_helia_keeps_a_large_blob_as_one_block(helia_node: HeliaNode) -> None:
    data = os.urandom(24 * 1024 * 1024)  # bigger than bitswap's 4 MiB: fine in the local store
    store = open_store(f"ipfs+{helia_node.url}")
    cid = store.put(data)
    assert store.get(cid) == data


def test_helia_blocks_survive_a_restart(tmp_path: Path) -> None:
    node = start_helia(tmp_path / "repo", tmp_path)
    try:
        data = os.urandom(100_000)
        cid = open_store(f"ipfs+{node.url}").put(data)
    finally:
        node.stop()
    again = start_helia(tmp_path / "repo", tmp_path)
    try:
        assert open_store(f"ipfs+{again.url}").get(cid) == data
    finally:
        again.stop()
