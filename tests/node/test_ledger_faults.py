"""Ledger faults seen from outside, over HTTP against a node process posting to two anvils:
one anvil stops and comes back with its state (the node shows it unreachable, keeps sealing,
the other ledger goes on, the backlog is posted on its return), then comes back without its
state (a chain that forgot the rollup: shown as chain_reset, nothing re-deployed, nothing
posted). No request gets a 500 on the way."""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from flavum.l1.evm_deployment import read_deployment
from flavum.node.config import LedgerSpec, load_config, native_asset
from tests.l1.conftest import ANVIL, Anvil

from .conftest import ALICE, BOB, NodeProcess, make_config
from .test_cli_and_restart import flavum
from .test_cli_anvil import SEQUENCER_KEY, cli_deploy, wait_for

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="npm ci installs anvil: run make")


def get(url: str) -> tuple[int, Any]:
    """GET over HTTP: the status code and the JSON body, whatever the code."""
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Watch:
    """The node's ledgers and batches as a user reads them: every answer must be a 200."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def read(self, path: str) -> Any:
        code, body = get(self.api_url + path)
        assert code == 200, (path, code, body)
        return body

    def ledger(self, name: str) -> dict[str, Any]:
        return next(link for link in self.read("/v1/ledgers") if link["name"] == name)

    def post(self, number: int, name: str) -> dict[str, Any]:
        """Batch `number` on ledger `name` (a node that leaves it out: state None)."""
        return next((p for p in self.read(f"/v1/batches/{number}")["ledgers"]
                     if p["name"] == name), {"state": None})


def seal_one(home) -> int:
    """One transfer, sealed in a batch of its own: the batch's number."""
    sent = flavum("transfer", "bob", "1dev", "--from", "alice", "--json", home=home)
    assert sent.returncode == 0, sent.stderr
    sealed = flavum("batch", "seal", "--json", home=home)
    assert sealed.returncode == 0, sealed.stderr
    return int(json.loads(sealed.stdout)["batch"]["number"])


