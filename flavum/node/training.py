"""Training on the node: step circuits deployed as MODEL objects, the values behind trainable
models' commitments, and the canonical execution of a Train.

A step circuit (one SGD step of a model family, flavum/zk/training.py) is built once per
(family, shape, learning rate, scale) into a `StepRecord`; a DeployModel naming its vk hash and
the record's binding (training-step layout: its proofs chain per Train) makes it a MODEL that
trainable models name. Rows and params are kept by their Poseidon commitments (the store's
data inputs, as for inference data). A Train runs the step circuit's witness generation step
after step from the parent version's params on the DATA objects' rows (`execute`); the proof
manager asks for the same runs again (`step_runs`) to prove them: the runs are deterministic.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.batch import TrainingTrace, compute_rows_hash
from flavum.core.codec import from_hex, to_hex
from flavum.core.encoding import keccak256
from flavum.core.errors import InvalidProof, NotFound
from flavum.core.model_binding import ModelBinding, compute_model_binding_hash
from flavum.core.state import Object
from flavum.core.stf import TrainingExecution
from flavum.core.transactions import DeployModel, DeployTrainable
from flavum.core.types import Access, Amount, AssetId, Hash32
from flavum.da.batch_data import compute_record_binding
from flavum.l1.verifiers import build_model_verifier, compute_reusable_code_hash
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.mlp_step import MlpStep
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import SoftmaxStep, make_one_hot_rows
from flavum.ml.training import LogisticStep, TrainableFamily, TrainingStep, make_labelled_rows
from flavum.node.sandbox import Progress, ResourceLimits, run_limited
from flavum.node.store import Store
from flavum.zk.execution import FieldElement
from flavum.zk.srs import SrsStore, compute_file_sha256
from flavum.zk.training import (
    DEFAULT_SCALE,
    StepCircuit,
    StepRun,
    build_step_circuit,
    check_training_chain,
    compute_params_commitment,
    compute_row_commitment,
    load_step_proof,
    make_step,
    run_step,
)
from flavum.zk.versions import VersionKey, build_version_key


@dataclass(frozen=True)
class StepRecord:
    """What the node knows of a circuit of a trainable architecture (its step circuit, or its
    inference circuit, which every version shares); its binding's hash is the MODEL's metadata
    hash."""

    kind: str  # "step" or "inference"
    family: str
    options: dict[str, Any]  # the family's shape and learning rate
    scale: int
    vk_hash: str
    graph_hash: str  # keccak256 of the step's ONNX graph: the MODEL's model hash
    circuit_model_sha256: str  # of the graph the circuit proves (published with batches)
    logrows: int
    srs_sha256: str
    verifier_code_hash: str  # of its own ezkl verifier; zero when over the contract size limit
    vka_digest: str
    reusable_code_hash: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def binding(self) -> ModelBinding:
        """One row per proof (a Train, or an inference); a step's read with the training-step
        layout (compute_record_binding, which a verifier applies to the published record)."""
        return compute_record_binding(self.to_json())

    @property
    def metadata_hash(self) -> Hash32:
        return compute_model_binding_hash(self.binding)

    def deploy_body(self, fee_asset: Hash32, fee: int = 0) -> DeployModel:
        """The DeployModel that makes this circuit a (common) MODEL."""
        return DeployModel(Hash32(from_hex(self.graph_hash, 32, "graph hash")),
                           Hash32(from_hex(self.vk_hash, 32, "vk hash")), self.metadata_hash,
                           Access.COMMON, AssetId(fee_asset), Amount(fee))


def build_architecture(family: str, options: dict[str, Any], scale: int, srs: SrsStore,
                       directory: Path, progress: Progress | None = None
                       ) -> tuple[StepRecord, StepRecord]:
    """Build (or reuse) an architecture's step circuit and inference circuit with their
    verifiers, and write their records under `directory`. Any family of flavum/zk/training.py
    (`make_step`). Runs in the sandbox's child process for the API (plain data in and out)."""
    step = make_step(family, options)
    if progress is not None:
        progress("step", None)
    circuit = build_step_circuit(step, srs, scale=scale, cache_dir=directory / "steps")
    if progress is not None:
        progress("inference", None)
    key = build_version_key(step, srs, scale=scale, cache_dir=directory / "versions")
    if progress is not None:
        progress("verifier", None)
    return (_write_record(directory, "step", family, options, scale, circuit, step.make_graph()),
            _write_record(directory, "inference", family, options, scale, key,
                          step.make_inference_graph()))


