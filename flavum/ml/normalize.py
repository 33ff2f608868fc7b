"""Normalization: rewrite the plain exports users hand in into graphs the prover can take.

skl2onnx emits `ai.onnx.ml` operators that ezkl refuses. Their linear ones are rewritten into
standard ONNX (Scaler -> Sub/Mul, LinearClassifier/LinearRegressor -> Gemm plus the
post_transform as Sigmoid/Softmax, Normalizer -> Abs/Mul/ReduceSum/Sqrt/ReduceMax/Div, tree
ensembles -> MatMul/Greater, see `flavum.ml.trees`); ZipMap
and the label branch (ArgMax, ArrayFeatureExtractor, Cast ...) are dropped so that only the
score output remains. Any other foreign operator is refused by name.

Classifiers are then cut at their logits by default: a final Softmax makes a circuit about ten
times larger, while probabilities and the class follow from the logits outside the circuit
(`postprocess` names how, see `flavum.ml.reference.apply_postprocess`). Every result is checked
against the original model with onnxruntime on the caller's sample inputs. Exports older than
opset 7 (which onnxruntime does not run) are first upgraded with the onnx version converter.
`NormalizedModel.proven_output` names what the proven values are (logits, probabilities,
scores or values): the name an inference's result is shown under.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter

from flavum.ml.errors import ModelRejected, UnsupportedOperator
from flavum.ml.labels import Label, find_class_labels
from flavum.ml.onnx_check import (
    DEFAULT_MAX_MODEL_BYTES,
    STANDARD_DOMAINS,
    InputSpec,
    IntakeLimits,
    check_supported_ops,
    get_input_spec,
    load_model,
)
from flavum.ml.reference import apply_postprocess, run_outputs, validate_input
from flavum.ml.trees import rewrite_tree_classifier, rewrite_tree_regressor

ML_DOMAIN = "ai.onnx.ml"
EQUIVALENCE_TOLERANCE = 1e-5
"""Max abs difference allowed against the original, relative for outputs larger than 1
(float32 rounding alone reaches 1e-5 on a regression output near 150)."""
BATCH_DIM = "batch_size"
"""The name ezkl's run args resolve (to 1 by default) for a dynamic batch dimension."""

PROVEN_OUTPUTS = ("logits", "probabilities")
OUTPUT_KINDS = ("logits", "probabilities", "scores", "values")
"""What a proven output is: class logits, class probabilities, class scores of another kind
(decision functions, votes), or values (regression): see `NormalizedModel`."""
MIN_OPSET = 7
"""The oldest standard opset onnxruntime runs; older models are upgraded first."""
UPGRADE_OPSET = 12
"""The opset older models are upgraded to: the last before Softmax changed meaning in 13 (the
converter wraps a Softmax taken past 12 in Flatten/Reshape, hiding it from `_find_tail`)."""


@dataclass(frozen=True)
class NormalizedModel:
    """A provable model and how to read its output.

    `proven_output` says what the proven values are (`OUTPUT_KINDS`): "logits" when a final
    softmax/sigmoid was cut (or a graph without one ends in several columns: a classifier
    exported without softmax), "probabilities" when the proven graph applies it (or a tree
    ensemble's votes sum to one), "scores" for other class scores (LinearSVC's decision
    function), "values" for a regression. `postprocess` turns logits into probabilities:
    "softmax", "sigmoid", "sigmoid_l1", or "none" (no probabilities follow). Shapes exclude the
    leading batch dimension. `class_labels` names a classifier's classes where the export
    does and they are not 0..K-1 (string labels): the class index reads as its label.
    """

    model_bytes: bytes
    rewrites: list[str]
    proven_output: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    postprocess: str
    max_abs_diff: float = field(default=0.0)
    class_labels: tuple[Label, ...] | None = None


