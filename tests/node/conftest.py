"""Fixtures for node tests: a configured home, and a real node process on a free port."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flavum.api.guard import load_token
from flavum.client import Client, NodeUnreachable
from flavum.core.transactions import address_of
from flavum.core.types import Amount
from flavum.node.config import Allocation, NodeConfig, write_config

ALICE_KEY = b"\x01" * 32
BOB_KEY = b"\x02" * 32
ALICE = address_of(ALICE_KEY)
BOB = address_of(BOB_KEY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config(home: Path, **overrides: object) -> NodeConfig:
    params: dict[str, object] = dict(
        home=home, port=free_port(),
        genesis=(Allocation(ALICE, Amount(10**21)), Allocation(BOB, Amount(10**21))),
    )
    params.update(overrides)
    config = NodeConfig(**params)  # type: ignore[arg-type]
    write_config(config)
    keys = home / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "alice.key").write_text("0x" + ALICE_KEY.hex())
    (keys / "bob.key").write_text("0x" + BOB_KEY.hex())
    return config


def share_artifacts(home: Path, srs: Path, circuits: Path) -> None:
    """Link a node home's SRS and circuits directories to the session's shared ones."""
    (home / "srs").symlink_to(srs)
    (home / "circuits").symlink_to(circuits)


@pytest.fixture
def config(tmp_path: Path) -> NodeConfig:
    return make_config(tmp_path / "home")


class NodeProcess:
    """`flavum node run` in a subprocess, as a user runs it."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Client:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flavum", "node", "run", "--home", str(self.config.home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        client = Client(self.config.api_url, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.status()
                # The node made its operator token at start: the operator's client uses it.
                return Client(self.config.api_url, timeout=10,
                              token=load_token(self.config.home))
            except NodeUnreachable:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"node did not start: {err}") from None
                time.sleep(0.1)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL): no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def node(config: NodeConfig) -> Iterator[NodeProcess]:
    process = NodeProcess(config)
    yield process
    process.stop()