def _write_record(directory: Path, kind: str, family: str, options: dict[str, Any], scale: int,
                  circuit: StepCircuit | VersionKey, graph: bytes) -> StepRecord:
    verifier = build_model_verifier(circuit.vk_path, circuit.settings_path,
                                    circuit.srs_path, circuit.directory / "evm")
    record = StepRecord(
        kind=kind, family=family, options=dict(options), scale=scale,
        vk_hash=to_hex(circuit.vk_hash), graph_hash=to_hex(keccak256(graph)),
        circuit_model_sha256=compute_file_sha256(circuit.model_path),
        logrows=circuit.logrows, srs_sha256=compute_file_sha256(circuit.srs_path),
        verifier_code_hash=to_hex(verifier.code_hash), vka_digest=to_hex(verifier.vka_digest),
        reusable_code_hash=to_hex(compute_reusable_code_hash()),
    )
    path = _record_path(directory, circuit.vk_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.to_json()))
    return record


def _record_path(directory: Path, vk_hash: Hash32) -> Path:
    return directory / "records" / f"{to_hex(vk_hash)}.json"


def initial_params(step: TrainableFamily, seed: int | None) -> np.ndarray:
    """A first version's params: zeros for the linear families; the hidden-layer families'
    fixed-seed start (seed 0 unless given), since all-zero weights would keep every hidden
    unit equal."""
    if isinstance(step, MlpStep | SoftmaxMlpStep):
        return step.initial_params(0 if seed is None else seed)
    if seed is not None:
        raise InvalidInput(f"the {step.name} family starts from zero weights: give no seed")
    return np.zeros(step.params_size)


def make_training_row(step: TrainingStep, features: Any, label: float) -> np.ndarray:
    """One example as a row of `step`'s family: [x, e_y] (the one-hot label) for the softmax
    families, [x, y] (y 0 or 1) for the binary ones."""
    x = np.asarray(features, dtype=np.float64)
    if not isinstance(step, LogisticStep | MlpStep | SoftmaxStep | SoftmaxMlpStep):
        raise InvalidInput(f"rows of the {step.name} family are not made here")
    if x.ndim != 1 or x.size != step.features or not np.all(np.isfinite(x)):
        raise InvalidInput(f"a row of this model has {step.features} finite features")
    if isinstance(step, SoftmaxStep | SoftmaxMlpStep):
        rows = make_one_hot_rows(x[None, :], np.array([label]), step.classes)
    elif label in (0, 1):
        rows = make_labelled_rows(x[None, :], np.array([label]))
    else:
        raise InvalidInput(f"the {step.name} family is binary: a label is 0 or 1, not {label}")
    row: np.ndarray = rows[0]
    return row


@dataclass
class TrainableJob:
    """The build of a trainable architecture and its first params (the API's view of it)."""

    job_id: str
    stage: str = "queued"
    step: StepRecord | None = None
    inference: StepRecord | None = None
    params_commitment: Hash32 | None = None
    error: tuple[str, str] | None = None  # (code, message)

    @property
    def done(self) -> bool:
        return self.params_commitment is not None or self.error is not None


