"""The EVM ledger's model registry: binding models to their verifiers with no registrar.

`EvmModels` is the part of `EvmLedger` (evm.py) that reads and makes registrations on
ModelRegistry.sol. A registration shows the MODEL object in a batch's state root (an inclusion
proof) with the preimage of its metadata hash (flavum.core.model_binding), and names a verifier
whose code, or VKA, is the one that binding committed to. The sequencer sends them inside the
batch that first proves the model (`registration_args`, against that batch's state root);
anyone can send one for a batch the rollup holds (`register_model`).
"""

from __future__ import annotations

from typing import Any

from flavum.core.batch import BatchHeader
from flavum.core.codec import to_hex
from flavum.core.model_binding import (
    INPUTS_ONE,
    INPUTS_PUBLIC_ROWS,
    INPUTS_ROW_POINTS,
    INPUTS_TRAINING_STEP,
    INPUTS_VERSION,
)
from flavum.core.types import Address, Hash32, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.evm_abi import header_tuple
from flavum.l1.evm_client import call_mapped
from flavum.l1.evm_parts import EvmPart
from flavum.l1.evm_step import proof_arg
from flavum.l1.interface import ModelLayout, ModelRegistration, RegisteredModel
from flavum.l1.verifiers import EIP170_LIMIT, VerifierBuild, build_model_verifier


class EvmModels(EvmPart):
    """EvmLedger's model registry calls (the contracts and sender are the ledger's)."""

    def model(self, model_id: ObjectId) -> RegisteredModel | None:
        (verifier, reusable, rows, inputs, batch_number, owner, vk_hash, vka_digest,
         _) = call_mapped("getModel", self.registry.functions.getModel(model_id).call)
        if int(verifier, 16) == 0:
            return None
        standing = bool(call_mapped("isStanding",
                                    self.registry.functions.isStanding(model_id).call))
        return RegisteredModel(model_id, Address(bytes.fromhex(verifier[2:])), Hash32(vk_hash),
                               Address(bytes.fromhex(owner[2:])), reusable,
                               read_inputs_layout(int(rows), int(inputs)), Hash32(vka_digest),
                               int(batch_number), standing)

    def register_model(self, header: BatchHeader, registration: ModelRegistration,
                       sender_key: bytes) -> RegisteredModel:
        model_id = registration.model.object_id
        existing = self.model(model_id)
        if existing is not None and existing.standing:
            return existing
        arg = self.registration_arg(registration, sender_key)
        self._transact(f"registration of model {to_hex(model_id)}", sender_key,
                       self.registry.functions.register(header_tuple(header), arg),
                       gas=self.registration_gas([registration]))
        registered = self.model(model_id)
        if registered is None:
            raise LedgerError("model registration left no record")
        return registered

    def registration_arg(self, registration: ModelRegistration, sender_key: bytes
                         ) -> tuple[Any, ...]:
        """ModelRegistry.Registration for `registration`: the model's own verifier (deployed
        now with `sender_key` unless an instance of its code is known) when its binding names
        one, else its VKA on the deployment's reusable verifier."""
        from flavum.l1.evm_escape import object_tuple

        binding = registration.binding
        build = self.verifier_build(registration)
        if binding.has_own_verifier:
            verifier, vka = self._own_verifier(build, sender_key), []
        else:
            if self.reusable_verifier is None:
                raise LedgerError("no reusable verifier in this deployment")
            verifier, vka = self.reusable_verifier.address, list(build.vka)
        binding_arg = (binding.record_hash, binding.srs_hash, binding.verifier_code_hash,
                       binding.vka_digest, binding.reusable_code_hash, binding.rows,
                       binding.inputs)
        return (object_tuple(self.w3, registration.model), binding_arg,
                proof_arg(registration.proof), verifier, vka)

    def registration_gas(self, registrations: list[ModelRegistration]) -> int:
        """Gas for binding `registrations`: the proof, the checks and, on the reusable
        verifier, storing its VKA's digest and reading its words."""
        return sum(200_000 + 2_500 * len(r.proof.siblings)
                   + (0 if r.binding.has_own_verifier else 2_500 * 400)
                   for r in registrations)

    def verifier_build(self, registration: ModelRegistration) -> VerifierBuild:
        """The model's verifier and VKA, built from its circuit (kept beside it), checked
        against what its binding committed to: a node must not send a registration that its
        own files contradict."""
        circuit = registration.circuit
        build = build_model_verifier(circuit.vk_path, circuit.settings_path, circuit.srs_path,
                                     circuit.directory / "evm")
        binding = registration.binding
        # A binding may name no own verifier (then only the VKA is bound) even where one fits.
        if ((binding.has_own_verifier and build.code_hash != binding.verifier_code_hash)
                or build.vka_digest != binding.vka_digest):
            raise LedgerError(
                f"model {to_hex(registration.model.object_id)}: its circuit's verifier is not "
                "the one its binding names", reason="binding mismatch")
        return build

    def _own_verifier(self, build: VerifierBuild, sender_key: bytes) -> str:
        """An instance of the model's own verifier code: one this handle deployed, or a new one."""
        contract = build.contract
        if contract is None or contract.deployed_size > EIP170_LIMIT:
            raise LedgerError("the model's verifier exceeds the contract size limit")
        deployed: dict[bytes, str] = self.__dict__.setdefault("_verifiers", {})
        if contract.code_hash not in deployed:
            receipt = self._deploy("verifier deployment", sender_key, contract.abi,
                                   contract.bytecode, (), self.gas.deploy_verifier)
            deployed[contract.code_hash] = str(receipt["contractAddress"])
        return deployed[contract.code_hash]

    def vka_of(self, model_id: ObjectId) -> list[bytes]:
        """The VKA words a model was registered with, read back from the registering call (the
        rollup's batch posting, or the registry's `register`)."""
        cached: dict[bytes, list[bytes]] = self.__dict__.setdefault("_vkas", {})
        if model_id in cached:
            return cached[model_id]
        logs = call_mapped("ModelRegistered logs", lambda: self.registry.events.ModelRegistered
                           .get_logs(from_block=self.deployment.deployed_at_block,
                                     argument_filters={"modelId": model_id}))
        if not logs:
            raise LedgerError(f"model {to_hex(model_id)} has no registration event")
        tx = call_mapped("transaction", lambda: self.w3.eth.get_transaction(
            logs[-1]["transactionHash"]))
        contract = self.registry if tx["to"] == self.registry.address else self.rollup
        _, params = contract.decode_function_input(tx["input"])
        calls = params["registrations"] if "registrations" in params else [params["r"]]
        found = [r for r in calls if bytes(r["model"]["objectId"]) == model_id]
        if not found:
            raise LedgerError(f"model {to_hex(model_id)}: its registration call names it not")
        cached[model_id] = [bytes(w) for w in found[-1]["vka"]]
        return cached[model_id]


def read_inputs_layout(rows: int, inputs: int) -> ModelLayout:
    """The ModelLayout of a registration's rows and layout word (mode byte, row width above)."""
    if inputs == INPUTS_TRAINING_STEP:
        return ModelLayout(rows, training_step=True)
    if inputs == INPUTS_VERSION:
        return ModelLayout(rows, version_inference=True)
    mode, width = inputs & 0xFF, inputs >> 8
    return ModelLayout(rows, mode != INPUTS_ONE, mode == INPUTS_ROW_POINTS,
                       width if mode == INPUTS_PUBLIC_ROWS else 0)
