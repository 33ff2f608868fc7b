"""One rollup anchored to two ledgers at once: the embedded EVM (verifies proofs) and a
Litecoin regtest node (anchors only). Deposits from both land in one state with distinct asset
ids; every batch goes to both; a ledger that is down holds up nothing, and its backlog is
anchored when it returns; LTC withdrawals are paid by the federation."""

import pytest

from flavum.core.assets import compute_asset_id
from flavum.core.transactions import Transfer, Withdraw
from flavum.core.types import NO_OBJECT, Amount
from flavum.node.config import LedgerSpec, native_asset
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.l1.litecoin_node import (
    ANCHOR_KEY,
    FEDERATION_KEYS,
    LITECOIND,
    RPC_PASSWORD,
    RPC_USER,
    THRESHOLD,
    LitecoinNode,
)

from .conftest import ALICE, BOB, BOB_KEY, make_config
from .test_inference import send

LTC = 10**8

pytestmark = pytest.mark.skipif(LITECOIND is None,
                                reason="litecoind is not installed (apt-get install litecoind)")


@pytest.fixture
def litecoind(tmp_path):
    node = LitecoinNode(tmp_path / "litecoin")
    node.start_bootstrapped()
    yield node
    node.stop()


def test_one_rollup_on_an_evm_and_litecoin(tmp_path, litecoind, shared_srs):
    ltc_spec = LedgerSpec(
        name="litecoin", kind="litecoin", url=litecoind.url, confirmations=2,
        options={"rpc_user": RPC_USER, "rpc_password": RPC_PASSWORD,
                 "federation_keys": [k.hex() for k in FEDERATION_KEYS], "threshold": THRESHOLD,
                 "anchor_key": ANCHOR_KEY.hex(), "start_height": litecoind.call("getblockcount")})
    config = make_config(tmp_path / "home", prover="inline",
                         ledgers=(LedgerSpec(name="evm", kind="evm", confirmations=0), ltc_spec))
    (config.home / "keys" / "sequencer.key").write_text("0x" + (b"\x05" * 32).hex())
    node = Node.open(config, pool=InlineProverPool())
    try:
        evm, ltc = node.ledger("evm"), node.ledger("litecoin")
        litecoind.send(ltc.ledger.anchor_address, LTC)  # pays the anchors' fees
        litecoind.mine(1)

        # Deposits from both ledgers, one state, two assets.
        evm.ledger.deposit_eth(BOB_KEY, BOB, 10**18)
        bob_ltc_address = litecoind.new_wallet("bob", 3 * LTC)
        ltc.ledger.deposit_from_wallet("bob", BOB, 2 * LTC)
        litecoind.mine(3)  # the deposit's block with two blocks on top
        evm.tick()
        ltc.tick()
        ltc_asset = compute_asset_id(ltc.ledger.ledger_id)
        balances = node.sequencer.account(BOB)[1]
        assert ltc.last_error is None, ltc.last_error
        assert balances[native_asset()] == 10**18 and balances[ltc_asset] == 2 * LTC
        assert ltc_asset != native_asset()

        send(node, BOB_KEY, BOB, Transfer(ALICE, ltc_asset, Amount(LTC // 2)))
        first = node.sequencer.seal_batch()
        evm.tick()
        ltc.tick()
        litecoind.mine(1)
        posts = {p.name: p.state for p in node.store.ledger_posts(first.header.number)}
        assert posts == {"evm": "accepted", "litecoin": "anchored"}
        assert ltc.depth(first.header.number) == 1
        assert evm.depth(first.header.number) >= 1
        assert ltc.ledger.batch_status(0).accepted

        # Litecoin goes down: the EVM goes on; the backlog is anchored when it returns.
        litecoind.stop()
        send(node, BOB_KEY, BOB, Transfer(ALICE, native_asset(), Amount(5)))
        second = node.sequencer.seal_batch()
        evm.tick()
        ltc.tick()
        assert evm.ledger.batch_status(second.header.number).accepted
        assert ltc.last_error is not None
        litecoind.start()
        ltc.tick()
        litecoind.mine(1)
        assert ltc.ledger.batch_status(second.header.number).accepted

        # An LTC withdrawal, paid by the federation from custody once the batch is final.
        recipient = ltc.ledger.compute_recipient(bob_ltc_address)
        send(node, BOB_KEY, BOB, Withdraw(ltc.ledger.ledger_id, recipient, ltc_asset,
                                          Amount(LTC), NO_OBJECT))
        node.sequencer.seal_batch()
        ltc.tick()  # anchored, not final yet: nothing paid
        litecoind.mine(2)
        ltc.tick()  # two confirmations: paid
        litecoind.mine(1)
        assert ltc.ledger.custody_balance() == LTC  # 2 deposited, 1 withdrawn
        ltc.tick()  # a later tick never pays twice
        litecoind.mine(1)
        assert ltc.ledger.custody_balance() == LTC
    finally:
        node.close()