class _Graph:
    """The graph being rewritten: kept and new nodes, constants, and fresh tensor names."""

    def __init__(
        self, model: onnx.ModelProto, opset: int, spec: InputSpec, max_rows: int
    ) -> None:
        self.opset = opset
        self.input_name, self.input_shape = spec.name, spec.shape
        self.max_rows = max_rows  # the circuit size a rewrite may aim at (trees refuse above)
        self.kind: str | None = None  # the score's kind when an ai.onnx.ml operator tells it
        self.nodes: list[onnx.NodeProto] = []
        self.initializers = {t.name: t for t in model.graph.initializer}
        self.renames: dict[str, str] = {}
        self.taken = set(self.initializers) | {i.name for i in model.graph.input}
        for node in model.graph.node:
            self.taken.update(node.input)
            self.taken.update(node.output)

    def fresh(self, hint: str) -> str:
        name, n = hint, 0
        while name in self.taken:
            n += 1
            name = f"{hint}_{n}"
        self.taken.add(name)
        return name

    def resolve(self, name: str) -> str:
        while name in self.renames:
            name = self.renames[name]
        return name

    def const(self, hint: str, values: np.ndarray) -> str:
        name = self.fresh(hint)
        self.initializers[name] = numpy_helper.from_array(values, name)
        return name

    def add(self, op: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        out = output or self.fresh(op.lower())
        self.taken.add(out)
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=self.fresh(f"flavum_{op}"), **attrs)
        )
        return out

    def keep(self, node: onnx.NodeProto) -> None:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [self.resolve(i) if i else i for i in node.input]
        self.nodes.append(copy)

    def reduce(self, op: str, x: str) -> str:
        """Reduce over the last (feature) axis, keeping dims; axes moved to an input in 13/18."""
        moved_in = 18 if op == "ReduceMax" else 13
        if self.opset >= moved_in:
            return self.add(op, [x, self.const("axes", np.array([-1], np.int64))], keepdims=1)
        return self.add(op, [x], axes=[-1], keepdims=1)

    def post_transform(self, node: onnx.NodeProto, scores: str, post: str, output: str) -> str:
        """The `post_transform` of an ai.onnx.ml operator applied to its `scores`, written to
        `output`; returns what was added (" + Sigmoid", " + Softmax" or "") for the report."""
        if post == "NONE":
            self.renames[output] = scores
            return ""
        if post == "LOGISTIC":
            self.add("Sigmoid", [scores], output)
            return " + Sigmoid"
        if post == "SOFTMAX":
            self.add("Softmax", [scores], output, axis=1)
            return " + Softmax"
        raise ModelRejected(f"{node.op_type} '{node.name}': post_transform {post} is not supported")

    def producer(self, name: str) -> onnx.NodeProto | None:
        for node in self.nodes:
            if name in node.output:
                return node
        return None

    def constant_value(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer(name)
        if node is not None and node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
        return None


def normalize(
    model_bytes: bytes,
    sample_inputs: np.ndarray,
    proven_output: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
    limits: IntakeLimits = IntakeLimits(),
) -> NormalizedModel:
    """Rewrite `model_bytes` into a provable graph proving `proven_output` (default: logits)."""
    if proven_output is not None and proven_output not in PROVEN_OUTPUTS:
        raise ValueError(f"proven_output must be one of {PROVEN_OUTPUTS}, got {proven_output!r}")
    model = load_model(model_bytes, max_bytes=max_bytes, limits=limits)
    spec = get_input_spec(model)
    samples = validate_input(sample_inputs, spec.shape)
    rewrites: list[str] = []
    model = _upgrade(model, rewrites)

    score = _select_score_output(model, rewrites)
    all_nodes = list(model.graph.node)
    kept = _prune(all_nodes, score)
    kept_ids = {id(node) for node in kept}
    dropped = [n.op_type for n in all_nodes if id(n) not in kept_ids and n.op_type != "ZipMap"]
    if dropped:
        rewrites.append(f"dropped the label branch ({', '.join(dropped)})")

    graph = _Graph(model, _standard_opset(model), spec, 2**limits.max_logrows)
    normalizers: dict[str, tuple[str, str]] = {}
    for node in kept:
        if node.domain in STANDARD_DOMAINS:
            graph.keep(node)
        elif node.domain == ML_DOMAIN and node.op_type in _REWRITERS:
            _REWRITERS[node.op_type](graph, node, rewrites, normalizers)
        else:
            raise UnsupportedOperator(
                f"operator {node.domain}:{node.op_type} (node '{node.name or '?'}') can neither "
                "be proven nor rewritten"
            )
    score = graph.resolve(score)

    original = _with_output(model, _select_score_output(model, []))
    reference = run_outputs(original, samples, spec)[0]
    postprocess, logits = _find_tail(graph, score, reference.ndim, normalizers)
    probabilities_model = _build(graph, model, score, reference.shape[1:])
    check_supported_ops(probabilities_model)
    probabilities = _run(probabilities_model, samples, spec)
    diff = _max_abs_diff(reference, probabilities)
    tolerance = EQUIVALENCE_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))
    if diff > tolerance:
        raise ModelRejected(
            f"rewritten graph disagrees with the original on the samples: max abs diff {diff:.3g}"
        )

    if postprocess == "none":
        columns = math.prod(reference.shape[1:])
        kind = graph.kind or ("logits" if columns > 1 else "values")
        chosen, proven = probabilities_model, kind
    elif proven_output == "probabilities":
        chosen, proven, postprocess = probabilities_model, "probabilities", "none"
    elif not _prune(graph.nodes, logits):
        # The model is its activation alone: cutting it would leave no node to prove.
        rewrites.append(f"kept the final {postprocess} (the model computes nothing before it)")
        chosen, proven, postprocess = probabilities_model, "probabilities", "none"
    else:
        logits_shape = _run(_build(graph, model, logits, None), samples, spec).shape[1:]
        chosen = _build(graph, model, logits, logits_shape)
        derived = apply_postprocess(_run(chosen, samples, spec), postprocess)
        derived_diff = _max_abs_diff(reference, derived)
        if derived_diff > tolerance:
            raise ModelRejected(
                f"probabilities derived from the logits ({postprocess}) disagree with the original:"
                f" max abs diff {derived_diff:.3g}"
            )
        proven = "logits"
        rewrites.append(f"cut the final {postprocess} (probabilities derived outside the circuit)")
        diff = max(diff, derived_diff)
    check_supported_ops(chosen)
    chosen_bytes = chosen.SerializeToString()
    # re-run the checks on the rewritten graph
    load_model(chosen_bytes, max_bytes=max(max_bytes, len(chosen_bytes)), limits=limits)
    output_shape = tuple(d.dim_value for d in chosen.graph.output[0].type.tensor_type.shape.dim[1:])
    labels = None if proven == "values" else find_class_labels(model, math.prod(output_shape))
    return NormalizedModel(
        model_bytes=chosen_bytes,
        rewrites=rewrites,
        proven_output=proven,
        input_shape=spec.shape,
        output_shape=output_shape,
        postprocess=postprocess,
        max_abs_diff=diff,
        class_labels=labels,
    )


