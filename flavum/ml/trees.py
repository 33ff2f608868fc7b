"""Tree ensembles as matrix products: `ai.onnx.ml` TreeEnsembleClassifier / TreeEnsembleRegressor
rewritten into standard operators the prover takes (the GEMM formulation of trees).

All trees of the ensemble become one block of matrices, I internal nodes, L leaves, F features:
- A [F, I] picks each node's feature, b [I] its threshold (signed so that one `Greater` decides
  every node whatever its mode): g = Greater(x @ A, b), one 0/1 per node; an equality node
  (BRANCH_EQ / BRANCH_NEQ: LightGBM's categorical splits) takes two columns, x > v and
  -x > -v: x == v iff neither holds, exactly so in fixed point;
- C [I, L] holds, per leaf, +1 for an ancestor whose g must be 1 on the way to the leaf, -1 for
  one whose g must be 0 (for "not equal", +1 on both columns of the pair, of which at most one
  holds, counted once); the leaf is reached iff g @ C reaches its count D of required 1s, so
  leaf = Cast(Greater(g @ C, D - 0.5)), exactly one leaf per tree; this product runs tree by
  tree (`_per_tree`: C [T, I_t, L_t]), as one block it would cost T times the rows. A node with
  several parents (a category set written as a chain of BRANCH_EQ sharing one child) gives
  one leaf column per path through it;
- V [L, K] holds the leaf weights per class/target: scores = leaf @ V + base_values, then the
  post_transform as the operator defines it (onnxruntime's reading of the binary cases).

A circuit proves about `estimate_rows` rows for this; an ensemble that would exceed the
circuit-size limit is refused before anything compiles, naming the size and what to reduce.
Missing values (`missing_value_tracks_true`) cannot occur: inputs holding NaN are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper

from flavum.ml.errors import ModelRejected, ModelTooLarge

if TYPE_CHECKING:
    from flavum.ml.normalize import _Graph

# mode -> (sign, flipped): node goes true iff Greater(sign * x, sign * b) is (not, if flipped) 1.
_MODES = {
    "BRANCH_GT": (1.0, False),
    "BRANCH_LEQ": (1.0, True),
    "BRANCH_LT": (-1.0, False),
    "BRANCH_GTE": (-1.0, True),
}
# (In)equality: two comparison columns, x > v and -x > -v (LightGBM's categorical splits).
_EQUALITIES = ("BRANCH_EQ", "BRANCH_NEQ")


class EnsembleTooLarge(ModelTooLarge):
    """A tree ensemble whose circuit would exceed the circuit-size limit."""

    code = "ensemble_too_large"


@dataclass(frozen=True)
class _Ensemble:
    """The block matrices of all trees (see the module docstring)."""

    select: np.ndarray  # A [F, I]
    thresholds: np.ndarray  # b [I]
    paths: np.ndarray  # C [I, L], per tree [T, I_t, L_t]
    counts: np.ndarray  # D [L], per tree [T, L_t]
    values: np.ndarray  # V [L, K]
    trees: int


def estimate_rows(internal: int, leaves: int, features: int, columns: int, trees: int) -> int:
    """Circuit rows the rewritten ensemble needs (`internal`, `leaves` as padded per tree):
    the three products and the comparisons dominate (calibrated on skl2onnx exports, see
    BENCHMARKS.md)."""
    per_tree = internal * leaves // max(trees, 1)
    return internal * features + per_tree + leaves * columns + 24 * (internal + leaves) + 512


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    values = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, list):
            value = [v.decode() if isinstance(v, bytes) else v for v in value]
        values[attr.name] = value.decode() if isinstance(value, bytes) else value
    return values


def _build_ensemble(
    node: onnx.NodeProto, attrs: dict[str, object], prefix: str, columns: int, features: int,
    max_rows: int,
) -> _Ensemble:
    def ints(name: str) -> list[int]:
        return [int(v) for v in attrs.get(name, [])]  # type: ignore[attr-defined]

    if "nodes_values" not in attrs:
        raise ModelRejected(f"{node.op_type} '{node.name}': only float thresholds are supported")
    tree_ids, node_ids = ints("nodes_treeids"), ints("nodes_nodeids")
    feature_ids = ints("nodes_featureids")
    true_ids, false_ids = ints("nodes_truenodeids"), ints("nodes_falsenodeids")
    modes = [str(m) for m in attrs["nodes_modes"]]  # type: ignore[attr-defined]
    values = [float(v) for v in attrs["nodes_values"]]  # type: ignore[attr-defined]
    index = {(t, n): i for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True))}
    # Each internal node's comparison columns: one, or two for an (in)equality.
    internal: dict[tuple[int, int], list[int]] = {}
    column_trees: list[int] = []
    signs: list[float] = []
    thresholds: list[float] = []
    column_features: list[int] = []
    for i, key in enumerate(zip(tree_ids, node_ids, strict=True)):
        if modes[i] == "LEAF":
            continue
        if modes[i] not in _MODES and modes[i] not in _EQUALITIES:
            raise ModelRejected(
                f"{node.op_type} '{node.name}': node {key[1]} of tree {key[0]} has mode "
                f"{modes[i]}, which is not supported (supported: "
                f"{', '.join(sorted([*_MODES, *_EQUALITIES]))}, LEAF)"
            )
        if not 0 <= feature_ids[i] < features:
            raise ModelRejected(
                f"{node.op_type} '{node.name}': feature {feature_ids[i]} is out of range"
            )
        # x == v iff neither x > v nor -x > -v: two comparisons, exact in fixed point.
        for sign in ([_MODES[modes[i]][0]] if modes[i] in _MODES else [1.0, -1.0]):
            internal.setdefault(key, []).append(len(signs))
            column_trees.append(key[0])
            signs.append(sign)
            thresholds.append(sign * values[i])
            column_features.append(feature_ids[i])
    select = np.zeros((features, len(signs)), np.float32)
    select[column_features, np.arange(len(signs))] = signs
    roots, paths = _walk(node, index, internal, modes, true_ids, false_ids, max_rows)
    leaf_keys = [leaf for leaf, _, _ in paths]
    path_matrix = np.zeros((len(signs), len(paths)), np.float32)
    for column, (_, conditions, _) in enumerate(paths):
        for row, direction in conditions:
            path_matrix[row, column] = direction
    counts = np.array([count for _, _, count in paths], np.float32)
    leaf_values = np.zeros((len(paths), columns), np.float32)
    weight_ids = ints(f"{prefix}_ids")
    weights = [float(w) for w in attrs.get(f"{prefix}_weights", [])]  # type: ignore[attr-defined]
    targets = zip(ints(f"{prefix}_treeids"), ints(f"{prefix}_nodeids"), weight_ids, weights,
                  strict=True)
    reached: dict[tuple[int, int], list[int]] = {}
    for path_column, leaf_key in enumerate(leaf_keys):
        reached.setdefault(leaf_key, []).append(path_column)
    for tree, leaf, column, weight in targets:
        if (tree, leaf) not in reached or not 0 <= column < columns:
            raise ModelRejected(f"{node.op_type} '{node.name}': weight for unknown leaf or class")
        leaf_values[reached[(tree, leaf)], column] += weight
    tree_of = {tree: k for k, tree in enumerate(sorted({t for t, _ in roots}))}
    return _per_tree(
        _Ensemble(select, np.array(thresholds, np.float32), path_matrix, counts, leaf_values,
                  len(roots)),
        # dtype: an ensemble of single-leaf trees (LightGBM on few rows) has no internal node.
        np.array([tree_of[t] for t in column_trees], int),
        np.array([tree_of[t] for t, _ in leaf_keys], int),
    )


_Path = tuple[tuple[int, int], list[tuple[int, float]], int]
"""A way from a root to a leaf: the leaf, each comparison column's required value (+1: must
hold, -1: must not), and how many +1 the leaf's column of C sums to when every one holds."""


