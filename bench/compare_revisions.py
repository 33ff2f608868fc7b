"""Sequencer throughput of two revisions, side by side in one run.

A refactor must not slow the sequencer: this checks out REV in a temporary git worktree and
runs each tree's own `bench/bench_sequencer.py` in turn (REV, then the working tree, repeated),
so both see the same machine at the same time. It prints each run's Flavum-sequencer rate, the
medians and their ratio (working tree / REV; >= 1.0 means not slower).

    python bench/compare_revisions.py REV [--rounds 3] [--txs 20000]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RATE = re.compile(r"^Flavum sequencer.*?\s([\d,]+)\s+[\d.]+\s+[\d.]+\s*$", re.MULTILINE)


def sequencer_rate(tree: Path, txs: int) -> float:
    """One run of `tree`'s own benchmark, importing `tree`'s own package."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "bench_sequencer.py"), "--txs", str(txs)],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout
    match = RATE.search(out)
    if match is None:
        raise SystemExit(f"no sequencer row in the output of {tree}:\n{out}")
    return float(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="the revision to compare with (a commit before a change)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--txs", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), args.rev],
                       check=True, capture_output=True)
        try:
            rates: dict[str, list[float]] = {"rev": [], "tree": []}
            for round_ in range(1, args.rounds + 1):
                rates["rev"].append(sequencer_rate(old, args.txs))
                rates["tree"].append(sequencer_rate(REPO, args.txs))
                print(f"round {round_}: {args.rev} {rates['rev'][-1]:,.0f} tx/s, "
                      f"working tree {rates['tree'][-1]:,.0f} tx/s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)],
                           check=True, capture_output=True)
    before, after = statistics.median(rates["rev"]), statistics.median(rates["tree"])
    print(f"median: {args.rev} {before:,.0f} tx/s, working tree {after:,.0f} tx/s, "
          f"ratio {after / before:.3f}")


if __name__ == "__main__":
    main()
