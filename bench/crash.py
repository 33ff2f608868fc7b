"""Crash harness: a node under mixed load, killed with SIGKILL again and again, must lose nothing.

A real node process (`flavum node run`, proving inline) posts to a real anvil. One client
drives it, in order: signed transfers of the dev asset, ETH deposits on anvil, ETH withdrawals,
and inferences of a small model deployed at the start (each proven). The node is killed with
SIGKILL, alternately at a random moment (from outside) and at a named stage (the node kills
itself there: flavum/node/failpoints.py: accepted, published, proven, posted), then
restarted. After every restart:

- every transaction that got a receipt is in the node (one sent when the node died is either
  in or out, and the checks follow which);
- no deposit is credited twice: the recipient's L2 ETH is at most what was deposited, minus
  what was withdrawn;
- the batches the ledger holds are the node's own, in order, none twice or skipped.

At the end everything is sealed and posted, and: every deposit is credited exactly once, every
inference is proven, and the independent verifier re-executes every batch from the ledger and
the data store alone (a clean replay): each batch OK, its last state root the node's.

    python bench/crash.py [--kills 50] [--seed 1]

Prints the counts; RELIABILITY.md holds the latest table. tests/chaos runs a short form.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.node_harness import deploy_example, flavum_cli, free_port  # noqa: E402
from flavum.api.guard import load_token  # noqa: E402
from flavum.client import Client, NodeUnreachable  # noqa: E402
from flavum.core.assets import compute_asset_id  # noqa: E402
from flavum.core.codec import to_hex  # noqa: E402
from flavum.core.errors import FlavumError  # noqa: E402
from flavum.core.genesis import DEV_ASSET  # noqa: E402
from flavum.core.transactions import (  # noqa: E402
    Body,
    Infer,
    Transaction,
    Transfer,
    Withdraw,
    address_of,
    compute_tx_hash,
    sign_transaction,
)
from flavum.core.types import NO_OBJECT, Amount, Nonce  # noqa: E402
from flavum.l1.factory import open_ledger  # noqa: E402
from flavum.node.config import LedgerSpec, load_config, load_key, write_config  # noqa: E402

ANVIL = REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
# anvil's well-known development account 0 (a public test key, funded at its start): it funds
# the deployment, then makes the deposits
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
STAGES = ("accepted", "published", "proven", "posted")
GWEI = 10**9


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    receipts: int = 0
    in_flight_kept: int = 0
    in_flight_lost: int = 0
    deposited: int = 0  # wei
    deposits: int = 0
    withdrawn: int = 0  # wei, by withdrawals the node holds
    inferences: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    receipted: set[str] = field(default_factory=set)


class Harness:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.workdir = workdir
        self.home = workdir / "home"
        self.tally = Tally()
        self.anvil = free_port()
        self.anvil_proc = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.anvil), "--silent",
             "--block-time", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.node: subprocess.Popen[bytes] | None = None
        self._setup()

    # --- set-up -------------------------------------------------------------------------------

    def _setup(self) -> None:
        flavum_cli(self.home, "init")
        config = load_config(self.home)
        spec = LedgerSpec(name="evm", kind="evm", url=f"http://127.0.0.1:{self.anvil}",
                          deployment="evm-deployment.json", confirmations=1,
                          challenge_window=0)
        write_config(replace(config, ledgers=(spec,), prover="inline", batch_interval_s=2.0,
                             port=free_port()))
        funder = self.workdir / "anvil-0.key"
        funder.write_text(ANVIL_KEY)
        _wait(lambda: flavum_cli(self.home, "l1", "deploy", "--fund-from", str(funder),
                                   check=False).returncode == 0, 30, "the deployment")
        self.config = load_config(self.home)
        self.alice_key = load_key(self.home, "default")
        self.alice = address_of(self.alice_key)
        self.bob = address_of(b"\x0b" * 32)
        self.ledger = open_ledger(self.config.ledgers[0], self.home,
                                  genesis=self.config.genesis_state).ledger
        self.eth = compute_asset_id(self.ledger.ledger_id)
        self.depositor = bytes.fromhex(ANVIL_KEY[2:])

    def deploy_model(self) -> None:
        """A small classifier and one data point (through the CLI, as a user does)."""
        self.model_id, self.data_id = deploy_example(self.home, self.workdir)

    # --- the node -----------------------------------------------------------------------------

    def start(self, stage: str | None = None) -> Client:
        env = dict(os.environ)
        env.pop("FLAVUM_CRASH_AT", None)
        if stage is not None:
            env["FLAVUM_CRASH_AT"] = stage
        self.node = subprocess.Popen(
            [sys.executable, "-m", "flavum", "node", "run", "--home", str(self.home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        client = Client(self.config.api_url, timeout=10)
        _wait(lambda: _answers(client) or self.node.poll() is not None, 60, "the node")
        return Client(self.config.api_url, timeout=10, token=load_token(self.home))

    def alive(self) -> bool:
        return self.node is not None and self.node.poll() is None

    def wait_death(self, timeout_s: float) -> None:
        """Give a node armed at a stage the time to get there (proving, sealing, posting)."""
        deadline = time.monotonic() + timeout_s
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.2)

    def kill(self) -> None:
        if self.node is not None and self.node.poll() is None:
            self.node.send_signal(signal.SIGKILL)
        if self.node is not None:
            self.node.wait()

    def close(self) -> None:
        self.kill()
        self.anvil_proc.kill()
        self.anvil_proc.wait()

    # --- load ---------------------------------------------------------------------------------

    def step(self, client: Client, kind: str | None = None) -> bool:
        """One operation of the load (`kind`, or drawn); False when the node died under it."""
        kind = kind or self.rng.choice(("transfer", "transfer", "transfer", "deposit",
                                        "withdraw", "infer"))
        try:
            if kind == "deposit":
                amount = self.rng.randint(1, 50) * GWEI
                self.ledger.deposit_eth(self.depositor, self.alice, amount)
                self.tally.deposited += amount
                self.tally.deposits += 1
                return True
            return self._send(client, kind)
        except NodeUnreachable:
            return False

    def _send(self, client: Client, kind: str) -> bool:
        nonce = int(client.account(self.alice)["nonce"])
        body: Body
        if kind == "transfer":
            body = Transfer(self.bob, DEV_ASSET, Amount(self.rng.randint(1, 9)))
        elif kind == "withdraw":
            balance = int(client.account(self.alice)["balances"].get(to_hex(self.eth), "0"))
            if balance < GWEI:
                return True
            body = Withdraw(self.ledger.ledger_id, self.alice, self.eth, Amount(GWEI),
                            NO_OBJECT)
        else:
            body = Infer(self.model_id, self.data_id, Amount(0))
        domain = self.config.domain
        tx = sign_transaction(Transaction(domain.chain_id, domain.rollup_id, self.alice,
                                          Nonce(nonce), body), self.alice_key)
        tx_hash = to_hex(compute_tx_hash(tx))
        try:
            client.submit(tx)
        except NodeUnreachable:
            self.in_flight = (tx_hash, body)  # in or out: the restart tells
            raise
        self._count(tx_hash, body)
        self.tally.receipts += 1
        self.tally.receipted.add(tx_hash)
        return True

    def _count(self, tx_hash: str, body: Body) -> None:
        if isinstance(body, Withdraw):
            self.tally.withdrawn += body.amount
        if isinstance(body, Infer):
            self.tally.inferences.append(tx_hash)

    # --- checks -------------------------------------------------------------------------------

    def check(self, client: Client) -> None:
        """What must hold after every restart."""
        in_flight = getattr(self, "in_flight", None)
        if in_flight is not None:
            if _has_tx(client, in_flight[0]):
                self._count(*in_flight)
                self.tally.in_flight_kept += 1
            else:
                self.tally.in_flight_lost += 1
            self.in_flight = None
        for tx_hash in self.tally.receipted:
            if not _has_tx(client, tx_hash):
                self.tally.losses.append(f"transaction {tx_hash} had a receipt and is gone")
        eth = int(client.account(self.alice)["balances"].get(to_hex(self.eth), "0"))
        if eth > self.tally.deposited - self.tally.withdrawn:
            self.tally.losses.append(f"L2 ETH {eth} exceeds deposits minus withdrawals "
                                     f"{self.tally.deposited - self.tally.withdrawn}")
        self._check_batches(client)

    def _check_batches(self, client: Client) -> None:
        node = {int(b["number"]): b["batch_hash"] for b in client.batches()}
        for number in range(self.ledger.next_batch_number()):
            posted = to_hex(self.ledger.batch_status(number).batch_hash or b"")
            if node.get(number) != posted:
                self.tally.losses.append(f"ledger batch {number} {posted} is not the node's "
                                         f"{node.get(number)}")

    def drain(self, client: Client) -> None:
        """Everything credited, proven, sealed and posted; then the final checks."""
        expected = self.tally.deposited - self.tally.withdrawn

        def settled() -> bool:
            eth = int(client.account(self.alice)["balances"].get(to_hex(self.eth), "0"))
            proven = all(client.trace(h)["proof_status"] == "proven"
                         for h in self.tally.inferences)
            return eth == expected and proven

        _wait(settled, 180, "deposits credited and proofs made")
        client.seal_batch()
        status = client.status()
        _wait(lambda: self.ledger.next_batch_number() == int(status["batches"]), 120,
              "every batch posted")
        self.check(client)
        from flavum.da.factory import open_store
        from flavum.verifier import LedgerHeaders, Verifier

        with Verifier(LedgerHeaders(self.ledger), open_store(str(self.home / "da")),
                      self.config.domain, genesis_root=self.config.genesis_state.root) as v:
            reports = list(v.run(0))
        bad = [r.describe() for r in reports if not r.ok]
        self.tally.losses += [f"verifier: {line}" for line in bad]
        last = self.ledger.batch_header(self.ledger.next_batch_number() - 1)
        root = to_hex(last.state_root) if last is not None else None
        if root != client.status()["state_root"]:
            self.tally.losses.append(f"the ledger's last state root {root} is not the node's")


def run(kills: int, seed: int = 1, ops_between: tuple[int, int] = (3, 12)) -> Tally:
    """The whole harness; its tally (tally.losses must be empty)."""
    workdir = Path(tempfile.mkdtemp(prefix="flavum-crash-"))
    harness = Harness(workdir, seed)
    try:
        client = harness.start()
        harness.deploy_model()
        for kill in range(kills):
            # Odd rounds: the node kills itself at a named stage (armed on this start; the
            # kill that re-arms it is a random one too). Even rounds: killed from outside.
            stage = STAGES[(kill // 2) % len(STAGES)] if kill % 2 else None
            if stage is not None:
                harness.kill()
                harness.tally.kills["random"] += 1
                client = harness.start(stage)
                # What reaches the stage: an inference to prove, else a transaction.
                harness.step(client, "infer" if stage == "proven" else "transfer")
            for _ in range(harness.rng.randint(*ops_between)):
                if not harness.alive() or not harness.step(client):
                    break
            if stage is None:
                time.sleep(harness.rng.uniform(0, 1.5))
            else:
                harness.wait_death(60)
            died_there = stage is not None and not harness.alive()
            harness.kill()
            harness.tally.kills[stage if died_there else "random"] += 1
            client = harness.start()
            harness.check(client)
        harness.drain(client)
        return harness.tally
    finally:
        harness.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _has_tx(client: Client, tx_hash: str) -> bool:
    try:
        client._call("GET", f"/v1/transactions/{tx_hash}")
        return True
    except FlavumError as exc:
        if exc.code == "not_found":
            return False
        raise


def _answers(client: Client) -> bool:
    try:
        client.status()
        return True
    except NodeUnreachable:
        return False


def _wait(done: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    tally = run(args.kills, args.seed)
    print(f"kills: {sum(tally.kills.values())} ({dict(tally.kills)})")
    print(f"receipts: {tally.receipts}; in flight at a kill: kept {tally.in_flight_kept}, "
          f"lost before acceptance {tally.in_flight_lost}")
    print(f"deposits: {tally.deposits} ({tally.deposited} wei), withdrawn {tally.withdrawn} "
          f"wei, inferences: {len(tally.inferences)}")
    print(f"losses: {len(tally.losses)}" + "".join(f"\n  {loss}" for loss in tally.losses))
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.losses else 0


if __name__ == "__main__":
    sys.exit(main())