def _walk(
    node: onnx.NodeProto, index: dict[tuple[int, int], int],
    internal: dict[tuple[int, int], list[int]], modes: list[str], true_ids: list[int],
    false_ids: list[int], max_rows: int,
) -> tuple[list[tuple[int, int]], list[_Path]]:
    """The trees' roots and every root-to-leaf path. A node may have several parents
    (onnxmltools writes a LightGBM category set as a chain of BRANCH_EQ nodes sharing one
    child): each path through it is its own leaf column, with the leaf's weights."""
    children = {(t, c) for (t, n), i in index.items() if (t, n) in internal
                for c in (true_ids[i], false_ids[i])}
    roots = [key for key in index if key not in children]
    if sorted(t for t, _ in roots) != sorted({t for t, _ in index}):
        raise ModelRejected(f"{node.op_type} '{node.name}': every tree needs exactly one root")
    stack: list[tuple[tuple[int, int], list[tuple[int, float]], int, frozenset[tuple[int, int]]]]
    stack = [(r, [], 0, frozenset()) for r in roots]
    paths: list[_Path] = []
    visited: set[tuple[int, int]] = set()
    while stack:
        key, path, count, above = stack.pop()
        if key in above:
            raise ModelRejected(f"{node.op_type} '{node.name}': the trees hold a cycle")
        if key not in index:
            raise ModelRejected(f"{node.op_type} '{node.name}': node {key} does not exist")
        visited.add(key)
        if key not in internal:
            paths.append((key, path, count))
            # Every path costs circuit rows: stop enumerating long before the estimate would.
            if len(paths) > max_rows // 24:
                raise EnsembleTooLarge(
                    f"{node.op_type} '{node.name}': its trees have over {max_rows // 24:,} "
                    "root-to-leaf paths (category sets share subtrees): too large a circuit; "
                    "train fewer or shallower trees, or fewer categories"
                )
            continue
        i, above = index[key], above | {key}
        mode, columns = modes[i], internal[key]
        if mode in _MODES:
            holds, no = (-1.0, 1.0) if _MODES[mode][1] else (1.0, -1.0)
            true_way = (path + [(columns[0], holds)], count + (holds > 0))
            false_way = (path + [(columns[0], no)], count + (no > 0))
        else:
            # equal: neither comparison holds; not equal: one of them (never both), so the
            # pair adds its sum and counts once.
            equal = (path + [(c, -1.0) for c in columns], count)
            unequal = (path + [(c, 1.0) for c in columns], count + 1)
            true_way, false_way = (equal, unequal) if mode == "BRANCH_EQ" else (unequal, equal)
        stack.append(((key[0], true_ids[i]), *true_way, above))
        stack.append(((key[0], false_ids[i]), *false_way, above))
    if visited != set(index):
        raise ModelRejected(f"{node.op_type} '{node.name}': a node is unreachable from its root")
    return roots, paths


