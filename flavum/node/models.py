"""Models and data on the node: compile ONNX into circuits, keep raw inputs, run inferences.

Deploying a model is two steps. The node compiles the ONNX file (normalize the graph, calibrate,
compile, SRS, keys, accuracy report) into a `ModelRecord`, stored under its verifying key hash;
the user then signs a DeployModel transaction naming the ONNX hash, the vk hash and the hash of
the record's binding (`metadata_hash`: the record, its SRS, the code of its verifiers and the
layout of its proofs; flavum.core.model_binding), and the sequencer accepts it only if this node
holds that record.

Submitting data is alike: the node quantizes the values exactly as the model's circuit does and
returns their Poseidon commitment (keeping the raw values, which are never needed on a ledger);
the user signs SubmitData with that commitment.

`execute` is the canonical execution of an Infer: the circuit's own witness generation.
"""

import json
import math
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.batch import TraceEntry
from flavum.core.codec import to_hex
from flavum.core.encoding import keccak256
from flavum.core.errors import NotFound
from flavum.core.model_binding import ModelBinding, compute_model_binding_hash
from flavum.core.state import Object
from flavum.core.stf import Execution
from flavum.core.transactions import DeployModel, SubmitData
from flavum.core.types import Access, Hash32
from flavum.da.batch_data import compute_record_binding
from flavum.l1.verifiers import build_model_verifier, compute_reusable_code_hash
from flavum.ml.batching import make_batched
from flavum.ml.errors import AccuracyTooLow, InvalidInput, ModelRejected
from flavum.ml.normalize import normalize
from flavum.ml.onnx_check import IntakeLimits, name_prover_refusal
from flavum.ml.reference import accuracy_report, apply_postprocess, run_float, validate_input
from flavum.node.sandbox import ResourceLimits, run_limited
from flavum.node.store import Store
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import run_row, run_witness
from flavum.zk.polycommit import compute_data_commitment
from flavum.zk.proof import Proof, verify_inference
from flavum.zk.srs import Progress, SrsStore

MAX_ACCURACY_SAMPLES = 32


@dataclass(frozen=True)
class DeployOptions:
    batch_size: int = 1  # N > 1: one proof covers N inferences (one commitment per row)
    proven_output: str | None = None  # None: logits for classifiers
    min_agreement: float = 0.9  # top-1 agreement with the float model, 0..1
    limits: IntakeLimits = field(default_factory=IntakeLimits)  # tensor sizes, before running
    circuit: CircuitConfig = field(default_factory=CircuitConfig)


@dataclass(frozen=True)
class ModelRecord:
    """What the node knows of a compiled model; its JSON hash is the MODEL's metadata hash."""

    model_hash: str  # keccak256 of the ONNX file as handed in
    vk_hash: str
    circuit_key: str
    logrows: int
    input_shape: list[int]  # of one inference (no batch dimension)
    batch_size: int
    input_scale: int
    output_shapes: list[list[int]]
    output_scales: list[int]
    proven_output: str
    postprocess: str
    rewrites: list[str]
    accuracy: dict[str, Any]
    visibility: dict[str, str]
    srs_sha256: str
    circuit_model_sha256: str  # of the ONNX graph the circuit proves (published with batches)
    verifier_code_hash: str  # of its own ezkl verifier; zero when over the contract size limit
    vka_digest: str  # of its verifying-key artifact, for the reusable verifier
    reusable_code_hash: str  # of the reusable verifier that reads the VKA
    # a classifier's class labels where they are not 0..K-1 (string labels); None: the class
    # index is the label
    class_labels: list[str | int] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.class_labels is None:  # absent, as in records made before labels were kept:
            del data["class_labels"]  # their JSON (and metadata hash) stays what it was
        return data

    @property
    def binding(self) -> ModelBinding:
        """What the MODEL's metadata hash commits to: this record (its canonical JSON), the
        SRS, the verifiers and the layout its proofs are read with."""
        return compute_record_binding(self.to_json())

    @property
    def metadata_hash(self) -> Hash32:
        return compute_model_binding_hash(self.binding)


