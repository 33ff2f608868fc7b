"""Sequencer and store: soft confirmations, typed rejections, blocks, batches, restarts."""

import pytest

from flavum.core import errors
from flavum.core.assets import compute_ledger_id
from flavum.core.batch import compute_batch_hash, compute_trace_leaf, compute_tx_leaf
from flavum.core.genesis import DEV_ASSET
from flavum.core.merkle import compute_tree_proof, compute_tree_root, verify_tree_proof
from flavum.core.state import compute_state_root
from flavum.core.stf import Execution
from flavum.core.transactions import (
    DeployModel,
    Deposit,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    Withdraw,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Access, Amount, Hash32, Nonce
from flavum.node.config import native_asset
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config

ETH = DEV_ASSET  # genesis funds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signed(config, key, sender, nonce, body) -> bytes:
    tx = Transaction(config.domain.chain_id, config.domain.rollup_id, sender, Nonce(nonce), body)
    return encode_transaction(sign_transaction(tx, key))


class FixedExecutor:
    """Stands in for the circuit: echoes the data commitment with fixed outputs."""

    def check_deploy(self, body):
        pass

    def check_data(self, body):
        pass

    def execute(self, model, data):
        return Execution(data.commitment, (3, -1, 4))


@pytest.fixture
def setup(tmp_path):
    config = make_config(tmp_path / "home", block_max_txs=5, batch_max_txs=12,
                         block_interval_s=1.0, batch_interval_s=10.0)
    clock = Clock()
    sequencer = Sequencer(config, Store(config.db_path), FixedExecutor(), clock)
    yield config, sequencer, clock
    sequencer.store.close()


def test_receipt_then_blocks_by_size(setup):
    config, seq, _ = setup
    for n in range(7):
        receipt = seq.submit(signed(config, ALICE_KEY, ALICE, n, Transfer(BOB, ETH, Amount(1))))
        assert receipt.seq == n + 1
    assert seq.store.last_block().number == 0  # 5 txs made block 0
    assert seq.pending == 2


def test_blocks_and_batches_by_time(setup):
    config, seq, clock = setup
    seq.submit(signed(config, ALICE_KEY, ALICE, 0, Transfer(BOB, ETH, Amount(1))))
    seq.tick()
    assert seq.store.last_block() is None
    clock.now += 1.5
    seq.tick()
    assert seq.store.last_block().number == 0 and seq.store.batches() == []
    clock.now += 10
    seq.tick()
    assert len(seq.store.batches()) == 1
    clock.now += 20
    seq.tick()
    assert len(seq.store.batches()) == 1  # nothing new: no empty batch


def test_rejections_are_typed_and_leave_nothing(setup):
    config, seq, _ = setup
    root = seq.state_root()
    tx = signed(config, ALICE_KEY, ALICE, 0, Transfer(BOB, ETH, Amount(1)))
    bad = [
        (signed(config, ALICE_KEY, ALICE, 5, Transfer(BOB, ETH, Amount(1))), errors.NonceMismatch),
        (signed(config, ALICE_KEY, ALICE, 0, Transfer(BOB, ETH, Amount(10**30))),
         errors.InsufficientBalance),
        (b"\x00" * 40, errors.MalformedTransaction),
        (tx[:-3], errors.MalformedTransaction),
    ]
    for raw, error in bad:
        with pytest.raises(error):
            seq.submit(raw)
    assert seq.state_root() == root and seq.store.count_txs() == 0
    seq.submit(tx)
    with pytest.raises(errors.DuplicateTransaction):
        seq.submit(tx)
    assert seq.store.count_txs() == 1


def test_users_cannot_submit_deposits(setup):
    config, seq, _ = setup
    deposit = Transaction(config.domain.chain_id, config.domain.rollup_id, ZERO_ADDRESS, Nonce(0),
                          Deposit(compute_ledger_id("evm"), Hash32(b"\x01" * 32), BOB,
                                  ZERO_ADDRESS, Amount(5), ZERO_HASH, ZERO_HASH))
    with pytest.raises(errors.MalformedTransaction):
        seq.submit(encode_transaction(deposit))
    seq.submit_system(deposit)
    with pytest.raises(errors.DepositAlreadyApplied):
        seq.submit_system(deposit)


def test_batch_header_commits_to_txs_traces_withdrawals(setup):
    config, seq, _ = setup
    model = seq.submit(signed(config, ALICE_KEY, ALICE, 0, DeployModel(
        Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), ZERO_HASH, Access.COMMON, ETH, Amount(7))))
    data = seq.submit(signed(config, BOB_KEY, BOB, 0,
                             SubmitData(Hash32(b"\x09" * 32), ZERO_HASH, Access.OWNED)))
    infer = seq.submit(signed(config, BOB_KEY, BOB, 1,
                              Infer(model.outcome.object_id, data.outcome.object_id, Amount(7))))
    assert infer.execution.outputs == (3, -1, 4)
    seq.submit(signed(config, BOB_KEY, BOB, 2, Withdraw(Hash32(b"\x05" * 32), BOB, ETH,
                                                        Amount(0), infer.outcome.object_id)))
    record = seq.seal_batch()
    header = record.header
    assert header.prev_state_root == seq.genesis_root
    assert header.state_root == seq.state_root()
    hashes = [model.tx_hash, data.tx_hash, infer.tx_hash]
    assert seq.store.tx_hashes(1, 3) == hashes
    assert header.trace_root == compute_tree_root([compute_trace_leaf(infer.outcome.trace)])
    assert record.batch_hash == compute_batch_hash(header)
    # Each tx leaf commits the transaction, the state root after it and what it emitted.
    commitments = seq.store.commitments(1, 4)
    assert [c.tx_hash for c in commitments] == seq.store.tx_hashes(1, 4)
    assert commitments[-1].post_state_root == header.state_root
    assert commitments[2].trace_leaf == compute_trace_leaf(infer.outcome.trace)
    assert commitments[3].withdrawal_leaf != ZERO_HASH
    assert commitments[0].withdrawal_leaf == commitments[0].trace_leaf == ZERO_HASH
    assert len({c.post_state_root for c in commitments}) == 4  # every tx changed the state
    leaves = [compute_tx_leaf(c) for c in commitments]
    assert verify_tree_proof(header.tx_root, leaves[2], 2, compute_tree_proof(leaves, 2))
    assert seq.seal_batch() is None


