"""ONNX intake checks: is this file a well-formed model that the prover can take?

`load_model` refuses anything that is not a sound ONNX file with one float input of a static
shape (the leading batch dimension may be dynamic), that reads any tensor from outside the file
(external data, anywhere in the graph), or whose tensors are too large: before anything runs or
compiles the model, ONNX shape inference (with data propagation, one sample) gives every
intermediate tensor's shape, and each must stay under `IntakeLimits.max_tensor_elements`, all
of them together under `max_activation_elements` (a 120-byte graph can otherwise ask for
gigabytes). `check_supported_ops` refuses operators outside ONNX's standard domain (the prover,
ezkl 23, knows no other); whether a standard operator can be proven is ezkl's to say when it
compiles the graph, and `name_prover_refusal` names the operator and node it refused. All raise
`ModelRejected` (or a subclass) with a one-line message a user can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import onnx
from google.protobuf.message import DecodeError

from flavum.ml.errors import ModelRejected, ModelTooLarge, UnsupportedOperator

DEFAULT_MAX_MODEL_BYTES = 64 * 1024 * 1024
"""Larger models would not fit a circuit of logrows <= 18 anyway."""

STANDARD_DOMAINS = frozenset({"", "ai.onnx"})

SUPPORTED_OPS = frozenset(
    {
        # Each op was compiled with ezkl 23.0.5 (gen_settings, calibrate_settings, compile_circuit,
        # gen_witness) in a one-node graph. Others are left to ezkl (Softplus, Elu, Hardmax ...
        # compile; Gelu and Mish do not: tract's Unimplemented), refused by name if it fails.
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
class IntakeLimits:
    """How large a model's tensors may be, in elements, for one sample. A circuit of at most
    2**18 rows (what fits here) proves far smaller graphs; the bounds only stop a model from
    allocating before it is refused. Configured in config.toml `[models]`."""

    max_tensor_elements: int = 2**22  # one intermediate tensor: 16 MB of float32
    max_activation_elements: int = 2**24  # all intermediate tensors together: 64 MB
    max_logrows: int = 18  # the circuit a rewrite may aim at (tree ensembles are sized up front)


@dataclass(frozen=True)
class InputSpec:
    """The model's one input: its name, per-sample shape, and batch dimension (None: dynamic)."""

    name: str
    shape: tuple[int, ...]
    batch: int | None


def load_model(data: bytes, *, max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
               limits: IntakeLimits = IntakeLimits()) -> onnx.ModelProto:
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
    for where, tensor in iter_tensors(model.graph):
        # External data would be read from the node's disk, never from the uploaded bytes.
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise ModelRejected(f"{where} '{tensor.name}' uses external data; embed it")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelRejected(f"onnx checker refused the model: {first_line}") from None
    get_input_spec(model)
    check_tensor_sizes(model, limits)
    return model


def iter_tensors(graph: onnx.GraphProto, prefix: str = ""
                 ) -> Iterator[tuple[str, onnx.TensorProto]]:
    """Every tensor a graph holds, with where it sits: initializers, sparse initializers,
    tensor attributes of its nodes (Constant's value...), and those of its subgraphs."""
    for tensor in graph.initializer:
        yield f"{prefix}initializer", tensor
    for sparse in graph.sparse_initializer:
        yield f"{prefix}sparse initializer", sparse.values
        yield f"{prefix}sparse initializer", sparse.indices
    for node in graph.node:
        where = f"{prefix}node '{node.name or node.op_type}'"
        for attr in node.attribute:
            tensors = [attr.t] if attr.HasField("t") else list(attr.tensors)
            if attr.HasField("sparse_tensor"):
                tensors += [attr.sparse_tensor.values, attr.sparse_tensor.indices]
            for sparse in attr.sparse_tensors:
                tensors += [sparse.values, sparse.indices]
            for tensor in tensors:
                yield f"{where} attribute {attr.name}", tensor
            subgraphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
            for sub in subgraphs:
                yield from iter_tensors(sub, f"{where} subgraph {attr.name}: ")


def check_tensor_sizes(model: onnx.ModelProto, limits: IntakeLimits = IntakeLimits()) -> None:
    """Refuse a graph with an intermediate tensor, or all of them together, over `limits`,
    naming the node that makes the tensor and its shape. Shapes come from ONNX shape inference
    for one sample (the batch dimension set to 1), nothing is run; a dimension inference
    cannot tell counts as 1."""
    one = onnx.ModelProto()
    one.CopyFrom(model)
    for value in one.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    try:
        inferred = onnx.shape_inference.infer_shapes(one, data_prop=True)
    except (onnx.shape_inference.InferenceError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelRejected(f"shape inference refused the model: {first_line}") from None
    makers = {out: node for node in inferred.graph.node for out in node.output}
    total = 0
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        if value.type.WhichOneof("value") != "tensor_type":
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 1
                for d in value.type.tensor_type.shape.dim]
        count = math.prod(dims)
        total += count
        node = makers.get(value.name)
        maker = f"node '{node.name or '?'}' ({node.op_type})" if node is not None else "the graph"
        if count > limits.max_tensor_elements:
            raise ModelTooLarge(
                f"{maker} makes tensor '{value.name}' of shape {dims}: {count:,} elements, over "
                f"the limit of {limits.max_tensor_elements:,} per tensor (max_tensor_elements)")
        if total > limits.max_activation_elements:
            raise ModelTooLarge(
                f"the graph's tensors up to {maker} hold {total:,} elements, over the limit of "
                f"{limits.max_activation_elements:,} (max_activation_elements)")


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
    """Refuse the first operator outside ONNX's standard domain, naming its type and node."""
    for node in model.graph.node:
        if node.domain not in STANDARD_DOMAINS:
            raise UnsupportedOperator(
                f"operator {node.domain}:{node.op_type} (node '{node.name or '?'}') is not "
                "supported by the prover"
            )


_TRACT_NODE = re.compile(r'node #\d+ "([^"]*)"')


def name_prover_refusal(model_bytes: bytes, refusal: ModelRejected) -> ModelRejected:
    """The prover's refusal to compile a graph, naming the operator and node it refused: the
    node its message names (tract's "Translating node #1 \"name\" Unimplemented(Gelu)"), else
    the first operator not in `SUPPORTED_OPS`. A refusal of a more precise kind (circuit too
    large...), or one of a graph of tested operators only, is returned as it is."""
    if type(refusal) is not ModelRejected:
        return refusal
    model = onnx.ModelProto()
    model.ParseFromString(model_bytes)
    nodes = {node.name: node for node in model.graph.node if node.name}
    named = _TRACT_NODE.search(str(refusal))
    node = nodes.get(named.group(1)) if named else None
    if node is None:
        node = next((n for n in model.graph.node if n.op_type not in SUPPORTED_OPS), None)
    if node is None:
        return refusal
    reason = str(refusal).strip().splitlines()[0]
    return UnsupportedOperator(
        f"operator {node.op_type} (node '{node.name or '?'}') cannot be proven: the prover "
        f"refused the graph ({reason})"
    )