def _per_tree(flat: _Ensemble, node_trees: np.ndarray, leaf_trees: np.ndarray) -> _Ensemble:
    """Lay the block matrices out tree by tree, each padded to the largest tree: the path
    product then runs per tree (T x I_t x L_t multiplications, not I x L for the whole
    ensemble). Padding nodes compare 0 > 0 (never taken); padding leaves need one taken
    node of none (never reached) and weigh nothing."""
    trees = flat.trees
    width = max(int(np.bincount(node_trees, minlength=trees).max()), 1)
    depth = max(int(np.bincount(leaf_trees, minlength=trees).max()), 1)
    node_slot = np.zeros(len(node_trees), int)
    leaf_slot = np.zeros(len(leaf_trees), int)
    for t in range(trees):
        node_slot[node_trees == t] = np.arange(np.sum(node_trees == t))
        leaf_slot[leaf_trees == t] = np.arange(np.sum(leaf_trees == t))
    node_column = node_trees * width + node_slot
    leaf_column = leaf_trees * depth + leaf_slot
    select = np.zeros((flat.select.shape[0], trees * width), np.float32)
    select[:, node_column] = flat.select
    thresholds = np.zeros(trees * width, np.float32)
    thresholds[node_column] = flat.thresholds
    paths = np.zeros((trees, width, depth), np.float32)
    for i, (t, slot) in enumerate(zip(node_trees, node_slot, strict=True)):
        leaves_here = leaf_trees == t
        paths[t, slot, leaf_slot[leaves_here]] = flat.paths[i, leaves_here]
    counts = np.ones((trees, depth), np.float32)
    counts[leaf_trees, leaf_slot] = flat.counts
    values = np.zeros((trees * depth, flat.values.shape[1]), np.float32)
    values[leaf_column] = flat.values
    return _Ensemble(select, thresholds, paths, counts, values, trees)


