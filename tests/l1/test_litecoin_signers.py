"""The Litecoin federation of independent signers on a real regtest litecoind.

A node that holds no federation key anchors its batches; three signers (2 of 3), each with its
own key, journal and verifier, read the anchors from litecoind and the batch data from the
data store, and take co-sign requests signed by the sequencer's anchor key only. An honest
withdrawal is paid with one signer down; the same leaf asked again is refused; a lying
sequencer that anchors a forged batch (a withdrawal root paying it coins nobody deposited),
with one federation member on its side, gets no payout: both honest signers refuse it, saying
which check of which batch failed, and nothing reaches the chain. A payout short of
signatures is resumed, and one made unminable is replaced, without a second payout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from flavum.core.batch import BatchHeader, Withdrawal, compute_withdrawal_leaf
from flavum.core.codec import to_hex
from flavum.core.merkle import compute_tree_proof, compute_tree_root
from flavum.core.transactions import Deposit, Transaction, Withdraw
from flavum.core.types import (
    NO_OBJECT,
    ZERO_ADDRESS,
    ZERO_HASH,
    Address,
    Amount,
    Hash32,
    Nonce,
    ObjectId,
)
from flavum.core.witness_build import compute_batch_witness
from flavum.da.batch_data import BatchData
from flavum.da.interface import digest_from_cid
from flavum.l1.errors import LedgerError, LedgerUnreachable, PayoutRefused, PayoutUnsigned
from flavum.l1.litecoin import LitecoinLedger
from flavum.l1.litecoin_chain import encode_payout_tag
from flavum.l1.litecoin_federation import CosignRequest, request_cosign
from flavum.l1.litecoin_script import compute_public_key
from flavum.node.config import LedgerSpec, NodeConfig
from flavum.node.node import Node
from flavum.signer import FederationSigner, SignerConfig, create_signer_key
from flavum.signer_http import SignerServer
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, free_port, make_config
from tests.node.test_inference import send

from .helpers import h
from .litecoin_node import (
    ANCHOR_KEY,
    FEDERATION_KEYS,
    LITECOIND,
    RPC_PASSWORD,
    RPC_USER,
    THRESHOLD,
    LitecoinNode,
)

LTC = 10**8
PUBLIC_KEYS = [compute_public_key(k).hex() for k in FEDERATION_KEYS]

pytestmark = pytest.mark.skipif(LITECOIND is None,
                                reason="litecoind is not installed (apt-get install litecoind)")


@pytest.fixture
def litecoind(tmp_path) -> Iterator[LitecoinNode]:
    node = LitecoinNode(tmp_path / "litecoin")
    node.start_bootstrapped()
    try:
        yield node
    finally:
        node.stop()


def signer_config(litecoind: LitecoinNode, config: NodeConfig, start: int,
                  port: int) -> SignerConfig:
    """What a federation member is told: its node, the federation, the data, the rollup."""
    return SignerConfig(
        litecoin_url=litecoind.url, rpc_user=RPC_USER, rpc_password=RPC_PASSWORD,
        federation_public_keys=tuple(PUBLIC_KEYS), threshold=THRESHOLD,
        anchor_public_key=compute_public_key(ANCHOR_KEY).hex(),
        data_store=str(config.home / "da"), chain_id=config.domain.chain_id,
        rollup_id=to_hex(config.domain.rollup_id), genesis_root=to_hex(config.genesis_state.root),
        start_height=start, confirmations=2, port=port)


def start_signer(home: Path, config: SignerConfig, key: bytes) -> SignerServer:
    config.write(home)
    create_signer_key(home, key)
    return SignerServer(FederationSigner.open(home), "127.0.0.1", config.port).start()


class SignerProcess:
    """`flavum signer run` in a subprocess, as a federation member runs it."""

    def __init__(self, home: Path, config: SignerConfig, key: bytes) -> None:
        config.write(home)
        create_signer_key(home, key)
        self.url = f"http://127.0.0.1:{config.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "flavum", "signer", "run", "--home",
                                      str(home)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.url + "/v1/signer", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the signer did not start") from None
                time.sleep(0.1)

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err.decode()


class StripSignatures(BaseHTTPRequestHandler):
    """A rogue "signer": answers a co-sign request with the transaction stripped of every
    signature (same txid: the witnesses are not part of it)."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"tx": strip_witnesses(bytes.fromhex(request["tx"])).hex()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def strip_witnesses(tx: bytes) -> bytes:
    """A segwit transaction (BIP 144) without its marker, flag and witnesses."""
    def varint(at: int) -> tuple[int, int]:
        first = tx[at]
        if first < 0xFD:
            return first, at + 1
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        return int.from_bytes(tx[at + 1:at + 1 + size], "little"), at + 1 + size

    if tx[4:6] != b"\x00\x01":
        return tx
    count, at = varint(6)
    for _ in range(count):
        length, at = varint(at + 36)  # outpoint, then the script
        at += length + 4  # script, sequence
    count, at = varint(at)
    for _ in range(count):
        length, at = varint(at + 8)  # value, then the script
        at += length
    return tx[:4] + tx[6:at] + tx[-4:]