@dataclass
class TrainingService:
    """Step circuits, the values behind rows and params, and Train executions."""

    home: Path
    store: Store
    srs: SrsStore
    resources: ResourceLimits = field(default_factory=ResourceLimits)  # of a build's process
    _circuits: dict[Hash32, StepCircuit] = field(default_factory=dict, init=False)
    _jobs: dict[str, TrainableJob] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _build_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def directory(self) -> Path:
        return self.home / "training"

    # --- step circuits ---

    def build_step(self, family: str, options: dict[str, Any],
                   scale: int = DEFAULT_SCALE) -> tuple[StepRecord, StepRecord]:
        """Build (or reuse) the architecture's circuits in this process; their records."""
        with self._build_lock:
            return build_architecture(family, options, scale, self.srs, self.directory)

    def start_build(self, family: str, options: dict[str, Any], scale: int = DEFAULT_SCALE,
                    seed: int | None = None) -> TrainableJob:
        """Build the architecture's circuits in a child process under the resource limits
        (one build at a time: they share the cache), then keep the first version's params
        (`initial_params`); poll `job(job_id)`. Bad options are refused at once."""
        initial_params(make_step(family, options), seed)
        job = TrainableJob(job_id=uuid.uuid4().hex)
        with self._lock:
            self._jobs[job.job_id] = job

        def progress(stage: str, _: float | None) -> None:
            job.stage = stage

        def run() -> None:
            try:
                with self._build_lock:
                    job.stage = "building"
                    job.step, job.inference = run_limited(
                        build_architecture, (family, options, scale, self.srs, self.directory),
                        self.resources, progress)
                step_vk = Hash32(from_hex(job.step.vk_hash, 32, "vk hash"))
                job.params_commitment = self.commit_params(
                    step_vk, initial_params(make_step(family, options), seed))
                job.stage = "done"
            except Exception as exc:  # reported to the client through the job
                job.error = (getattr(exc, "code", "model_rejected"), str(exc))
                job.stage = "failed"

        threading.Thread(target=run, name=f"trainable-{job.job_id[:8]}", daemon=True).start()
        return job

    def job(self, job_id: str) -> TrainableJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no trainable build job {job_id}")
        return job

    def _record_path(self, vk_hash: Hash32) -> Path:
        return _record_path(self.directory, vk_hash)

    def is_step(self, vk_hash: Hash32) -> bool:
        """Is this a circuit of a trainable architecture (step or inference) this node built?"""
        return self._record_path(vk_hash).is_file()

    def record(self, vk_hash: Hash32) -> StepRecord:
        path = self._record_path(vk_hash)
        if not path.is_file():
            raise NotFound(f"this node built no step circuit with vk {to_hex(vk_hash)}")
        return StepRecord(**json.loads(path.read_text()))

    def circuit(self, vk_hash: Hash32) -> StepCircuit:
        if vk_hash not in self._circuits:
            record = self.record(vk_hash)
            if record.kind != "step":
                raise InvalidInput(f"circuit {to_hex(vk_hash)} is no training step")
            self._circuits[vk_hash] = build_step_circuit(
                make_step(record.family, record.options), self.srs, scale=record.scale,
                cache_dir=self.directory / "steps")
        return self._circuits[vk_hash]

    def check_deploy(self, body: DeployModel) -> None:
        record = self.record(body.vk_hash)
        if body.metadata_hash != record.metadata_hash:
            raise ModelRejected("the metadata hash is not the one of this step circuit's record")
        if to_hex(body.model_hash) != record.graph_hash:
            raise ModelRejected("the model hash is not the one of this step's graph")

    def check_trainable(self, body: DeployTrainable) -> None:
        """A trainable model is deployed only if this node holds its first params."""
        self.values(body.weight_commitment)

    # --- values behind commitments ---

    def commit_row(self, step_vk: Hash32, row: Any) -> Hash32:
        """Keep a labelled row for the step circuit; its commitment (a DATA object's)."""
        commitment = compute_row_commitment(self.circuit(step_vk), np.asarray(row))
        self._keep(commitment, step_vk, row)
        return commitment.be_bytes

    def commit_example(self, step_vk: Hash32, features: Any, label: float
                       ) -> tuple[Hash32, np.ndarray]:
        """Keep one example (features and label) as a row of the step circuit's family
        (`make_training_row`); its commitment and the row."""
        row = make_training_row(self.circuit(step_vk).step, features, label)
        return self.commit_row(step_vk, row), row

    def commit_params(self, step_vk: Hash32, params: Any) -> Hash32:
        """Keep a version's params; their commitment (the version's weight commitment)."""
        commitment = compute_params_commitment(self.circuit(step_vk), np.asarray(params))
        self._keep(commitment, step_vk, params)
        return commitment.be_bytes

    def _keep(self, commitment: FieldElement, step_vk: Hash32, values: Any) -> None:
        flat = np.asarray(values, dtype=np.float64).reshape(-1).tolist()
        self.store.put_data_input(commitment.be_bytes, step_vk, json.dumps(flat))

    def values(self, commitment: Hash32) -> np.ndarray:
        row = self.store.get_data_input(commitment)
        if row is None:
            raise InvalidInput(f"this node holds no values for commitment {to_hex(commitment)}")
        return np.array(json.loads(row[1]), dtype=np.float64)

    # --- Train ---

    def execute(self, parent: Object, step_model: Object, rows: list[Object],
                steps: int) -> TrainingExecution:
        """The canonical execution of a Train: `steps` steps from the parent's params, step i
        on the i-th equal slice of `rows`. Keeps the new params and the run's inputs."""
        commitments = [row.commitment for row in rows]
        runs = self._run(step_model.vk_hash, parent.commitment, commitments, steps)
        params_out = runs[-1].new_params_commitment
        self._keep(params_out, step_model.vk_hash, runs[-1].new_params_values)
        key = self._run_key(parent.commitment, compute_rows_hash(commitments), steps)
        self._runs_path(key).parent.mkdir(parents=True, exist_ok=True)
        self._runs_path(key).write_text(json.dumps({
            "step_vk": to_hex(step_model.vk_hash), "rows": [to_hex(c) for c in commitments]}))
        return TrainingExecution(params_out.be_bytes)

    def step_runs(self, trace: TrainingTrace) -> tuple[StepCircuit, list[StepRun],
                                                       list[tuple[FieldElement, ...]]]:
        """The step circuit, the runs of a recorded training (again: they are deterministic)
        and each step's row commitments."""
        key = self._run_key(trace.params_in, trace.rows_hash, trace.steps)
        path = self._runs_path(key)
        if not path.is_file():
            raise NotFound(f"this node did not execute training {to_hex(trace.tx_hash)}")
        saved = json.loads(path.read_text())
        step_vk = Hash32(from_hex(saved["step_vk"], 32, "step vk"))
        commitments = [Hash32(from_hex(c, 32, "row")) for c in saved["rows"]]
        runs = self._run(step_vk, trace.params_in, commitments, trace.steps)
        per_step = len(commitments) // trace.steps
        batches = [tuple(FieldElement(int.from_bytes(c, "big")) for c in
                         commitments[i * per_step:(i + 1) * per_step])
                   for i in range(trace.steps)]
        return self.circuit(step_vk), runs, batches

    def verify_training(self, trace: TrainingTrace, proof_json: bytes) -> None:
        """Check a training's step proofs (a JSON list) and their chain over its rows, from
        the parent's params to the version's (InvalidProof)."""
        key = self._run_key(trace.params_in, trace.rows_hash, trace.steps)
        path = self._runs_path(key)
        if not path.is_file():
            raise NotFound(f"this node did not execute training {to_hex(trace.tx_hash)}")
        saved = json.loads(path.read_text())
        circuit = self.circuit(Hash32(from_hex(saved["step_vk"], 32, "step vk")))
        rows = [FieldElement(int.from_bytes(from_hex(c, 32, "row"), "big"))
                for c in saved["rows"]]
        per_step = len(rows) // trace.steps
        try:
            proofs = [load_step_proof(circuit, json.dumps(p).encode())
                      for p in json.loads(proof_json)]
        except (TypeError, ValueError) as exc:
            raise InvalidProof(f"a training's proof is a list of step proofs: {exc}") from exc
        check_training_chain(
            circuit, FieldElement(int.from_bytes(trace.params_in, "big")), proofs,
            [tuple(rows[i * per_step:(i + 1) * per_step]) for i in range(trace.steps)],
            FieldElement(int.from_bytes(trace.params_out, "big")))

    def _run(self, step_vk: Hash32, params_in: Hash32, rows: list[Hash32],
             steps: int) -> list[StepRun]:
        circuit = self.circuit(step_vk)
        if len(rows) != steps * circuit.step.batch:
            raise InvalidInput(f"{len(rows)} rows in {steps} steps: this step circuit takes "
                               f"{circuit.step.batch} rows a step")
        theta = self.values(params_in)
        values = np.stack([self.values(c) for c in rows])
        key = self._run_key(params_in, compute_rows_hash(rows), steps)
        runs = []
        for i in range(steps):
            batch = values[i * circuit.step.batch:(i + 1) * circuit.step.batch]
            runs.append(run_step(circuit, theta, batch,
                                 self.directory / "runs" / key / f"step{i}"))
            theta = runs[-1].new_params_values
        return runs

    @staticmethod
    def _run_key(params_in: Hash32, rows_hash: Hash32, steps: int) -> str:
        return keccak256(params_in + rows_hash + steps.to_bytes(8, "big")).hex()

    def _runs_path(self, key: str) -> Path:
        return self.directory / "runs" / f"{key}.json"
