"""Independent verification of posted batches (flow 7): no node, no trust in the sequencer.

A verifier holds a ledger's record of the batches (each header, or an anchor naming its hash
and data pointer) and a data store holding the batch data (flavum/da/batch_data.py). For each
batch it

1. fetches the blob named by the header's data pointer (the store checks that the bytes hash
   to it) and parses it;
2. checks that the blob describes this very header (every field) and the rollup the verifier
   follows (its domain), and that the batch continues the previous one's state root;
3. re-executes the transactions over the state witness (`verify_batch_transition`): the
   witness must prove the pre-state against the previous root, every transaction must be
   valid, and the new state root must be the header's;
4. recomputes the tx root from what each transaction did (its post-state root and emissions,
   core/batch.py), then the trace root and the withdrawal root;
5. given the ledger's deposits (`LedgerDeposits`, flavum/ledger_deposits.py): checks that
   every Deposit transaction of that ledger credits a deposit the ledger holds confirmed (as
   the node's watcher reads them), with the same recipient, token, amount, data commitment
   and metadata hash. The state transition takes a Deposit on the sequencer's word and an
   anchoring ledger (Litecoin) checks none itself; Deposits of other ledgers are theirs;
6. for every inference trace entry, in order: takes its proof from the blob, the model's
   record (it must hash, as the model's binding, to the MODEL object's metadata hash), its
   circuit by the MODEL object's vk hash (keccak256 of the verifying key must be that hash),
   the SRS the binding pins by sha256 (the verifier's own file, e.g. a ceremony's, or the
   copy in the same store), verifies the proof with ezkl and checks that its public values
   are the entry's input commitment and outputs.

The checks are named, in order: data (1), header and domain (2), state_root (3), tx_root,
trace_root and withdrawal_root (4), deposits (5), proofs (6). The first failed check is
reported with its exact reason; a batch with none is OK. ML execution is thus checked by
proof, deposits against the ledger, everything else by re-execution, and nothing is taken from
the node.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flavum.core.batch import (
    BatchHeader,
    Trace,
    TrainingTrace,
    compute_batch_hash,
    compute_trace_leaf,
    compute_tx_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import keccak256
from flavum.core.errors import FlavumError
from flavum.core.merkle import compute_tree_root
from flavum.core.model_binding import ModelBinding, compute_model_binding_hash
from flavum.core.state import Domain, Object
from flavum.core.stf import compute_object_id
from flavum.core.transactions import (
    DeployModel,
    Transaction,
    decode_transaction,
)
from flavum.core.types import NO_OBJECT, Hash32, ObjectKind
from flavum.core.witness import verify_batch_transition
from flavum.da.batch_data import BatchData, CircuitData, compute_record_binding
from flavum.da.interface import DataStore, cid_from_digest
from flavum.l1.interface import Ledger, PostedBatch
from flavum.ledger_deposits import LedgerDeposits

HEADER_FIELDS = ("number", "prev_state_root", "state_root", "tx_root", "trace_root",
                 "withdrawal_root")


class VerificationFailed(FlavumError):
    """A batch failed a check; `check` names it (data, header, state_root, proofs, ...)."""

    code = "verification_failed"

    def __init__(self, check: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.check = check
        self.cause_code = code or self.code


@dataclass(frozen=True)
class BatchReport:
    """The verdict on one batch: OK, or the first check it failed and why."""

    number: int
    ok: bool
    check: str | None = None  # the failed check
    reason: str | None = None  # its exact reason
    code: str | None = None  # the typed error's code behind it
    checks: tuple[str, ...] = ()  # the checks passed, in order
    txs: int = 0
    inferences: int = 0
    withdrawals: int = 0
    data_pointer: Hash32 | None = None
    state_root: Hash32 | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "ok": self.ok, "check": self.check, "reason": self.reason,
            "code": self.code, "checks": list(self.checks), "txs": self.txs,
            "inferences": self.inferences, "withdrawals": self.withdrawals,
            "data_pointer": None if self.data_pointer is None else "0x" + self.data_pointer.hex(),
            "state_root": None if self.state_root is None else "0x" + self.state_root.hex(),
        }

    def describe(self) -> str:
        if self.ok:
            return (f"batch {self.number}: OK ({self.txs} txs, {self.inferences} inferences "
                    f"proven, {self.withdrawals} withdrawals)")
        return f"batch {self.number}: FAILED {self.check}: {self.reason}"


# --- where headers come from ----------------------------------------------------------------


class HeaderSource(Protocol):
    """A ledger as the verifier reads it."""

    name: str

    def next_batch_number(self) -> int:
        """How many batches the ledger holds (numbers 0 .. n-1)."""

    def posted_batch(self, number: int) -> PostedBatch:
        """The record of batch `number` (< next_batch_number())."""


class LedgerHeaders:
    """A HeaderSource over a ledger handle: what it recorded of each batch, a full header (an
    EVM rollup) or an anchor's batch hash and data pointer (Litecoin)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.name = ledger.name

    def next_batch_number(self) -> int:
        return int(self.ledger.next_batch_number())

    def posted_batch(self, number: int) -> PostedBatch:
        posted = self.ledger.posted_batch(number)
        if posted is None:
            record = "anchor of batch" if self.ledger.capabilities.anchors_only else "batch"
            raise FlavumError(f"ledger {self.name!r} has no {record} {number}")
        return posted