def _check_size(graph: _Graph, node: onnx.NodeProto, ensemble: _Ensemble) -> None:
    features, internal = ensemble.select.shape
    leaves, columns = ensemble.values.shape
    rows = estimate_rows(internal, leaves, features, columns, ensemble.trees)
    if rows > graph.max_rows:
        logrows = math.ceil(math.log2(rows))
        raise EnsembleTooLarge(
            f"{node.op_type} '{node.name}': {ensemble.trees} trees with {internal} internal "
            f"nodes and {leaves} leaves over {features} features need about {rows:,} circuit "
            f"rows (logrows {logrows}), over the limit of {graph.max_rows:,} "
            f"(logrows {int(math.log2(graph.max_rows))}); train fewer or shallower trees "
            "(n_estimators, max_depth or max_leaf_nodes)"
        )


def _scores(graph: _Graph, node: onnx.NodeProto, ensemble: _Ensemble, values: np.ndarray) -> str:
    """leaf indicator @ values: the summed leaf weights of every tree."""
    x = graph.resolve(node.input[0])
    decided = graph.add("MatMul", [x, graph.const("tree_select", ensemble.select)])
    went = graph.add("Greater", [decided, graph.const("tree_thresholds", ensemble.thresholds)])
    went = graph.add("Cast", [went], to=onnx.TensorProto.FLOAT)
    trees, width, depth = ensemble.paths.shape
    shape = graph.const("tree_shape", np.array([-1, trees, 1, width]))
    matched = graph.add("MatMul", [graph.add("Reshape", [went, shape]),
                                   graph.const("tree_paths", ensemble.paths)])
    counts = ensemble.counts.reshape(trees, 1, depth) - 0.5
    reached = graph.add("Greater", [matched, graph.const("tree_counts", counts)])
    reached = graph.add("Cast", [reached], to=onnx.TensorProto.FLOAT)
    flat = graph.add("Reshape", [reached, graph.const("leaf_shape", np.array([-1, trees * depth]))])
    return graph.add("MatMul", [flat, graph.const("tree_leaf_values", values)])


def _features(graph: _Graph, node: onnx.NodeProto) -> int:
    shape = graph.input_shape
    if len(shape) != 1 or node.input[0] != graph.input_name:
        raise ModelRejected(
            f"{node.op_type} '{node.name}' must read the model's input of shape [batch, features]"
        )
    return shape[0]


def _votes_sum_to_one(ensemble: _Ensemble, base: np.ndarray) -> bool:
    """Whether every input's class scores are probabilities: no negative weight, and in each
    tree every leaf's weights sum to one constant, these (and the base values) to one in all
    (decision trees and forests: class fractions of the leaf, divided by the tree count).
    Leaves weighing nothing (the padding) are never reached and do not count."""
    if np.any(ensemble.values < 0) or np.any(base < 0):
        return False
    sums = ensemble.values.sum(axis=1).reshape(ensemble.trees, -1)
    total = float(base.sum())
    for tree in sums:
        weighed = tree[tree != 0]
        if len(weighed) and np.ptp(weighed) > 1e-6:
            return False
        total += float(weighed[0]) if len(weighed) else 0.0
    return abs(total - 1.0) <= 1e-5