@dataclass
class CompileJob:
    """A model compilation running in the background (the API's view of it)."""

    job_id: str
    stage: str = "queued"
    fraction: float | None = None
    record: ModelRecord | None = None
    error: tuple[str, str] | None = None  # (code, message)

    @property
    def done(self) -> bool:
        return self.record is not None or self.error is not None


class ModelService:
    def __init__(self, home: Path, store: Store, srs: SrsStore, options: DeployOptions,
                 resources: ResourceLimits = ResourceLimits()) -> None:
        self.home = home
        self.store = store
        self.srs = srs
        self.options = options
        self.resources = resources  # of each compilation's child process
        self.circuits_dir = home / "circuits"
        self._artifacts: dict[str, CircuitArtifacts] = {}
        self._jobs: dict[str, CompileJob] = {}
        self._lock = threading.Lock()

    # --- deploy ---

    def compile(
        self,
        onnx_bytes: bytes,
        calibration: Any,
        options: DeployOptions | None = None,
        progress: Progress | None = None,
    ) -> ModelRecord:
        """Normalize, compile and check a model in a child process under the resource limits
        (flavum/node/sandbox.py); refuse it (typed) before anything is kept."""
        record, directory = run_limited(
            compile_record, (onnx_bytes, calibration, options or self.options, self.srs,
                             self.circuits_dir), self.resources, progress)
        artifacts = CircuitArtifacts.load(Path(directory), self.srs.path_for(record.logrows))
        self.store.put_model_record(Hash32(artifacts.vk_hash), json.dumps(record.to_json()))
        with self._lock:
            self._artifacts[record.vk_hash] = artifacts
        return record

    def start_compile(self, onnx_bytes: bytes, calibration: Any,
                      options: DeployOptions | None = None) -> CompileJob:
        """Compile in a background thread; poll `job(job_id)` for stage and result."""
        job = CompileJob(job_id=uuid.uuid4().hex)
        with self._lock:
            self._jobs[job.job_id] = job

        def progress(stage: str, fraction: float | None) -> None:
            job.stage, job.fraction = stage, fraction

        def run() -> None:
            try:
                job.record = self.compile(onnx_bytes, calibration, options, progress)
                job.stage, job.fraction = "done", 1.0
            except Exception as exc:  # reported to the client through the job
                job.error = (getattr(exc, "code", "model_rejected"), str(exc))
                job.stage = "failed"

        threading.Thread(target=run, name=f"compile-{job.job_id[:8]}", daemon=True).start()
        return job

    def job(self, job_id: str) -> CompileJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no compile job {job_id}")
        return job

    def record(self, vk_hash: Hash32) -> ModelRecord:
        text = self.store.get_model_record(vk_hash)
        if text is None:
            raise ModelRejected(f"this node has no compiled circuit with vk hash {to_hex(vk_hash)}")
        return ModelRecord(**json.loads(text))

    def artifacts(self, vk_hash: Hash32) -> CircuitArtifacts:
        key = to_hex(vk_hash)
        with self._lock:
            cached = self._artifacts.get(key)
        if cached is not None:
            return cached
        record = self.record(vk_hash)
        artifacts = CircuitArtifacts.load(self.circuits_dir / record.circuit_key,
                                          self.srs.path_for(record.logrows))
        with self._lock:
            self._artifacts[key] = artifacts
        return artifacts

    # --- data ---

    def commit_data(self, vk_hash: Hash32, values: Any) -> Hash32:
        """Keep `values` for the model's circuit and return their commitment."""
        artifacts = self.artifacts(vk_hash)
        commitment = compute_data_commitment(artifacts, values)
        flat = np.asarray(values, dtype=np.float32).reshape(-1).tolist()
        self.store.put_data_input(commitment, vk_hash, json.dumps(flat))
        return commitment

    def data_values(self, commitment: Hash32) -> tuple[Hash32, list[float]]:
        row = self.store.get_data_input(commitment)
        if row is None:
            raise InvalidInput(
                f"this node holds no values for data commitment {to_hex(commitment)}")
        return row[0], json.loads(row[1])

    # --- the sequencer's hooks (InferenceExecutor) ---

    def check_deploy(self, body: DeployModel) -> None:
        record = self.record(body.vk_hash)
        if body.metadata_hash != record.metadata_hash:
            raise ModelRejected("the metadata hash is not the one of this model's record")
        if to_hex(body.model_hash) != record.model_hash:
            raise ModelRejected("the model hash is not the one this circuit was compiled from")

    def check_data(self, body: SubmitData) -> None:
        vk_hash, _ = self.data_values(body.commitment)
        # Rows kept for a training step's circuit (flavum/node/training.py) have no model
        # record here: only a model compiled here takes public rows.
        if self.store.get_model_record(vk_hash) is not None:
            self._check_public_rows(vk_hash, body.access)

    def _check_public_rows(self, vk_hash: Hash32, access: Access) -> None:
        """A public-row model shows its rows in its proofs: it takes common data only."""
        if self.artifacts(vk_hash).config.input_visibility == "public" and (
                access != Access.COMMON):
            raise InvalidInput(
                "this model takes its rows as public values of its proofs (public rows): "
                "its data must be common (submit it with --common), or use a model with "
                "hashed or KZG-committed inputs for owned data")

    def execute(self, model: Object, data: Object) -> Execution:
        """The canonical outputs of `model` on `data`. A batched model runs the row padded with
        copies of itself: rows do not influence each other, so these are the outputs the row
        gets in the batch proven later (the proof manager checks it)."""
        artifacts = self.artifacts(model.vk_hash)
        _, values = self.data_values(data.commitment)
        self._check_public_rows(model.vk_hash, data.access)
        if len(values) != artifacts.row_size:
            raise InvalidInput(
                f"the data point has {len(values)} values; this model takes "
                f"{artifacts.row_size}: it was submitted for another model's input"
            )
        if artifacts.batch_size > 1:
            commitment = compute_data_commitment(artifacts, values)
            return Execution(commitment, run_row(artifacts, values))
        run = run_witness(artifacts, values)
        return Execution(compute_data_commitment(artifacts, values), run.outputs)

    # --- verification ---

    def verify_trace(self, trace: TraceEntry, vk_hash: Hash32, proof_json: bytes,
                     row: int = 0) -> Proof:
        """Verify a trace entry's proof and bind it to the trace (row `row` of a batched
        proof): InvalidProof with a reason."""
        return verify_inference(self.artifacts(vk_hash), proof_json, row,
                                trace.input_commitment, trace.outputs)



