"""Compiling Solidity with the pinned solc-js (npm `solc`, run by Node) through standard JSON.

The project's own contracts are compiled once by `contracts/build.py` and their artifacts are
committed, so a node only compiles at run time when it deploys a per-model ezkl verifier.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavum.core.encoding import keccak256
from flavum.l1.errors import CompileError

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"  # supported by py-evm (eth-tester) and anvil alike




@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_size: int
    code_hash: bytes  # keccak256 of the runtime code: EXTCODEHASH once deployed (no immutables)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledContract:
        return cls(data["contractName"], data["abi"], bytes.fromhex(data["bytecode"][2:]),
                   int(data["deployedSize"]), bytes.fromhex(data["codeHash"][2:]))

    def to_json(self) -> dict[str, Any]:
        return {"contractName": self.name, "abi": self.abi, "bytecode": "0x" + self.bytecode.hex(),
                "deployedSize": self.deployed_size, "codeHash": "0x" + self.code_hash.hex(),
                "compiler": f"solc-js {SOLC_VERSION}",
                "evmVersion": EVM_VERSION}


def compile_sources(
    sources: dict[str, str], *, optimizer_runs: int = 200, via_ir: bool = False,
    timeout_s: float = 600.0,
) -> dict[str, CompiledContract]:
    """Compile Solidity `sources` (file name -> text); every contract found, by name."""
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not on PATH: solc-js needs Node.js")
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "viaIR": via_ir,
            "optimizer": {"enabled": True, "runs": optimizer_runs},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object",
                                            "evm.deployedBytecode.object"]}},
        },
    }
    try:
        done = subprocess.run(
            [node, str(CONTRACTS_DIR / "solc.js")], input=json.dumps(request).encode(),
            capture_output=True, timeout=timeout_s, env=os.environ.copy(), check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CompileError(f"solc-js took longer than {timeout_s} s") from exc
    if done.returncode != 0:
        raise CompileError(f"solc-js failed: {done.stderr.decode(errors='replace')[-2000:]}")
    reply = json.loads(done.stdout)
    if not reply["version"].startswith(SOLC_VERSION + "+"):
        raise CompileError(f"solc-js is {reply['version']}, the project pins {SOLC_VERSION}")
    output = reply["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("; ".join(e.get("formattedMessage", e["message"]) for e in errors))
    contracts: dict[str, CompiledContract] = {}
    for by_name in output.get("contracts", {}).values():
        for name, data in by_name.items():
            contracts[name] = CompiledContract(
                name=name,
                abi=data["abi"],
                bytecode=bytes.fromhex(data["evm"]["bytecode"]["object"]),
                deployed_size=len(data["evm"]["deployedBytecode"]["object"]) // 2,
                code_hash=keccak256(bytes.fromhex(data["evm"]["deployedBytecode"]["object"])),
            )
    return contracts
