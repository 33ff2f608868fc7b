"""Canonical execution: the circuit's own fixed-point run of a model on one input.

`run_witness` is what the sequencer calls for an Infer transaction. Its outputs are the
circuit's field elements mapped to signed integers (value = integer / 2**scale), exactly the
numbers the proof makes public, so a RESULT can be compared with a proof bit for bit.
With a hashed input the circuit exposes the Poseidon hash of the quantized input: that is the
DATA object's commitment, and `compute_input_commitment` computes it without running the model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.errors import InvalidInput, ProvingFailed
from flavum.core.types import Hash32
from flavum.zk.circuit import CircuitArtifacts, call_ezkl

# The BN254 scalar field: ezkl's circuits work modulo this prime.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617


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


def felt_to_signed(value: int) -> int:
    """A field element read as a signed integer: the upper half of the field is negative."""
    return value - FIELD_MODULUS if value > FIELD_MODULUS // 2 else value


def signed_to_felt(value: int) -> int:
    return value % FIELD_MODULUS


@dataclass(frozen=True)
class Execution:
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
    try:
        array = np.asarray(inputs)
    except Exception as exc:  # ragged lists and the like
        raise InvalidInput(f"inputs are not an array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"inputs must be numeric, not {array.dtype}")
    if array.size != artifacts.input_size:
        raise InvalidInput(
            f"inputs have {array.size} values; the model takes {artifacts.input_size} "
            f"({artifacts.batch_size} row(s) of {artifacts.row_size})"
        )
    with np.errstate(over="ignore"):
        flat = array.astype(np.float32).reshape(-1)
    # Checked after the float32 cast: a float64 beyond float32's range becomes inf here.
    if not np.all(np.isfinite(flat)):
        raise InvalidInput("inputs hold NaN or infinite values")
    return flat


def compute_inputs_digest(flat: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(flat, dtype=np.float32).tobytes()).hexdigest()


def compute_input_commitment(artifacts: CircuitArtifacts, inputs: Any) -> FieldElement:
    """The Poseidon commitment the circuit exposes for `inputs`, computed outside the circuit.

    Each value is quantized at the circuit's input scale (ezkl.float_to_felt, as f32) and the
    field elements are hashed with ezkl's Poseidon, as the circuit's hashed-input module does.
    """
    import ezkl

    flat = prepare_inputs(artifacts, inputs)
    felts = [
        ezkl.float_to_felt(float(x), artifacts.input_scale, ezkl.PyInputType.F32) for x in flat
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
) -> Execution:
    """Run the circuit on `inputs` (ezkl gen_witness) and read the canonical results.

    The witness is written to `workdir` (default `<artifacts>/executions/<inputs sha256>/`,
    so the same input maps to the same files). With `check`, the witness is also run through
    the constraint checker (ezkl.mock, milliseconds to seconds): an input outside the circuit's
    ranges is then refused with InvalidInput now, not found later when its proof fails.
    """
    import ezkl

    flat = prepare_inputs(artifacts, inputs)
    if workdir is None:
        workdir = artifacts.directory / "executions" / compute_inputs_digest(flat)[:32]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    input_path = workdir / "input.json"
    witness_path = workdir / "witness.json"
    # float32 -> Python float is exact, so the JSON carries exactly the float32 values.
    _write_atomic(input_path, json.dumps({"input_data": [flat.tolist()]}).encode())
    tmp_witness = workdir / f".witness.{os.getpid()}.tmp"
    # With a well-formed input, gen_witness fails when a value leaves the circuit's range
    # (e.g. "too large to be represented by base 128 and n 4"): the input's fault.
    call_ezkl(
        "witness generation (is the input within the circuit's range?)",
        InvalidInput,
        ezkl.gen_witness,
        str(input_path), str(artifacts.compiled_path), str(tmp_witness),
    )
    os.replace(tmp_witness, witness_path)
    if check:
        call_ezkl(
            "constraint check of the input", InvalidInput, ezkl.mock,
            str(witness_path), str(artifacts.compiled_path),
        )
    return read_execution(artifacts, witness_path)


def read_execution(artifacts: CircuitArtifacts, witness_path: Path) -> Execution:
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
    if len(outputs) != artifacts.num_output_instances:
        raise ProvingFailed(
            f"witness has {len(outputs)} outputs; the circuit has {artifacts.num_output_instances}"
        )
    return Execution(
        input_commitments=commitments,
        outputs=outputs,
        output_scales=artifacts.output_scales,
        output_shapes=artifacts.output_shapes,
        rescaled_outputs=rescaled,
        witness_path=Path(witness_path),
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