def compile_record(onnx_bytes: bytes, calibration: Any, options: DeployOptions, srs: SrsStore,
                   circuits_dir: Path, progress: Progress | None = None
                   ) -> tuple[ModelRecord, str]:
    """Normalize, compile and check a model: its record and its circuit's directory. Runs in
the sandbox's child process (everything it takes and gives back is plain data)."""
    samples = _as_rows(calibration)
    normalized = normalize(onnx_bytes, samples, options.proven_output, limits=options.limits)
    # One flat row per sample, whatever layout the calibration came in (ezkl's included).
    samples = validate_input(samples, normalized.input_shape).reshape(-1, math.prod(
        normalized.input_shape))
    circuit_model = normalized.model_bytes
    if options.batch_size > 1:
        circuit_model = make_batched(normalized.model_bytes, options.batch_size, samples)
    try:
        artifacts = build_circuit(circuit_model, samples, options.circuit, srs, progress,
                                  cache_dir=circuits_dir)
    except ModelRejected as exc:
        named = name_prover_refusal(circuit_model, exc)
        if named is exc:
            raise
        raise named from exc
    if progress is not None:
        progress("verifier", None)
    # The verifiers a DeployModel commits to, so no one can bind it another.
    verifier = build_model_verifier(artifacts.vk_path, artifacts.settings_path,
                                    artifacts.srs_path, artifacts.directory / "evm")
    if progress is not None:
        progress("verifier", 1.0)
    if progress is not None:
        progress("accuracy", None)
    accuracy = _accuracy(normalized.model_bytes, artifacts, samples,
                              normalized.postprocess, normalized.proven_output)
    if progress is not None:
        progress("accuracy", 1.0)
    agreement = accuracy["top1_agreement"]
    if agreement is not None and agreement < options.min_agreement:
        raise AccuracyTooLow(
            f"the circuit agrees with the float model on {agreement:.0%} of samples, "
            f"below the required {options.min_agreement:.0%}"
        )
    record = ModelRecord(
        model_hash=to_hex(keccak256(onnx_bytes)),
        vk_hash=to_hex(artifacts.vk_hash),
        circuit_key=artifacts.key,
        logrows=artifacts.logrows,
        input_shape=list(normalized.input_shape),
        batch_size=artifacts.batch_size,
        input_scale=artifacts.input_scale,
        output_shapes=[list(s) for s in artifacts.output_shapes],
        output_scales=list(artifacts.output_scales),
        proven_output=normalized.proven_output,
        postprocess=normalized.postprocess,
        rewrites=normalized.rewrites,
        accuracy=accuracy,
        visibility={"input": artifacts.config.input_visibility,
                    "output": artifacts.config.output_visibility,
                    "params": artifacts.config.param_visibility},
        srs_sha256=artifacts.srs_sha256,
        circuit_model_sha256=artifacts.model_sha256,
        verifier_code_hash=to_hex(verifier.code_hash),
        vka_digest=to_hex(verifier.vka_digest),
        reusable_code_hash=to_hex(compute_reusable_code_hash()),
        class_labels=None if normalized.class_labels is None else list(normalized.class_labels),
    )
    return record, str(artifacts.directory)