def refusal(url: str, request: CosignRequest) -> str | None:
    """The reason the signer at `url` gives for refusing `request` (None: it signed)."""
    try:
        request_cosign(url, request.signed(ANCHOR_KEY), timeout_s=60)
    except PayoutRefused as exc:
        return exc.reason
    return None


def forge_batch(node: Node, withdrawal: Withdrawal) -> BatchHeader:
    """What a lying sequencer publishes and anchors: the next batch, with no transaction but a
    withdrawal root that pays `withdrawal`; its data is consistent with its header (so the
    forgery is found by re-execution, not by a missing or mismatched blob)."""
    sequencer = node.sequencer
    last = sequencer.store.batches()[-1].header
    state = sequencer.sealed_state
    assert state is not None
    blob = BatchData(
        number=last.number + 1, prev_state_root=last.state_root, state_root=last.state_root,
        tx_root=compute_tree_root([]), trace_root=compute_tree_root([]),
        withdrawal_root=compute_tree_root([compute_withdrawal_leaf(withdrawal)]),
        chain_id=node.config.domain.chain_id, rollup_id=node.config.domain.rollup_id,
        txs=(), executions=(), witness=compute_batch_witness(state, [], []), proofs=(),
        circuits={}, records={})
    pointer = digest_from_cid(sequencer.publisher.data_store.put(blob.to_bytes()))
    return BatchHeader(blob.number, blob.prev_state_root, blob.state_root, blob.tx_root,
                       blob.trace_root, blob.withdrawal_root, pointer)


def federation(tmp_path: Path, litecoind: LitecoinNode, order: list[int | str],
               ) -> tuple[NodeConfig, list[str], list[SignerConfig]]:
    """A node home whose Litecoin ledger names signers `order` (a member's number, or any
    URL) and holds no federation key, and each member's signer configuration (on ports
    chosen now)."""
    start = litecoind.call("getblockcount")
    ports = [free_port() for _ in FEDERATION_KEYS]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    spec = LedgerSpec(
        name="litecoin", kind="litecoin", url=litecoind.url, confirmations=2,
        options={"rpc_user": RPC_USER, "rpc_password": RPC_PASSWORD, "threshold": THRESHOLD,
                 "federation_public_keys": PUBLIC_KEYS, "anchor_key": ANCHOR_KEY.hex(),
                 "signers": [o if isinstance(o, str) else urls[o] for o in order],
                 "start_height": start})
    config = make_config(tmp_path / "home", prover="inline", ledgers=(spec,))
    return config, urls, [signer_config(litecoind, config, start, port) for port in ports]


def withdraw(node: Node, ledger: LitecoinLedger, payee: Address, amount: int) -> Withdrawal:
    receipt = send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, payee, ledger.asset,
                                                Amount(amount), NO_OBJECT))
    return receipt.outcome.withdrawal


def leaf_proof(node: Node, withdrawal: Withdrawal) -> tuple[BatchHeader, int, tuple[Hash32, ...]]:
    """The header of the last batch, and the index and Merkle proof of `withdrawal` in it."""
    batch = node.store.batches()[-1]
    leaves = [compute_withdrawal_leaf(w)
              for w in node.store.withdrawals_in(*node.store.batch_seq_span(batch))]
    index = leaves.index(compute_withdrawal_leaf(withdrawal))
    return batch.header, index, tuple(compute_tree_proof(leaves, index))