def test_a_ledger_that_stops_then_forgets_is_shown_and_survived(tmp_path):
    state = tmp_path / "anvil-state.json"
    flaky = Anvil(state=state)
    steady = Anvil()
    restarted: list[Anvil] = []
    try:
        specs = tuple(LedgerSpec(name=name, kind="evm", url=anvil.url,
                                 deployment=f"{name}-deployment.json", confirmations=0,
                                 challenge_window=0)
                      for name, anvil in (("flaky", flaky), ("steady", steady)))
        home = make_config(tmp_path / "home", ledgers=specs, batch_interval_s=3600.0).home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        for anvil in (flaky, steady):
            for address in (ALICE, BOB):
                anvil.rpc("anvil_setBalance", ["0x" + address.hex(), hex(10**21)])
            deployed = cli_deploy(home, "--ledger", "flaky" if anvil is flaky else "steady")
            assert deployed.returncode == 0, deployed.stderr
        rollup = read_deployment(home / "flaky-deployment.json").rollup
        config = load_config(home)
        node = NodeProcess(config)
        node.start()
        watch = Watch(config.api_url)
        try:
            first = seal_one(home)
            for name in ("flaky", "steady"):
                wait_for(lambda n=name: watch.post(first, n)["state"] == "accepted",
                         f"batch {first} on {name}")

            # The flaky ledger stops: shown unreachable, the node seals on, the other posts.
            flaky.stop()
            wait_for(lambda: watch.ledger("flaky")["state"] == "unreachable", "unreachable")
            shown = watch.ledger("flaky")
            assert "unreachable" in shown["last_error"] and "retrying" in shown["last_error"]
            assert watch.ledger("steady") | {"last_error": None} == watch.ledger("steady")
            assert watch.ledger("steady")["state"] == "posting"
            second = seal_one(home)
            wait_for(lambda: watch.post(second, "steady")["state"] == "accepted",
                     f"batch {second} on the steady ledger")
            backlog = watch.post(second, "flaky")
            assert backlog["state"] == "pending" and backlog["ledger_state"] == "unreachable"
            assert watch.post(first, "flaky")["ledger_state"] == "unreachable"
            shown_cli = flavum("batch", "show", str(first), home=home)
            assert shown_cli.returncode == 0 and "LEDGER UNREACHABLE" in shown_cli.stdout

            # It comes back with its state, where it was: the backlog is posted.
            restarted.append(Anvil(port=flaky.port, state=state))
            wait_for(lambda: watch.post(second, "flaky")["state"] == "accepted",
                     f"the backlog (batch {second}) on the returned ledger", timeout=60)
            assert watch.ledger("flaky")["state"] == "posting"
            assert watch.ledger("flaky")["last_error"] is None

            # It comes back without its state: a chain that forgot the rollup.
            restarted.pop().stop()
            restarted.append(Anvil(port=flaky.port))
            wait_for(lambda: watch.ledger("flaky")["state"] == "chain_reset", "chain_reset",
                     timeout=60)
            reason = watch.ledger("flaky")["last_error"]
            assert f"deployment at {rollup} has no code" in reason, reason
            assert "re-deploys nothing" in reason
            third = seal_one(home)
            wait_for(lambda: watch.post(third, "steady")["state"] == "accepted",
                     f"batch {third} on the steady ledger")
            assert watch.post(third, "flaky")["state"] == "pending"
            assert watch.post(first, "flaky")["ledger_state"] == "chain_reset"
            status = flavum("status", home=home)
            assert status.returncode == 0 and "CHAIN_RESET" in status.stdout, status.stdout
            # Nothing deployed, nothing posted: the sequencer never sent a transaction there.
            fresh = restarted[0]
            assert fresh.w3.eth.get_code(fresh.w3.to_checksum_address(rollup)) == b""
            sequencer = fresh.w3.eth.account.from_key(SEQUENCER_KEY).address
            assert fresh.w3.eth.get_transaction_count(sequencer) == 0
            assert watch.ledger("flaky")["state"] == "chain_reset"
        finally:
            node.stop()
        errors = node.proc.stderr.read().decode() if node.proc.stderr else ""
        assert "Traceback" not in errors, errors[-3000:]
    finally:
        for anvil in (*restarted, steady):
            anvil.stop()
        if flaky.proc.poll() is None:
            flaky.stop()


def test_a_reorg_that_takes_a_credited_deposit_away_is_shown(tmp_path):
    anvil = Anvil()
    try:
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url, deployment="evm-deployment.json",
                          confirmations=1, challenge_window=0)
        home = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0).home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        anvil.rpc("anvil_setBalance", ["0x" + BOB.hex(), hex(10**21)])
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        config = load_config(home)
        node = NodeProcess(config)
        node.start()
        watch = Watch(config.api_url)
        try:
            before_deposit = anvil.rpc("evm_snapshot", [])
            out = flavum("deposit", "eth", "2eth", "--from", "bob", "--json", home=home)
            assert out.returncode == 0, out.stderr
            anvil.rpc("evm_mine", [])  # its one confirmation: credited
            eth = "0x" + native_asset().hex()
            wait_for(lambda: int(watch.read(f"/v1/accounts/0x{BOB.hex()}")["balances"]
                                 .get(eth, 0)) == 2 * 10**18, "the deposit credited")

            # A reorg two blocks deep (the confirmations are one) without the deposit.
            anvil.rpc("evm_revert", [before_deposit])
            for _ in range(3):
                anvil.rpc("evm_mine", [])
            wait_for(lambda: watch.ledger("evm")["state"] == "deposit_reorged", "the fault")
            reason = watch.ledger("evm")["last_error"]
            assert "dropped deposit" in reason and "cannot be taken back" in reason, reason
            status = flavum("status", home=home)
            assert status.returncode == 0 and "DEPOSIT_REORGED" in status.stdout, status.stdout
            assert watch.read("/v1/status")["ledgers"][0]["state"] == "deposit_reorged"
        finally:
            node.stop()
        errors = node.proc.stderr.read().decode() if node.proc.stderr else ""
        assert "Traceback" not in errors, errors[-3000:]
    finally:
        anvil.stop()


