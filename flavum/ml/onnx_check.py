"""ONNX intake checks: is this file a well-formed model that the prover can take?

`load_model` refuses anything that is not a sound ONNX file with one float input of a static
shape (the leading batch dimension may be dynamic). `check_supported_ops` refuses operators the
prover (ezkl 23) cannot turn into a circuit. Both raise `ModelRejected` (or its subclass
`UnsupportedOperator`) with a one-line message a user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from google.protobuf.message import DecodeError

from flavum.ml.errors import ModelRejected, UnsupportedOperator

DEFAULT_MAX_MODEL_BYTES = 64 * 1024 * 1024
"""Larger models would not fit a circuit of logrows <= 18 anyway."""

STANDARD_DOMAINS = frozenset({"", "ai.onnx"})

SUPPORTED_OPS = frozenset(
    {
        # Each op was compiled with ezkl 23.0.5 (gen_settings, calibrate_settings, compile_circuit,
        # gen_witness) in a one-node graph. Absent on purpose: Gelu (tract: Unimplemented) and Max
        # (ezkl: "invalid dimensions"), and everything untested.
        "Abs", "Add", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat",
        "Constant", "Conv", "Div", "Einsum", "Erf", "Exp", "Flatten", "Gather", "Gemm",
        "GlobalAveragePool", "Greater", "HardSigmoid", "Identity", "LeakyRelu", "Log",
        "LogSoftmax", "MatMul", "MaxPool", "Min", "Mul", "Neg", "Pad", "Pow", "Reciprocal",
        "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu", "Reshape",
        "Shape", "Sigmoid", "Slice", "Softmax", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose",
        "Unsqueeze", "Where",
    }
)  # fmt: skip


@dataclass(frozen=True)
class InputSpec:
    """The model's one input: its name, per-sample shape, and batch dimension (None: dynamic)."""

    name: str
    shape: tuple[int, ...]
    batch: int | None


def load_model(data: bytes, *, max_bytes: int = DEFAULT_MAX_MODEL_BYTES) -> onnx.ModelProto:
    """Parse and check ONNX bytes; refuse what cannot be deployed with `ModelRejected`."""
    if not isinstance(data, (bytes, bytearray)):
        raise ModelRejected(f"model must be bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ModelRejected("model file is empty")
    if len(data) > max_bytes:
        raise ModelRejected(f"model file is {len(data)} bytes, over the {max_bytes}-byte limit")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(bytes(data))
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ModelRejected(f"not an ONNX protobuf (malformed or truncated): {exc}") from None
    # Protobuf parses many byte strings "successfully" into near-empty messages: require the
    # parts every real model has before handing it to the checker.
    if model.ir_version <= 0 or not model.opset_import or len(model.graph.node) == 0:
        raise ModelRejected("not an ONNX model (malformed or truncated): no graph, IR or opset")
    for tensor in model.graph.initializer:
        # External data would be read from the node's disk, never from the uploaded bytes.
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelRejected(f"initializer '{tensor.name}' uses external data; embed it")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelRejected(f"onnx checker refused the model: {first_line}") from None
    get_input_spec(model)
    return model


def get_input_spec(model: onnx.ModelProto) -> InputSpec:
    """The single float input with a static per-sample shape; `ModelRejected` otherwise."""
    initializers = {t.name for t in model.graph.initializer}
    # Old IR versions list initializers among the inputs: those are weights, not inputs.
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ModelRejected(
            f"model must have exactly one input tensor, found {len(inputs)}: {names}"
        )
    value = inputs[0]
    if value.type.WhichOneof("value") != "tensor_type":
        raise ModelRejected(f"input '{value.name}' is not a tensor")
    tensor_type = value.type.tensor_type
    if tensor_type.elem_type != onnx.TensorProto.FLOAT:
        elem = onnx.TensorProto.DataType.Name(tensor_type.elem_type)
        raise ModelRejected(f"input '{value.name}' has element type {elem}; FLOAT is required")
    if not tensor_type.HasField("shape") or len(tensor_type.shape.dim) < 2:
        raise ModelRejected(
            f"input '{value.name}' needs a leading batch dimension and at least one data dimension"
        )
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
    shown = "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
    if any(d is None or d <= 0 for d in dims[1:]):
        raise ModelRejected(
            f"input '{value.name}' has shape {shown}: only the leading (batch) dimension "
            "may be dynamic"
        )
    batch = dims[0] if dims[0] else None
    return InputSpec(name=value.name, shape=tuple(int(d) for d in dims[1:] if d), batch=batch)


def check_supported_ops(model: onnx.ModelProto) -> None:
    """Refuse the first operator the prover cannot handle, naming its type and node."""
    for node in model.graph.node:
        if node.domain not in STANDARD_DOMAINS or node.op_type not in SUPPORTED_OPS:
            qualified = f"{node.domain}:{node.op_type}" if node.domain else node.op_type
            raise UnsupportedOperator(
                f"operator {qualified} (node '{node.name or '?'}') is not supported by the prover"
            )
