"""Benchmark: cost of updating the state's sparse Merkle tree as it grows.

Grows one tree to 10^3, 10^4, ... leaves and at each size updates 1,000 random existing leaves.
"set + root" recomputes the root after every update (the worst case: nothing shared);
"batched" sets 1,000 leaves then computes the root once (what a batch does: the upper levels
are shared). A logarithmic tree shows a per-update ratio that follows the log2(size) ratio,
not the size ratio.

    python bench/bench_state_root.py [--max 1000000] [--updates 1000] [--seed 1]
"""

import argparse
import math
import random
import resource
import time
from collections.abc import Callable
from typing import Any

import flavum.core.merkle as merkle
from flavum.core.merkle import SparseMerkleTree
from flavum.core.types import Hash32


def grow(tree: SparseMerkleTree, keys: list[Hash32], target: int, rng: random.Random) -> None:
    """Insert fresh random keys until the tree holds `target` leaves."""
    while len(keys) < target:
        key = Hash32(rng.randbytes(32))
        tree.set(key, Hash32(rng.randbytes(32)))
        keys.append(key)


def time_single(
    tree: SparseMerkleTree, keys: list[Hash32], updates: int, rng: random.Random
) -> float:
    """Seconds per update when the root is recomputed after every update."""
    chosen = [rng.choice(keys) for _ in range(updates)]
    values = [Hash32(rng.randbytes(32)) for _ in range(updates)]
    start = time.perf_counter()
    for key, value in zip(chosen, values, strict=True):
        tree.set(key, value)
        tree.root()
    return (time.perf_counter() - start) / updates


def time_batched(
    tree: SparseMerkleTree, keys: list[Hash32], updates: int, rng: random.Random
) -> float:
    """Seconds per update when `updates` updates share one root computation."""
    chosen = [rng.choice(keys) for _ in range(updates)]
    values = [Hash32(rng.randbytes(32)) for _ in range(updates)]
    start = time.perf_counter()
    for key, value in zip(chosen, values, strict=True):
        tree.set(key, value)
    tree.root()
    return (time.perf_counter() - start) / updates


def count_hashes(
    tree: SparseMerkleTree, keys: list[Hash32], updates: int, rng: random.Random
) -> float:
    """Hashes per update (set + root), counted by wrapping the hash functions merkle.py calls."""
    counter = [0]

    def counting(function: Callable[..., Hash32]) -> Callable[..., Hash32]:
        def wrapper(*args: Any) -> Hash32:
            counter[0] += 1
            return function(*args)

        return wrapper

    originals = (merkle.compute_smt_leaf_hash, merkle.compute_smt_node_hash)
    merkle.compute_smt_leaf_hash = counting(originals[0])  # type: ignore[assignment]
    merkle.compute_smt_node_hash = counting(originals[1])  # type: ignore[assignment]
    try:
        for _ in range(updates):
            tree.set(rng.choice(keys), Hash32(rng.randbytes(32)))
            tree.root()
    finally:
        merkle.compute_smt_leaf_hash, merkle.compute_smt_node_hash = originals
    return counter[0] / updates


def peak_memory_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="largest tree size")
    parser.add_argument("--updates", type=int, default=1000, help="updates measured per size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    sizes = []
    size = 1000
    while size <= args.max:
        sizes.append(size)
        size *= 10

    rng = random.Random(args.seed)
    tree = SparseMerkleTree()
    keys: list[Hash32] = []
    header = (
        f"{'leaves':>9} | {'us/update':>9} | {'ratio':>5} | {'log2 ratio':>10} | "
        f"{'hashes/update':>13} | {'batched us/update':>17} | {'grow s':>6} | {'peak MB':>7}"
    )
    print("set + root per update; batched = 1,000 sets then one root()")
    print(header)
    print("-" * len(header))
    first_us = 0.0
    first_log = 0.0
    for size in sizes:
        start = time.perf_counter()
        grow(tree, keys, size, rng)
        tree.root()
        grow_seconds = time.perf_counter() - start
        single_us = time_single(tree, keys, args.updates, rng) * 1e6
        batched_us = time_batched(tree, keys, args.updates, rng) * 1e6
        hashes = count_hashes(tree, keys, args.updates, rng)
        log_size = math.log2(size)
        if not first_us:
            first_us, first_log = single_us, log_size
        print(
            f"{size:>9,} | {single_us:>9.1f} | {single_us / first_us:>5.2f} | "
            f"{log_size / first_log:>10.2f} | {hashes:>13.1f} | {batched_us:>17.1f} | "
            f"{grow_seconds:>6.1f} | {peak_memory_mb():>7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
