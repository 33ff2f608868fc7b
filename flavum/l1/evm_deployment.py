"""Where one rollup's contracts live on one EVM chain, and the deployment file that records it
(`flavum l1 deploy` writes it; the node and the CLI read it)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EvmDeployment:
    """Where the contracts of one rollup live on one chain."""

    chain_id: int
    rollup: str
    registry: str
    bridge: str
    objects: str
    reusable_verifier: str | None
    deployed_at_block: int
    ledger_name: str = "evm"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvmDeployment:
        return cls(**data)


def write_deployment(path: Path, deployment: EvmDeployment) -> None:
    path.write_text(json.dumps(deployment.to_json(), indent=1) + "\n")


def read_deployment(path: Path) -> EvmDeployment:
    return EvmDeployment.from_json(json.loads(path.read_text()))
