"""Load harness: N concurrent clients drive a node's HTTP API over 127.0.0.1.

A real node process (`flavum node run`, embedded EVM, its default prover workers) gets, from
each of N client threads for a fixed time, signed transfers (each client its own sender,
funded by one transfer at the start) and, from the last client, inferences of a small model
deployed at the start (each one proven by the node's prover workers as it goes). Every request
is timed end to end; refusals are counted by their error code (a 429 with Retry-After is
waited out and sent again by the client, so it shows as latency). The run stops by itself
after `--seconds`; it binds to 127.0.0.1 only.

    python bench/load.py [--clients 8] [--seconds 20]

Prints throughput, p50/p99 latency per kind, error counts and the node's peak memory (VmHWM);
RELIABILITY.md holds the latest table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.node_harness import (  # noqa: E402
    deploy_example,
    flavum_cli,
    free_port,
    peak_rss_mb,
)
from flavum.api.guard import load_token  # noqa: E402
from flavum.client import Client, NodeUnreachable  # noqa: E402
from flavum.core.errors import FlavumError  # noqa: E402
from flavum.core.genesis import DEV_ASSET  # noqa: E402
from flavum.core.transactions import Infer, Transfer, address_of  # noqa: E402
from flavum.core.types import Amount  # noqa: E402
from flavum.node.config import load_config, load_key, write_config  # noqa: E402


def run(clients: int, seconds: float) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="flavum-load-"))
    home = workdir / "home"
    flavum_cli(home, "init")
    config = load_config(home)
    port = free_port()
    write_config(replace(config, port=port, host="127.0.0.1"))
    config = load_config(home)
    node = subprocess.Popen([sys.executable, "-m", "flavum", "node", "run", "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        client = Client(config.api_url, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.status()
                break
            except NodeUnreachable:
                if time.monotonic() > deadline or node.poll() is not None:
                    raise
                time.sleep(0.2)
        client = Client(config.api_url, timeout=60, token=load_token(home))
        model_id, data_id = deploy_example(home, workdir)
        funder = load_key(home, "default")
        keys = [bytes([i + 1]) * 32 for i in range(clients)]
        for key in keys:  # each client its own sender: no nonce races between clients
            client.send(funder, address_of(funder), Transfer(address_of(key), DEV_ASSET,
                                                             Amount(10**20)))
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def drive(index: int) -> None:
            own = Client(config.api_url, timeout=60)
            key = keys[index]
            sender = address_of(key)
            kind = "infer" if index == clients - 1 else "transfer"
            while time.monotonic() < stop_at:
                body = (Infer(model_id, data_id, Amount(0)) if kind == "infer"
                        else Transfer(address_of(funder), DEV_ASSET, Amount(1)))
                started = time.perf_counter()
                try:
                    own.send(key, sender, body)
                    with lock:
                        latencies[kind].append(time.perf_counter() - started)
                except FlavumError as exc:
                    with lock:
                        errors[f"{kind}:{exc.code}"] += 1

        threads = [threading.Thread(target=drive, args=(i,)) for i in range(clients)]
        begun = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - begun
        result: dict[str, object] = {
            "clients": clients, "seconds": round(elapsed, 1),
            "errors": dict(errors), "node_peak_rss_mb": round(peak_rss_mb(node.pid), 1),
            # the node's child processes: signature recovery workers, prover workers
            "children_peak_rss_mb": [round(peak_rss_mb(pid), 1) for pid in children(node.pid)],
        }
        for kind, values in latencies.items():
            values.sort()
            result[kind] = {
                "requests": len(values), "per_s": round(len(values) / elapsed, 1),
                "p50_ms": round(1000 * statistics.median(values), 1),
                "p99_ms": round(1000 * values[min(len(values) - 1, int(0.99 * len(values)))], 1),
            }
        return result
    finally:
        node.kill()
        node.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = run(args.clients, args.seconds)
    print(json.dumps(result, indent=1))
    print(f"{'kind':<10} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in ("transfer", "infer"):
        row = result.get(kind)
        if isinstance(row, dict):
            print(f"{kind:<10} {row['requests']:>9} {row['per_s']:>8} {row['p50_ms']:>8} "
                  f"{row['p99_ms']:>8}")
    print(f"errors: {result['errors'] or 'none'}; node peak RSS {result['node_peak_rss_mb']} MB;"
          f" its child processes' {result['children_peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
