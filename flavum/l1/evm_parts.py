"""What the parts of the EVM ledger share: `EvmLedger` (evm.py) is assembled from the escape
hatch (evm_escape.py), the model registry (evm_models.py) and the roles (evm_roles.py), each a
class over the same chain handle, contracts and sending; `EvmLedger` sets and defines them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavum.l1.interface import Ledger


class EvmPart(Ledger):
    """The attributes and sending methods every part of EvmLedger reads."""

    w3: Any
    rollup: Any
    registry: Any
    bridge: Any
    reusable_verifier: Any
    deployment: Any
    gas: Any
    sequencer_key: bytes | None

    if TYPE_CHECKING:
        def _transact(self, what: str, key: bytes, fn: Any, gas: int | None = None,
                      value: int = 0) -> Any: ...

        def _deploy(self, what: str, key: bytes, abi: list[Any], bytecode: bytes,
                    args: Any, gas: int) -> Any: ...
