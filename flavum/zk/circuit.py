"""Compiling a model into a circuit: settings, calibration, compiled circuit and keys.

`build_circuit` turns a normalized ONNX model and calibration inputs into `CircuitArtifacts`
with ezkl: gen_settings -> calibrate_settings -> compile_circuit -> SRS -> setup. The artifacts
live in a content-addressed directory named by the sha256 of (model bytes, config, calibration),
so deploying the same model twice reuses them. The verifying key's keccak256 (`vk_hash`) is the
identity of the circuit: fixed params put the weights into the key. Settings are written in a
canonical form (`canonicalize_settings`): ezkl's own order of range checks varies from run to
run and would give one graph several keys.

Inputs: the calibration array has one row per sample, each row the flattened input of one
inference. A model takes its rows in one of two ways:
- one input tensor: an unbatched model takes one row per call, a model whose input has a fixed
  leading dimension N takes N rows per call (and a hashed input is one hash of all N rows);
- N input tensors of one row each (`flavum.ml.batching.make_batched`): N rows per call, and a
  hashed input is one Poseidon hash per row, so each row's hash is that row's DATA commitment.
  The public values are then [hash of row 0, ..., hash of row N-1, outputs of all rows].
Calibration groups the rows by call: call k takes rows kN .. kN+N-1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnx

from flavum.core.encoding import keccak256
from flavum.core.errors import ConfigError
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.zk.errors import CircuitTooLarge
from flavum.zk.srs import Progress, SrsStore, compute_file_sha256

# Bumped when the artifact layout or meta.json changes, so old cache entries are not reused.
ARTIFACT_FORMAT = 1
META_FILE = "meta.json"
# The other files of a build's directory (CircuitArtifacts' *_path attributes).
MODEL_FILE, SETTINGS_FILE, COMPILED_FILE = "model.onnx", "settings.json", "model.compiled"
VK_FILE, PK_FILE = "vk", "pk"

# polycommit: a KZG commitment to each input tensor in the proof (flavum.zk.polycommit).
INPUT_VISIBILITIES = ("hashed", "public", "private", "polycommit")
OUTPUT_VISIBILITIES = ("public",)  # the rollup reads outputs from the proof's public values
PARAM_VISIBILITIES = ("fixed", "private")
CALIBRATION_TARGETS = ("resources", "accuracy")
T = TypeVar("T")
# A batched model's range tables with 2 legs: from 2048 (fits logrows 12) up to 16384 (2**28).
BATCHED_MIN_BASE = 2048
BATCHED_MAX_BASE = 16384
# What calibration chose, kept when a batched model's table is widened after it.
CALIBRATED_RUN_ARGS = ("input_scale", "param_scale", "scale_rebase_multiplier", "lookup_range",
                       "logrows")


@dataclass(frozen=True)
class CircuitConfig:
    """How a model becomes a circuit. Every field is part of the artifacts' cache key.

    input_visibility "hashed" exposes the Poseidon hash of the input (the DATA commitment),
    "polycommit" puts a KZG commitment of each input tensor in the proof (no public value,
    no hash in the circuit: flavum.zk.polycommit); params "fixed" bind the weights into the
    verifying key.

    The range-check fields default by model kind (None = the default of the kind):
    - one-row models: tables 128**4 (decomp_base/decomp_legs: the same 2**28 range as ezkl's
      16384**2 with much smaller tables: logrows 15 -> 12, ~6x faster on a 64-32-10 MLP),
      inputs and outputs range-checked, Freivalds' check of matrix products on (ezkl's);
    - batched models (one input per row): 2 legs (fewer rows per inference than 4), with the
      widest base whose table fits the rows the circuit has anyway (up to 16384, i.e. 2**28),
      no range check of the hashed inputs and public outputs (every operation still checks
      its own values: an input too large fails witness generation), and no Freivalds (it cost
      2.6x the proving time at batch 8). Together: 0.72 -> ~0.55 s per inference at best
      (bench/bench_batching.py), as the per-row Poseidon hash then bounds the rows.
    """

    input_visibility: str = "hashed"
    output_visibility: str = "public"
    param_visibility: str = "fixed"
    max_logrows: int = 18
    calibration_target: str = "resources"
    lookup_safety_margin: float = 2.0
    scale_rebase_multiplier: int = 1
    scales: tuple[int, ...] | None = None  # None: let calibration choose
    decomp_base: int | None = None
    decomp_legs: int | None = None
    check_io_range: bool | None = None
    freivalds: bool | None = None

    def __post_init__(self) -> None:
        _check_choice("input_visibility", self.input_visibility, INPUT_VISIBILITIES)
        _check_choice("output_visibility", self.output_visibility, OUTPUT_VISIBILITIES)
        _check_choice("param_visibility", self.param_visibility, PARAM_VISIBILITIES)
        _check_choice("calibration_target", self.calibration_target, CALIBRATION_TARGETS)
        if not 1 <= self.max_logrows <= 26:
            raise ConfigError(f"max_logrows {self.max_logrows} is outside 1..26")
        if not self.lookup_safety_margin >= 1.0:
            raise ConfigError("lookup_safety_margin must be at least 1.0")
        if self.scale_rebase_multiplier < 1:
            raise ConfigError("scale_rebase_multiplier must be at least 1")
        if _choose(self.decomp_base, 2) < 2 or _choose(self.decomp_legs, 1) < 1:
            raise ConfigError("decomp_base must be >= 2 and decomp_legs >= 1")
        if self.scales is not None and not all(0 <= s <= 30 for s in self.scales):
            raise ConfigError("scales must lie in 0..30")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scales"] = list(self.scales) if self.scales is not None else None
        for name in ("decomp_base", "decomp_legs", "check_io_range", "freivalds"):
            if data[name] is None:
                del data[name]  # a default: its value is decided by the model kind
        return data

    def run_args(self, row_inputs: int, logrows: int | None = None) -> dict[str, Any]:
        """The ezkl run arguments of a model with `row_inputs` inputs (see the class docstring).

        For a batched model's default base, `logrows` is the circuit's size once calibrated
        with the smallest table (2048 rows): the base is then widened to the table that fits.
        """
        batched = row_inputs > 1
        default_base = BATCHED_MIN_BASE if batched else 128
        if batched and logrows is not None:
            default_base = max(BATCHED_MIN_BASE, min(BATCHED_MAX_BASE, 2 ** (logrows - 1)))
        return {
            "input_visibility": self.input_visibility,
            "output_visibility": self.output_visibility,
            "param_visibility": self.param_visibility,
            "decomp_base": _choose(self.decomp_base, default_base),
            "decomp_legs": _choose(self.decomp_legs, 2 if batched else 4),
            "ignore_range_check_inputs_outputs": not _choose(self.check_io_range, not batched),
            "disable_freivalds": not _choose(self.freivalds, not batched),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CircuitConfig:
        data = dict(data)
        if data.get("scales") is not None:
            data["scales"] = tuple(data["scales"])
        return cls(**data)


def _choose(value: T | None, default: T) -> T:
    return default if value is None else value


def canonicalize_settings(settings_path: Path) -> dict[str, Any]:
    """Rewrite ezkl settings in a canonical form; the settings.

    ezkl lists the range checks and lookups in hash-set order, which changes from run to run
    (even within one process), and that order lays out the circuit's columns: one graph gave
    two verifying keys. Sorted (and without gen_settings' timestamp), the same graph and run
    arguments always give the same settings file and the same key."""
    data: dict[str, Any] = json.loads(settings_path.read_text())
    for name in ("required_range_checks", "required_lookups"):
        data[name] = sorted(data[name], key=json.dumps)
    data.pop("timestamp", None)
    settings_path.write_text(json.dumps(data, sort_keys=True))
    return data


def _gen_settings(model_path: Path, settings_path: Path,
                  run_args: dict[str, Any]) -> dict[str, Any]:
    """ezkl gen_settings with these run arguments: the settings (canonical)."""
    import ezkl

    args = ezkl.PyRunArgs()
    for name, value in run_args.items():
        setattr(args, name, value)
    call_ezkl(
        "gen_settings", ModelRejected, ezkl.gen_settings,
        str(model_path), str(settings_path), py_run_args=args,
    )
    return canonicalize_settings(settings_path)


def _calibrate(model_path: Path, settings_path: Path, calibration_path: Path,
               config: CircuitConfig, run_args: dict[str, Any]) -> dict[str, Any]:
    """gen_settings, then ezkl's calibration (scales, logrows) on the calibration inputs: the
    settings (canonical)."""
    import ezkl

    _gen_settings(model_path, settings_path, run_args)
    calibrate_kw: dict[str, Any] = {}
    if config.scales is not None:
        calibrate_kw["scales"] = list(config.scales)
    call_ezkl(
        "calibration", ModelRejected, ezkl.calibrate_settings,
        str(calibration_path), str(model_path), str(settings_path), config.calibration_target,
        lookup_safety_margin=config.lookup_safety_margin,
        scale_rebase_multiplier=[config.scale_rebase_multiplier],
        **calibrate_kw,
    )
    return canonicalize_settings(settings_path)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


class _ArtifactFile:
    """The path of one artifact file in a circuit's directory (a read-only attribute)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, artifacts: CircuitDirectory, owner: type | None = None) -> Path:
        return artifacts.directory / self.name


@dataclass(frozen=True)
class CircuitDirectory:
    """Where a circuit's files are: its graph, settings, compiled circuit and keys (compiled
    models, training steps and trained versions alike)."""

    directory: Path

    model_path = _ArtifactFile(MODEL_FILE)
    settings_path = _ArtifactFile(SETTINGS_FILE)
    compiled_path = _ArtifactFile(COMPILED_FILE)
    vk_path = _ArtifactFile(VK_FILE)
    pk_path = _ArtifactFile(PK_FILE)


@dataclass(frozen=True)
class CircuitArtifacts(CircuitDirectory):
    """A compiled circuit and its keys on disk, with the facts needed to run and read it."""

    key: str  # hex sha256 of (model, config, calibration): the directory's name
    config: CircuitConfig
    logrows: int
    srs_path: Path
    srs_sha256: str
    vk_hash: Hash32  # keccak256 of the vk file: the identity of the circuit
    input_shape: tuple[int, ...]
    input_scale: int
    output_shapes: tuple[tuple[int, ...], ...]
    output_scales: tuple[int, ...]
    num_input_instances: int  # leading public values that belong to the input
    model_sha256: str
    # Input tensors of the model, each shaped `input_shape`. Above 1, each input is one row
    # (a batched model from flavum.ml.batching) and `batch_size` is this count.
    row_inputs: int = 1

    @property
    def input_size(self) -> int:
        """Values per call, over all input tensors."""
        return math.prod(self.input_shape) * self.row_inputs

    @property
    def batch_size(self) -> int:
        """Inferences per call: the number of row inputs of a batched model, else the leading
        dimension of a model input of rank >= 2."""
        if self.row_inputs > 1:
            return self.row_inputs
        return self.input_shape[0] if len(self.input_shape) >= 2 else 1

    @property
    def commits_rows(self) -> bool:
        """True when the input gives one commitment per row (one Poseidon hash, one KZG
        point with polycommit, or the row's own public values, per inference)."""
        return (self.config.input_visibility in ("hashed", "polycommit", "public")
                and self.batch_size == self.row_inputs)

    @property
    def row_size(self) -> int:
        return self.input_size // self.batch_size

    @property
    def num_output_instances(self) -> int:
        return sum(math.prod(shape) for shape in self.output_shapes)

    @property
    def num_instances(self) -> int:
        return self.num_input_instances + self.num_output_instances

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "key": self.key,
            "config": self.config.to_json(),
            "logrows": self.logrows,
            "srs_sha256": self.srs_sha256,
            "vk_hash": "0x" + self.vk_hash.hex(),
            "input_shape": list(self.input_shape),
            "input_scale": self.input_scale,
            "output_shapes": [list(s) for s in self.output_shapes],
            "output_scales": list(self.output_scales),
            "num_input_instances": self.num_input_instances,
            "model_sha256": self.model_sha256,
            "row_inputs": self.row_inputs,
        }

    @classmethod
    def load(cls, directory: Path | str, srs_path: Path | str) -> CircuitArtifacts:
        """Artifacts written by `build_circuit`, with the SRS to prove and verify against."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ModelRejected(f"no circuit artifacts in {directory}: {exc}") from exc
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ModelRejected(f"circuit artifacts in {directory} have an unknown format")
        return cls(
            directory=directory,
            key=meta["key"],
            config=CircuitConfig.from_json(meta["config"]),
            logrows=meta["logrows"],
            srs_path=Path(srs_path),
            srs_sha256=meta["srs_sha256"],
            vk_hash=Hash32(bytes.fromhex(meta["vk_hash"][2:])),
            input_shape=tuple(meta["input_shape"]),
            input_scale=meta["input_scale"],
            output_shapes=tuple(tuple(s) for s in meta["output_shapes"]),
            output_scales=tuple(meta["output_scales"]),
            num_input_instances=meta["num_input_instances"],
            model_sha256=meta["model_sha256"],
            row_inputs=int(meta.get("row_inputs", 1)),  # absent in builds made before batching
        )


def compute_circuit_key(model_bytes: bytes, calibration: np.ndarray, config: CircuitConfig) -> str:
    """The content address of a build: sha256 over the model, the config and the calibration."""
    digest = hashlib.sha256()
    digest.update(b"flavum.circuit.v%d\x00" % ARTIFACT_FORMAT)
    digest.update(hashlib.sha256(model_bytes).digest())
    digest.update(json.dumps(config.to_json(), sort_keys=True).encode())
    cal = np.ascontiguousarray(calibration, dtype=np.float32)
    digest.update(json.dumps(list(cal.shape)).encode())
    digest.update(cal.tobytes())
    return digest.hexdigest()


def compute_vk_hash(vk_path: Path) -> Hash32:
    return keccak256(vk_path.read_bytes())


def read_model_input_shapes(model_bytes: bytes) -> tuple[tuple[int, ...], ...]:
    """The shapes of the model's inputs, symbolic dims taken as ezkl does (batch 1).

    One input of any shape, or several inputs that are each one row: the same shape with a
    leading dimension of 1 (a batched model from flavum.ml.batching). ModelRejected otherwise.
    """
    try:
        model = onnx.load_from_string(model_bytes)
    except Exception as exc:  # onnx raises DecodeError and others for garbage
        raise ModelRejected(f"not an ONNX model: {exc}") from exc
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if not inputs:
        raise ModelRejected("the model has no input")
    shapes = []
    for value in inputs:
        shape = []
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(dim.dim_value)
            else:
                shape.append(1)  # ezkl's default variable batch_size=1 fills symbolic dims
        if not shape:
            raise ModelRejected(f"the model input '{value.name}' has no shape")
        shapes.append(tuple(shape))
    if len(shapes) > 1:
        # Several inputs are proven only as rows of a batch: each its own inference.
        if any(shape != shapes[0] for shape in shapes):
            raise ModelRejected(
                f"the model's {len(shapes)} inputs differ in shape; Flavum proves one-input "
                "models and batched models whose inputs are one row each"
            )
        if len(shapes[0]) < 2 or shapes[0][0] != 1:
            raise ModelRejected(
                f"the model's {len(shapes)} inputs have shape {list(shapes[0])}; inputs of a "
                "batched model are one row each (leading dimension 1)"
            )
    return tuple(shapes)


def check_calibration(calibration: np.ndarray, row_size: int, batch_size: int) -> np.ndarray:
    """Calibration rows as float32 (rows, row_size), whole batches only; InvalidInput if not."""
    cal = np.asarray(calibration)
    if cal.dtype.kind not in "fiu":
        raise InvalidInput(f"calibration must be numeric, not {cal.dtype}")
    if cal.ndim == 1:
        cal = cal.reshape(1, -1)
    if cal.ndim != 2:
        raise InvalidInput(f"calibration must be 2-D (rows, features), not {cal.ndim}-D")
    if cal.shape[1] != row_size:
        raise InvalidInput(
            f"calibration rows have {cal.shape[1]} values; the model takes {row_size}"
        )
    cal = cal.astype(np.float32)
    if not np.all(np.isfinite(cal)):
        raise InvalidInput("calibration holds NaN or infinite values")
    usable = (cal.shape[0] // batch_size) * batch_size
    if usable == 0:
        raise InvalidInput(f"calibration needs at least {batch_size} rows (one batch)")
    return cal[:usable]


def call_ezkl(what: str, error: type[Exception], fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Call ezkl, turning its failures (including Rust panics) into a Flavum error.

    A Rust panic surfaces as pyo3's PanicException, a BaseException that `except Exception`
    does not catch.
    """
    try:
        return fn(*args, **kw)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise error(f"{what} failed: {exc}") from exc


