"""Canonical execution: the circuit's own fixed-point run of a model on one input.

`run_witness` is what the sequencer calls for an Infer transaction. Its outputs are the
circuit's field elements mapped to signed integers (value = integer / 2**scale), exactly the
numbers the proof makes public, so a RESULT can be compared with a proof bit for bit.
With a hashed input the circuit exposes the Poseidon hash of the quantized input: that is the
DATA object's commitment, and `compute_input_commitment` computes it without running the model.

A batched model (N row inputs, see flavum.ml.batching) runs N rows per call and exposes one
commitment per row; `outputs_per_row` splits its outputs by row. Rows do not influence each
other, so one row's outputs can be had before its batch is full: run it padded with copies of
itself (`pad_rows`, `run_row`); the full batch later gives that row the same outputs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.field import FIELD_MODULUS, felt_to_signed
from flavum.core.types import Hash32
from flavum.ml.errors import InvalidInput
from flavum.zk.circuit import CircuitArtifacts, call_ezkl
from flavum.zk.errors import ProvingFailed


@dataclass(frozen=True)
class FieldElement:
    """A field element as the chain sees it: a uint256 (32 bytes big-endian) and its hex."""

    value: int

    @property
    def be_bytes(self) -> Hash32:
        return Hash32(self.value.to_bytes(32, "big"))

    @property
    def hex(self) -> str:
        return "0x" + self.value.to_bytes(32, "big").hex()

    @classmethod
    def from_hex(cls, text: str) -> FieldElement:
        """From ezkl's big-endian "0x..." form (pretty_elements)."""
        return cls(_checked_field(int(text, 16)))

    @classmethod
    def from_le_hex(cls, text: str) -> FieldElement:
        """From ezkl's serialized form: 64 hex digits, little-endian (witness and proof files)."""
        if len(text) != 64:
            raise ValueError(f"a field element is 64 hex digits, got {len(text)}")
        return cls(_checked_field(int.from_bytes(bytes.fromhex(text), "little")))

    def to_le_hex(self) -> str:
        return self.value.to_bytes(32, "little").hex()


def _checked_field(value: int) -> int:
    if not 0 <= value < FIELD_MODULUS:
        raise ValueError("value is not a canonical field element")
    return value


@dataclass(frozen=True)
class CircuitRun:
    """One canonical run: commitments of the input, fixed-point outputs, the witness file."""

    input_commitments: tuple[FieldElement, ...]  # empty unless the input is hashed
    outputs: tuple[int, ...]  # all output tensors flattened, fixed point
    output_scales: tuple[int, ...]  # one per output tensor: value = int / 2**scale
    output_shapes: tuple[tuple[int, ...], ...]
    rescaled_outputs: tuple[float, ...]  # ezkl's own rescaling of `outputs`
    witness_path: Path

    @property
    def input_commitment(self) -> FieldElement:
        """The one Poseidon commitment of a hashed input."""
        if len(self.input_commitments) != 1:
            raise InvalidInput("this circuit does not expose a single input commitment")
        return self.input_commitments[0]

    @property
    def witness_bytes(self) -> bytes:
        return self.witness_path.read_bytes()


def prepare_inputs(artifacts: CircuitArtifacts, inputs: Any) -> np.ndarray:
    """Inputs as a flat float32 vector of the model's input size; InvalidInput otherwise.

    Accepts (batch, row), a flat vector, or the model's own input shape.
    """
    expected = f"{artifacts.input_size} ({artifacts.batch_size} row(s) of {artifacts.row_size})"
    return _as_flat_floats(inputs, artifacts.input_size, expected)


def compute_inputs_digest(flat: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(flat, dtype=np.float32).tobytes()).hexdigest()


def prepare_row(artifacts: CircuitArtifacts, row: Any) -> np.ndarray:
    """One row as a flat float32 vector of the model's row size; InvalidInput otherwise."""
    return _as_flat_floats(row, artifacts.row_size, f"one row of {artifacts.row_size}")


