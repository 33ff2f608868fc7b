"""Compile the Solidity sources under contracts/src with the pinned solc-js and write one
artifact per deployable contract to contracts/build/<Name>.json (ABI + bytecode).

The artifacts are committed: a node deploys them without a compiler. Run after changing a
source (`python contracts/build.py`); `--check` fails when a committed artifact is stale.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.l1.solc import compile_sources  # noqa: E402
from flavum.l1.verifiers import REUSABLE_CONTRACT, compile_verifier  # noqa: E402

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
BUILD = HERE / "build"
DEPLOYABLE = (
    "FlavumRollup", "ModelRegistry", "FlavumBridge", "FlavumObjects", "TestToken",
    "FlavumHashesHarness", "FlavumSmtHarness", "FlavumStep",
    "FlavumLeaves",  # created by FlavumRollup's constructor; its ABI and code hash for checks
)
EIP170_LIMIT = 24_576


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare with committed files")
    parser.add_argument("--reusable-sol", type=Path, help="compile ezkl's reusable verifier")
    args = parser.parse_args()
    if args.reusable_sol is not None:
        contract = compile_verifier(args.reusable_sol.read_text(), REUSABLE_CONTRACT)
        (BUILD / f"{REUSABLE_CONTRACT}.json").write_text(render(contract.to_json()))
        print(f"{REUSABLE_CONTRACT}: {contract.deployed_size} bytes deployed")
        return 0
    sources = {f"src/{p.name}": p.read_text() for p in sorted(SRC.glob("*.sol"))}
    compiled = compile_sources(sources, optimizer_runs=200)
    BUILD.mkdir(exist_ok=True)
    stale = []
    for name in DEPLOYABLE:
        contract = compiled[name]
        if contract.deployed_size > EIP170_LIMIT:
            raise SystemExit(f"{name} is {contract.deployed_size} bytes, over the EIP-170 limit")
        path = BUILD / f"{name}.json"
        text = render(contract.to_json())
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        path.write_text(text)
        print(f"{name}: {contract.deployed_size} bytes deployed")
    if stale:
        print("stale artifacts: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
