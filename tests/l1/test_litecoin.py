"""The Litecoin ledger on a real regtest litecoind: anchors, deposits through the ledger
watcher (confirmations, invalidateblock reorgs), federation payouts paid once (restarts,
crashes), an underfunded custody, malformed deposit tags (parked, never credited)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import Withdrawal, compute_batch_hash, compute_withdrawal_leaf
from flavum.core.errors import ConfigError
from flavum.core.genesis import Genesis
from flavum.core.merkle import compute_tree_proof
from flavum.core.state import Domain, get_balance
from flavum.core.stf import process_transaction
from flavum.core.transactions import Transaction, Withdraw, encode_transaction, sign_transaction
from flavum.core.types import (
    NO_OBJECT,
    ZERO_ADDRESS,
    ZERO_HASH,
    Address,
    Amount,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
)
from flavum.l1.errors import (
    AnchorUnderfunded,
    BatchNotFinal,
    CustodyUnderfunded,
    LedgerError,
    LedgerUnreachable,
    LedgerUnsupported,
    PayoutRefused,
    WithdrawalRefused,
)
from flavum.l1.litecoin_chain import ANCHOR_SIZE, DEPOSIT_TAG_SIZE, PAYOUT_SIZE, encode_anchor
from flavum.l1.litecoin_federation import CosignRequest
from flavum.l1.litecoin_script import (
    MAX_OP_RETURN,
    MultisigAccount,
    compute_public_key,
    decode_op_return,
    encode_base58check,
    encode_op_return,
    encode_segwit_v0_address,
    encode_wif,
    parse_private_key,
)
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store
from flavum.node.watcher import LedgerWatcher

from .helpers import h, make_batch
from .litecoin_node import ANCHOR_KEY, FEDERATION_KEYS, LITECOIND, LitecoinNode, make_ledger

DOMAIN = Domain(ChainId(31337), Hash32(b"\x11" * 32))
LTC = 10**8
BOB = Address(b"\x0b" * 20)
LTC_ASSET = compute_asset_id(compute_ledger_id("litecoin"))

needs_litecoind = pytest.mark.skipif(
    LITECOIND is None, reason="litecoind is not installed (apt-get install litecoind)")


class Rollup:
    """The core state as the watcher's target: it refuses a replayed deposit by itself."""

    def __init__(self) -> None:
        self.state = Genesis(DOMAIN).state()
        self.applied: list[bytes] = []

    def submit(self, tx: Transaction) -> object:
        outcome = process_transaction(self.state, tx)
        self.applied.append(tx.body.event_id)
        return outcome


@pytest.fixture
def node(tmp_path) -> Iterator[LitecoinNode]:
    """A fresh regtest litecoind at height 432 (MWEB active), about 1.7 s."""
    litecoin = LitecoinNode(tmp_path / "litecoin")
    litecoin.start_bootstrapped()
    try:
        yield litecoin
    finally:
        litecoin.stop()


@pytest.fixture
def ledger(node):
    ledger = make_ledger(node)
    node.send(ledger.anchor_address, LTC)  # the sequencer pays anchor fees from here
    node.mine(1)
    return ledger


def withdrawal(ledger, recipient: Address, amount: int, label: str = "w") -> Withdrawal:
    return Withdrawal(h(label), ledger.ledger_id, recipient, ledger.asset, Amount(amount),
                      ObjectId(ZERO_HASH), 0, ZERO_HASH, ObjectId(ZERO_HASH))


def received(node, wallet: str, txid: str) -> int:
    """Litoshis a wallet received in a transaction."""
    tx = node.call("gettransaction", txid, wallet=wallet)
    return sum(int(d["amount"] * LTC) for d in tx["details"] if d["category"] == "receive")


# --- without a node ---------------------------------------------------------------------------


def test_encodings_match_known_vectors():
    # BIP173's P2WPKH example; Bitcoin's WIF of key 1 (prefix 0x80).
    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    assert encode_segwit_v0_address("bc", program) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    one = (1).to_bytes(32, "big")
    wif = encode_base58check(b"\x80" + one + b"\x01")
    assert wif == "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn"
    assert parse_private_key(wif) == one
    assert parse_private_key("0x" + one.hex()) == one
    assert parse_private_key(encode_wif(one, "regtest")) == one
    with pytest.raises(LedgerError):
        parse_private_key("not a key")