def _as_flat_floats(values: Any, size: int, expected: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise InvalidInput(f"inputs are not an array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"inputs must be numeric, not {array.dtype}")
    if array.size != size:
        raise InvalidInput(f"inputs have {array.size} values; the model takes {expected}")
    with np.errstate(over="ignore"):
        flat = array.astype(np.float32).reshape(-1)
    # Checked after the float32 cast: a float64 beyond float32's range becomes inf here.
    if not np.all(np.isfinite(flat)):
        raise InvalidInput("inputs hold NaN or infinite values")
    return flat


def compute_input_commitment(artifacts: CircuitArtifacts, inputs: Any) -> FieldElement:
    """The Poseidon commitment the circuit exposes for `inputs`, computed outside the circuit.

    Each value is quantized at the circuit's input scale (ezkl.float_to_felt, as f32) and the
    field elements are hashed with ezkl's Poseidon, as the circuit's hashed-input module does.
    For a circuit with one commitment per row (`artifacts.commits_rows`), `inputs` is one row;
    its commitment equals that of the same row in a batch-1 circuit with the same input scale.
    Otherwise `inputs` is the whole input of one call. A polycommit circuit commits with KZG
    instead (flavum.zk.polycommit).
    """
    if artifacts.config.input_visibility != "hashed":
        raise InvalidInput("the circuit does not hash its input (see flavum.zk.polycommit)")
    if artifacts.commits_rows:
        flat = prepare_row(artifacts, inputs)
    else:
        flat = prepare_inputs(artifacts, inputs)
    return compute_poseidon_commitment(flat, artifacts.input_scale)


def compute_input_commitments(
    artifacts: CircuitArtifacts, rows: Any
) -> tuple[FieldElement, ...]:
    """The commitments a hashed-input circuit exposes for one call's inputs, in order."""
    if artifacts.config.input_visibility != "hashed":
        raise InvalidInput("the circuit does not hash its input (see flavum.zk.polycommit)")
    flat = prepare_inputs(artifacts, rows)
    if not artifacts.commits_rows:
        return (compute_poseidon_commitment(flat, artifacts.input_scale),)
    per_row = flat.reshape(artifacts.batch_size, artifacts.row_size)
    return tuple(compute_poseidon_commitment(row, artifacts.input_scale) for row in per_row)


def compute_poseidon_commitment(flat: np.ndarray, scale: int) -> FieldElement:
    """ezkl's Poseidon hash of `flat` quantized at `scale`: what a hashed tensor exposes."""
    import ezkl

    felts = [
        ezkl.float_to_felt(float(x), scale, ezkl.PyInputType.F32) for x in flat
    ]
    hashed = call_ezkl("poseidon_hash", InvalidInput, ezkl.poseidon_hash, felts)
    if len(hashed) != 1:
        raise InvalidInput(f"Poseidon returned {len(hashed)} elements, expected 1")
    return FieldElement.from_le_hex(hashed[0])


def run_witness(
    artifacts: CircuitArtifacts,
    inputs: Any,
    *,
    workdir: Path | str | None = None,
    check: bool = False,
) -> CircuitRun:
    """Run the circuit on `inputs` (ezkl gen_witness) and read the canonical results.

    The witness is written to `workdir` (default `<artifacts>/executions/<inputs sha256>/`,
    so the same input maps to the same files; a witness already made there is read, not made
    again: the prover reuses the one an Infer made). With `check`, the witness is also run
    through the constraint checker (ezkl.mock, milliseconds to seconds): an input outside the
    circuit's ranges is then refused with InvalidInput now, not found later when its proof fails.
    """
    import ezkl

    flat = prepare_inputs(artifacts, inputs)
    content_addressed = workdir is None
    if workdir is None:
        workdir = artifacts.directory / "executions" / compute_inputs_digest(flat)[:32]
    workdir = Path(workdir)
    witness_path = workdir / "witness.json"
    if not (content_addressed and witness_path.exists()):
        workdir.mkdir(parents=True, exist_ok=True)
        input_path = workdir / "input.json"
        _write_atomic(input_path, json.dumps({"input_data": _input_data(artifacts, flat)}).encode())
        tmp_witness = workdir / f".witness.{os.getpid()}.tmp"
        # With a well-formed input, gen_witness fails when a value leaves the circuit's range
        # (e.g. "too large to be represented by base 128 and n 4"): the input's fault.
        call_ezkl(
            "witness generation (is the input within the circuit's range?)",
            InvalidInput,
            ezkl.gen_witness,
            str(input_path), str(artifacts.compiled_path), str(tmp_witness),
        )
        os.replace(tmp_witness, witness_path)  # whole or absent: safe to reuse
    if check:
        call_ezkl(
            "constraint check of the input", InvalidInput, ezkl.mock,
            str(witness_path), str(artifacts.compiled_path),
        )
    return read_circuit_run(artifacts, witness_path)


def read_circuit_run(artifacts: CircuitArtifacts, witness_path: Path) -> CircuitRun:
    """The canonical results held in a witness file made by `run_witness`."""
    witness = json.loads(Path(witness_path).read_text())
    pretty = witness["pretty_elements"]
    outputs = tuple(
        felt_to_signed(FieldElement.from_hex(h).value)
        for tensor in pretty["outputs"]
        for h in tensor
    )
    rescaled = tuple(float(x) for tensor in pretty["rescaled_outputs"] for x in tensor)
    commitments: tuple[FieldElement, ...] = ()
    if artifacts.config.input_visibility == "hashed":
        commitments = tuple(
            FieldElement.from_hex(h) for tensor in pretty["processed_inputs"] for h in tensor
        )
    if artifacts.config.input_visibility == "hashed" and (
        len(commitments) != artifacts.num_input_instances
    ):
        raise ProvingFailed(
            f"witness has {len(commitments)} input commitments; the circuit has "
            f"{artifacts.num_input_instances}"
        )
    if len(outputs) != artifacts.num_output_instances:
        raise ProvingFailed(
            f"witness has {len(outputs)} outputs; the circuit has {artifacts.num_output_instances}"
        )
    return CircuitRun(
        input_commitments=commitments,
        outputs=outputs,
        output_scales=artifacts.output_scales,
        output_shapes=artifacts.output_shapes,
        rescaled_outputs=rescaled,
        witness_path=Path(witness_path),
    )


def _input_data(artifacts: CircuitArtifacts, flat: np.ndarray) -> list[list[float]]:
    """input.json's input_data: one flat list per input tensor (one per row when batched)."""
    # float32 -> Python float is exact, so the JSON carries exactly the float32 values.
    if artifacts.row_inputs == 1:
        return [flat.tolist()]
    return [row.tolist() for row in flat.reshape(artifacts.row_inputs, -1)]


def pad_rows(artifacts: CircuitArtifacts, rows: Any) -> np.ndarray:
    """1..N rows as a full call of N rows (float32, shape (N, row_size)): the last row repeated.

    Rows do not influence each other, so each given row gets the outputs it gets in any batch.
    """
    try:
        array = np.asarray(rows)
    except Exception as exc:
        raise InvalidInput(f"inputs are not an array: {exc}") from exc
    if array.ndim <= 1 or array.size == artifacts.row_size:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != artifacts.row_size:
        raise InvalidInput(
            f"rows have shape {list(array.shape)}; the model takes rows of {artifacts.row_size}"
        )
    count = array.shape[0]
    if not 1 <= count <= artifacts.batch_size:
        raise InvalidInput(f"{count} rows; the model takes 1..{artifacts.batch_size} per call")
    checked = _as_flat_floats(array, array.size, "finite numbers").reshape(count, -1)
    padding = np.repeat(checked[-1:], artifacts.batch_size - count, axis=0)
    return np.concatenate([checked, padding])


def run_row(
    artifacts: CircuitArtifacts, row: Any, *, workdir: Path | str | None = None
) -> tuple[int, ...]:
    """One row's canonical outputs at once, before its batch is full (the row run padded with
    copies of itself). They equal the row's outputs in the batch proven later."""
    execution = run_witness(artifacts, pad_rows(artifacts, row), workdir=workdir)
    return outputs_per_row(artifacts, execution.outputs)[0]


def outputs_per_row(artifacts: CircuitArtifacts, outputs: Any) -> list[tuple[int, ...]]:
    """A call's outputs (all output tensors flattened, as in CircuitRun and PublicValues) split
    into one tuple per row: row i gets row i of every output tensor, tensors in order.

    Every output tensor of a model of batch N > 1 must have N as its leading dimension.
    """
    values = tuple(outputs)
    if len(values) != artifacts.num_output_instances:
        raise InvalidInput(
            f"{len(values)} outputs; the circuit has {artifacts.num_output_instances}"
        )
    batch = artifacts.batch_size
    rows: list[list[int]] = [[] for _ in range(batch)]
    start = 0
    for shape in artifacts.output_shapes:
        size = math.prod(shape)
        if batch > 1 and (not shape or shape[0] != batch):
            raise InvalidInput(
                f"output shape {list(shape)} does not lead with the batch of {batch}: "
                "its values cannot be split by row"
            )
        per_row = size // batch
        tensor = values[start : start + size]
        for i in range(batch):
            rows[i].extend(tensor[i * per_row : (i + 1) * per_row])
        start += size
    return [tuple(row) for row in rows]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