def build_circuit(
    model_bytes: bytes,
    calibration: np.ndarray,
    config: CircuitConfig,
    store: SrsStore,
    progress: Progress | None = None,
    *,
    cache_dir: Path | str | None = None,
) -> CircuitArtifacts:
    """Compile `model_bytes` into a circuit with keys, or reuse an earlier identical build.

    Artifacts go to `cache_dir/<key>` (default: `<store.directory>/circuits`). Raises
    ModelRejected for a model ezkl cannot compile, CircuitTooLarge when calibration says the
    circuit needs more than `config.max_logrows`, InvalidInput for bad calibration data.
    """
    root = Path(cache_dir) if cache_dir is not None else store.directory / "circuits"
    shapes = read_model_input_shapes(model_bytes)
    input_shape, row_inputs = shapes[0], len(shapes)
    if row_inputs > 1:
        batch, row_size = row_inputs, math.prod(input_shape)
    else:
        batch = input_shape[0] if len(input_shape) >= 2 else 1
        row_size = math.prod(input_shape) // batch
    cal = check_calibration(calibration, row_size, batch)
    key = compute_circuit_key(model_bytes, cal, config)
    final_dir = root / key
    if (final_dir / META_FILE).is_file():
        return _reuse(final_dir, store, progress)

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key[:16]}-", dir=root))
    try:
        artifacts = _build_into(
            work, key, model_bytes, cal, input_shape, row_inputs, config, store, progress
        )
        try:
            os.rename(work, final_dir)
        except OSError:
            # Another process finished the same build first: its artifacts are as good as ours.
            if not (final_dir / META_FILE).is_file():
                raise
            return _reuse(final_dir, store, progress)
        return CircuitArtifacts.load(final_dir, artifacts.srs_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_into(
    work: Path,
    key: str,
    model_bytes: bytes,
    cal: np.ndarray,
    input_shape: tuple[int, ...],
    row_inputs: int,
    config: CircuitConfig,
    store: SrsStore,
    progress: Progress | None,
) -> CircuitArtifacts:
    import ezkl

    def report(stage: str, fraction: float | None) -> None:
        if progress is not None:
            progress(stage, fraction)

    model_path = work / MODEL_FILE
    settings_path = work / SETTINGS_FILE
    compiled_path = work / COMPILED_FILE
    calibration_path = work / "calibration.json"
    model_path.write_bytes(model_bytes)
    calibration_data = compute_calibration_data(cal, row_inputs)
    calibration_path.write_text(json.dumps({"input_data": calibration_data}))

    report("calibrate", None)
    settings = _calibrate(model_path, settings_path, calibration_path, config,
                          config.run_args(row_inputs))
    logrows = int(settings["run_args"]["logrows"])
    # A batched model's rows, not its table, set its size: its default table widens to the
    # rows it has anyway (a wider range), at what calibration chose. Others keep their table.
    wide = config.run_args(row_inputs, logrows)
    if wide["decomp_base"] != settings["run_args"]["decomp_base"]:
        for name in CALIBRATED_RUN_ARGS:
            wide[name] = settings["run_args"][name]
        wide["lookup_range"] = tuple(wide["lookup_range"])
        settings = _gen_settings(model_path, settings_path, wide)
    report("calibrate", 1.0)
    # Refuse before compile and setup: setup's time and memory grow with 2**logrows.
    if logrows > config.max_logrows:
        raise CircuitTooLarge(
            f"the circuit needs logrows {logrows} ({settings.get('num_rows')} rows used), "
            f"above the limit of {config.max_logrows}"
        )

    report("compile", None)
    call_ezkl(
        "compile_circuit", ModelRejected, ezkl.compile_circuit,
        str(model_path), str(compiled_path), str(settings_path),
    )
    report("compile", 1.0)

    srs_path = store.path_for(logrows, progress)
    srs_sha256 = compute_file_sha256(srs_path)
    _setup_keys(work, srs_path, progress)

    output_scales = tuple(int(s) for s in settings["model_output_scales"])
    instance_shapes = [tuple(int(d) for d in s) for s in settings["model_instance_shapes"]]
    output_shapes = tuple(instance_shapes[len(instance_shapes) - len(output_scales):])
    input_scales = {int(s) for s in settings["model_input_scales"]}
    if len(input_scales) != 1:
        # A row's commitment hashes it at the input scale: every row must use the same one.
        raise ModelRejected(f"calibration gave the inputs different scales {sorted(input_scales)}")
    input_scale = input_scales.pop()
    artifacts = CircuitArtifacts(
        directory=work,
        key=key,
        config=config,
        logrows=logrows,
        srs_path=srs_path,
        srs_sha256=srs_sha256,
        vk_hash=compute_vk_hash(work / VK_FILE),
        input_shape=input_shape,
        input_scale=input_scale,
        output_shapes=output_shapes,
        output_scales=output_scales,
        num_input_instances=_count_input_instances(config, input_shape, row_inputs),
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        row_inputs=row_inputs,
    )
    calibration_path.unlink()
    (work / META_FILE).write_text(json.dumps(artifacts.to_json(), indent=1))
    return artifacts


def compute_calibration_data(cal: np.ndarray, row_inputs: int) -> list[list[float]]:
    """ezkl's input_data for calibration rows: one flat list per input tensor.

    ezkl cuts each input's list into calls of the input's size. One input: all rows in order.
    N row inputs: input i gets rows i, N+i, 2N+i, ... so that call k sees rows kN .. kN+N-1.
    """
    if row_inputs == 1:
        return [cal.reshape(-1).tolist()]
    return [cal[i::row_inputs].reshape(-1).tolist() for i in range(row_inputs)]


def _count_input_instances(
    config: CircuitConfig, input_shape: tuple[int, ...], row_inputs: int
) -> int:
    if config.input_visibility == "hashed":
        return row_inputs  # one Poseidon hash of each input tensor
    if config.input_visibility == "public":
        return math.prod(input_shape) * row_inputs
    return 0


def _setup_keys(directory: Path, srs_path: Path, progress: Progress | None) -> None:
    """Make vk and pk for the compiled circuit in `directory` (temp names, then rename)."""
    import ezkl

    if progress is not None:
        progress("setup", None)
    vk_tmp, pk_tmp = directory / (VK_FILE + ".tmp"), directory / (PK_FILE + ".tmp")
    call_ezkl(
        "setup", ModelRejected, ezkl.setup,
        str(directory / COMPILED_FILE), str(vk_tmp), str(pk_tmp), srs_path=str(srs_path),
    )
    os.replace(vk_tmp, directory / VK_FILE)
    os.replace(pk_tmp, directory / PK_FILE)
    if progress is not None:
        progress("setup", 1.0)


def _reuse(directory: Path, store: SrsStore, progress: Progress | None) -> CircuitArtifacts:
    """Load a finished build; redo only the keys if the SRS it was set up with has changed."""
    meta = json.loads((directory / META_FILE).read_text())
    srs_path = store.path_for(int(meta["logrows"]), progress)
    artifacts = CircuitArtifacts.load(directory, srs_path)
    if compute_file_sha256(srs_path) == artifacts.srs_sha256:
        return artifacts
    # Keys belong to one SRS: a regenerated or user-supplied SRS needs new keys (a new vk_hash).
    _setup_keys(directory, srs_path, progress)
    meta["srs_sha256"] = compute_file_sha256(srs_path)
    meta["vk_hash"] = "0x" + compute_vk_hash(directory / VK_FILE).hex()
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, directory / META_FILE)
    return CircuitArtifacts.load(directory, srs_path)


def rederive_vk_hash(model_path: Path, settings_path: Path, srs_path: Path,
                     directory: Path) -> Hash32:
    """The vk hash a published circuit ONNX and ezkl settings give with `srs_path`: compile and
    set up afresh in `directory` (ezkl's setup is deterministic: the same graph, settings and
    SRS give the same verifying key). ModelRejected when ezkl refuses them."""
    import ezkl

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, directory / "model.onnx")
    shutil.copyfile(settings_path, directory / "settings.json")
    call_ezkl("compile_circuit", ModelRejected, ezkl.compile_circuit,
              str(directory / "model.onnx"), str(directory / "model.compiled"),
              str(directory / "settings.json"))
    _setup_keys(directory, srs_path, None)
    return compute_vk_hash(directory / "vk")
