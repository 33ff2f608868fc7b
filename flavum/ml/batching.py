"""Batched models: one graph that runs N inferences, one input tensor per inference.

A normalized model takes one row (its input is [batch, *shape] with a dynamic or unit batch
dimension). `make_batched` rewrites it into a graph with N inputs `<name>_0 .. <name>_{N-1}`,
each of shape [1, *shape], concatenated on axis 0 in front of the original graph, whose output
is then [N, *output_shape]: row i of the output belongs to input i.

Why N inputs rather than one [N, *shape] input: with a hashed input the circuit exposes one
Poseidon hash per input tensor. With one input per row, each inference's input hash is exactly
the commitment of that row alone (the DATA object's commitment), so a proof's public values
bind every inference to its own DATA object: [hash_0, ..., hash_{N-1}, outputs of all rows].

The rewrite is checked with onnxruntime: the batched graph on N different rows must give the
outputs of the original graph run on each row alone (a graph that mixes rows, or that hard-codes
a batch of 1 in a Reshape, is refused).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from flavum.ml.errors import InvalidInput, ModelRejected
from flavum.ml.onnx_check import get_input_spec, load_model
from flavum.ml.reference import run_outputs, validate_input

MAX_BATCH = 256
"""A circuit grows linearly with N: beyond this it would not fit logrows <= 18 anyway."""
ROW_TOLERANCE = 1e-5
"""Max abs difference (relative above 1) between a batched row and the same row run alone."""
CHECK_SEED = 0


def get_row_input_name(name: str, index: int) -> str:
    """The name of the batched graph's input that carries row `index`."""
    return f"{name}_{index}"


def make_batched(model_bytes: bytes, n: int, samples: np.ndarray | None = None) -> bytes:
    """The N-input batched graph of a one-row model (see the module docstring).

    `samples` (rows of the model's input) are used to check the rewrite; without them, N rows
    are drawn from a fixed-seed normal distribution. Raises ModelRejected if the model does not
    take one row at a time or if its batched graph disagrees with it row by row.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_BATCH:
        raise InvalidInput(f"batch size must be an integer in 1..{MAX_BATCH}, not {n!r}")
    model = load_model(model_bytes)
    spec = get_input_spec(model)
    if spec.batch not in (None, 1):
        raise ModelRejected(
            f"the model already takes batches of {spec.batch}; export it with a dynamic or unit "
            "batch dimension"
        )
    if len(model.graph.output) != 1:
        raise ModelRejected(f"the model has {len(model.graph.output)} outputs; normalize it first")

    batched = onnx.ModelProto()
    batched.CopyFrom(model)
    graph = batched.graph
    row_names = [get_row_input_name(spec.name, i) for i in range(n)]
    taken = _names_in(model)
    clash = [name for name in row_names if name in taken]
    if clash:
        raise ModelRejected(f"the model already uses the name '{clash[0]}'")
    initializer_names = {t.name for t in graph.initializer}
    kept_inputs = [i for i in graph.input if i.name in initializer_names]  # old-IR weights
    del graph.input[:]
    graph.input.extend(
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, *spec.shape])
         for name in row_names]
    )
    graph.input.extend(kept_inputs)
    # The concatenation takes the original input's name, so every original node reads it.
    concat = helper.make_node("Concat", row_names, [spec.name], name="flavum_batch_concat", axis=0)
    nodes = [concat, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    # Recorded intermediate shapes may pin the batch dimension to 1: let them be inferred anew.
    del graph.value_info[:]
    output = graph.output[0]
    dims = output.type.tensor_type.shape.dim
    if len(dims) >= 1:
        dims[0].Clear()
        dims[0].dim_value = n

    batched_bytes: bytes = batched.SerializeToString()
    try:
        onnx.checker.check_model(batched)
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise ModelRejected(f"the batched graph is not valid ONNX: {exc}") from None
    rows = _check_rows(model_bytes, spec.shape, n, samples)
    check_batched(model_bytes, batched_bytes, rows)
    return batched_bytes


def run_batched(batched_bytes: bytes, rows: np.ndarray) -> np.ndarray:
    """The batched graph's float outputs (N, *output_shape) for N rows (onnxruntime)."""
    import onnxruntime as ort

    model = onnx.load_from_string(batched_bytes)
    names = [i.name for i in model.graph.input]
    shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:])
    batch = validate_input(rows, shape)
    if len(batch) != len(names):
        raise InvalidInput(f"the batched model takes {len(names)} rows, got {len(batch)}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(batched_bytes, options, providers=["CPUExecutionProvider"])
        feed = {name: batch[i : i + 1] for i, name in enumerate(names)}
        (outputs,) = session.run(None, feed)
    except Exception as exc:  # onnxruntime's errors carry no stable type
        raise ModelRejected(f"onnxruntime failed to run the batched model: {exc}") from None
    return np.asarray(outputs)


def check_batched(model_bytes: bytes, batched_bytes: bytes, rows: np.ndarray) -> float:
    """Max abs difference between the batched graph and the model run row by row.

    ModelRejected if it exceeds ROW_TOLERANCE (relative for outputs larger than 1): the graph
    mixes rows, or pins the batch dimension somewhere.
    """
    spec = get_input_spec(load_model(model_bytes))
    alone = np.concatenate([run_outputs(model_bytes, row[None], spec)[0] for row in rows])
    together = run_batched(batched_bytes, rows)
    if together.shape != alone.shape:
        raise ModelRejected(
            f"the batched graph gives shape {list(together.shape)}, row by row "
            f"{list(alone.shape)}: the model does not treat rows independently"
        )
    diff = float(np.max(np.abs(together.astype(np.float64) - alone.astype(np.float64))))
    if diff > ROW_TOLERANCE * max(1.0, float(np.max(np.abs(alone)))):
        raise ModelRejected(
            f"the batched graph disagrees with the model row by row (max abs diff {diff:.3g}): "
            "the model mixes rows of a batch"
        )
    return diff


def _check_rows(
    model_bytes: bytes, shape: tuple[int, ...], n: int, samples: np.ndarray | None
) -> np.ndarray:
    """N rows to check the rewrite with: the caller's samples, cycled, or seeded noise."""
    if samples is None:
        return np.random.default_rng(CHECK_SEED).normal(size=(n, *shape)).astype(np.float32)
    rows = validate_input(samples, shape)
    return rows[np.arange(n) % len(rows)]


def _names_in(model: onnx.ModelProto) -> set[str]:
    names = {i.name for i in model.graph.input} | {o.name for o in model.graph.output}
    names |= {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        names.update(node.input)
        names.update(node.output)
    return names
