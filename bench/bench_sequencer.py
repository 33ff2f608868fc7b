"""Signed transfers sequenced per second, against a plain-dict baseline, measured in one run.

Flavum's path per transfer: decode the wire bytes, recover the signer (secp256k1), check nonce
and balance, apply with a journal, commit the state root after it, write it durably to SQLite
before its receipt, and make a block every 500 transfers. The baseline does the same
bookkeeping (nonce and balance checks and updates) in plain dicts on already-decoded
transfers, without signatures, Merkle tree or store. Transactions are signed beforehand:
signing is the client's work.

The sequencer runs twice: with one submitter, each receipt before the next submission (every
transaction its own commit), and with N concurrent submitters (group commit, signers
recovered by worker processes). The goal of the group-commit path is at least the single-core
"decode + signature recovery only" ceiling of the same run.

Each receipt waits for its group's fsync, so N submitters, each waiting for its receipt before
its next submission, can never exceed N / (fsync time) transactions a second: the bench
measures the store's fsync time and prints that bound, and runs group commit with a second,
larger number of submitters (`--more-submitters`) to show what the node does when it is not
held back by it.

    python bench/bench_sequencer.py [--txs 20000] [--accounts 1000] [--submitters 32]
                                    [--more-submitters 128]
"""

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flavum.core.genesis import DEV_ASSET
from flavum.core.state import compute_state_root
from flavum.core.stf import process_transaction
from flavum.core.transactions import (
    Transaction,
    Transfer,
    address_of,
    decode_transaction,
    encode_transaction,
    recover_signer,
    sign_transaction,
)
from flavum.core.types import Amount, Nonce
from flavum.node.config import Allocation, NodeConfig
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store


def make_transfers(config: NodeConfig, keys: list[bytes], count: int) -> list[bytes]:
    eth = DEV_ASSET
    addresses = [address_of(k) for k in keys]
    nonces = [0] * len(keys)
    raws = []
    for i in range(count):
        s = i % len(keys)
        to = addresses[(i * 7 + 1) % len(keys)]
        tx = Transaction(config.domain.chain_id, config.domain.rollup_id, addresses[s],
                         Nonce(nonces[s]), Transfer(to, eth, Amount(1 + i % 5)))
        raws.append(encode_transaction(sign_transaction(tx, keys[s])))
        nonces[s] += 1
    return raws


@dataclass(frozen=True)
class Run:
    seconds: float
    root: str  # the final state root
    cpu_s: float  # this process's CPU time, all threads
    workers_cpu_s: float  # the recovery workers' CPU time


def run_flavum(config: NodeConfig, raws: list[bytes], submitters: int) -> Run:
    """Sequence `raws` with this many concurrent submitters, each sending the transactions of
    its own senders in order, one at a time."""
    store = Store(config.db_path)
    sequencer = Sequencer(config, store)
    if submitters > 1:
        sequencer.recovery.start()  # not timed: a node starts its workers once
    shares: list[list[bytes]] = [[] for _ in range(submitters)]
    for i, raw in enumerate(raws):
        shares[i % len(config.genesis) % submitters].append(raw)
    errors: list[Exception] = []

    def submit_all(share: list[bytes]) -> None:
        try:
            for raw in share:
                sequencer.submit(raw)
        except Exception as exc:  # counted below: the run must have none
            errors.append(exc)

    threads = [threading.Thread(target=submit_all, args=(share,)) for share in shares]
    started, cpu, workers_cpu = time.perf_counter(), time.process_time(), children_cpu_s()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sequencer.produce_block()
    run = Run(time.perf_counter() - started, sequencer.state_root().hex(),
              time.process_time() - cpu, children_cpu_s() - workers_cpu)
    sequencer.close()
    store.close()
    if errors:
        raise SystemExit(f"{len(errors)} submissions failed, first: {errors[0]!r}")
    return run


