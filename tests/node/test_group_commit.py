"""Group commit and signer recovery in worker processes: concurrent submitters all get their
receipts in one gap-free sequence, a refused transaction in a group changes nothing and stops
nobody else, a failed write leaves no trace in the live state, and the workers' recoveries are
the same as the submitting thread's, errors included."""

import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from flavum.core import errors
from flavum.core.genesis import DEV_ASSET
from flavum.core.state import compute_state_root
from flavum.core.stf import process_recovered, process_transaction
from flavum.core.transactions import (
    Transaction,
    Transfer,
    address_of,
    decode_transaction,
    encode_transaction,
    recover_transaction,
    sign_transaction,
)
from flavum.core.types import Amount, ChainId, Nonce
from flavum.node.config import Allocation
from flavum.node.recovery import SignerRecovery
from flavum.node.sequencer import Sequencer, _Submission
from flavum.node.store import Store

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config

KEYS = [bytes([0x10 + i]) * 32 for i in range(8)]


def signed(config, key, nonce, to, amount, chain_id=None) -> bytes:
    tx = Transaction(ChainId(chain_id or config.domain.chain_id), config.domain.rollup_id,
                     address_of(key), Nonce(nonce), Transfer(to, DEV_ASSET, Amount(amount)))
    return encode_transaction(sign_transaction(tx, key))


@pytest.fixture
def rig(tmp_path):
    genesis = (Allocation(ALICE, Amount(1000)), Allocation(BOB, Amount(1000)),
               *(Allocation(address_of(k), Amount(10**18)) for k in KEYS))
    config = make_config(tmp_path, block_max_txs=16)
    config = replace(config, genesis=genesis)
    store = Store(config.db_path)
    sequencer = Sequencer(config, store)
    yield config, store, sequencer
    sequencer.close()
    store.close()


