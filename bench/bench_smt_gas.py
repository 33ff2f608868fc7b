"""Benchmark: L1 gas of FlavumSmt.update (one leaf set, inserted or deleted, from its proof).

Builds state trees of random keys (1,000 and 100,000 leaves by default), then for random
keys calls FlavumSmtHarness on the embedded EVM (Prague rules). "library" is the gas of
FlavumSmt.update alone, its arguments already in memory (what a contract calling it spends);
"tx" is eth_estimateGas of the external call less the 21,000 of any transaction: calldata
(Prague's floor of 10 gas per calldata token often decides it) and ABI decoding come on top.
Every root is checked against Python's tree.

    python bench/bench_smt_gas.py [--sizes 1000 100000] [--samples 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.core.merkle import SmtProof, SmtSibling, SparseMerkleTree  # noqa: E402
from flavum.core.types import ZERO_HASH, Hash32  # noqa: E402
from flavum.l1.evm_client import (  # noqa: E402
    constructor_data,
    embedded_web3,
    load_artifact,
    send_transaction,
)

DEPLOYER = b"\x51" * 32


def deploy_harness() -> object:
    w3 = embedded_web3([DEPLOYER])
    artifact = load_artifact("FlavumSmtHarness")
    data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]), ())
    receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER, {"data": data, "gas": 3_000_000},
                               "FlavumSmtHarness")
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def measure(contract: object, tree: SparseMerkleTree, key: Hash32, new: Hash32 | None
            ) -> tuple[int, int, int]:
    """(library gas, tx gas less 21k, proof length) of one update, checked against Python."""
    proof: SmtProof
    sibling: SmtSibling | None
    proof, sibling = tree.prove_update(key)
    old = tree.get(key)
    args = (tree.root(), key, old or ZERO_HASH, new or ZERO_HASH,
            (list(proof.siblings), proof.other_key is not None, proof.other_key or ZERO_HASH,
             proof.other_value_hash or ZERO_HASH),
            (sibling.kind, sibling.a, sibling.b) if sibling else (0, ZERO_HASH, ZERO_HASH))
    functions = contract.functions  # type: ignore[attr-defined]
    after = tree.copy()
    if new is None:
        after.delete(key)
    else:
        after.set(key, new)
    root, library_gas = functions.updateGas(*args).call()
    assert root == after.root()
    return library_gas, functions.update(*args).estimate_gas() - 21_000, len(proof.siblings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    contract = deploy_harness()
    print(f"{'leaves':>8} {'update':<8} {'library':>8} {'max':>7} {'tx':>7} {'max':>7} "
          f"{'depth':>6}")
    for size in args.sizes:
        tree = SparseMerkleTree()
        keys = [Hash32(rng.randbytes(32)) for _ in range(size)]
        for key in keys:
            tree.set(key, Hash32(rng.randbytes(32)))
        tree.root()
        for name in ("replace", "insert", "delete"):
            samples = []
            for _ in range(args.samples):
                key = Hash32(rng.randbytes(32)) if name == "insert" else rng.choice(keys)
                new = None if name == "delete" else Hash32(rng.randbytes(32))
                samples.append(measure(contract, tree, key, new))
            library, tx = [s[0] for s in samples], [s[1] for s in samples]
            print(f"{size:>8,} {name:<8} {statistics.mean(library):>8,.0f} {max(library):>7,} "
                  f"{statistics.mean(tx):>7,.0f} {max(tx):>7,} "
                  f"{statistics.mean(s[2] for s in samples):>6.1f}")


if __name__ == "__main__":
    main()
