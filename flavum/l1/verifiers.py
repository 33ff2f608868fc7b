"""On-chain ezkl verifiers for models: Solidity generation, compilation and the VKA words.

A model gets either its own verifier contract (`Halo2Verifier`, `verifyProof(bytes,uint256[])`)
or its verifying-key artifact (VKA) on the one shared reusable verifier
(`Halo2VerifierReusable`, `verifyProof(bytes,uint256[],bytes32[])`). A verifier over the
EIP-170 size limit (24,576 bytes: batched models) must use the reusable one.

ezkl's EVM calls are async and have aborted the interpreter at exit ("PyGILState_Release")
after writing their outputs, so they run in a child process: `python -m flavum.l1.verifiers`.
`create_evm_verifier` writes the .sol, then fails trying to download solc: that failure is
expected and ignored when the file is there; the .sol is compiled with the pinned solc-js.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from flavum.core.encoding import keccak256
from flavum.core.types import ZERO_HASH, Hash32
from flavum.l1.errors import VerifierGenerationError
from flavum.l1.solc import CompiledContract, compile_sources

EIP170_LIMIT = 24_576
VERIFIER_CONTRACT = "Halo2Verifier"
REUSABLE_CONTRACT = "Halo2VerifierReusable"


@dataclass(frozen=True)
class VerifierBuild:
    """What a model needs on chain: its own verifier (if deployable), and its VKA words."""

    contract: CompiledContract | None  # None when it exceeds EIP-170
    vka: tuple[bytes, ...]  # 32-byte words, for the reusable verifier

    @property
    def fits(self) -> bool:
        return self.contract is not None

    @property
    def code_hash(self) -> Hash32:
        """The runtime code hash of the model's own verifier; zero when it has none."""
        return Hash32(self.contract.code_hash) if self.contract is not None else ZERO_HASH

    @property
    def vka_digest(self) -> Hash32:
        """What the reusable verifier (and the registry) computes of the VKA: keccak256."""
        return keccak256(b"".join(self.vka))


def compute_reusable_code_hash() -> Hash32:
    """The runtime code hash of ezkl's reusable verifier as this project deploys it (one
    bytecode for every circuit: the committed artifact's)."""
    from flavum.l1.evm_client import load_artifact

    return Hash32(bytes.fromhex(load_artifact(REUSABLE_CONTRACT)["codeHash"][2:]))


def _run_child(args: list[str], timeout_s: float) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flavum.l1.verifiers", *args],
        capture_output=True, timeout=timeout_s, check=False,
    )
    if done.returncode != 0:
        raise VerifierGenerationError(
            f"ezkl verifier generation failed: {done.stderr.decode(errors='replace')[-1500:]}"
        )


def generate_verifier_source(
    vk_path: Path, settings_path: Path, srs_path: Path, out: Path, *, reusable: bool = False,
    timeout_s: float = 600.0,
) -> str:
    """The Solidity text of the circuit's verifier (or of the reusable verifier)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["sol", str(vk_path), str(settings_path), str(srs_path), str(out)]
    _run_child([*args, "--reusable"] if reusable else args, timeout_s)
    return out.read_text()


def generate_vka(
    vk_path: Path, settings_path: Path, srs_path: Path, out: Path, timeout_s: float = 600.0
) -> tuple[bytes, ...]:
    """The circuit's VKA as 32-byte words (file: 8-byte little-endian count, then the words)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run_child(["vka", str(vk_path), str(settings_path), str(srs_path), str(out)], timeout_s)
    return read_vka(out)


def read_vka(path: Path) -> tuple[bytes, ...]:
    data = path.read_bytes()
    count = int.from_bytes(data[:8], "little")
    if len(data) != 8 + 32 * count:
        raise VerifierGenerationError(f"VKA file {path.name} is not 8 + 32 * {count} bytes")
    return tuple(data[8 + 32 * i: 40 + 32 * i] for i in range(count))


def compile_verifier(source: str, name: str = VERIFIER_CONTRACT) -> CompiledContract:
    # runs=1: the verifier runs a few times per model and its size is what limits it.
    return compile_sources({"Verifier.sol": source}, optimizer_runs=1)[name]


def build_model_verifier(
    vk_path: Path, settings_path: Path, srs_path: Path, workdir: Path
) -> VerifierBuild:
    """Generate and compile the model's own verifier, and its VKA for the reusable one. The
    result is kept in `workdir` and returned from there by later calls (ezkl's generation is
    deterministic: the same key, settings and SRS give the same Solidity and VKA)."""
    kept = workdir / "verifier.json"
    if kept.is_file() and (workdir / "vka.bin").is_file():
        data = json.loads(kept.read_text())
        contract = CompiledContract.from_json(data) if data else None
        return VerifierBuild(contract, read_vka(workdir / "vka.bin"))
    source = generate_verifier_source(vk_path, settings_path, srs_path, workdir / "Verifier.sol")
    compiled = compile_verifier(source)
    vka = generate_vka(vk_path, settings_path, srs_path, workdir / "vka.bin")
    contract = compiled if compiled.deployed_size <= EIP170_LIMIT else None
    kept.write_text(json.dumps(contract.to_json() if contract is not None else {}))
    return VerifierBuild(contract, vka)


# --- the child process -------------------------------------------------------------------


async def _make_sol(vk: str, settings: str, srs: str, out: str, reusable: bool) -> None:
    import ezkl

    abi = out + ".abi"
    try:
        await ezkl.create_evm_verifier(vk, settings, out, abi, srs_path=srs, reusable=reusable)
    except Exception:
        # It writes the .sol and then fails downloading solc (no network): expected.
        if not Path(out).is_file():
            raise


async def _make_vka(vk: str, settings: str, srs: str, out: str) -> None:
    import ezkl

    await ezkl.create_evm_vka(vk, settings, out, srs_path=srs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flavum.l1.verifiers")
    parser.add_argument("what", choices=("sol", "vka"))
    parser.add_argument("vk")
    parser.add_argument("settings")
    parser.add_argument("srs")
    parser.add_argument("out")
    parser.add_argument("--reusable", action="store_true")
    args = parser.parse_args(argv)
    Path(args.out).unlink(missing_ok=True)
    if args.what == "sol":
        asyncio.run(_make_sol(args.vk, args.settings, args.srs, args.out, args.reusable))
    else:
        asyncio.run(_make_vka(args.vk, args.settings, args.srs, args.out))
    if not Path(args.out).is_file():
        print(f"ezkl wrote no {args.out}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown, where ezkl's runtime has aborted the process.
    import os

    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