def rewrite_tree_classifier(
    graph: _Graph, node: onnx.NodeProto, rewrites: list[str], _: dict[str, tuple[str, str]]
) -> None:
    attrs = _attrs(node)
    labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings") or []
    classes = len(labels)  # type: ignore[arg-type]
    features = _features(graph, node)
    ensemble = _build_ensemble(node, attrs, "class", classes, features, graph.max_rows)
    _check_size(graph, node, ensemble)
    post = str(attrs.get("post_transform", "NONE"))
    base = np.asarray(attrs.get("base_values") or [0.0] * classes, np.float32)
    used = {int(c) for c in attrs.get("class_ids", [])}  # type: ignore[attr-defined]
    summary = f"TreeEnsembleClassifier '{node.name}' ({ensemble.trees} trees) -> MatMul/Greater"
    if classes == 2 and used == {0}:
        # One score column s for two classes; onnxruntime writes sigmoid([-s, s]) for LOGISTIC
        # (XGBoost, LightGBM), else [1 - s, s] when every weight is positive (random forests)
        # and [-s, s] when not (SOFTMAX included).
        base = base if "base_values" in attrs else base[:1]
        if len(base) > 1:
            raise ModelRejected(f"TreeEnsembleClassifier '{node.name}': binary with 2 base values")
        if post not in ("NONE", "LOGISTIC", "SOFTMAX"):
            raise ModelRejected(f"TreeEnsembleClassifier '{node.name}': binary {post} unsupported")
        column = ensemble.values[:, :1]
        values = np.concatenate([-column, column], axis=1)
        if post != "LOGISTIC" and bool(np.all(ensemble.values >= 0)):
            bias, post = np.array([1 - base[0], base[0]], np.float32), "NONE"
            # [1 - s, s] are probabilities when s, the votes for class 1, stays within [0, 1].
            most = base[0] + column.reshape(ensemble.trees, -1).max(axis=1).sum()
            graph.kind = "probabilities" if base[0] >= 0 and most <= 1 + 1e-6 else "scores"
        else:
            bias = np.array([-base[0], base[0]], np.float32)
            post = "LOGISTIC" if post == "LOGISTIC" else "NONE"
            graph.kind = "scores"
        scores = graph.add("Add", [_scores(graph, node, ensemble, values),
                                   graph.const("tree_base", bias)])
        rewrites.append(summary + graph.post_transform(node, scores, post, node.output[1]))
        return
    if len(base) != classes:
        raise ModelRejected(
            f"TreeEnsembleClassifier '{node.name}': {len(base)} base values for {classes} classes"
        )
    scores = _scores(graph, node, ensemble, ensemble.values)
    if np.any(base != 0):
        scores = graph.add("Add", [scores, graph.const("tree_base", base)])
    graph.kind = "probabilities" if _votes_sum_to_one(ensemble, base) else "scores"
    rewrites.append(summary + graph.post_transform(node, scores, post, node.output[1]))


def rewrite_tree_regressor(
    graph: _Graph, node: onnx.NodeProto, rewrites: list[str], _: dict[str, tuple[str, str]]
) -> None:
    attrs = _attrs(node)
    targets = int(attrs.get("n_targets", 1))  # type: ignore[call-overload]
    features = _features(graph, node)
    ensemble = _build_ensemble(node, attrs, "target", targets, features, graph.max_rows)
    _check_size(graph, node, ensemble)
    aggregate = str(attrs.get("aggregate_function", "SUM"))
    values = ensemble.values
    if aggregate == "AVERAGE":
        values = values / np.float32(ensemble.trees)
    elif aggregate != "SUM":
        raise ModelRejected(
            f"TreeEnsembleRegressor '{node.name}': aggregate_function {aggregate} is not supported"
        )
    base = np.asarray(attrs.get("base_values") or [0.0] * targets, np.float32)
    if len(base) != targets:
        raise ModelRejected(
            f"TreeEnsembleRegressor '{node.name}': {len(base)} base values for {targets} targets"
        )
    scores = _scores(graph, node, ensemble, values)
    if np.any(base != 0):
        scores = graph.add("Add", [scores, graph.const("tree_base", base)])
    graph.kind = "values"
    post = str(attrs.get("post_transform", "NONE"))
    summary = f"TreeEnsembleRegressor '{node.name}' ({ensemble.trees} trees) -> MatMul/Greater"
    rewrites.append(summary + graph.post_transform(node, scores, post, node.output[0]))
