"""`flavum demo`: the main job on embedded defaults, in a temporary home, with no server.

A node starts with a dev genesis; signed transfers move funds; a scikit-learn classifier is
trained on the bundled digits data, exported with skl2onnx's defaults and deployed (graph
normalized, circuit compiled, keys set up, accuracy measured); a data point is committed; an
inference returns its prediction at once and is then proven by a prover worker; the proof is
verified in Python against the model's verifying key and bound to the trace entry; a batch is
sealed with its roots; a balance is proven against the state root; and the node restarts from
its store with the identical state root.
"""

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flavum.core.merkle import verify_smt_proof
from flavum.core.state import compute_balance_key, get_leaf_value, get_state_proof
from flavum.core.transactions import (
    Body,
    DeployModel,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    address_of,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_HASH, Access, Amount, Hash32, Nonce
from flavum.node.config import Allocation, NodeConfig, native_asset
from flavum.node.models import interpret_outputs
from flavum.node.node import Node
from flavum.node.sequencer import Receipt
from flavum.node.store import hx, unhex

DEMO_KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(("alice", "bob", "carol"))}
MODEL_FEE = Amount(10**15)


def run_demo(as_json: bool = False) -> dict[str, Any]:
    say: Callable[..., None] = (lambda *_: None) if as_json else print
    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        steps[name] = round(time.perf_counter() - started, 3)

    users = {name: address_of(key) for name, key in DEMO_KEYS.items()}
    eth = native_asset()
    with tempfile.TemporaryDirectory(prefix="flavum-demo-") as tmp, _stderr_to(
            Path(tmp) / "prover.log"):
        config = NodeConfig(
            home=Path(tmp),
            genesis=tuple(Allocation(users[n], Amount(10**21)) for n in ("alice", "bob")),
            block_max_txs=10,
            batch_interval_s=3600.0,  # the demo seals its batch itself
            prover="local",
            prover_workers=1,
        )
        with step("start_node"):
            node = Node.open(config)
        say(f"node started: chain {config.chain_id}, rollup {hx(config.rollup_id)[:18]}…, "
            f"genesis root {hx(node.sequencer.genesis_root)[:18]}…")

        def send(name: str, body: Body) -> Receipt:
            nonce = node.sequencer.account(users[name])[0]
            tx = Transaction(config.domain.chain_id, config.rollup_id, users[name],
                             Nonce(nonce), body)
            return node.sequencer.submit(encode_transaction(sign_transaction(tx, DEMO_KEYS[name])))

        with step("transfers"):
            for i in range(20):
                sender = "alice" if i % 2 == 0 else "bob"
                send(sender, Transfer(users["carol"], eth, Amount(10**15 * (i + 1))))
        say(f"20 signed transfers accepted in {steps['transfers']:.3f} s")

        with step("train_model"):
            from flavum.ml.examples import train_sklearn_mlp

            example = train_sklearn_mlp("digits")
        say(f"trained a scikit-learn MLPClassifier on digits; ONNX export "
            f"{len(example.onnx_bytes)} bytes")

        with step("deploy_model"):
            record = node.models.compile(example.onnx_bytes, example.samples,
                                         progress=None if as_json else _progress_printer())
            deploy = send("alice", DeployModel(
                Hash32(unhex(record.model_hash)), Hash32(unhex(record.vk_hash)),
                record.metadata_hash, Access.COMMON, eth, MODEL_FEE))
        model_id = deploy.outcome.object_id
        accuracy = record.accuracy
        say(f"model {hx(model_id)[:18]}… deployed: logrows {record.logrows}, proves "
            f"{record.proven_output}; top-1 agreement with the float model "
            f"{accuracy['top1_agreement']:.0%}, max abs error {accuracy['max_abs_error']:.1e}")

        with step("submit_data"):
            row = example.test_inputs[0]
            commitment = node.models.commit_data(Hash32(unhex(record.vk_hash)), row)
            data = send("bob", SubmitData(commitment, ZERO_HASH, Access.OWNED))
        say(f"data point {hx(data.outcome.object_id)[:18]}… committed: Poseidon "
            f"{hx(commitment)[:18]}…")

        with step("infer"):
            inference = send("bob", Infer(model_id, data.outcome.object_id, MODEL_FEE))
        trace = inference.outcome.trace
        if trace is None:
            raise RuntimeError("the inference produced no trace entry")
        prediction = interpret_outputs(record, trace.outputs)["prediction"][0]
        say(f"inference: predicted digit {prediction} (label {int(example.test_labels[0])}), "
            f"receipt in {steps['infer']:.3f} s; proving…")

        with step("prove"):
            proof_record = _wait_for_proof(node, inference.tx_hash)
        proven = proof_record.proof_status == "proven"
        with step("verify_in_python"):
            verified = False
            if proof_record.proof is not None:
                node.models.verify_trace(trace, Hash32(unhex(record.vk_hash)), proof_record.proof)
                verified = True
        say(f"proof {proof_record.proof_status} in {steps['prove']:.1f} s; verified in Python "
            f"against the vk, input commitment and outputs: {verified}")

        with step("seal_batch"):
            batch = node.sequencer.seal_batch()
        if batch is None:
            raise RuntimeError("the demo's batch did not seal")
        h = batch.header
        say(f"batch #{h.number}: {batch.tx_count} txs\n  state_root {hx(h.state_root)}\n"
            f"  tx_root    {hx(h.tx_root)}\n  trace_root {hx(h.trace_root)}")

        snapshot = node.sequencer.snapshot()
        key = compute_balance_key(users["carol"], eth)
        proof = get_state_proof(snapshot, key)
        proof_ok = verify_smt_proof(h.state_root, key, get_leaf_value(snapshot, key), proof)
        say(f"carol's balance proven against the state root: {proof_ok}")

        node.close()
        with step("restart"):
            again = Node.open(config)
            same_root = again.sequencer.state_root() == h.state_root
            again.close()
        say(f"node restarted from its store: same state root {same_root}")

    summary = {
        "model_id": hx(model_id),
        "prediction": prediction,
        "label": int(example.test_labels[0]),
        "top1_agreement": accuracy["top1_agreement"],
        "proof_status": proof_record.proof_status,
        "proof_verified_in_python": proven and verified,
        "batch_number": h.number,
        "state_root": hx(h.state_root),
        "trace_root": hx(h.trace_root),
        "balance_proof_ok": proof_ok,
        "restart_same_root": same_root,
        "steps_s": steps,
    }
    if as_json:
        print(json.dumps(summary))
    return summary


def _wait_for_proof(node: Node, tx_hash: Hash32, timeout_s: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        node.tick()
        record = node.store.get_trace(tx_hash)
        if record is not None and record.proof_status in ("proven", "failed"):
            return record
        if time.monotonic() > deadline:
            raise RuntimeError("no proof within the demo's time limit")
        time.sleep(0.2)


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send the process's stderr (ezkl's Rust diagnostics) to a file while the demo runs."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _progress_printer() -> Callable[[str, float | None], None]:
    seen: set[str] = set()

    def progress(stage: str, fraction: float | None) -> None:
        if stage not in seen:
            seen.add(stage)
            print(f"  … {stage}", flush=True)

    return progress