def test_signers_pay_an_honest_withdrawal_and_refuse_a_forged_batch(tmp_path, litecoind):
    # The node holds no federation key. Signer 2 is down: the node asks it first, in vain.
    # A rogue server it is also told to ask answers with the signatures stripped.
    rogue = ThreadingHTTPServer(("127.0.0.1", 0), StripSignatures)
    threading.Thread(target=rogue.serve_forever, daemon=True).start()
    rogue_url = f"http://127.0.0.1:{rogue.server_address[1]}"
    config, urls, configs = federation(tmp_path, litecoind, [2, 0, rogue_url, 1])
    start = configs[0].start_height
    # Signer 0 is `flavum signer run` in its own process, signer 1 a server in this one.
    member = SignerProcess(tmp_path / "signer-0", configs[0], FEDERATION_KEYS[0])
    server = start_signer(tmp_path / "signer-1", configs[1], FEDERATION_KEYS[1])
    node = Node.open(config, pool=InlineProverPool())
    try:
        link = node.ledger("litecoin")
        ledger = link.ledger
        assert ledger.signing_keys == ()
        litecoind.send(ledger.anchor_address, LTC)
        bob_address = litecoind.new_wallet("bob", 5 * LTC)
        ledger.deposit_from_wallet("bob", BOB, 3 * LTC)
        litecoind.mine(3)
        link.tick()
        asset = ledger.asset
        assert node.sequencer.account(BOB)[1][asset] == 3 * LTC

        # An honest withdrawal: anchored, two blocks deep, co-signed by signers 0 and 1.
        payee = ledger.compute_recipient(bob_address)
        receipt = send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, payee, asset,
                                                    Amount(LTC), NO_OBJECT))
        honest = receipt.outcome.withdrawal
        node.sequencer.seal_batch()
        link.tick()  # anchored (in the mempool): not final yet
        batch = node.sequencer.store.batches()[-1]
        withdrawals = node.store.withdrawals_in(*node.store.batch_seq_span(batch))
        leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
        index = leaves.index(compute_withdrawal_leaf(honest))
        proof = tuple(compute_tree_proof(leaves, index))
        payment = (ledger.payout_address(payee), LTC)
        first = ledger.wallet.build(ledger.custody, payment, encode_payout_tag(honest),
                                    LedgerError, "early")
        early = CosignRequest(batch.header.number, index, proof, honest, first.raw)
        assert refusal(server.url, early) == "batch not final"
        # Only the sequencer asks: a request not signed by its anchor key commits no signer.
        for unsigned in (early, early.signed(FEDERATION_KEYS[1])):
            with pytest.raises(PayoutRefused) as refused:
                request_cosign(server.url, unsigned, timeout_s=60)
            assert refused.value.reason == "not from the sequencer"
        litecoind.mine(2)
        # A payout of the right leaf whose change goes to the thief, not back to custody.
        thief = litecoind.new_wallet("thief")
        tx = litecoind.call("decoderawtransaction", first.raw)
        outputs = [{ledger.payout_address(payee): str(tx["vout"][0]["value"])},
                   {"data": encode_payout_tag(honest).hex()},
                   {thief: str(tx["vout"][2]["value"])}]
        inputs = [{"txid": i["txid"], "vout": i["vout"]} for i in tx["vin"]]
        stolen = litecoind.call("createrawtransaction", inputs, outputs)
        assert refusal(server.url, replace(early, tx=stolen)) == "bad payout transaction"
        assert refusal(server.url, replace(early, index=index + 1)) == (
            "not in the verified withdrawal root")
        malformed = requests.post(server.url + "/v1/cosign", json={"batch": -1}, timeout=10)
        assert malformed.status_code == 422
        assert malformed.json()["reason"] == "malformed request"
        link.tick()
        assert link.last_error is None, link.last_error
        payout = ledger.payout(honest)
        assert payout is not None
        litecoind.mine(1)
        assert ledger.is_withdrawal_finalized(honest)
        assert ledger.custody_balance() == 2 * LTC
        got = litecoind.call("gettransaction", payout.txid, wallet="bob")["amount"]
        assert LTC - 10_000 < got * LTC < LTC
        assert requests.get(urls[0] + "/v1/signer", timeout=5).json()["cosigned"] == 1
        assert server.signer.info()["cosigned"] == 1

        # The same leaf again, in another transaction: signer 1 co-signed it once, never twice.
        again = ledger.wallet.build(ledger.custody, payment, encode_payout_tag(honest),
                                    LedgerError, "replay")
        assert refusal(server.url, replace(early, tx=again.raw)) == "already co-signed"

        # The lying sequencer anchors a forged batch paying itself 2 LTC nobody deposited,
        # and holds federation key 2. Signers 0 and 1 verify the batch and refuse.
        forged_withdrawal = Withdrawal(h("forged"), ledger.ledger_id,
                                       ledger.compute_recipient(thief), asset, Amount(2 * LTC),
                                       ObjectId(ZERO_HASH), 0, ZERO_HASH, ObjectId(ZERO_HASH))
        forged = forge_batch(node, forged_withdrawal)
        ledger.post_batch(forged)
        litecoind.mine(2)
        liar = LitecoinLedger(litecoind.url, RPC_USER, RPC_PASSWORD, threshold=THRESHOLD,
                              federation_public_keys=PUBLIC_KEYS,
                              federation_keys=[FEDERATION_KEYS[2]], signers=urls[:2],
                              anchor_key=ANCHOR_KEY, start_height=start,
                              watch_wallet="liar")
        with pytest.raises(PayoutUnsigned) as unsigned:
            liar.pay_withdrawal(forged, forged_withdrawal, 0, [], confirmations=2)
        refusals = unsigned.value.refusals
        assert [(url, reason) for url, reason, _ in refusals] == [
            (urls[0], "batch fails verification"), (urls[1], "batch fails verification")]
        for _, _, message in refusals:
            assert f"batch {forged.number} fails verification (withdrawal_root)" in message
        assert liar.payout(forged_withdrawal) is None
        assert litecoind.call("getrawmempool") == []
        litecoind.mine(1)
        assert ledger.custody_balance() == 2 * LTC
        assert litecoind.call("getbalance", wallet="thief") == 0
    finally:
        node.close()
        server.stop()
        server.signer.close()
        rogue.shutdown()
        rogue.server_close()
        log = member.stop()
    assert "refused to co-sign" in log


