"""The EVM ledger's roles: FlavumRollup's admin, sequencer and sequencer rotation.

`EvmRoles` is the part of `EvmLedger` (evm.py) that reads who may post (the sequencer is the
contract's, read at every call: the admin can replace it) and sends the admin's proposal, its
cancellation and the activation once the rotation delay is over (docs/settlement.md, "Roles
and sequencer rotation").
"""

from __future__ import annotations

from typing import Any

from flavum.core.transactions import address_of
from flavum.core.types import Address, Hash32
from flavum.l1.errors import NotSequencer
from flavum.l1.evm_client import call_mapped
from flavum.l1.evm_parts import EvmPart
from flavum.l1.interface import SequencerRoles


class EvmRoles(EvmPart):
    """EvmLedger's role calls (the contracts and sender are the ledger's)."""

    def sequencer_roles(self) -> SequencerRoles:
        fns = self.rollup.functions
        pending = _address(call_mapped("pendingSequencer", fns.pendingSequencer().call))
        return SequencerRoles(
            admin=_address(call_mapped("admin", fns.admin().call)),
            sequencer=_address(call_mapped("sequencer", fns.sequencer().call)),
            rotation_delay=int(call_mapped("rotationDelay", fns.rotationDelay().call)),
            pending=None if pending == bytes(20) else pending,
            pending_at_block=(None if pending == bytes(20) else int(call_mapped(
                "pendingSequencerAtBlock", fns.pendingSequencerAtBlock().call))),
            head=self.head(),
            poster=None if self.sequencer_key is None else address_of(self.sequencer_key),
        )

    def propose_sequencer(self, sequencer: Address, admin_key: bytes) -> Hash32:
        fn = self.rollup.functions.proposeSequencer(self.w3.to_checksum_address(sequencer))
        return self._send_role("proposeSequencer", admin_key, fn)

    def cancel_sequencer(self, admin_key: bytes) -> Hash32:
        return self._send_role("cancelSequencer", admin_key,
                               self.rollup.functions.cancelSequencer())

    def activate_sequencer(self, sender_key: bytes) -> Hash32:
        return self._send_role("activateSequencer", sender_key,
                               self.rollup.functions.activateSequencer())

    def _require_posting_role(self, key: bytes) -> None:
        """NotSequencer unless `key` is the rollup's sequencer now; a proposed one whose
        delay is over activates itself first."""
        roles = self.sequencer_roles()
        if roles.may_post:
            return
        if roles.due and roles.pending == roles.poster:
            self.activate_sequencer(key)
            return
        pending = ("" if roles.pending is None else f"; 0x{roles.pending.hex()} is proposed "
                   f"from block {roles.pending_at_block}")
        raise NotSequencer(
            f"this key (0x{address_of(key).hex()}) is not the sequencer of the rollup on "
            f"{self.name} (0x{roles.sequencer.hex()} is{pending}): the rollup refuses its "
            "batches", reason="not the sequencer")

    def _send_role(self, what: str, key: bytes, fn: Any) -> Hash32:
        receipt = self._transact(what, key, fn, gas=120_000)
        return Hash32(bytes(receipt["transactionHash"]))


def _address(value: Any) -> Address:
    return Address(bytes.fromhex(str(value)[2:]))
