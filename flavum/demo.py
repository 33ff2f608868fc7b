"""`flavum demo`: the main job on embedded defaults, in a temporary home, with no server.

What exists so far: a node with a dev genesis, signed transfers from several accounts, data
and model objects with an access grant, blocks and batches sealed with their roots, a Merkle
proof of a balance checked against the state root, and a restart from the store that resumes
with the identical state root.
"""

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from flavum.core.merkle import verify_smt_proof
from flavum.core.state import compute_balance_key, get_leaf_value, get_state_proof
from flavum.core.transactions import (
    GrantAccess,
    SubmitData,
    Transaction,
    Transfer,
    address_of,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import Access, Amount, Hash32, Nonce
from flavum.node.config import Allocation, NodeConfig, native_asset
from flavum.node.sequencer import Sequencer
from flavum.node.store import Store, hx

DEMO_KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(("alice", "bob", "carol"))}


def run_demo(as_json: bool = False) -> dict[str, Any]:
    steps: dict[str, float] = {}
    say = (lambda *_: None) if as_json else print
    with tempfile.TemporaryDirectory(prefix="flavum-demo-") as tmp:
        home = Path(tmp)
        users = {name: address_of(key) for name, key in DEMO_KEYS.items()}
        eth = native_asset()
        config = NodeConfig(
            home=home,
            genesis=tuple(Allocation(users[n], Amount(10**21)) for n in ("alice", "bob")),
            block_max_txs=10,
        )
        started = time.perf_counter()
        store = Store(config.db_path)
        sequencer = Sequencer(config, store)
        steps["start_node_s"] = time.perf_counter() - started
        say(f"node started: chain {config.chain_id}, rollup {hx(config.rollup_id)[:18]}…")
        say(f"genesis state root {hx(sequencer.genesis_root)}")

        nonces = {name: 0 for name in users}

        def send(name: str, body: Any) -> Any:
            tx = Transaction(config.domain.chain_id, config.rollup_id, users[name],
                             Nonce(nonces[name]), body)
            receipt = sequencer.submit(encode_transaction(sign_transaction(tx, DEMO_KEYS[name])))
            nonces[name] += 1
            return receipt

        started = time.perf_counter()
        for i in range(25):
            sender, to = ("alice", "carol") if i % 2 == 0 else ("bob", "carol")
            send(sender, Transfer(users[to], eth, Amount(10**15 * (i + 1))))
        data = send("carol", SubmitData(Hash32(b"\x42" * 32), Hash32(b"\x00" * 32), Access.OWNED))
        send("carol", GrantAccess(data.outcome.object_id, users["alice"], True))
        steps["transactions_s"] = time.perf_counter() - started
        say(f"27 signed transactions accepted (25 transfers, a data object, a grant) "
            f"in {steps['transactions_s']:.3f} s")

        first = sequencer.seal_batch()
        send("carol", Transfer(users["alice"], eth, Amount(10**15)))
        second = sequencer.seal_batch()
        if first is None or second is None:
            raise RuntimeError("the demo's batches did not seal")
        for record in (first, second):
            h = record.header
            say(f"batch #{h.number}: {record.tx_count} txs  state_root {hx(h.state_root)}\n"
                f"          tx_root {hx(h.tx_root)}  prev {hx(h.prev_state_root)[:18]}…")

        snapshot = sequencer.snapshot()
        key = compute_balance_key(users["carol"], eth)
        proof = get_state_proof(snapshot, key)
        root = second.header.state_root
        proof_ok = verify_smt_proof(root, key, get_leaf_value(snapshot, key), proof)
        say(f"carol's balance leaf proven against the state root: {proof_ok} "
            f"({len(proof.siblings)} siblings)")

        store.close()
        started = time.perf_counter()
        restarted = Sequencer(config, Store(config.db_path))
        steps["restart_s"] = time.perf_counter() - started
        same_root = restarted.state_root() == root
        say(f"node restarted from its store in {steps['restart_s']:.3f} s, "
            f"same state root: {same_root}")
        restarted.store.close()

    summary = {
        "batches": 2,
        "transactions": 28,
        "state_root": hx(root),
        "balance_proof_ok": proof_ok,
        "restart_same_root": same_root,
        "steps_s": {k: round(v, 4) for k, v in steps.items()},
    }
    if as_json:
        print(json.dumps(summary))
    return summary