def test_signers_refuse_a_batch_crediting_a_deposit_nobody_made(tmp_path, litecoind):
    """The state transition takes a Deposit on the sequencer's word (on the EVM the rollup
    contract checks it against the bridge's inbox): a lying sequencer credits itself 2 LTC for
    a deposit that never happened, withdraws them, and anchors the batch. Re-execution finds
    nothing wrong; the signers find no such deposit to custody on their own nodes."""
    config, urls, configs = federation(tmp_path, litecoind, [0, 1])
    servers = [start_signer(tmp_path / f"signer-{i}", configs[i], FEDERATION_KEYS[i])
               for i in (0, 1)]
    node = Node.open(config, pool=InlineProverPool())
    try:
        link = node.ledger("litecoin")
        ledger = link.ledger
        litecoind.send(ledger.anchor_address, LTC)
        litecoind.new_wallet("bob", 5 * LTC)
        ledger.deposit_from_wallet("bob", BOB, 3 * LTC)  # a real deposit: custody holds 3 LTC
        litecoind.mine(3)
        link.tick()
        node.sequencer.seal_batch()
        link.tick()

        domain = config.domain
        fake = Deposit(ledger.ledger_id, h("nobody paid this"), ALICE, ZERO_ADDRESS,
                       Amount(2 * LTC), ZERO_HASH, ZERO_HASH)
        node.sequencer.submit_system(Transaction(domain.chain_id, domain.rollup_id,
                                                 ZERO_ADDRESS, Nonce(0), fake))
        thief = ledger.compute_recipient(litecoind.new_wallet("thief"))
        receipt = send(node, ALICE_KEY, ALICE, Withdraw(ledger.ledger_id, thief, ledger.asset,
                                                        Amount(2 * LTC), NO_OBJECT))
        forged = node.sequencer.seal_batch()
        link.tick()
        litecoind.mine(2)
        link.tick()  # the node itself asks: both signers refuse
        assert link.last_error is not None
        assert f"batch {forged.header.number} fails verification (deposits)" in link.last_error

        # The lying sequencer, with federation key 2 on its side, asks too.
        liar = LitecoinLedger(litecoind.url, RPC_USER, RPC_PASSWORD, threshold=THRESHOLD,
                              federation_public_keys=PUBLIC_KEYS,
                              federation_keys=[FEDERATION_KEYS[2]], signers=urls[:2],
                              anchor_key=ANCHOR_KEY, start_height=configs[0].start_height,
                              watch_wallet="liar")
        header, index, proof = leaf_proof(node, receipt.outcome.withdrawal)
        with pytest.raises(PayoutUnsigned) as unsigned:
            liar.pay_withdrawal(header, receipt.outcome.withdrawal, index, list(proof),
                                confirmations=2)
        for _, reason, message in unsigned.value.refusals:
            assert reason == "batch fails verification"
            assert (f"deposit {to_hex(fake.event_id)}, which ledger litecoin does not hold"
                    in message)
        assert len(unsigned.value.refusals) == 2
        assert litecoind.call("getrawmempool") == []
        assert ledger.custody_balance() == 3 * LTC

        # A signer whose own node does not answer while it reads the deposits has no verdict:
        # it answers 503 (ask again later), not a refusal.
        def unreachable() -> None:
            raise LedgerUnreachable("litecoind did not answer")

        servers[0].signer.deposits.held = unreachable  # type: ignore[method-assign]
        withdrawal = receipt.outcome.withdrawal
        payout = ledger.wallet.build(ledger.custody, (ledger.payout_address(thief), 2 * LTC),
                                     encode_payout_tag(withdrawal), LedgerError, "payout")
        request = CosignRequest(header.number, index, proof, withdrawal, payout.raw)
        with pytest.raises(LedgerUnreachable, match="answered HTTP 503"):
            request_cosign(servers[0].url, request.signed(ANCHOR_KEY), timeout_s=60)
    finally:
        node.close()
        for server in servers:
            server.stop()
            server.signer.close()