# --- one batch ------------------------------------------------------------------------------


class ArtifactCache:
    """Circuits (vk + settings) and SRS files written to a work directory, for ezkl. An SRS is
    used only if it is the one the model's binding pins (by sha256): the user's own file
    (`srs_file`, e.g. a ceremony's) when it is that one, else the copy in the batch data."""

    def __init__(self, store: DataStore, directory: Path, srs_file: Path | None = None) -> None:
        self.store = store
        self.directory = directory
        self.srs_file = srs_file
        self._srs: dict[str, Path] = {}
        self._sha256: dict[Path, Hash32] = {}
        self._circuits: dict[tuple[Hash32, bytes, bytes, str], Any] = {}

    def srs_path(self, cid: str, logrows: int, pinned: Hash32) -> Path:
        from flavum.zk.srs import read_srs_logrows

        if self.srs_file is not None and self._file_sha256(self.srs_file) == pinned:
            path = self.srs_file
        else:
            path = self._fetched(cid)
            if self._file_sha256(path) != pinned:
                raise VerificationFailed(
                    "proofs", f"SRS {cid} is not the SRS the model's keys were made with (its "
                              f"binding pins sha256 {_show(pinned)})", "srs_mismatch")
        found = read_srs_logrows(path)
        if found < logrows:  # a larger SRS (a ceremony's) serves a smaller circuit
            raise VerificationFailed("proofs", f"SRS {cid} has logrows {found}, the circuit "
                                               f"needs {logrows}")
        return path

    def _fetched(self, cid: str) -> Path:
        path = self._srs.get(cid)
        if path is None:
            data = self.store.get(cid)  # checked against its content id by the store
            path = self.directory / "srs" / cid
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self._srs[cid] = path
        return path

    def _file_sha256(self, path: Path) -> Hash32:
        from flavum.zk.srs import compute_file_sha256

        if path not in self._sha256:
            self._sha256[path] = Hash32(bytes.fromhex(compute_file_sha256(path)))
        return self._sha256[path]

    def artifacts(self, vk_hash: Hash32, circuit: CircuitData, pinned_srs: Hash32) -> Any:
        key = (vk_hash, circuit.vk, circuit.settings, circuit.srs_cid)
        cached = self._circuits.get(key)
        if cached is not None:
            return cached
        srs = self.srs_path(circuit.srs_cid, circuit.srs_logrows, pinned_srs)
        directory = self.directory / "circuits" / f"{vk_hash.hex()}-{len(self._circuits)}"
        directory.mkdir(parents=True, exist_ok=True)
        artifacts = circuit_artifacts(directory, vk_hash, circuit, srs)
        self._circuits[key] = artifacts
        return artifacts