def test_concurrent_submitters_get_one_gap_free_sequence(rig):
    config, store, sequencer = rig
    per_sender = 25
    receipts = []
    failures = []

    def submit_all(key):
        for nonce in range(per_sender):
            try:
                receipts.append(sequencer.submit(signed(config, key, nonce, BOB, 1)))
            except Exception as exc:
                failures.append(exc)

    threads = [threading.Thread(target=submit_all, args=(key,)) for key in KEYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sequencer.produce_block()
    assert failures == []
    count = per_sender * len(KEYS)
    assert sorted(r.seq for r in receipts) == list(range(1, count + 1))
    assert store.count_txs() == count
    assert {store.get_tx(r.tx_hash).seq for r in receipts} == {r.seq for r in receipts}
    # Blocks split at block_max_txs even when groups cross it.
    last = store.last_block()
    blocks = store.blocks(0, last.number)
    assert all(b.last_seq - b.first_seq + 1 <= 16 for b in blocks)
    assert blocks[-1].last_seq == count
    # A restart replays the log, checking every block root, to the same state.
    root = sequencer.state_root()
    assert Sequencer(config, store).state_root() == root
    assert sequencer.account(BOB)[1][DEV_ASSET] == 1000 + count


def test_a_refused_transaction_in_a_group_changes_nothing(rig):
    config, store, sequencer = rig
    good = signed(config, ALICE_KEY, 0, BOB, 10)
    too_much = signed(config, BOB_KEY, 0, ALICE, 5000)  # its nonce is written, then rolled back
    after = signed(config, BOB_KEY, 0, ALICE, 20)  # the same nonce: free again
    group = [_Submission(recover_transaction(raw), None, forced=False)
             for raw in (good, too_much, good, after)]
    sequencer._queue.extend(group)
    sequencer._commit_group()
    first, refused, duplicate, last = (s.result for s in group)
    assert (first.seq, last.seq) == (1, 2)
    assert isinstance(refused, errors.InsufficientBalance)
    assert isinstance(duplicate, errors.DuplicateTransaction)
    assert store.count_txs() == 2
    # The live state is that of the two accepted transactions alone.
    expected = config.genesis_state.state()
    for raw in (good, after):
        process_transaction(expected, decode_transaction(raw))
    assert sequencer.state_root() == compute_state_root(expected)
    assert sequencer.account(BOB)[0] == 1


def test_a_failed_write_leaves_the_live_state_as_the_store(rig, monkeypatch):
    config, store, sequencer = rig
    sequencer.submit(signed(config, ALICE_KEY, 0, BOB, 10))
    before = sequencer.state_root()

    def broken(txs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "add_txs", broken)
    with pytest.raises(OSError):
        sequencer.submit(signed(config, ALICE_KEY, 1, BOB, 10))
    assert sequencer.state_root() == before
    monkeypatch.undo()
    receipt = sequencer.submit(signed(config, ALICE_KEY, 1, BOB, 10))
    assert receipt.seq == 2


def test_forced_refusal_names_the_seq_it_was_judged_at(rig):
    config, _, sequencer = rig
    sequencer.submit(signed(config, ALICE_KEY, 0, BOB, 10))
    with pytest.raises(errors.DuplicateTransaction):
        sequencer.submit_forced(signed(config, ALICE_KEY, 0, BOB, 10))
    assert sequencer.submit_forced(b"\x01garbage") == (None, 2)
    assert sequencer.submit_forced(signed(config, ALICE_KEY, 5, BOB, 10)) == (None, 2)
    receipt, seq = sequencer.submit_forced(signed(config, ALICE_KEY, 1, BOB, 10))
    assert receipt is not None and seq == receipt.seq == 2


def cases(config):
    """Raw transactions: valid, and refused at each signature-related step."""
    valid = signed(config, ALICE_KEY, 0, BOB, 1)
    tx = decode_transaction(valid)
    sig = tx.signature
    high_s = (int.from_bytes(sig[32:64], "big") + 1).to_bytes(32, "big")
    return {
        "valid": valid,
        "signed by another key": encode_transaction(
            replace(sign_transaction(replace(tx, sender=BOB), BOB_KEY), sender=ALICE)),
        "high s": encode_transaction(replace(tx, signature=sig[:32] + high_s + sig[64:])),
        "no key recovers": encode_transaction(replace(tx, signature=b"\x00" * 65)),
        "short signature": encode_transaction(replace(tx, signature=sig[:64])),
        "other chain, no key recovers": encode_transaction(replace(
            decode_transaction(signed(config, BOB_KEY, 0, ALICE, 1, chain_id=7)),
            signature=b"\x00" * 65)),
        "malformed": b"\x00" * 40,
    }


def outcome(run, *args):
    try:
        return run(*args)
    except errors.FlavumError as exc:
        return type(exc), str(exc)


def test_recovered_beforehand_is_the_same_transition(rig):
    config, _, _ = rig
    for name, raw in cases(config).items():
        state_a, state_b = config.genesis_state.state(), config.genesis_state.state()
        plain = outcome(lambda s, r: process_transaction(s, decode_transaction(r)), state_a, raw)
        recovered = outcome(lambda s, r: process_recovered(s, recover_transaction(r)), state_b, raw)
        assert plain == recovered, name
        assert compute_state_root(state_a) == compute_state_root(state_b), name


def test_worker_processes_recover_what_the_submitter_would(rig):
    config, _, _ = rig
    raws = list(cases(config).values()) * 4
    recovery = SignerRecovery(2)
    recovery.start()
    recovered_at_once_equals_recovered_alone(recovery, raws)


def test_workers_started_without_waiting_answer_before_any_transaction(rig):
    config, _, _ = rig
    recovery = SignerRecovery(1)
    recovery.start(wait=False)
    recovery._ready.acquire()  # the worker's first answer: up with nothing asked of it yet
    assert [pid for pid in children() if b"flavum.node.recovery" in cmdline(pid)]
    recovered_at_once_equals_recovered_alone(recovery, list(cases(config).values()) * 2)


def test_a_failing_listener_hands_the_lead_on(rig):
    config, store, sequencer = rig

    def listener(receipt):
        sequencer.listeners.remove(listener)
        raise RuntimeError("listener failed")

    sequencer.listeners.append(listener)
    with pytest.raises(RuntimeError):
        sequencer.submit(signed(config, ALICE_KEY, 0, BOB, 10))
    assert store.count_txs() == 1  # durable before the listeners ran
    assert not sequencer._leading and not sequencer._queue
    assert sequencer.submit(signed(config, ALICE_KEY, 1, BOB, 10)).seq == 2


def test_a_killed_worker_is_replaced_and_its_chunk_recovered(rig):
    config, _, _ = rig
    recovery = SignerRecovery(1)
    recovery.start()
    workers = [pid for pid in children() if b"flavum.node.recovery" in cmdline(pid)]
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    os.waitpid(workers[0], 0)
    raws = list(cases(config).values()) * 3
    recovered_at_once_equals_recovered_alone(recovery, raws)


def recovered_at_once_equals_recovered_alone(recovery: SignerRecovery, raws: list[bytes]) -> None:
    """Each raw transaction recovered from its own thread, all at once, gives what recovering it
    alone gives (the signer, or the same error); closes `recovery`."""
    results: dict[int, object] = {}

    def recover(index):
        results[index] = outcome(recovery.recover, raws[index])

    threads = [threading.Thread(target=recover, args=(i,)) for i in range(len(raws))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recovery.close()
    assert results == {i: outcome(recover_transaction, raw) for i, raw in enumerate(raws)}


def children() -> list[int]:
    return [int(pid) for task in Path("/proc/self/task").iterdir()
            for pid in (task / "children").read_text().split()]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
