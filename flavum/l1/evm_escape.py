"""The EVM ledger's escape hatch: FlavumRollup's freeze and FlavumBridge's escape withdrawals.

`EvmEscapeHatch` is the part of `EvmLedger` (evm.py) that reads whether the rollup is frozen
and, once it is, pays balance and object leaves of its last state root by inclusion proof and
refunds deposits no batch consumed (docs/settlement.md, "Escape hatch").
"""

from __future__ import annotations

from typing import Any

from flavum.core.merkle import SmtProof
from flavum.core.state import Object
from flavum.core.types import AssetId, Hash32
from flavum.l1.errors import NotEscaped
from flavum.l1.evm_client import call_mapped
from flavum.l1.evm_parts import EvmPart
from flavum.l1.evm_step import proof_arg
from flavum.l1.interface import DepositEvent, EscapeBalance, EscapeLeaf, EscapeStatus


class EvmEscapeHatch(EvmPart):
    """EvmLedger's escape-hatch calls (the contracts and sender are the ledger's)."""

    def escape_status(self) -> EscapeStatus:
        delay = int(call_mapped("escapeDelay", self.rollup.functions.escapeDelay().call))
        last = int(call_mapped("lastBatchBlock", self.rollup.functions.lastBatchBlock().call))
        return EscapeStatus(delay, last, last + delay + 1, self.head())

    def escape_root(self) -> Hash32:
        """The rollup's last state root, once frozen: no batch changes it after."""
        self._require_escaped()
        return Hash32(bytes(call_mapped("lastStateRoot",
                                        self.rollup.functions.lastStateRoot().call)))

    def pays_asset(self, asset: AssetId) -> bool:
        native = bytes(call_mapped("nativeAsset", self.bridge.functions.nativeAsset().call))
        if asset == native:
            return True
        token = call_mapped("tokenOfAsset", self.bridge.functions.tokenOfAsset(asset).call)
        return int(token, 16) != 0

    def escape_withdraw(self, leaf: EscapeLeaf, proof: SmtProof, sender_key: bytes) -> Hash32:
        self._require_escaped()
        if isinstance(leaf, EscapeBalance):
            fn = self.bridge.functions.escapeWithdrawBalance(
                self.w3.to_checksum_address(leaf.account), leaf.asset, leaf.amount,
                proof_arg(proof))
        else:
            fn = self.bridge.functions.escapeWithdrawObject(object_tuple(self.w3, leaf),
                                                            proof_arg(proof))
        # A mint writes a handful of slots; each proof level is two hashes.
        receipt = self._transact("escape withdrawal", sender_key, fn,
                                 gas=250_000 + 3_000 * len(proof.siblings))
        return Hash32(bytes(receipt["transactionHash"]))

    def is_escape_spent(self, leaf_key: Hash32) -> bool:
        return bool(call_mapped("escapeSpent", self.bridge.functions.escapeSpent(leaf_key).call))

    def deposits_consumed(self) -> int:
        return int(call_mapped("depositsConsumed",
                               self.rollup.functions.depositsConsumed().call))

    def escape_refund_deposit(self, deposit: DepositEvent, sender_key: bytes) -> Hash32:
        self._require_escaped()
        fn = self.bridge.functions.escapeRefundDeposit(
            deposit.index, self.w3.to_checksum_address(deposit.recipient),
            self.w3.to_checksum_address(deposit.token), deposit.amount, deposit.data_commitment,
            deposit.metadata_hash)
        receipt = self._transact("escape refund of a deposit", sender_key, fn, gas=300_000)
        return Hash32(bytes(receipt["transactionHash"]))

    def is_deposit_refunded(self, index: int) -> bool:
        return bool(call_mapped("depositRefunded",
                                self.bridge.functions.depositRefunded(index).call))

    def _require_escaped(self) -> None:
        status = self.escape_status()
        if not status.escaped:
            raise NotEscaped(
                f"the rollup on {self.name} is not in escape mode yet: it freezes at block "
                f"{status.escape_at_block} ({status.blocks_left} blocks from now) unless a "
                "batch is accepted before", blocks_left=status.blocks_left)


def object_tuple(w3: Any, o: Object) -> tuple[Any, ...]:
    """FlavumHashes.Object for `o`, field for field."""
    return (o.object_id, int(o.kind), w3.to_checksum_address(o.owner), int(o.access),
            o.commitment, o.metadata_hash, o.vk_hash, o.fee_asset, o.fee, o.model_id,
            o.data_id)
