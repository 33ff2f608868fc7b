"""Class labels: what a classifier's score columns stand for, read from its ONNX export.

The circuit proves scores, and the class follows as the index of the best column; a model
trained on string labels (or on integers other than 0..K-1) names its classes in the export:
skl2onnx and onnxmltools write them on ZipMap and on the `ai.onnx.ml` classifier operators
(`classlabels_strings` / `classlabels_int64s`), and skl2onnx's MLPClassifier picks its label
from a `classes` constant with ArrayFeatureExtractor. The labels are kept with the model so
that a result reads as the class the user trained on.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

Label = str | int

_LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
_CLASSIFIERS = ("ZipMap", "TreeEnsembleClassifier", "LinearClassifier", "SVMClassifier")


def find_class_labels(model: onnx.ModelProto, columns: int) -> tuple[Label, ...] | None:
    """The labels of the `columns` score columns (of two classes for a one-column score), or
    None when the export names none other than 0..K-1, or names a different number."""
    labels = _from_attributes(model) or _from_label_branch(model)
    if not labels or labels == tuple(range(len(labels))):
        return None
    return labels if len(labels) == max(columns, 2) else None


def _from_attributes(model: onnx.ModelProto) -> tuple[Label, ...] | None:
    # ZipMap first: it labels the very columns the score output has.
    ordered = sorted((n for n in model.graph.node if n.op_type in _CLASSIFIERS),
                     key=lambda n: n.op_type != "ZipMap")
    for node in ordered:
        for attr in node.attribute:
            if attr.name in _LABEL_ATTRIBUTES:
                value = helper.get_attribute_value(attr)
                return tuple(v.decode() if isinstance(v, bytes) else int(v) for v in value)
    return None


def _from_label_branch(model: onnx.ModelProto) -> tuple[Label, ...] | None:
    """skl2onnx's MLPClassifier: label = ArrayFeatureExtractor(classes, ArgMax(scores))."""
    constants = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "ArrayFeatureExtractor" and node.input[0] in constants:
            values = np.asarray(numpy_helper.to_array(constants[node.input[0]])).reshape(-1)
            return tuple(v.decode() if isinstance(v, bytes) else v if isinstance(v, str)
                         else int(v) for v in values.tolist())
    return None