def circuit_artifacts(directory: Path, vk_hash: Hash32, circuit: CircuitData, srs: Path) -> Any:
    """CircuitArtifacts for verification only, from a blob's verifying key and ezkl settings:
    the public-value layout (input visibility, input and output instance counts) is read from
    the settings exactly as the node's build derived it."""
    from flavum.zk.circuit import CircuitArtifacts, CircuitConfig

    (directory / "vk").write_bytes(circuit.vk)
    (directory / "settings.json").write_bytes(circuit.settings)
    try:
        settings = json.loads(circuit.settings)
        run_args = settings["run_args"]
        visibility = _visibility(run_args["input_visibility"])
        output_scales = tuple(int(s) for s in settings["model_output_scales"])
        input_scales = [int(s) for s in settings["model_input_scales"]]
        shapes = [tuple(int(d) for d in s) for s in settings["model_instance_shapes"]]
        logrows = int(run_args["logrows"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationFailed("proofs", f"circuit 0x{vk_hash.hex()}: malformed settings: "
                                           f"{exc!r}", "malformed_batch_data") from exc
    output_shapes = tuple(shapes[len(shapes) - len(output_scales):])
    input_shapes = shapes[: len(shapes) - len(output_scales)]
    if visibility == "hashed":
        num_inputs = len(input_scales)  # one Poseidon hash per input tensor
        input_shape: tuple[int, ...] = (1,)  # not in the settings; verification needs none
    elif visibility == "public":
        num_inputs = sum(math.prod(s) for s in input_shapes)
        input_shape = input_shapes[0] if input_shapes else (1,)
    else:
        num_inputs = 0
        input_shape = (1,)
    return CircuitArtifacts(
        directory=directory, key=vk_hash.hex(), config=CircuitConfig(input_visibility=visibility),
        logrows=logrows, srs_path=srs, srs_sha256="", vk_hash=vk_hash, input_shape=input_shape,
        input_scale=input_scales[0] if input_scales else 0, output_shapes=output_shapes,
        output_scales=output_scales, num_input_instances=num_inputs, model_sha256="",
        row_inputs=(len(input_scales)
                    if visibility in ("hashed", "polycommit", "public") and input_scales else 1),
    )


def _visibility(value: Any) -> str:
    """ezkl's serialized visibility ("Public", "Private", {"Hashed": {...}}, "KZGCommit") as
    Flavum names it."""
    name = next(iter(value)) if isinstance(value, dict) else str(value)
    if name == "Hashed":
        if isinstance(value, dict) and not value["Hashed"].get("hash_is_public", True):
            raise ValueError("a private input hash exposes no commitment")
        return "hashed"
    if name in ("Public", "Private"):
        return name.lower()
    if name == "KZGCommit":
        return "polycommit"
    raise ValueError(f"unsupported input visibility {value!r}")


@dataclass
class _Progress:
    checks: list[str] = field(default_factory=list)
    txs: int = 0
    inferences: int = 0
    withdrawals: int = 0

    def passed(self, check: str) -> None:
        self.checks.append(check)


def verify_batch(header: BatchHeader, blob_source: DataStore, domain: Domain, *,
                 prev_state_root: Hash32 | None = None,
                 artifacts: ArtifactCache | None = None,
                 deposits: LedgerDeposits | None = None) -> BatchReport:
    """Verify one batch as a ledger recorded it (`header`) against its data in `blob_source`.

    `prev_state_root`: the state root the batch must start from (the previous batch's, or the
    genesis root); None takes the header's own. `artifacts` caches circuits and SRS files
    across batches (one is made in a temporary directory otherwise). `deposits`: the ledger's,
    for the "deposits" check (None: a batch with no ledger to check them against; that check
    is then not made, and not reported as passed)."""
    if artifacts is not None:
        return _verify(header, blob_source, domain, prev_state_root, artifacts, deposits)
    with tempfile.TemporaryDirectory(prefix="flavum-verifier-") as tmp:
        return _verify(header, blob_source, domain, prev_state_root,
                       ArtifactCache(blob_source, Path(tmp)), deposits)


def verify_posted(posted: PostedBatch, blob_source: DataStore, domain: Domain, *,
                  prev_state_root: Hash32 | None = None, artifacts: ArtifactCache | None = None,
                  deposits: LedgerDeposits | None = None,
                  ) -> tuple[BatchReport, BatchHeader | None]:
    """Verify a ledger's record of a batch, full header or anchor (as `verify_batch`); also
    return the header (rebuilt from the blob for an anchor) when it could be established."""
    header = posted.header
    if header is None:
        try:
            header = _header_from_anchor(posted, blob_source)
        except VerificationFailed as exc:
            return _failed(posted.number, exc, _Progress(), posted.data_pointer), None
    elif posted.batch_hash is not None and compute_batch_hash(header) != posted.batch_hash:
        exc = VerificationFailed("header", "the header does not hash to the batch hash the "
                                           "ledger recorded")
        return _failed(posted.number, exc, _Progress(), header.data_pointer), None
    return verify_batch(header, blob_source, domain, prev_state_root=prev_state_root,
                        artifacts=artifacts, deposits=deposits), header


def _header_from_anchor(posted: PostedBatch, store: DataStore) -> BatchHeader:
    if posted.data_pointer is None or posted.batch_hash is None:
        raise VerificationFailed("header", "the ledger's anchor names no data pointer or hash")
    data = load_batch_data(store, posted.data_pointer)
    header = BatchHeader(data.number, data.prev_state_root, data.state_root, data.tx_root,
                         data.trace_root, data.withdrawal_root, posted.data_pointer)
    if compute_batch_hash(header) != posted.batch_hash:
        raise VerificationFailed("header", "the batch data's header fields with the anchored "
                                           "data pointer do not hash to the anchored batch hash")
    return header


def load_batch_data(store: DataStore, data_pointer: Hash32) -> BatchData:
    """The batch data a header's data pointer names, parsed (VerificationFailed "data")."""
    cid = cid_from_digest(data_pointer)
    try:
        blob = store.get(cid)
    except FlavumError as exc:  # DataUnavailable, StoreUnreachable, ContentMismatch
        raise VerificationFailed("data", f"batch data {cid}: {exc}", exc.code) from exc
    try:
        return BatchData.from_bytes(blob)
    except FlavumError as exc:
        raise VerificationFailed("data", f"batch data {cid}: {exc}", exc.code) from exc


def _failed(number: int, exc: VerificationFailed, progress: _Progress,
            data_pointer: Hash32 | None) -> BatchReport:
    return BatchReport(number, False, exc.check, str(exc), exc.cause_code,
                       tuple(progress.checks), progress.txs, progress.inferences,
                       progress.withdrawals, data_pointer)


def _verify(header: BatchHeader, store: DataStore, domain: Domain,
            prev_state_root: Hash32 | None, artifacts: ArtifactCache,
            deposits: LedgerDeposits | None) -> BatchReport:
    progress = _Progress()
    try:
        _check_batch(header, store, domain, prev_state_root, artifacts, deposits, progress)
    except VerificationFailed as exc:
        return _failed(header.number, exc, progress, header.data_pointer)
    return BatchReport(header.number, True, None, None, None, tuple(progress.checks),
                       progress.txs, progress.inferences, progress.withdrawals,
                       header.data_pointer, header.state_root)


def _check_batch(header: BatchHeader, store: DataStore, domain: Domain,
                 prev_state_root: Hash32 | None, artifacts: ArtifactCache,
                 deposits: LedgerDeposits | None, progress: _Progress) -> None:
    data = load_batch_data(store, header.data_pointer)
    progress.passed("data")

    for name in HEADER_FIELDS:
        ledger_value, blob_value = getattr(header, name), getattr(data, name)
        if ledger_value != blob_value:
            raise VerificationFailed("header", f"header field {name}: the ledger has "
                                               f"{_show(ledger_value)}, the batch data "
                                               f"{_show(blob_value)}")
    if prev_state_root is not None and header.prev_state_root != prev_state_root:
        raise VerificationFailed("header", f"prev_state_root {_show(header.prev_state_root)} "
                                           f"does not continue from {_show(prev_state_root)}")
    progress.passed("header")

    if (data.chain_id, data.rollup_id) != (domain.chain_id, domain.rollup_id):
        raise VerificationFailed(
            "domain", f"the batch is for chain {data.chain_id} rollup {_show(data.rollup_id)}, "
                      f"this verifier follows chain {domain.chain_id} rollup "
                      f"{_show(domain.rollup_id)}")
    progress.passed("domain")

    txs = _decode_txs(data)
    progress.txs = len(txs)
    try:
        done = verify_batch_transition(domain, header.prev_state_root, data.witness, txs,
                                       data.executions, header.state_root)
    except FlavumError as exc:  # InvalidWitness, WitnessIncomplete, InvalidTransaction, ...
        raise VerificationFailed("state_root", str(exc), exc.code) from exc
    progress.passed("state_root")

    # Each transaction's leaf commits its post-state root and emissions: the tx root must be
    # what re-execution gives, transaction by transaction.
    _check_root("tx_root", "re-execution gives",
                compute_tree_root([compute_tx_leaf(c) for _, c in done]), header.tx_root)
    progress.passed("tx_root")

    traces = [o.trace for o, _ in done if o.trace is not None]
    withdrawals = [o.withdrawal for o, _ in done if o.withdrawal is not None]
    progress.inferences, progress.withdrawals = len(traces), len(withdrawals)
    _check_root("trace_root", "re-execution gives",
                compute_tree_root([compute_trace_leaf(t) for t in traces]), header.trace_root)
    progress.passed("trace_root")
    _check_root("withdrawal_root", "re-execution gives",
                compute_tree_root([compute_withdrawal_leaf(w) for w in withdrawals]),
                header.withdrawal_root)
    progress.passed("withdrawal_root")

    if deposits is not None:  # before the proofs: a ledger read is cheaper than ezkl
        try:
            refusal = deposits.refusal(txs)
        except FlavumError as exc:  # LedgerUnreachable, LedgerError
            raise VerificationFailed("deposits", f"reading the deposits of ledger "
                                                 f"{deposits.ledger.name}: {exc}",
                                     exc.code) from exc
        if refusal is not None:
            raise VerificationFailed("deposits", refusal)
        progress.passed("deposits")

    _check_proofs(data, traces, artifacts)
    progress.passed("proofs")


def _decode_txs(data: BatchData) -> list[Transaction]:
    txs = []
    for index, raw in enumerate(data.txs):
        try:
            txs.append(decode_transaction(raw))
        except FlavumError as exc:
            raise VerificationFailed("tx_root", f"transaction {index}: {exc}", exc.code) from exc
    return txs


def models_of(data: BatchData) -> dict[Hash32, Object]:
    """Every MODEL object an inference of this batch can have used: from the pre-state (the
    witness, checked against the previous root) or deployed by the batch itself. Re-execution
    has already read each one of them from exactly these sources."""
    models: dict[Hash32, Object] = {
        object_id: obj for object_id, obj in data.witness.objects
        if obj is not None and obj.kind == ObjectKind.MODEL
    }
    for tx in _decode_txs(data):
        body = tx.body
        if isinstance(body, DeployModel):
            object_id = compute_object_id(tx.sender, tx.nonce)
            models[object_id] = Object(object_id, ObjectKind.MODEL, tx.sender, body.access,
                                       body.model_hash, body.metadata_hash, body.vk_hash,
                                       body.fee_asset, body.fee)
    return models


def _check_proofs(data: BatchData, traces: list[Trace],
                  artifacts: ArtifactCache) -> None:
    from flavum.zk.proof import verify_inference

    if len(data.proofs) != len(traces):
        raise VerificationFailed("proofs", f"the batch has {len(traces)} inference trace "
                                           f"entries but {len(data.proofs)} proofs")
    models = models_of(data)
    for index, (trace, entry) in enumerate(zip(traces, data.proofs, strict=True)):
        where = f"trace entry {index} (tx {_show(trace.tx_hash)})"
        if entry.tx_hash != trace.tx_hash:
            raise VerificationFailed("proofs", f"{where}: the proof in its place is for tx "
                                               f"{_show(entry.tx_hash)}")
        if isinstance(trace, TrainingTrace):
            from flavum.verifier_training import check_training

            check_training(data, trace, entry, models, artifacts, where)
            continue
        if trace.circuit_id != NO_OBJECT:  # an inference on a trainable version
            from flavum.verifier_training import check_version_inference

            check_version_inference(data, trace, entry, models, artifacts, where)
            continue
        if entry.model_id != trace.model_id:
            raise VerificationFailed("proofs", f"{where}: the proof names model "
                                               f"{_show(entry.model_id)}, the trace "
                                               f"{_show(trace.model_id)}")
        if entry.status != "proven" or entry.proof is None:
            raise VerificationFailed("proofs", f"{where}: no proof ({entry.status}: "
                                               f"{entry.reason})", "invalid_proof")
        model = models.get(trace.model_id)
        if model is None:  # pragma: no cover - re-execution read it from these sources
            raise VerificationFailed("proofs", f"{where}: model {_show(trace.model_id)} unknown")
        binding = model_binding(data, model, where)
        circuit = data.circuits.get(model.vk_hash)
        if circuit is None:
            raise VerificationFailed("proofs", f"{where}: the batch data has no circuit for "
                                               f"vk hash {_show(model.vk_hash)}")
        if keccak256(circuit.vk) != model.vk_hash:
            raise VerificationFailed("proofs", f"{where}: the verifying key published for "
                                               f"{_show(model.vk_hash)} hashes to "
                                               f"{_show(keccak256(circuit.vk))}", "invalid_proof")
        try:
            verify_inference(artifacts.artifacts(model.vk_hash, circuit, binding.srs_hash),
                             entry.proof,
                             entry.row, trace.input_commitment, trace.outputs)
        except VerificationFailed as exc:
            raise VerificationFailed("proofs", f"{where}: {exc}", exc.cause_code) from exc
        except FlavumError as exc:  # InvalidProof, SrsError, DataUnavailable (the SRS), ...
            raise VerificationFailed("proofs", f"{where}: {exc}", exc.code) from exc


def model_binding(data: BatchData, model: Object, where: str) -> ModelBinding:
    """The binding `model` committed to, from the record the batch data publishes for it: the
    record must hash (as its binding) to the MODEL's metadata hash and name its vk hash."""
    record = data.records.get(model.metadata_hash)
    if record is None:
        raise VerificationFailed("proofs", f"{where}: the batch data publishes no record for "
                                           f"model {_show(model.object_id)}")
    try:
        fields = json.loads(record)
        binding = compute_record_binding(fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("proofs", f"{where}: the record of model "
                                           f"{_show(model.object_id)} is malformed: {exc!r}",
                                 "malformed_batch_data") from exc
    if compute_model_binding_hash(binding) != model.metadata_hash:
        raise VerificationFailed("proofs", f"{where}: the record published for model "
                                           f"{_show(model.object_id)} is not the one its "
                                           "metadata hash commits to")
    if fields.get("vk_hash") != _show(model.vk_hash):
        raise VerificationFailed("proofs", f"{where}: the record of model "
                                           f"{_show(model.object_id)} names another vk hash")
    return binding


def _check_root(check: str, source: str, computed: bytes, expected: bytes) -> None:
    """VerificationFailed(check) unless the root `source` computed is the header's."""
    if computed != expected:
        name = check.replace("_", " ")
        raise VerificationFailed(check, f"{source} {name} {_show(computed)}, the header has "
                                        f"{_show(expected)}")


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


# --- many batches ---------------------------------------------------------------------------


class Verifier:
    """Walks a ledger's batches from a number on, each against its data, with the chain of
    state roots: batch n must start where batch n-1 (as the ledger recorded it) ended; and,
    given the ledger's `deposits`, each batch's deposits of that ledger against them."""

    def __init__(self, headers: HeaderSource, store: DataStore, domain: Domain, *,
                 genesis_root: Hash32 | None = None, workdir: Path | None = None,
                 srs_file: Path | None = None, deposits: LedgerDeposits | None = None) -> None:
        self.headers = headers
        self.deposits = deposits  # the ledger's deposits, for the "deposits" check
        self.store = store
        self.domain = domain
        self.genesis_root = genesis_root  # the root batch 0 must start from, when known
        self._tmp = None if workdir is not None else tempfile.mkdtemp(prefix="flavum-verifier-")
        self.artifacts = ArtifactCache(store, workdir or Path(self._tmp or "."), srs_file)
        self._last: tuple[int, Hash32] | None = None  # (number, state root) last seen

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self, number: int) -> BatchReport:
        """Verify batch `number` (chained to the previous batch when that one was seen)."""
        try:
            posted = self.headers.posted_batch(number)
        except FlavumError as exc:
            report = BatchReport(number, False, "header", f"reading the ledger: {exc}", exc.code)
            return report
        prev: Hash32 | None = None
        if self._last is not None and self._last[0] == number - 1:
            prev = self._last[1]
        elif number == 0:
            prev = self.genesis_root
        report, header = verify_posted(posted, self.store, self.domain, prev_state_root=prev,
                                       artifacts=self.artifacts, deposits=self.deposits)
        if header is not None:
            self._last = (number, header.state_root)
        return report

    def _chain_to(self, number: int) -> None:
        """Start from batch `number` > 0: batch number-1 as the ledger recorded it gives the
        state root to continue from (it is not verified itself)."""
        if number == 0 or (self._last is not None and self._last[0] == number - 1):
            return
        try:
            posted = self.headers.posted_batch(number - 1)
        except FlavumError:
            return  # batch `number` then starts from its own prev_state_root
        if posted.header is not None:
            self._last = (number - 1, posted.header.state_root)

    def run(self, start: int = 0, stop: int | None = None) -> Iterator[BatchReport]:
        """Reports of batches start .. stop-1 (stop: the ledger's count now)."""
        end = self.headers.next_batch_number() if stop is None else stop
        if start < end:
            self._chain_to(start)
        for number in range(start, end):
            yield self.verify(number)

    def watch(self, start: int = 0, *, poll_s: float = 2.0,
              should_stop: Callable[[], bool] = lambda: False,
              sleep: Callable[[float], None] = time.sleep) -> Iterator[BatchReport]:
        """Follow the ledger: every batch from `start` on, as it is posted, until
        `should_stop()` says so (checked between polls)."""
        number = start
        while not should_stop():
            head = self.headers.next_batch_number()
            if number < head:
                self._chain_to(number)
            while number < head:
                yield self.verify(number)
                number += 1
            if should_stop():
                return
            sleep(poll_s)