# --- choosing the output ---


def _select_score_output(model: onnx.ModelProto, rewrites: list[str]) -> str:
    """The one float tensor the model scores with; ZipMap is seen through, labels dropped."""
    producers = {out: node for node in model.graph.node for out in node.output}
    candidates: list[str] = []
    for output in model.graph.output:
        node = producers.get(output.name)
        if node is not None and node.op_type == "ZipMap":
            rewrites.append(f"dropped ZipMap on '{node.input[0]}'")
            candidates.append(node.input[0])
        elif output.type.tensor_type.elem_type == TensorProto.FLOAT:
            candidates.append(output.name)
        else:
            rewrites.append(f"dropped output '{output.name}' (labels)")
    if len(candidates) != 1:
        names = ", ".join(candidates) or "none"
        raise ModelRejected(
            f"model needs exactly one float score/probability output, found {len(candidates)}: "
            f"{names}"
        )
    return candidates[0]


def _prune(nodes: list[onnx.NodeProto], output: str) -> list[onnx.NodeProto]:
    """The nodes `output` depends on, in their original order."""
    needed = {output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    return list(reversed(kept))


def _upgrade(model: onnx.ModelProto, rewrites: list[str]) -> onnx.ModelProto:
    """An export older than `MIN_OPSET` (onnxruntime cannot run it) upgraded to
    `UPGRADE_OPSET` with the onnx version converter; newer ones as they are."""
    opset = _standard_opset(model)
    if opset >= MIN_OPSET:
        return model
    try:
        # The converter's adapters need every tensor's shape (old Gemm's broadcast...).
        shaped = onnx.shape_inference.infer_shapes(model)
        upgraded = version_converter.convert_version(shaped, UPGRADE_OPSET)
    except Exception as exc:  # the converter raises untyped errors naming the operator
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelRejected(
            f"opset {opset} is older than {MIN_OPSET} and the onnx version converter cannot "
            f"upgrade it: {first_line}"
        ) from None
    upgraded.ir_version = max(upgraded.ir_version,
                              helper.find_min_ir_version_for(list(upgraded.opset_import)))
    rewrites.append(f"upgraded opset {opset} -> {UPGRADE_OPSET} (onnx version converter)")
    return upgraded


def _standard_opset(model: onnx.ModelProto) -> int:
    for opset in model.opset_import:
        if opset.domain in STANDARD_DOMAINS:
            return int(opset.version)
    return 17


# --- rewriting the ai.onnx.ml operators ---


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    values = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        values[attr.name] = value.decode() if isinstance(value, bytes) else value
    return values


def _rewrite_scaler(
    graph: _Graph, node: onnx.NodeProto, rewrites: list[str], _: dict[str, tuple[str, str]]
) -> None:
    # Scaler computes (x - offset) * scale, offset and scale per feature or broadcast.
    attrs = _attrs(node)
    offset = np.asarray(attrs.get("offset", [0.0]), np.float32)
    scale = np.asarray(attrs.get("scale", [1.0]), np.float32)
    current = graph.resolve(node.input[0])
    if np.any(offset != 0):
        current = graph.add("Sub", [current, graph.const("scaler_offset", offset)])
    if np.any(scale != 1):
        current = graph.add("Mul", [current, graph.const("scaler_scale", scale)])
    graph.renames[node.output[0]] = current
    rewrites.append(f"Scaler '{node.name}' -> Sub/Mul")


def _linear(
    graph: _Graph, node: onnx.NodeProto, rows: int, weights: np.ndarray, bias: np.ndarray
) -> str:
    if weights.size % rows:
        raise ModelRejected(
            f"{node.op_type} '{node.name}': coefficients do not split in {rows} rows"
        )
    matrix = weights.reshape(rows, -1)
    return graph.add(
        "Gemm",
        [
            graph.resolve(node.input[0]),
            graph.const("linear_weight", matrix),
            graph.const("linear_bias", bias.astype(np.float32)),
        ],
        transB=1,
    )


def _rewrite_linear_classifier(
    graph: _Graph, node: onnx.NodeProto, rewrites: list[str], _: dict[str, tuple[str, str]]
) -> None:
    attrs = _attrs(node)
    coefficients = np.asarray(attrs["coefficients"], np.float32)
    if "intercepts" not in attrs:
        raise ModelRejected(f"LinearClassifier '{node.name}' without intercepts is not supported")
    intercepts = np.asarray(attrs["intercepts"], np.float32)
    labels = attrs.get("classlabels_ints", attrs.get("classlabels_strings", []))
    n_classes, rows = len(labels), len(intercepts)  # type: ignore[arg-type]
    post = str(attrs.get("post_transform", "NONE"))
    if rows == 1 and n_classes == 2:
        # One score column for two classes: onnxruntime outputs [1 - z, z] (NONE, and SOFTMAX
        # which it ignores here) or [1 - sigmoid(z), sigmoid(z)] (LOGISTIC) = sigmoid([-z, z]).
        weights = np.concatenate([-coefficients, coefficients])
        if post == "LOGISTIC":
            bias = np.concatenate([-intercepts, intercepts])
        elif post in ("NONE", "SOFTMAX"):
            bias = np.concatenate([1 - intercepts, intercepts])
            post = "NONE"
        else:
            raise ModelRejected(
                f"LinearClassifier '{node.name}': post_transform {post} unsupported"
            )
        scores = _linear(graph, node, 2, weights, bias)
        graph.kind = "scores"  # [1 - z, z] without LOGISTIC: a decision function
        rewrites.append(f"LinearClassifier '{node.name}' (binary, one score column) -> Gemm")
        if post == "LOGISTIC":
            graph.add("Sigmoid", [scores], node.output[1])
            rewrites[-1] += " + Sigmoid"
        else:
            graph.renames[node.output[1]] = scores
        return
    if rows != n_classes:
        raise ModelRejected(
            f"LinearClassifier '{node.name}': {rows} score columns for {n_classes} classes"
        )
    scores = _linear(graph, node, rows, coefficients, intercepts)
    graph.kind = "scores"  # without SOFTMAX/LOGISTIC: a decision function (LinearSVC)
    suffix = graph.post_transform(node, scores, post, node.output[1])
    rewrites.append(f"LinearClassifier '{node.name}' -> Gemm{suffix}")


def _rewrite_linear_regressor(
    graph: _Graph, node: onnx.NodeProto, rewrites: list[str], _: dict[str, tuple[str, str]]
) -> None:
    attrs = _attrs(node)
    targets = int(attrs.get("targets", 1))  # type: ignore[call-overload]
    coefficients = np.asarray(attrs["coefficients"], np.float32)
    intercepts = np.asarray(attrs.get("intercepts", [0.0] * targets), np.float32)
    if len(intercepts) != targets:
        raise ModelRejected(f"LinearRegressor '{node.name}': {len(intercepts)} intercepts")
    scores = _linear(graph, node, targets, coefficients, intercepts)
    graph.kind = "values"
    post = str(attrs.get("post_transform", "NONE"))
    suffix = graph.post_transform(node, scores, post, node.output[0])
    rewrites.append(f"LinearRegressor '{node.name}' -> Gemm{suffix}")


def _rewrite_normalizer(
    graph: _Graph,
    node: onnx.NodeProto,
    rewrites: list[str],
    normalizers: dict[str, tuple[str, str]],
) -> None:
    norm = str(_attrs(node).get("norm", "MAX"))
    source = graph.resolve(node.input[0])
    producer = graph.producer(source)
    if norm == "L1" and producer is not None and producer.op_type == "Softmax":
        # skl2onnx appends Normalizer(L1) to a softmax whose rows already sum to one.
        graph.renames[node.output[0]] = source
        rewrites.append(f"dropped Normalizer(L1) '{node.name}' after Softmax (identity)")
        return
    if norm == "L1":
        denominator = graph.reduce("ReduceSum", graph.add("Abs", [source]))
    elif norm == "L2":
        squares = graph.add("Mul", [source, source])
        denominator = graph.add("Sqrt", [graph.reduce("ReduceSum", squares)])
    elif norm == "MAX":
        denominator = graph.reduce("ReduceMax", source)
    else:
        raise ModelRejected(f"Normalizer '{node.name}': norm {norm} is not supported")
    graph.add("Div", [source, denominator], node.output[0])
    normalizers[node.output[0]] = (norm, source)
    rewrites.append(f"Normalizer({norm}) '{node.name}' -> standard ops")


_REWRITERS = {
    "Scaler": _rewrite_scaler,
    "LinearClassifier": _rewrite_linear_classifier,
    "LinearRegressor": _rewrite_linear_regressor,
    "Normalizer": _rewrite_normalizer,
    "TreeEnsembleClassifier": rewrite_tree_classifier,
    "TreeEnsembleRegressor": rewrite_tree_regressor,
}


# --- the final activation ---


def _find_tail(
    graph: _Graph, score: str, rank: int, normalizers: dict[str, tuple[str, str]]
) -> tuple[str, str]:
    """(postprocess, logits tensor): how the score follows from the tensor before it."""
    if score in normalizers:
        norm, source = normalizers[score]
        inner = graph.producer(source)
        if norm == "L1" and inner is not None and inner.op_type == "Sigmoid":
            return "sigmoid_l1", inner.input[0]  # one-vs-rest logistic regression
        return "none", score
    node = graph.producer(score)
    while node is not None and (passed := _passed_on(graph, node)) is not None:
        node = graph.producer(passed)
    if node is None:
        return "none", score
    if node.op_type == "Softmax":
        default_axis = -1 if graph.opset >= 13 else 1
        axis = int(_attrs(node).get("axis", default_axis))  # type: ignore[call-overload]
        if axis % rank == rank - 1:
            return "softmax", node.input[0]
    if node.op_type == "Sigmoid":
        return "sigmoid", node.input[0]
    concat_axis = int(_attrs(node).get("axis", 0))  # type: ignore[call-overload]
    if node.op_type == "Concat" and len(node.input) == 2 and concat_axis % rank == rank - 1:
        # skl2onnx's binary MLP: probabilities = [1 - sigmoid(z), sigmoid(z)] = sigmoid([-z, z]).
        negative, positive = (graph.producer(name) for name in node.input)
        if (
            positive is not None
            and positive.op_type == "Sigmoid"
            and negative is not None
            and negative.op_type == "Sub"
            and list(negative.input[1:]) == [node.input[1]]
            and _is_one(graph.constant_value(negative.input[0]))
        ):
            z = positive.input[0]
            logits = graph.add("Concat", [graph.add("Neg", [z]), z], axis=-1)
            return "sigmoid", logits
    return "none", score


def _passed_on(graph: _Graph, node: onnx.NodeProto) -> str | None:
    """The input a node passes on unchanged: onnxmltools' LightGBM export names its outputs
    through Identity nodes, and without ZipMap multiplies the probabilities by a constant 1."""
    if node.op_type == "Identity":
        return node.input[0]
    if node.op_type == "Mul" and len(node.input) == 2:
        for kept, other in ((0, 1), (1, 0)):
            value = graph.constant_value(node.input[other])
            if value is not None and value.size == 1 and _is_one(value):
                return node.input[kept]
    return None


def _is_one(value: np.ndarray | None) -> bool:
    return value is not None and value.size > 0 and bool(np.all(value == 1))


# --- building and running ---


def _build(
    graph: _Graph, original: onnx.ModelProto, output: str, shape: tuple[int, ...] | None
) -> onnx.ModelProto:
    """A one-input, one-output standard-ONNX model computing `output`."""
    nodes = _prune(graph.nodes, output)
    used = {name for node in nodes for name in node.input}
    initializers = [t for name, t in graph.initializers.items() if name in used]
    spec = get_input_spec(original)
    batch: int | str = spec.batch or BATCH_DIM
    graph_input = helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, [batch, *spec.shape])
    out_shape = None if shape is None else [batch, *shape]
    graph_output = helper.make_tensor_value_info(output, TensorProto.FLOAT, out_shape)
    body = helper.make_graph(
        nodes, original.graph.name or "flavum", [graph_input], [graph_output], initializers
    )
    opsets = [helper.make_opsetid("", graph.opset)]
    model = helper.make_model(body, opset_imports=opsets, producer_name="flavum.ml.normalize")
    # IR 4 is the first that lets initializers stay out of the graph's inputs (IR 3 exports
    # list them there; the built graph lists its one input).
    model.ir_version = max(original.ir_version, helper.find_min_ir_version_for(opsets), 4)
    return model


def _with_output(model: onnx.ModelProto, output: str) -> bytes:
    """The original model answering with `output` (possibly an inner tensor) only."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    nodes = _prune(list(model.graph.node), output)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    del copy.graph.output[:]
    copy.graph.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    return copy.SerializeToString()


def _run(model: onnx.ModelProto, samples: np.ndarray, spec: InputSpec) -> np.ndarray:
    return run_outputs(model.SerializeToString(), samples, spec)[0]


def _max_abs_diff(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.shape != actual.shape:
        raise ModelRejected(
            f"rewritten graph has output shape {list(actual.shape)}, "
            f"the original {list(expected.shape)}"
        )
    return float(np.max(np.abs(expected.astype(np.float64) - actual.astype(np.float64))))
