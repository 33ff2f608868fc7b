"""Re-deriving every proven model from what was published (`flavum verify --models`).

A MODEL's metadata hash commits to its binding: its record (which names the hash of the ONNX
graph its circuit proves), the SRS, its verifier's code hash and its VKA's digest
(flavum.core.model_binding). The rollup contract checks proofs with the verifier of that code
only, but it cannot tell whether that verifier is ezkl's for the model's graph. This check
can: from the batch data alone it takes the graph and the ezkl settings, compiles them and
sets the keys up again with the pinned SRS, then regenerates the verifier and the VKA from that
key, and requires the vk hash, the code hash and the digest the owner committed to. A model
that fails is one whose results nobody should trust, whatever its proofs say.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flavum.core.errors import FlavumError
from flavum.core.state import Domain, Object
from flavum.core.types import NO_OBJECT, Hash32, ObjectId
from flavum.da.batch_data import BatchData
from flavum.da.interface import DataStore
from flavum.l1.interface import Ledger
from flavum.l1.verifiers import build_model_verifier, compute_reusable_code_hash
from flavum.verifier import (
    ArtifactCache,
    HeaderSource,
    VerificationFailed,
    load_batch_data,
    model_binding,
    models_of,
)
from flavum.zk.circuit import rederive_vk_hash


@dataclass(frozen=True)
class ModelReport:
    """The verdict on one model: its keys and verifiers re-derived, or the first mismatch."""

    model_id: ObjectId
    ok: bool
    reason: str | None = None
    batch: int | None = None  # the first batch that proves it (where its files are published)
    vk_hash: Hash32 | None = None
    verifier_code_hash: Hash32 | None = None
    vka_digest: Hash32 | None = None
    registered: str | None = None  # on a ledger that registers models: standing, reverted, no

    def to_json(self) -> dict[str, Any]:
        def show(value: bytes | None) -> str | None:
            return None if value is None else "0x" + value.hex()

        return {"model_id": show(self.model_id), "ok": self.ok, "reason": self.reason,
                "batch": self.batch, "vk_hash": show(self.vk_hash),
                "verifier_code_hash": show(self.verifier_code_hash),
                "vka_digest": show(self.vka_digest), "registered": self.registered}

    def describe(self) -> str:
        head = f"model 0x{self.model_id.hex()}"
        if not self.ok:
            return f"{head}: FAILED {self.reason}"
        where = "" if self.registered is None else f", registered: {self.registered}"
        return f"{head}: OK (keys and verifiers re-derived from batch {self.batch}{where})"


def check_models(headers: HeaderSource, store: DataStore, domain: Domain, workdir: Path, *,
                 ledger: Ledger | None = None, srs_file: Path | None = None
                 ) -> list[ModelReport]:
    """One report per model the ledger's batches prove, in the order they first appear."""
    artifacts = ArtifactCache(store, workdir, srs_file)
    reports: dict[ObjectId, ModelReport] = {}
    for number in range(headers.next_batch_number()):
        posted = headers.posted_batch(number)
        pointer = posted.header.data_pointer if posted.header is not None else posted.data_pointer
        if pointer is None:
            continue  # nothing published to re-derive from
        data = load_batch_data(store, pointer)
        models = models_of(data)
        for entry in data.proofs:
            model = models.get(entry.model_id)
            if model is not None and model.model_id != NO_OBJECT:
                # An Infer on a trainable version: its proof is the inference circuit's.
                model = models.get(ObjectId(model.vk_hash))
            if model is None or model.object_id in reports:
                continue
            report = _check(data, model, number, store, artifacts,
                            workdir / f"model-{model.object_id.hex()}")
            reports[model.object_id] = _with_registration(report, ledger)
    return list(reports.values())


def _check(data: BatchData, model: Object, number: int, store: DataStore,
           artifacts: ArtifactCache, directory: Path) -> ModelReport:
    where = f"batch {number}"
    try:
        binding = model_binding(data, model, where)
        record = json.loads(data.records[model.metadata_hash])
        circuit = data.circuits.get(model.vk_hash)
        if circuit is None:
            raise VerificationFailed("models", f"{where} publishes no circuit for the model")
        directory.mkdir(parents=True, exist_ok=True)
        graph = store.get(circuit.model_cid)
        if hashlib.sha256(graph).hexdigest() != record.get("circuit_model_sha256"):
            raise VerificationFailed("models", "the published graph is not the one the "
                                               "model's record names")
        (directory / "published.onnx").write_bytes(graph)
        (directory / "published-settings.json").write_bytes(circuit.settings)
        srs = artifacts.srs_path(circuit.srs_cid, circuit.srs_logrows, binding.srs_hash)
        vk_hash = rederive_vk_hash(directory / "published.onnx",
                                   directory / "published-settings.json", srs,
                                   directory / "keys")
        if vk_hash != model.vk_hash:
            raise VerificationFailed("models", f"the published graph and settings give vk hash "
                                               f"0x{vk_hash.hex()}, the model committed to "
                                               f"0x{model.vk_hash.hex()}")
        build = build_model_verifier(directory / "keys" / "vk", directory / "keys" /
                                     "settings.json", srs, directory / "evm")
        if build.code_hash != binding.verifier_code_hash:
            raise VerificationFailed("models", "its verifier code hash is not that of ezkl's "
                                               "verifier for its key")
        if build.vka_digest != binding.vka_digest:
            raise VerificationFailed("models", "its VKA digest is not that of its key")
        if binding.reusable_code_hash != compute_reusable_code_hash():
            raise VerificationFailed("models", "the reusable verifier it names is not ezkl's")
    except VerificationFailed as exc:
        return ModelReport(model.object_id, False, str(exc), number)
    except FlavumError as exc:  # the graph or SRS unavailable, ezkl refusing the graph
        return ModelReport(model.object_id, False, f"{type(exc).__name__}: {exc}", number)
    return ModelReport(model.object_id, True, None, number, vk_hash, build.code_hash,
                       build.vka_digest)


def _with_registration(report: ModelReport, ledger: Ledger | None) -> ModelReport:
    if ledger is None or not ledger.capabilities.registers_models:
        return report
    registered = ledger.model(report.model_id)
    state = "no" if registered is None else "standing" if registered.standing else "reverted"
    return replace(report, registered=state)