def _accuracy(model_bytes: bytes, artifacts: CircuitArtifacts, samples: np.ndarray,
              postprocess: str, proven_output: str) -> dict[str, Any]:
    batch = artifacts.batch_size
    count = min(len(samples), MAX_ACCURACY_SAMPLES) // batch * batch
    rows = samples[:count]
    reference = run_float(model_bytes, rows)
    circuit = []
    for start in range(0, count, batch):
        execution = run_witness(artifacts, rows[start:start + batch])
        circuit.append(np.asarray(execution.rescaled_outputs).reshape(batch, -1))
    report = accuracy_report(reference.reshape(count, -1), np.concatenate(circuit),
                             postprocess, proven_output=proven_output)
    return report


def _as_rows(values: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"calibration data is not numeric: {exc}") from exc
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return array.reshape(len(array), -1)


def output_kind(record: ModelRecord) -> str:
    """What a model's proven values are (flavum.ml.normalize.OUTPUT_KINDS). Records made before
    kinds were told apart say "outputs" for a graph without a final activation: several
    columns were read as class scores then, one as a value."""
    if record.proven_output != "outputs":
        return record.proven_output
    columns = math.prod(record.output_shapes[0][1:]) if record.output_shapes else 1
    return "logits" if columns > 1 else "values"


def interpret_outputs(record: ModelRecord, outputs: tuple[int, ...]) -> dict[str, Any]:
    """A trace's outputs as people read them: the proven fixed-point integers dequantized
    (value = integer / 2**scale) and labelled with what they are (logits, probabilities,
    scores or values); probabilities only where the model applies softmax/sigmoid (derived
    outside the circuit when that was cut); the class of a classifier (argmax, or a threshold
    for one column). Only the fixed-point integers are proven."""
    scale = record.output_scales[0] if record.output_scales else 0
    values = np.asarray(outputs, dtype=np.float64) / 2.0**scale
    rows = values.reshape(1, -1)  # a trace entry holds one inference's outputs
    kind = output_kind(record)
    result: dict[str, Any] = {"values": rows.tolist(), "proven_output": kind,
                              "proven": {"fixed_point": list(outputs), "scale": scale}}
    if record.postprocess != "none":
        result["probabilities"] = apply_postprocess(rows, record.postprocess).tolist()
    elif kind == "probabilities":
        result["probabilities"] = rows.tolist()
    if kind != "values":
        if rows.shape[1] > 1:
            result["prediction"] = [int(i) for i in rows.argmax(axis=1)]
        else:  # one column: a probability above one half, a logit or score above zero
            threshold = 0.5 if kind == "probabilities" else 0.0
            result["prediction"] = [int(v > threshold) for v in rows[:, 0]]
        # The class as the model was trained to name it; None: its index is its name.
        labels = record.class_labels
        result["label"] = None if labels is None else [labels[i] for i in result["prediction"]]
    return result
