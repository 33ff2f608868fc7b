"""Node-level inference benchmark, measured side by side in one run.

(a) Flavum's infer + prove (submit a signed Infer to a node: witness, state transition, store;
    then the proof manager proves it and verifies the proof) against bare ezkl on the same
    model and input (gen_witness + prove). Goal: <= 1.05.
(b) Prove time against native onnxruntime inference time, for each model family.

    python bench/bench_inference.py [--runs 3]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from flavum.core.codec import from_hex
from flavum.core.transactions import (
    DeployModel,
    Infer,
    SubmitData,
    Transaction,
    address_of,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_HASH, Access, Amount, Hash32, Nonce
from flavum.ml import examples
from flavum.ml.normalize import normalize
from flavum.ml.reference import run_float
from flavum.node.config import Allocation, NodeConfig, native_asset
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool

KEY = b"\x01" * 32


def bare_ezkl(artifacts, row: np.ndarray, workdir: Path) -> float:
    import ezkl

    input_path, witness, proof = workdir / "in.json", workdir / "w.json", workdir / "p.json"
    input_path.write_text(json.dumps({"input_data": [row.reshape(-1).tolist()]}))
    started = time.perf_counter()
    ezkl.gen_witness(str(input_path), str(artifacts.compiled_path), str(witness))
    ezkl.prove(str(witness), str(artifacts.compiled_path), str(artifacts.pk_path), str(proof),
               srs_path=str(artifacts.srs_path))
    return time.perf_counter() - started


def flavum_infer_prove(node: Node, model_id, vk_hash, row: np.ndarray) -> float:
    sender = address_of(KEY)
    config = node.config

    def send(body):
        nonce = node.sequencer.account(sender)[0]
        tx = Transaction(config.domain.chain_id, config.rollup_id, sender, Nonce(nonce), body)
        return node.sequencer.submit(encode_transaction(sign_transaction(tx, KEY)))

    commitment = node.models.commit_data(vk_hash, row)
    data_id = send(SubmitData(commitment, ZERO_HASH, Access.OWNED)).outcome.object_id
    started = time.perf_counter()
    receipt = send(Infer(model_id, data_id, Amount(0)))
    while node.store.get_trace(receipt.tx_hash).proof_status not in ("proven", "failed"):
        node.prover.poll()
    elapsed = time.perf_counter() - started
    if node.store.get_trace(receipt.tx_hash).proof_status != "proven":
        raise RuntimeError("proof failed")
    return elapsed


def onnxruntime_time(model_bytes: bytes, row: np.ndarray, repeats: int = 200) -> float:
    run_float(model_bytes, row[None, :])  # warm the session cache
    started = time.perf_counter()
    for _ in range(repeats):
        run_float(model_bytes, row[None, :])
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    families = {
        "sklearn MLP, digits": lambda: examples.train_sklearn_mlp("digits"),
        "sklearn LogisticRegression, breast_cancer": lambda: examples.train_sklearn_logreg(
            "breast_cancer"),
        "torch MLP, wine": lambda: examples.train_torch_mlp("wine"),
        "torch CNN, digits": examples.train_torch_cnn,
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = NodeConfig(home=Path(tmp), genesis=(Allocation(address_of(KEY),
                                                                Amount(10**21)),),
                            prover="inline")
        node = Node.open(config, pool=InlineProverPool())
        for name, train in families.items():
            example = train()
            record = node.models.compile(example.onnx_bytes, example.samples)
            vk_hash = Hash32(from_hex(record.vk_hash))
            artifacts = node.models.artifacts(vk_hash)
            nonce = node.sequencer.account(address_of(KEY))[0]
            tx = Transaction(config.domain.chain_id, config.rollup_id, address_of(KEY),
                             Nonce(nonce), DeployModel(Hash32(from_hex(record.model_hash)), vk_hash,
                                                       record.metadata_hash, Access.COMMON,
                                                       native_asset(), Amount(0)))
            model_id = node.sequencer.submit(
                encode_transaction(sign_transaction(tx, KEY))).outcome.object_id
            bare, ours = [], []
            for i in range(args.runs):  # interleaved, so both see the same machine load
                row = example.test_inputs[i]
                bare.append(bare_ezkl(artifacts, row, Path(tmp)))
                ours.append(flavum_infer_prove(node, model_id, vk_hash, row))
            normalized = normalize(example.onnx_bytes, example.samples)
            native = onnxruntime_time(normalized.model_bytes, example.test_inputs[0])
            rows.append((name, record.logrows, statistics.median(bare),
                         statistics.median(ours), native))
        node.close()
    print(f"median of {args.runs} runs per model; proofs in-process, both cores")
    print(f"{'model':42} {'logrows':>7} {'bare ezkl s':>11} {'Flavum s':>9} {'ratio':>6} "
          f"{'onnxruntime µs':>14} {'prove/ort':>10}")
    for name, logrows, bare_s, ours_s, native_s in rows:
        print(f"{name:42} {logrows:7d} {bare_s:11.3f} {ours_s:9.3f} {ours_s / bare_s:6.3f} "
              f"{native_s * 1e6:14.1f} {bare_s / native_s:10.0f}")
    worst = max(ours_s / bare_s for _, _, bare_s, ours_s, _ in rows)
    print(f"goal Flavum/bare <= 1.05: {'meets' if worst <= 1.05 else 'MISSES'} (worst {worst:.3f})")


if __name__ == "__main__":
    main()
