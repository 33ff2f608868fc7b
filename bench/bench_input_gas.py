"""Benchmark: the verifier call's gas for a batched proof, by input visibility.

A batched model (flavum.ml.batching: N one-row inputs) proves N inferences in one proof. How
each row is bound to its DATA object changes what the chain pays for that proof:
- hashed: N Poseidon hashes are public values (N words of instances);
- polycommit: no public value for the inputs; the proof carries N KZG points (64 bytes each,
  the first N points of the proof), which the rollup reads to hash with keccak;
- public: the rows themselves are public values (N x row size words).

Measured on the embedded EVM (py-evm, Prague rules): receipt gasUsed (base and calldata
included) of one `verifyProof` transaction to the model's own ezkl verifier, and its deployed
size. Models: the Gemm 4-8-3 MLP of bench_gas.py batched by 16 (its per-row row in the gas
table) and the digits MLP 64-32-10 of bench_batching.py batched by 12.

    python bench/bench_input_gas.py [--models gemm16,digits12]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.l1.verifiers import compile_verifier, generate_verifier_source  # noqa: E402
from flavum.ml.batching import make_batched  # noqa: E402
from flavum.zk.circuit import CircuitConfig, build_circuit  # noqa: E402
from flavum.zk.execution import run_witness  # noqa: E402
from flavum.zk.polycommit import compute_row_point, read_proof_points  # noqa: E402
from flavum.zk.proof import prove, verify  # noqa: E402
from flavum.zk.srs import SrsStore  # noqa: E402

VISIBILITIES = ("hashed", "polycommit", "public")


def load_model(name: str):
    """(batched ONNX bytes, calibration rows, N rows to prove) of a named case."""
    if name == "gemm16":
        from tests.zk.conftest import make_calibration, make_mlp_model

        return (make_batched(make_mlp_model((4, 8, 3)), 16), make_calibration(4, rows=64),
                make_calibration(4, rows=16, seed=7))
    if name == "digits12":
        from bench_batching import train_model

        model, x = train_model()
        return make_batched(model, 12, x[:12]), x[:24], x[100:112]
    raise SystemExit(f"unknown model {name}")


def measure(name: str, visibility: str, root: Path, w3) -> dict:
    model, calibration, rows = load_model(name)
    artifacts = build_circuit(model, calibration, CircuitConfig(input_visibility=visibility),
                              SrsStore(root / "srs"), cache_dir=root / "circuits")
    execution = run_witness(artifacts, rows, workdir=root / f"{name}-{visibility}")
    proof = prove(artifacts, execution)
    verify(artifacts, proof)
    if visibility == "polycommit":
        points = tuple(compute_row_point(artifacts, row) for row in rows)
        if read_proof_points(proof.proof_bytes, len(rows)) != points:
            raise SystemExit("the proof's points are not the rows' KZG commitments")
    source = generate_verifier_source(artifacts.vk_path, artifacts.settings_path,
                                      artifacts.srs_path, root / f"{name}-{visibility}.sol")
    contract = compile_verifier(source)
    sender = w3.eth.accounts[0]
    deployed = w3.eth.get_transaction_receipt(w3.eth.send_transaction(
        {"from": sender, "data": "0x" + contract.bytecode.hex(), "gas": 29_000_000}))
    verifier = w3.eth.contract(address=deployed["contractAddress"], abi=contract.abi)
    call = verifier.functions.verifyProof(proof.proof_bytes, list(proof.instances))
    receipt = w3.eth.get_transaction_receipt(call.transact({"from": sender, "gas": 5_000_000}))
    if receipt["status"] != 1:
        raise SystemExit(f"{name} {visibility}: the verifier refused the proof")
    n = len(rows)
    return {"model": name, "visibility": visibility, "n": n, "logrows": artifacts.logrows,
            "instances": len(proof.instances), "proof_bytes": len(proof.proof_bytes),
            "code_bytes": contract.deployed_size, "gas": receipt["gasUsed"],
            "per_inference": receipt["gasUsed"] / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gemm16,digits12")
    args = parser.parse_args()
    w3 = embedded_web3()
    results = []
    with tempfile.TemporaryDirectory(prefix="flavum-bench-input-gas-") as tmp:
        for name in args.models.split(","):
            for visibility in VISIBILITIES:
                r = measure(name, visibility, Path(tmp), w3)
                print(f"  {name} {visibility}: {r['gas']:,} gas", flush=True)
                results.append(r)
    print("\n| model | input | N | logrows | public values | proof bytes | verifier bytes "
          "| verify gas | per inference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} | {r['visibility']} | {r['n']} | {r['logrows']} | "
              f"{r['instances']} | {r['proof_bytes']:,} | {r['code_bytes']:,} | {r['gas']:,} | "
              f"{r['per_inference']:,.0f} |")


if __name__ == "__main__":
    main()
