"""Benchmark: L1 gas per proven inference by row mode and batch size (docs/models.md).

A Gemm 4-8-3 MLP (4 input values a row, as a tabular model such as iris) batched by N with
flavum.ml.batching, its rows bound three ways: Poseidon commitments (hashed), KZG points in the
proof (polycommit) and public rows (common data: the rollup hashes each row's public values).
For each mode and N: the model is shown in a batch's state root and registered (its own
verifier if it fits 24 KB, else its VKA on the reusable verifier), then a batch of N signed
Infer transactions with one proof is posted to the embedded EVM (py-evm, Prague rules), and an
empty batch (one Transfer) after it. Receipt gasUsed, base and calldata included; "marginal"
is the full batch's gas above the empty batch's.

Goal (issue 16): <= 50k gas per proven inference, amortized.

    python bench/bench_mode_gas.py [--sizes 16,64] [--modes hashed,polycommit,public]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.core.batch import TraceEntry  # noqa: E402
from flavum.core.types import ObjectId  # noqa: E402
from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.l1.interface import ModelLayout, proven_inference  # noqa: E402
from flavum.zk.circuit import CircuitConfig  # noqa: E402
from flavum.zk.execution import outputs_per_row  # noqa: E402
from flavum.zk.polycommit import compute_data_commitment  # noqa: E402
from tests.l1.conftest import FUNDED, deploy, make_per_row_model  # noqa: E402
from tests.l1.helpers import bind_model, h, make_batch, register  # noqa: E402

GOAL = 50_000


def layout_of(mode: str, n: int, width: int) -> ModelLayout:
    if mode == "public":
        return ModelLayout(n, per_row_inputs=True, row_width=width)
    return ModelLayout(n, per_row_inputs=True, row_points=mode == "polycommit")


def measure(root: Path, mode: str, n: int) -> dict[str, object]:
    """Gas of a full batch of n inferences in one proof, and of an empty batch after it."""
    model = make_per_row_model(root / f"{mode}-{n}", n=n,
                               config=CircuitConfig(input_visibility=mode))
    ledger = deploy(embedded_web3(FUNDED))
    width = model.artifacts.row_size
    bound = bind_model(model, ObjectId(h(f"{mode}-{n}")), layout_of(mode, n, width),
                       own=model.verifier.fits)
    register(ledger, bound)
    outputs = outputs_per_row(model.artifacts, model.full.outputs)
    traces = [TraceEntry(h(f"infer{i}"), bound.model_id, ObjectId(h(f"data{i}")),
                         compute_data_commitment(model.artifacts, model.inputs[i]), outputs[i],
                         ObjectId(h(f"result{i}"))) for i in range(n)]
    inference = proven_inference(bound.model_id, model.full_proof,
                                 [(t.tx_hash, t.result_id) for t in traces])
    batch = make_batch(1, prev_root=bound.root, traces=traces)
    ledger.post_batch(*batch, [inference])
    full = int(ledger.last_receipt["gasUsed"])
    ledger.post_batch(*make_batch(2, prev_root=batch.header.state_root))
    empty = int(ledger.last_receipt["gasUsed"])
    return {"mode": mode, "n": n, "logrows": model.artifacts.logrows,
            "public": len(inference.instances), "proof_bytes": len(inference.proof),
            "verifier": "own" if model.verifier.fits else "reusable (VKA)",
            "gas": full, "per_inference": full // n, "marginal": (full - empty) // n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64")
    parser.add_argument("--modes", default="hashed,polycommit,public")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="flavum-bench-mode-gas-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            for mode in args.modes.split(","):
                rows.append(measure(Path(tmp), mode, n))
                print(f"  {mode} N={n}: {rows[-1]['per_inference']:,} gas per inference",
                      flush=True)
    print("\n| rows as | N | logrows | public values | proof bytes | verifier | batch gas "
          "| per inference | marginal per inference |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        verdict = "goal met" if int(str(r["per_inference"])) <= GOAL else "goal missed"
        print(f"| {r['mode']} | {r['n']} | {r['logrows']} | {r['public']} | "
              f"{r['proof_bytes']:,} | {r['verifier']} | {r['gas']:,} | "
              f"{r['per_inference']:,} ({verdict}) | {r['marginal']:,} |")


if __name__ == "__main__":
    main()