def test_op_return_formats_fit_80_bytes():
    header = make_batch(7).header
    anchor = encode_anchor(header)
    assert len(anchor) == ANCHOR_SIZE <= MAX_OP_RETURN
    assert anchor[4:12] == (7).to_bytes(8, "big")
    assert anchor[12:44] == header.data_pointer and anchor[44:] == compute_batch_hash(header)
    assert DEPOSIT_TAG_SIZE <= MAX_OP_RETURN and PAYOUT_SIZE <= MAX_OP_RETURN
    for data in (b"", b"x" * 75, b"y" * 76, b"z" * 80):
        assert decode_op_return(encode_op_return(data)) == data
    with pytest.raises(LedgerError):
        encode_op_return(b"a" * 81)
    assert decode_op_return(b"\x6a\x02ab\x01c") is None  # two pushes


def test_multisig_limits_and_capabilities():
    keys = tuple(compute_public_key(bytes([i + 1]) * 32) for i in range(15))
    with pytest.raises(LedgerError):
        MultisigAccount(2, keys)  # 15 keys: a script of Taproot control-block size
    with pytest.raises(LedgerError):
        MultisigAccount(4, keys[:3])
    ledger = make_ledger_offline()
    caps = ledger.capabilities
    assert (caps.verifies_proofs, caps.anchors_only, caps.bridges_assets) == (False, True, True)
    assert not caps.bridges_objects and not caps.forced_inclusion
    assert ledger.asset == LTC_ASSET
    with pytest.raises(LedgerUnsupported):
        ledger.finalize_withdrawal(withdrawal(ledger, BOB, LTC), 0, 0, [], b"\x01" * 32)
    with pytest.raises(LedgerUnsupported):
        ledger.queue_forced_transaction(b"", b"\x01" * 32)
    assert ledger.forced_requests() == []
    with pytest.raises(LedgerError):
        make_ledger_offline(keys=FEDERATION_KEYS[:1])  # one key, threshold two


def test_the_node_holds_no_federation_key_by_default_but_must_reach_a_threshold():
    public = [compute_public_key(k).hex() for k in FEDERATION_KEYS]
    signers = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    ledger = make_ledger_offline(keys=(), federation_public_keys=public, signers=signers)
    assert ledger.signing_keys == () and ledger.custody.public_keys == tuple(
        bytes.fromhex(k) for k in public)
    with pytest.raises(LedgerError, match="needs 2 signatures"):
        make_ledger_offline(keys=(), federation_public_keys=public, signers=signers[:1])
    assert make_ledger_offline(keys=FEDERATION_KEYS[:1], federation_public_keys=public,
                               signers=signers[:1]).signing_keys == FEDERATION_KEYS[:1]
    with pytest.raises(LedgerError, match="not a member"):
        make_ledger_offline(keys=[b"\x77" * 32], federation_public_keys=public, signers=signers)
    with pytest.raises(LedgerError, match="names the federation"):
        make_ledger_offline(keys=(), signers=signers)
    # A signer's or a verifier's handle: no anchor key, no signer, nothing to post or pay.
    from flavum.l1.litecoin import LitecoinLedger

    reader = LitecoinLedger("http://127.0.0.1:9", "u", "p", threshold=2,
                            federation_public_keys=public,
                            anchor_public_key=compute_public_key(ANCHOR_KEY).hex())
    assert reader.anchor_account == ledger.anchor_account
    with pytest.raises(LedgerError, match="anchor key"):
        LitecoinLedger("http://127.0.0.1:9", "u", "p", threshold=2,
                       federation_public_keys=public)


