"""Fixtures for the storage layer: every backend, the real ones against real servers.

- S3: `moto_server` (from the venv) on a free loopback port, one per test session.
- IPFS: Flavum's Helia node (ipfs/server.mjs) run by the Node 22 binary that `npm ci --prefix
  ipfs` installs under ipfs/node_modules; its tests are skipped only when that folder is absent.

`backend` is parametrized over all four stores; each comes with a `tamper(cid, garbage)` that
overwrites the stored object behind the store's back, the way a faulty disk or an attacker would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from flavum.da import DataStore, open_store
from flavum.da.local import LocalStore
from flavum.da.memory import MemoryStore
from flavum.da.s3 import S3Store

REPO_ROOT = Path(__file__).resolve().parents[2]
IPFS_DIR = REPO_ROOT / "ipfs"
NODE_BIN = IPFS_DIR / "node_modules" / "node" / "bin" / "node"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
S3_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}

BACKENDS = ["memory", "local", "s3", "ipfs"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class MotoServer:
    endpoint: str

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def new_bucket(self) -> str:
        bucket = f"flavum-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield MotoServer(endpoint)
    finally:
        stop_process(proc)


@dataclass
class HeliaNode:
    """A running ipfs/server.mjs; `repo` holds its blocks on disk."""

    url: str
    repo: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.proc)


def start_helia(repo: Path, log_dir: Path) -> HeliaNode:
    """Start the Helia node on a free port (the OS picks it) and wait for its READY line."""
    if not (IPFS_DIR / "node_modules").is_dir():
        pytest.skip("ipfs/node_modules is absent: install it with `npm ci --prefix ipfs`")
    # Present but incomplete is a broken install: fail, do not skip.
    if not NODE_BIN.exists():
        raise RuntimeError(f"{NODE_BIN} is missing: reinstall with `npm ci --prefix ipfs`")
    out_path = log_dir / f"helia-{uuid.uuid4().hex[:8]}.out"
    err_path = out_path.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(NODE_BIN), str(IPFS_DIR / "server.mjs"), "--port", "0", "--repo", str(repo),
             "--exit-on-stdin-close"],
            stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=IPFS_DIR,
        )
    deadline = time.monotonic() + 30
    while True:
        for line in out_path.read_text().splitlines():
            if line.startswith("FLAVUM-IPFS READY "):
                return HeliaNode(line.split()[-1], repo, proc)
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"the Helia node did not start: {err_path.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def helia_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeliaNode]:
    root = tmp_path_factory.mktemp("helia")
    node = start_helia(root / "repo", root)
    try:
        yield node
    finally:
        node.stop()


def _find_files_holding(root: Path, data: bytes) -> list[Path]:
    # The blockstore's file naming is Helia's business: find the block by its content.
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_size == len(data)
            and p.read_bytes() == data]


@dataclass
class Backend:
    kind: str
    store: DataStore
    tamper: Callable[[str, bytes], None]


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "memory":
        memory = MemoryStore()

        def tamper_memory(cid: str, garbage: bytes) -> None:
            memory.objects[cid] = garbage

        return Backend(kind, memory, tamper_memory)

    if kind == "local":
        local = open_store(f"local://{tmp_path / 'store'}")
        assert isinstance(local, LocalStore)

        def tamper_local(cid: str, garbage: bytes) -> None:
            path = local.path_for(cid)
            os.chmod(path, 0o644)
            path.write_bytes(garbage)

        return Backend(kind, local, tamper_local)

    if kind == "s3":
        moto: MotoServer = request.getfixturevalue("moto_server")
        bucket = moto.new_bucket()
        s3 = open_store(
            f"s3://{bucket}/traces?endpoint={moto.endpoint}&region=us-east-1"
            "&access_key_id=testing&secret_access_key=testing"
        )
        assert isinstance(s3, S3Store)

        def tamper_s3(cid: str, garbage: bytes) -> None:
            moto.client().put_object(Bucket=bucket, Key=f"traces/{cid}", Body=garbage)

        return Backend(kind, s3, tamper_s3)

    if kind == "ipfs":
        node: HeliaNode = request.getfixturevalue("helia_node")
        ipfs = open_store(f"ipfs+{node.url}")

        block_files: dict[str, Path] = {}

        def tamper_ipfs(cid: str, garbage: bytes) -> None:
            # The block file in the node's on-disk blockstore, overwritten under Helia.
            if cid not in block_files:
                files = _find_files_holding(node.repo, ipfs.get(cid))
                if len(files) != 1:
                    raise RuntimeError(f"expected one block file for {cid}, found {files}")
                block_files[cid] = files[0]
            block_files[cid].write_bytes(garbage)

        return Backend(kind, ipfs, tamper_ipfs)

    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


@pytest.fixture
def all_backends(request: pytest.FixtureRequest, tmp_path: Path) -> list[Backend]:
    """Every backend that can run here (IPFS is left out only when its node is not installed)."""
    backends = []
    for kind in BACKENDS:
        try:
            backends.append(make_backend(kind, request, tmp_path / kind))
        except pytest.skip.Exception:
            continue
    return backends