def test_restart_replays_to_the_same_root_with_pending_txs(setup):
    config, seq, clock = setup
    for n in range(8):
        seq.submit(signed(config, ALICE_KEY, ALICE, n, Transfer(BOB, ETH, Amount(n + 1))))
    seq.seal_batch()
    for n in range(8, 11):
        seq.submit(signed(config, ALICE_KEY, ALICE, n, Transfer(BOB, ETH, Amount(n + 1))))
    root = seq.state_root()
    seq.store.close()
    again = Sequencer(config, Store(config.db_path), FixedExecutor(), clock)
    assert again.state_root() == root
    assert again.pending == 3 and again.store.count_txs() == 11
    assert again.seal_batch().header.prev_state_root == again.store.batches()[0].header.state_root
    again.store.close()


def test_restart_with_another_genesis_is_refused(setup, tmp_path):
    config, seq, clock = setup
    seq.store.close()
    other = make_config(config.home, rollup_id=Hash32(b"\x42" * 32), port=config.port)
    with pytest.raises(errors.ConfigError):
        Sequencer(other, Store(other.db_path))


def test_tampered_store_is_detected_on_restart(setup):
    config, seq, clock = setup
    for n in range(5):
        seq.submit(signed(config, ALICE_KEY, ALICE, n, Transfer(BOB, ETH, Amount(1))))
    seq.store._conn.execute("UPDATE blocks SET state_root = ?", (b"\x00" * 32,))
    seq.store.close()
    with pytest.raises(errors.StateRootMismatch):
        Sequencer(config, Store(config.db_path))


def test_readable_tables_follow_blocks(setup):
    config, seq, _ = setup
    seq.submit(signed(config, ALICE_KEY, ALICE, 0, Transfer(BOB, ETH, Amount(5))))
    seq.produce_block()
    nonce, balances = seq.store.account(ALICE)
    assert nonce == 1 and balances[ETH] == 10**21 - 5
    assert compute_state_root(seq.snapshot()) == seq.state_root()


def test_a_genesis_of_a_withdrawable_asset_is_refused(tmp_path):
    """config.toml may fund accounts only in the dev asset: 1,000 ETH at genesis would be ETH
    the Bridge never received (the unbacked-genesis attack)."""
    from flavum.core.genesis import DEV_ASSET
    from flavum.node.config import load_config

    config = make_config(tmp_path)
    text = (tmp_path / "config.toml").read_text()
    assert load_config(tmp_path).genesis_state.allocations == ((ALICE, 10**21), (BOB, 10**21))
    native = f'amount = "{10**21}"\nasset = "0x{native_asset().hex()}"'
    (tmp_path / "config.toml").write_text(text.replace(f'amount = "{10**21}"', native, 1))
    with pytest.raises(errors.ConfigError, match="only in the dev asset"):
        load_config(tmp_path)
    dev = f'amount = "{10**21}"\nasset = "0x{DEV_ASSET.hex()}"'
    (tmp_path / "config.toml").write_text(text.replace(f'amount = "{10**21}"', dev, 1))
    assert load_config(tmp_path) == config