def test_a_payout_short_of_signatures_is_resumed_and_a_dead_one_replaced(tmp_path, litecoind):
    """Liveness with one co-signed transaction per leaf: a payout signer 0 co-signed while
    signer 1 was down is proposed again, the same transaction, once signer 1 is up; a payout
    whose coins another payout spent is replaced, signer 0 co-signing the new one once the
    conflicting spend is `confirmations` deep."""
    config, urls, configs = federation(tmp_path, litecoind, [0, 1])
    zero = start_signer(tmp_path / "signer-0", configs[0], FEDERATION_KEYS[0])
    one: SignerServer | None = None
    node = Node.open(config, pool=InlineProverPool())
    try:
        link = node.ledger("litecoin")
        ledger = link.ledger
        litecoind.send(ledger.anchor_address, LTC)
        payee = ledger.compute_recipient(litecoind.new_wallet("bob", 20 * LTC))
        ledger.deposit_from_wallet("bob", BOB, 3 * LTC)
        litecoind.mine(3)
        link.tick()
        first = withdraw(node, ledger, payee, LTC)
        node.sequencer.seal_batch()
        link.tick()
        litecoind.mine(2)
        link.tick()  # signer 0 co-signs, signer 1 is down
        assert link.last_error is not None and "fewer than 2" in link.last_error
        [(proposed,)] = zero.signer.journal.execute("SELECT txid FROM cosigned").fetchall()
        ledger.deposit_from_wallet("bob", BOB, 5 * LTC)  # a bigger coin: a new build differs
        litecoind.mine(3)
        one = start_signer(tmp_path / "signer-1", configs[1], FEDERATION_KEYS[1])
        link.tick()
        assert link.last_error is None, link.last_error
        assert ledger.payout(first).txid == proposed  # the same transaction, completed
        litecoind.mine(1)

        # Signer 0 co-signs a payout of `second` that is never sent; the node then pays
        # `third` from the same coin, which makes that payout of `second` unminable.
        second = withdraw(node, ledger, payee, LTC // 2)
        third = withdraw(node, ledger, payee, LTC // 4)
        node.sequencer.seal_batch()
        link.tick()
        litecoind.mine(2)
        header, index, proof = leaf_proof(node, second)
        orphan = ledger.wallet.build(ledger.custody, (ledger.payout_address(payee), LTC // 2),
                                     encode_payout_tag(second), LedgerError, "orphan")
        request_cosign(zero.url, CosignRequest(header.number, index, proof, second, orphan.raw)
                       .signed(ANCHOR_KEY), timeout_s=60)
        _, index, proof = leaf_proof(node, third)
        ledger.pay_withdrawal(header, third, index, proof, confirmations=2)
        litecoind.mine(1)
        link.tick()  # signer 0 sees its payout of `second` dead, but only just: it refuses
        assert link.last_error is not None and "co-signed a payout of leaf" in link.last_error
        litecoind.mine(2)
        link.tick()
        assert link.last_error is None, link.last_error
        litecoind.mine(1)
        paid = [ledger.payout(w) for w in (first, second, third)]
        assert all(p is not None and p.confirmations >= 1 for p in paid)
        assert ledger.custody_balance() == 8 * LTC - LTC - LTC // 2 - LTC // 4
    finally:
        node.close()
        for server in (zero, one):
            if server is not None:
                server.stop()
                server.signer.close()