def test_a_chain_that_forgets_a_confirmed_batch_is_refused_a_shallow_one_reposted(tmp_path):
    """anvil restored from an older state file: a batch it lost that was not yet deeper than
    the confirmations is posted again; one that was is a forgotten batch: chain_reset."""
    chain = [Anvil(state=tmp_path / "anvil-state.json")]

    def restore(saved: bytes, name: str) -> None:
        """Stop anvil and start it again, on its port, from the state `saved`."""
        chain[-1].stop()
        (tmp_path / name).write_bytes(saved)
        chain.append(Anvil(port=chain[0].port, state=tmp_path / name))

    def mine(blocks: int) -> None:
        for _ in range(blocks):
            chain[-1].rpc("evm_mine", [])

    try:
        spec = LedgerSpec(name="evm", kind="evm", url=chain[0].url,
                          deployment="evm-deployment.json", confirmations=2, challenge_window=0)
        home = make_config(tmp_path / "home", ledgers=(spec,), batch_interval_s=3600.0).home
        (home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
        deployed = cli_deploy(home)
        assert deployed.returncode == 0, deployed.stderr
        config = load_config(home)
        node = NodeProcess(config)
        node.start()
        watch = Watch(config.api_url)
        try:
            first = seal_one(home)
            wait_for(lambda: watch.post(first, "evm")["state"] == "accepted", "batch 0")
            mine(3)  # batch 0 three blocks deep: beyond the two confirmations
            wait_for(lambda: watch.ledger("evm")["confirmed_batch"] == first, "batch 0 final")
            chain[-1].stop()  # it saves its state: the chain with batch 0 only
            older = (tmp_path / "anvil-state.json").read_bytes()
            restore(older, "running.json")

            second = seal_one(home)
            wait_for(lambda: watch.post(second, "evm")["state"] == "accepted", "batch 1")
            posted_at = watch.post(second, "evm")["updated_at"]
            assert watch.ledger("evm")["confirmed_batch"] == first  # one block deep only
            # The chain loses batch 1 while it is one block deep: it is simply posted again.
            restore(older, "copy-1.json")
            wait_for(lambda: watch.post(second, "evm")["updated_at"] != posted_at,
                     "batch 1 posted again", timeout=60)
            assert watch.post(second, "evm")["state"] == "accepted"
            assert watch.ledger("evm")["state"] == "posting"
            mine(3)
            wait_for(lambda: watch.ledger("evm")["confirmed_batch"] == second, "batch 1 final")

            # Restored to the older state again: batch 1, final, is forgotten.
            restore(older, "copy-2.json")
            wait_for(lambda: watch.ledger("evm")["state"] == "chain_reset", "chain_reset",
                     timeout=60)
            reason = watch.ledger("evm")["last_error"]
            assert "forgot accepted batch 1" in reason, reason
            assert watch.post(second, "evm")["ledger_state"] == "chain_reset"
            third = seal_one(home)
            assert watch.post(third, "evm")["state"] == "pending"
            sequencer = chain[-1].w3.eth.account.from_key(SEQUENCER_KEY).address
            sent = chain[-1].w3.eth.get_transaction_count(sequencer)
            mine(2)
            assert watch.ledger("evm")["state"] == "chain_reset"
            assert chain[-1].w3.eth.get_transaction_count(sequencer) == sent  # nothing posted
        finally:
            node.stop()
        errors = node.proc.stderr.read().decode() if node.proc.stderr else ""
        assert "Traceback" not in errors, errors[-3000:]
    finally:
        for anvil in chain:
            if anvil.proc.poll() is None:
                anvil.stop()
