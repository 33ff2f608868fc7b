"""Class labels: a classifier trained on string labels keeps them through normalization, and
the label of the best proven column is the label onnxruntime answers with on the export."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from flavum.ml.examples import ExampleModel, load_split, train_boosted_trees
from flavum.ml.normalize import normalize
from flavum.ml.reference import apply_postprocess, run_float

NAMES = {"iris": ["setosa", "versicolor", "virginica"],
         "breast_cancer": ["malignant", "benign"]}


def labelled(estimator: str, dataset: str = "iris") -> tuple[ExampleModel, list[str]]:
    """A scikit-learn classifier fitted on the data set's class names (strings), exported by
    skl2onnx with its defaults; and the names in the order of the model's classes_."""
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    make = {"logreg": lambda: LogisticRegression(max_iter=1000),
            "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
            "forest": lambda: RandomForestClassifier(5, max_depth=3, random_state=0),
            "mlp": lambda: MLPClassifier((16,), max_iter=400, random_state=0),
            "svc": lambda: LinearSVC(random_state=0)}[estimator]()
    split = load_split(dataset)
    names = np.array(NAMES[dataset])
    model = make.fit(split.x_train, names[split.y_train])
    exported = to_onnx(model, split.x_train[:1]).SerializeToString()
    return (ExampleModel(exported, split.x_train[:16], split.x_test, split.y_test),
            [str(c) for c in model.classes_])


def onnxruntime_labels(model_bytes: bytes, rows: np.ndarray) -> list[str]:
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return [str(v) for v in session.run(None, {session.get_inputs()[0].name: rows})[0]]


@pytest.mark.parametrize("estimator, dataset", [
    ("logreg", "iris"), ("logreg", "breast_cancer"), ("tree", "iris"), ("forest", "iris"),
    ("mlp", "iris"), ("mlp", "breast_cancer"), ("svc", "iris"),
])
def test_string_labels_are_kept_and_name_the_best_column(estimator: str, dataset: str) -> None:
    case, classes = labelled(estimator, dataset)
    result = normalize(case.onnx_bytes, case.samples)
    assert result.class_labels == tuple(classes)  # classes_ is sorted: not NAMES' order
    scores = apply_postprocess(run_float(result.model_bytes, case.test_inputs),
                               result.postprocess)
    shown = [classes[i] for i in scores.argmax(axis=1)]
    expected = onnxruntime_labels(case.onnx_bytes, case.test_inputs)
    assert shown == expected


def test_integer_classes_need_no_labels() -> None:
    case, _ = labelled("logreg")
    plain = train_boosted_trees("lightgbm", "iris")  # ZipMap with classlabels_int64s 0, 1, 2
    assert normalize(plain.onnx_bytes, plain.samples).class_labels is None
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    split = load_split("iris")
    shifted = LogisticRegression(max_iter=1000).fit(split.x_train, split.y_train + 3)
    exported = to_onnx(shifted, split.x_train[:1]).SerializeToString()
    assert normalize(exported, case.samples).class_labels == (3, 4, 5)
