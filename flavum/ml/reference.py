"""Float reference inference: what the model computes without fixed-point quantization.

onnxruntime runs the model in float32; the circuit's outputs are compared with these to report
the quantization error (`accuracy_report`). `validate_input` is the one gate for data points.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import onnxruntime as ort

from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.onnx_check import InputSpec, get_input_spec, load_model

POSTPROCESSES = ("none", "softmax", "sigmoid", "sigmoid_l1")
"""How probabilities follow from a proven output (see `apply_postprocess`)."""


def validate_input(values: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """Return `values` as float32 of shape (n, *input_shape); `InvalidInput` if they do not fit.

    Accepted: one sample shaped `input_shape`, a batch shaped (n, *input_shape), one flat sample
    of prod(input_shape) values, or flat rows (n, prod(input_shape)) as input.json carries them;
    also ezkl's own layout, a flat list (or flat rows) holding several samples back to back
    (`{"input_data": [x.reshape([-1]).tolist()]}` for a batch `x`), chunked by the input size.
    """
    size = math.prod(input_shape)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("input is not a rectangular array of numbers") from None
    if array.size == 0:
        raise InvalidInput("input is empty")
    # Indices name positions in the values as given, before any reshape.
    nan = np.argwhere(np.isnan(array))
    if len(nan):
        raise InvalidInput(f"input holds NaN at index {nan[0].tolist()}")
    inf = np.argwhere(np.isinf(array))
    if len(inf):
        raise InvalidInput(f"input holds an infinite value at index {inf[0].tolist()}")
    too_large = np.argwhere(np.abs(array) > np.finfo(np.float32).max)
    if len(too_large):
        raise InvalidInput(f"input value at index {too_large[0].tolist()} overflows float32")
    if array.shape == tuple(input_shape):
        array = array.reshape(1, *input_shape)
    elif array.shape[1:] == tuple(input_shape):
        pass
    elif array.ndim == 1 and array.size == size:
        array = array.reshape(1, *input_shape)
    elif array.ndim == 2 and array.shape[1] == size:
        array = array.reshape(array.shape[0], *input_shape)
    elif array.ndim <= 2 and array.size % size == 0 and array.shape[-1] % size == 0:
        array = array.reshape(-1, *input_shape)  # ezkl's layout: samples back to back
    else:
        raise InvalidInput(
            f"input has shape {list(array.shape)}; expected {list(input_shape)} "
            f"({size} values) per sample"
        )
    return array.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _input_spec(model_bytes: bytes) -> InputSpec:
    return get_input_spec(load_model(model_bytes))


@functools.lru_cache(maxsize=8)
def _session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # onnxruntime's warnings about unused initializers are noise
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelRejected(f"onnxruntime cannot load the model: {exc}") from None


def run_outputs(
    model_bytes: bytes, inputs: np.ndarray, spec: InputSpec | None = None
) -> list[np.ndarray]:
    """Run the model on validated inputs (n, *shape), in chunks if its batch size is fixed.

    `spec` skips the intake checks, for graphs built internally (e.g. with an untyped output).
    """
    spec = spec or _input_spec(model_bytes)
    session = _session(model_bytes)
    chunk = spec.batch or len(inputs)
    if len(inputs) % chunk:
        raise InvalidInput(f"model takes batches of {chunk}; got {len(inputs)} samples")
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(inputs), chunk):
        try:
            parts.append(session.run(None, {spec.name: inputs[start : start + chunk]}))
        except Exception as exc:  # onnxruntime's errors carry no stable type
            raise ModelRejected(f"onnxruntime failed to run the model: {exc}") from None
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def run_float(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """Float32 outputs (n, *output_shape) of a one-output model for a batch of inputs."""
    spec = _input_spec(model_bytes)
    batch = validate_input(inputs, spec.shape)
    outputs = run_outputs(model_bytes, batch)
    if len(outputs) != 1:
        raise ModelRejected(f"model has {len(outputs)} outputs; normalize it to one first")
    return np.asarray(outputs[0], dtype=np.float32)


def apply_postprocess(outputs: np.ndarray, postprocess: str) -> np.ndarray:
    """Derive probabilities from a proven output, outside the circuit (float64)."""
    values = np.asarray(outputs, dtype=np.float64)
    if postprocess == "none":
        return values
    if postprocess == "softmax":
        shifted = np.exp(values - values.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    sigmoid = 1.0 / (1.0 + np.exp(-values))
    if postprocess == "sigmoid":
        return sigmoid
    if postprocess == "sigmoid_l1":
        # One-vs-rest logistic regression: per-class sigmoids scaled to sum to one.
        return sigmoid / sigmoid.sum(axis=-1, keepdims=True)
    raise ValueError(f"unknown postprocess {postprocess!r}; expected one of {POSTPROCESSES}")


def accuracy_report(
    float_outputs: np.ndarray,
    circuit_outputs: np.ndarray,
    postprocess: str,
    *,
    proven_output: str | None = None,
) -> dict[str, Any]:
    """Compare the circuit's (rescaled) outputs with the float reference on the same inputs.

    Top-1 agreement is argmax agreement per sample (None for one-column outputs); errors are
    measured on the proven output and, through `postprocess`, on the derived probabilities.
    """
    reference = np.asarray(float_outputs, dtype=np.float64)
    circuit = np.asarray(circuit_outputs, dtype=np.float64)
    if reference.shape != circuit.shape:
        raise InvalidInput(
            f"output shapes differ: float {list(reference.shape)}, circuit {list(circuit.shape)}"
        )
    if reference.ndim < 1 or len(reference) == 0:
        raise InvalidInput("no outputs to compare")
    reference = reference.reshape(len(reference), -1)
    circuit = circuit.reshape(len(circuit), -1)
    top1: float | None = None
    if reference.shape[1] > 1:
        top1 = float(np.mean(reference.argmax(axis=1) == circuit.argmax(axis=1)))
    probability_error = np.abs(
        apply_postprocess(reference, postprocess) - apply_postprocess(circuit, postprocess)
    )
    return {
        "samples": len(reference),
        "proven_output": proven_output or ("logits" if postprocess != "none" else "outputs"),
        "postprocess": postprocess,
        "top1_agreement": top1,
        "max_abs_error": float(np.max(np.abs(reference - circuit))),
        "max_abs_error_probabilities": float(np.max(probability_error)),
    }
