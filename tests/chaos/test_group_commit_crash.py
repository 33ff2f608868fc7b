"""Group commit under SIGKILL: a node process taking transfers from six concurrent clients is
killed where it stops itself after a group is durable but before any of its receipts is
returned (`accepted`), and from outside at a random moment. After the last restart every
transaction that got a receipt is in the node, each at its own seq."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.node_harness import REPO, flavum_cli, free_port
from flavum.api.guard import load_token
from flavum.client import Client, NodeUnreachable
from flavum.core.errors import FlavumError
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import Transfer, address_of
from flavum.core.types import Amount
from flavum.node.config import load_config, load_key, write_config

CLIENTS = 6


def start(home: Path, url: str, crash_at: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "FLAVUM_CRASH_AT"}
    if crash_at is not None:
        env["FLAVUM_CRASH_AT"] = crash_at
    node = subprocess.Popen([sys.executable, "-m", "flavum", "node", "run", "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=REPO)
    probe = Client(url, timeout=10)
    deadline = time.monotonic() + 60
    while True:
        try:
            probe.status()
            return node
        except NodeUnreachable:
            if node.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def drive(url: str, keys: list[bytes], to: bytes, receipts: list[str]) -> None:
    """Each client sends transfers from its own key until the node goes away."""

    def one(key: bytes) -> None:
        client = Client(url, timeout=10)
        while True:
            try:
                receipt = client.send(key, address_of(key), Transfer(to, DEV_ASSET, Amount(1)))
            except (NodeUnreachable, FlavumError):
                return  # the node died (a refusal would show as a missing receipt count)
            receipts.append(receipt["tx_hash"])

    threads = [threading.Thread(target=one, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_receipted_transfers_survive_kill_9(tmp_path):
    home = tmp_path / "home"
    flavum_cli(home, "init")
    config = load_config(home)
    write_config(replace(config, port=free_port(), host="127.0.0.1"))
    config = load_config(home)
    url = config.api_url
    funder = load_key(home, "default")
    keys = [bytes([0x40 + i]) * 32 for i in range(CLIENTS)]
    node = start(home, url, None)
    client = Client(url, timeout=10, token=load_token(home))
    for key in keys:
        client.send(funder, address_of(funder), Transfer(address_of(key), DEV_ASSET,
                                                         Amount(10**20)))
    node.kill()
    node.wait()
    receipts: list[str] = []
    rng = random.Random(3)
    for crash_at in ("accepted:40", None):
        node = start(home, url, crash_at)
        if crash_at is None:  # killed from outside, at a random moment under load
            timer = threading.Timer(rng.uniform(1.0, 3.0), node.send_signal, (signal.SIGKILL,))
            timer.start()
        drive(url, keys, address_of(funder), receipts)
        node.wait(timeout=60)
        assert node.returncode == -signal.SIGKILL
    node = start(home, url, None)
    try:
        client = Client(url, timeout=10)
        assert len(receipts) > 40  # the armed round got past its kill point
        for tx_hash in receipts:
            assert client._call("GET", f"/v1/transactions/{tx_hash}")["seq"] >= 1, tx_hash
        seqs = sorted(client._call("GET", f"/v1/transactions/{h}")["seq"] for h in receipts)
        assert len(set(seqs)) == len(seqs)
    finally:
        node.kill()
        node.wait()