def children_cpu_s() -> float:
    """CPU seconds used so far by this process's live children (/proc)."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def fsync_seconds(directory: Path, count: int = 50) -> float:
    """Median time of one fsync of a small appended write in `directory`."""
    times = []
    fd = os.open(directory / "fsync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for _ in range(count):
            os.write(fd, b"\0" * 4096)
            started = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return sorted(times)[count // 2]


def run_core_only(config: NodeConfig, raws: list[bytes]) -> float:
    """Decode, signature, state transition and per-block root: no store."""
    state = config.genesis_state.state()
    started = time.perf_counter()
    for i, raw in enumerate(raws):
        process_transaction(state, decode_transaction(raw))
        if i % config.block_max_txs == config.block_max_txs - 1:
            compute_state_root(state)
    compute_state_root(state)
    return time.perf_counter() - started


def run_baseline(config: NodeConfig, raws: list[bytes]) -> float:
    txs = [decode_transaction(raw) for raw in raws]  # decoding is not timed for the baseline
    balances = {(a.address, DEV_ASSET): a.amount for a in config.genesis}
    nonces: dict[bytes, int] = {}
    started = time.perf_counter()
    for tx in txs:
        body = tx.body
        assert isinstance(body, Transfer)
        if nonces.get(tx.sender, 0) != tx.nonce:
            raise ValueError("nonce")
        have = balances.get((tx.sender, body.asset), 0)
        if have < body.amount:
            raise ValueError("balance")
        nonces[tx.sender] = tx.nonce + 1
        balances[(tx.sender, body.asset)] = have - body.amount
        balances[(body.to, body.asset)] = balances.get((body.to, body.asset), 0) + body.amount
    return time.perf_counter() - started


def run_signatures_only(raws: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in raws:
        recover_signer(decode_transaction(raw))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--submitters", type=int, default=32)
    parser.add_argument("--more-submitters", type=int, default=128)
    args = parser.parse_args()
    keys = [i.to_bytes(32, "big") for i in range(1, args.accounts + 1)]
    genesis = tuple(Allocation(address_of(k), Amount(10**18)) for k in keys)
    with tempfile.TemporaryDirectory() as tmp:

        def config(name: str) -> NodeConfig:
            return NodeConfig(home=Path(tmp) / name, genesis=genesis, block_max_txs=500,
                              batch_max_txs=10**9)

        raws = make_transfers(config("one"), keys, args.txs)
        single = run_flavum(config("one"), raws, 1)
        grouped = run_flavum(config("group"), raws, args.submitters)
        more = run_flavum(config("more"), raws, args.more_submitters)
        fsync = fsync_seconds(Path(tmp))
        ceiling_cpu = time.process_time()
        ceiling = run_signatures_only(raws)
        ceiling_cpu = time.process_time() - ceiling_cpu
        rows = [
            ("plain-dict baseline (no signatures, no Merkle, no store)",
             run_baseline(config("one"), raws)),
            ("decode + signature recovery only (one core)", ceiling),
            ("core: decode + signature + STF + root per block", run_core_only(config("one"), raws)),
            ("Flavum sequencer, per-transaction commit (1 submitter)", single.seconds),
            (f"Flavum sequencer, group commit ({args.submitters} submitters)", grouped.seconds),
            (f"Flavum sequencer, group commit ({args.more_submitters} submitters)", more.seconds),
        ]
    base = rows[0][1]
    print(f"{args.txs} signed transfers among {args.accounts} accounts, blocks of 500")
    print(f"{'path':58} {'tx/s':>10} {'µs/tx':>8} {'× baseline time':>16}")
    for name, seconds in rows:
        rate = args.txs / seconds
        print(f"{name:58} {rate:10,.0f} {seconds / args.txs * 1e6:8.1f} {seconds / base:16.1f}")
    ceiling_rate, single_rate, group_rate, more_rate = (args.txs / rows[i][1] for i in (1, 3, 4, 5))
    print(f"same final state root all ways: {single.root == grouped.root == more.root}")
    us = 1e6 / args.txs
    print(f"CPU µs per transfer: ceiling {ceiling_cpu * us:.1f}; group commit: this process "
          f"{grouped.cpu_s * us:.1f} + recovery workers {grouped.workers_cpu_s * us:.1f} "
          f"({args.submitters} submitters), {more.cpu_s * us:.1f} + {more.workers_cpu_s * us:.1f} "
          f"({args.more_submitters})")
    print(f"fsync: {fsync * 1e3:.2f} ms (median); N submitters waiting for a receipt each: at "
          f"most N / fsync, {args.submitters / fsync:,.0f}/s for {args.submitters}, "
          f"{args.more_submitters / fsync:,.0f}/s for {args.more_submitters}")
    print(f"group commit / per-transaction commit: {group_rate / single_rate:.2f}x")
    for count, rate in ((args.submitters, group_rate), (args.more_submitters, more_rate)):
        verdict = "meets" if rate >= ceiling_rate else "MISSES"
        print(f"group commit ({count} submitters) / decode+signature ceiling: "
              f"{rate / ceiling_rate:.2f}x (goal >= 1.0x: {verdict})")

if __name__ == "__main__":
    main()