def test_cosign_requests_round_trip_and_malformed_ones_are_refused():
    w = withdrawal(make_ledger_offline(), BOB, LTC)
    request = CosignRequest(3, 1, (h("a"), h("b")), w, "0200").signed(ANCHOR_KEY)
    assert CosignRequest.from_json(request.to_json()) == request
    anchor = compute_public_key(ANCHOR_KEY)
    assert request.is_signed_by(anchor)
    assert not request.is_signed_by(compute_public_key(FEDERATION_KEYS[0]))
    assert not replace(request, index=2).is_signed_by(anchor)  # the signature covers it all
    assert not replace(request, signature="zz").is_signed_by(anchor)
    for broken in ({}, {**request.to_json(), "batch": -1}, {**request.to_json(), "tx": "zz"},
                   {**request.to_json(), "proof": ["0x12"]}, {**request.to_json(), "index": "1"},
                   {**request.to_json(), "withdrawal": {}}, []):
        with pytest.raises(PayoutRefused) as refused:
            CosignRequest.from_json(broken)
        assert refused.value.reason == "malformed request"


def test_signer_key_is_private_and_kept(tmp_path):
    from typer.testing import CliRunner

    from flavum.cli import app
    from flavum.signer import KEY_FILE, read_signer_key

    home = tmp_path / "signer"
    first = CliRunner().invoke(app, ["signer", "key", "--home", str(home), "--json"])
    assert first.exit_code == 0, first.output
    public = json.loads(first.output)["public_key"]
    assert (home / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert public == "0x" + compute_public_key(read_signer_key(home)).hex()
    again = CliRunner().invoke(app, ["signer", "key", "--home", str(home), "--json"])
    assert json.loads(again.output)["public_key"] == public  # never replaced
    (home / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_signer_key(home)
    missing = CliRunner().invoke(app, ["signer", "run", "--home", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no signer configuration" in missing.output


def make_ledger_offline(**options):
    from flavum.l1.litecoin import LitecoinLedger

    keys = options.pop("keys", FEDERATION_KEYS)
    return LitecoinLedger("http://127.0.0.1:9", "u", "p", federation_keys=list(keys),
                          threshold=2, anchor_key=ANCHOR_KEY, **options)


def test_unreachable_node_raises_ledger_unreachable():
    ledger = make_ledger_offline(timeout_s=2.0)
    with pytest.raises(LedgerUnreachable):
        ledger.head()


# --- on regtest -------------------------------------------------------------------------------


@needs_litecoind
def test_scripts_match_litecoin_core(node):
    ledger = make_ledger(node)
    core = node.call("createmultisig", 2, [k.hex() for k in ledger.custody.public_keys],
                     "bech32")
    assert core["redeemScript"] == ledger.custody.witness_script.hex()
    assert core["address"] == ledger.custody_address
    address = node.call("getnewaddress", "", "bech32", wallet="miner")
    assert ledger.payout_address(ledger.compute_recipient(address)) == address
    with pytest.raises(WithdrawalRefused):
        ledger.compute_recipient(ledger.custody_address)  # P2WSH is not a payout address


@needs_litecoind
def test_anchor_is_idempotent_ordered_and_read_back(node, ledger):
    header, txs = make_batch(0)
    txid = ledger.post_batch(header, txs)
    assert ledger.post_batch(header, txs) == txid  # in the mempool: not sent twice
    assert not ledger.batch_status(0).accepted  # accepted = in a block
    assert ledger.next_batch_number() == 0
    node.mine(1)
    status = ledger.batch_status(0)
    assert status.accepted and status.batch_hash == compute_batch_hash(header)
    assert status.tx_hash == txid and ledger.anchor(0).confirmations == 1
    node.mine(2)
    assert ledger.anchor(0).confirmations == 3
    with pytest.raises(LedgerError, match="another batch"):
        ledger.post_batch(*make_batch(0, prev_root=h("other")))
    with pytest.raises(LedgerError, match="before batch"):
        ledger.post_batch(*make_batch(2, prev_root=header.state_root))
    with pytest.raises(LedgerError, match="previous state root"):
        ledger.post_batch(*make_batch(1, prev_root=h("wrong")))
    ledger.post_batch(*make_batch(1, prev_root=header.state_root))
    node.mine(1)
    # A forged anchor (anyone can write an OP_RETURN) is ignored: not spent by the anchor key.
    forged = encode_anchor(make_batch(2, prev_root=h("evil")).header)
    raw = node.call("createrawtransaction", [], [{"data": forged.hex()}])
    funded = node.call("fundrawtransaction", raw, wallet="miner")
    signed = node.call("signrawtransactionwithwallet", funded["hex"], wallet="miner")
    node.call("sendrawtransaction", signed["hex"])
    node.mine(1)
    # A new object (local state lost) reads the same from the chain.
    again = make_ledger(node)
    assert again.next_batch_number() == 2
    assert again.post_batch(header, txs) == txid


@needs_litecoind
def test_anchor_key_without_coins_is_a_clear_error(node):
    ledger = make_ledger(node)
    with pytest.raises(AnchorUnderfunded):
        ledger.post_batch(*make_batch(0))
    assert node.call("getrawmempool") == []


@needs_litecoind
def test_deposit_waits_for_confirmations_and_survives_invalidateblock(node, ledger, tmp_path):
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=3,
                            start_block=node.call("getblockcount"))
    node.new_wallet("alice", 5 * LTC)
    ledger.deposit_from_wallet("alice", BOB, 2 * LTC)
    deposit_block = node.mine(1)[0]
    node.mine(1)
    assert watcher.poll().submitted == 0  # one block on top of it, three needed
    node.call("invalidateblock", deposit_block)  # the deposit's block leaves the chain
    assert watcher.poll().submitted == 0
    assert ledger.deposits(0, ledger.head()) == []
    node.call("reconsiderblock", deposit_block)
    node.mine(1)
    assert watcher.poll().submitted == 0  # two on top
    node.mine(1)
    assert watcher.poll().submitted == 1
    node.mine(3)
    assert watcher.poll().submitted == 0
    assert get_balance(rollup.state, BOB, LTC_ASSET) == 2 * LTC
    assert len(rollup.applied) == 1


@needs_litecoind
def test_deposit_remined_by_a_deep_reorg_is_credited_once(node, ledger, tmp_path):
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1,
                            start_block=node.call("getblockcount"))
    node.new_wallet("alice", 5 * LTC)
    ledger.deposit_from_wallet("alice", BOB, LTC)
    first = node.mine(2)[0]
    assert watcher.poll().submitted == 1
    event = ledger.deposits(0, ledger.head())[0]
    node.call("invalidateblock", first)  # deeper than the confirmations: already credited
    node.mine(4, fork=True)  # the same transaction is mined again, in another block
    moved = ledger.deposits(0, ledger.head())
    assert len(moved) == 1 and moved[0].block_hash != event.block_hash
    assert moved[0].event_id == event.event_id  # the id is the txid's: same deposit
    result = watcher.poll()
    assert watcher.deep_reorgs == 1 and result.submitted == 0 and result.skipped == 1
    assert get_balance(rollup.state, BOB, LTC_ASSET) == LTC


@needs_litecoind
def test_malformed_deposit_tags_are_parked_never_credited(node, ledger, tmp_path):
    rollup = Rollup()
    start = node.call("getblockcount") + 1
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1,
                            start_block=start)
    node.new_wallet("alice", 10 * LTC)
    cases = {
        b"FLV1" + BOB[:19]: "24 bytes, not 23",
        b"FLV1" + BOB + b"\x00": "24 bytes, not 25",
        b"FLV1" + ZERO_ADDRESS: "zero address",
        b"junk": "not a deposit tag",
        b"FLA1" + BOB: "not a deposit tag",
    }
    for data in cases:
        ledger.deposit_from_wallet("alice", BOB, LTC // 10, data=data)
    node.send(ledger.custody_address, LTC // 10)  # no tag at all
    ledger.deposit_from_wallet("alice", BOB, LTC // 4)  # the one good deposit
    node.mine(2)
    assert watcher.poll().submitted == 1
    assert get_balance(rollup.state, BOB, LTC_ASSET) == LTC // 4
    parked = ledger.parked_deposits(start, ledger.head())
    assert len(parked) == len(cases) + 1
    reasons = sorted(p.reason for p in parked)
    for expected in list(cases.values()) + ["no OP_RETURN tag"]:
        assert any(expected in r for r in reasons), expected
    assert all(p.amount == LTC // 10 for p in parked)
    # Parked coins stay in custody (the federation refunds them by hand, see the docs).
    assert ledger.custody_balance() == LTC // 4 + len(parked) * LTC // 10


@needs_litecoind
def test_payout_waits_for_anchor_depth_and_is_paid_once(node, ledger):
    node.new_wallet("alice", 5 * LTC)
    ledger.deposit_from_wallet("alice", BOB, 3 * LTC)
    node.mine(1)
    node.new_wallet("carol")
    carol = ledger.compute_recipient(node.call("getnewaddress", "", "bech32", wallet="carol"))
    w = withdrawal(ledger, carol, LTC)
    w2 = withdrawal(ledger, carol, LTC // 2, label="w2")
    other = Withdrawal(h("eth"), compute_ledger_id("evm"), carol,
                       compute_asset_id(compute_ledger_id("evm")), Amount(5), ObjectId(ZERO_HASH),
                       0, ZERO_HASH, ObjectId(ZERO_HASH))
    batch = [other, w, w2]
    header, txs = make_batch(0, withdrawals=batch)
    with pytest.raises(BatchNotFinal):
        ledger.pay_withdrawals(header, batch, confirmations=2)
    ledger.post_batch(header, txs)
    node.mine(1)
    with pytest.raises(BatchNotFinal):
        ledger.pay_withdrawals(header, batch, confirmations=2)
    node.mine(1)
    with pytest.raises(WithdrawalRefused, match="withdrawal root"):
        ledger.pay_withdrawals(header, [w], confirmations=2)
    leaves = [compute_withdrawal_leaf(x) for x in batch]
    with pytest.raises(WithdrawalRefused, match="not in the batch"):
        ledger.pay_withdrawal(header, w, 0, compute_tree_proof(leaves, 0), confirmations=2)
    with pytest.raises(WithdrawalRefused, match="another ledger"):
        ledger.pay_withdrawal(header, other, 0, compute_tree_proof(leaves, 0), confirmations=2)
    # Two payouts in a row: the second spends the first's unconfirmed change.
    txids = ledger.pay_withdrawals(header, batch, confirmations=2)
    assert len(set(txids)) == 2
    assert ledger.pay_withdrawals(header, batch, confirmations=2) == txids
    assert not ledger.is_withdrawal_finalized(w)  # in the mempool
    node.mine(1)
    assert ledger.is_withdrawal_finalized(w) and ledger.is_withdrawal_finalized(w2)
    assert make_ledger(node).pay_withdrawals(header, batch, confirmations=2) == txids
    got = received(node, "carol", txids[0])
    assert LTC - 10_000 < got < LTC  # the fee is taken from the amount
    assert ledger.custody_balance() == 3 * LTC - LTC - LTC // 2  # exactly the amounts
    assert len(ledger.deposits(0, ledger.head())) == 1  # change is no deposit


@needs_litecoind
def test_underfunded_custody_refuses_and_the_withdrawal_stays_pending(node, ledger):
    node.new_wallet("alice", 5 * LTC)
    ledger.deposit_from_wallet("alice", BOB, LTC)
    node.mine(1)
    w = withdrawal(ledger, BOB, 2 * LTC)
    header, txs = make_batch(0, withdrawals=[w])
    ledger.post_batch(header, txs)
    node.mine(1)
    with pytest.raises(CustodyUnderfunded, match="can spend 100000000"):
        ledger.pay_withdrawals(header, [w], confirmations=1)
    assert node.call("getrawmempool") == []
    assert ledger.payout(w) is None and ledger.custody_balance() == LTC
    ledger.deposit_from_wallet("alice", BOB, 2 * LTC)
    node.mine(1)
    [txid] = ledger.pay_withdrawals(header, [w], confirmations=1)
    node.mine(1)
    assert ledger.payout(w).txid == txid and ledger.custody_balance() == LTC


@needs_litecoind
def test_litecoind_restarts_and_crashes_lose_and_duplicate_nothing(node, ledger, tmp_path):
    rollup = Rollup()
    watcher = LedgerWatcher(ledger, rollup.submit, DOMAIN, tmp_path / "w.db", confirmations=1,
                            start_block=node.call("getblockcount"))
    node.new_wallet("alice", 5 * LTC)
    ledger.deposit_from_wallet("alice", BOB, 2 * LTC)
    node.mine(1)
    w = withdrawal(ledger, BOB, LTC // 2)
    header, txs = make_batch(0, withdrawals=[w])
    ledger.post_batch(header, txs)
    node.stop()
    with pytest.raises(LedgerUnreachable):
        watcher.poll()
    with pytest.raises(LedgerUnreachable):
        ledger.post_batch(header, txs)
    node.start()  # a clean restart keeps the mempool: the anchor is still pending
    assert ledger.post_batch(header, txs).hex() == ledger.anchor(0, include_mempool=True).txid
    node.mine(2)
    assert watcher.poll().submitted == 1
    txid = ledger.pay_withdrawals(header, [w], confirmations=1)[0]
    # A crash loses the mempool: the payout is only in the federation's watch-only wallet.
    node.kill(flush_chain=True)
    node.start()
    fresh = make_ledger(node)  # and the adapter lost its local state too
    assert fresh.pay_withdrawals(header, [w], confirmations=1) == [txid]
    node.mine(1)
    assert fresh.is_withdrawal_finalized(w)
    assert len(fresh.payouts()) == 1 and fresh.custody_balance() == 2 * LTC - LTC // 2
    assert watcher.poll().submitted == 0
    assert get_balance(rollup.state, BOB, LTC_ASSET) == 2 * LTC


@needs_litecoind
def test_sequencer_deposit_withdraw_end_to_end(node, ledger, tmp_path):
    """LTC deposited on Litecoin is credited by the watcher in a real Sequencer, withdrawn by
    a signed Withdraw, anchored in a batch and paid by the federation."""
    from tests.node.conftest import BOB as L2_BOB
    from tests.node.conftest import BOB_KEY, make_config

    config = make_config(tmp_path / "home")
    sequencer = Sequencer(config, Store(config.db_path))
    try:
        watcher = LedgerWatcher(ledger, sequencer.submit_system, config.domain,
                                tmp_path / "w.db", confirmations=2,
                                start_block=node.call("getblockcount"))
        node.new_wallet("alice", 5 * LTC)
        ledger.deposit_from_wallet("alice", L2_BOB, 3 * LTC)
        node.mine(3)  # its block and two on top
        assert watcher.poll().submitted == 1
        assert watcher.poll().submitted == 0
        assert sequencer.account(L2_BOB)[1][LTC_ASSET] == 3 * LTC
        node.new_wallet("bob")
        payee = ledger.compute_recipient(node.call("getnewaddress", "", "bech32", wallet="bob"))
        body = Withdraw(ledger.ledger_id, payee, LTC_ASSET, Amount(LTC), NO_OBJECT)
        nonce = sequencer.account(L2_BOB)[0]
        domain = config.domain
        tx = Transaction(domain.chain_id, domain.rollup_id, L2_BOB, Nonce(nonce), body)
        receipt = sequencer.submit(encode_transaction(sign_transaction(tx, BOB_KEY)))
        record = sequencer.seal_batch()
        assert record is not None
        header = record.header
        if header.number > 0:  # genesis batches before ours are anchored first
            pytest.skip("the sequencer sealed earlier batches")
        ledger.genesis_state_root = header.prev_state_root
        ledger.post_batch(header)
        node.mine(2)
        [txid] = ledger.pay_withdrawals(header, [receipt.outcome.withdrawal], confirmations=2)
        node.mine(1)
        assert LTC - 10_000 < received(node, "bob", txid) < LTC
        assert sequencer.account(L2_BOB)[1][LTC_ASSET] == 2 * LTC
        assert ledger.custody_balance() == 2 * LTC
    finally:
        sequencer.store.close()
