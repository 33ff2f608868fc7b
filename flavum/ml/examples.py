"""Example models: small classifiers trained on scikit-learn's bundled data sets, exported as a
user would export them (skl2onnx with default options, torch.onnx.export).

Input scaling is baked into every model (a StandardScaler step, or the same arithmetic in torch)
so that the circuit's fixed-point inputs stay near [-3, 3]. Nothing is downloaded. torch is a
development dependency only: it is imported inside the torch helpers.
"""

from __future__ import annotations

import io
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

DATASETS = ("digits", "breast_cancer", "iris", "wine", "diabetes")
SAMPLE_ROWS = 8
SEED = 0


class ExampleModel(NamedTuple):
    """An exported model with a few sample rows (for calibration) and a labelled test split."""

    onnx_bytes: bytes
    samples: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray


class _Split(NamedTuple):
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def load_split(dataset: str) -> _Split:
    """A fixed stratified 75/25 split of a bundled data set, inputs as float32."""
    loaders = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,  # a regression target: not stratified
    }
    if dataset not in loaders:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    x, y = loaders[dataset](return_X_y=True)
    regression = dataset == "diabetes"
    parts = train_test_split(
        x.astype(np.float32), y.astype(np.float32 if regression else np.int64), test_size=0.25,
        random_state=SEED, stratify=None if regression else y,
    )
    return _Split(*parts)


def _sklearn_example(estimator: Any, split: _Split) -> ExampleModel:
    from skl2onnx import to_onnx
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on the small, quick fits
        pipeline.fit(split.x_train, split.y_train)
    onnx_model = to_onnx(pipeline, split.x_train[:1])  # default options, as users export
    return ExampleModel(
        onnx_model.SerializeToString(), split.x_train[:SAMPLE_ROWS], split.x_test, split.y_test
    )


def train_sklearn_logreg(dataset: str) -> ExampleModel:
    """StandardScaler + LogisticRegression, exported by skl2onnx."""
    from sklearn.linear_model import LogisticRegression

    return _sklearn_example(LogisticRegression(max_iter=2000), load_split(dataset))


def train_sklearn_mlp(dataset: str) -> ExampleModel:
    """StandardScaler + MLPClassifier with one hidden layer of 16, exported by skl2onnx."""
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000, random_state=SEED)
    return _sklearn_example(mlp, load_split(dataset))


TREE_FAMILIES = {
    "decision_tree": ("DecisionTreeClassifier", "DecisionTreeRegressor"),
    "random_forest": ("RandomForestClassifier", "RandomForestRegressor"),
    "extra_trees": ("ExtraTreesClassifier", "ExtraTreesRegressor"),
    "gradient_boosting": ("GradientBoostingClassifier", "GradientBoostingRegressor"),
}


def train_sklearn_trees(
    family: str, dataset: str, *, n_estimators: int = 5, max_depth: int = 3
) -> ExampleModel:
    """A tree model of `family` (TREE_FAMILIES; a regressor on diabetes, else a classifier),
    exported alone by skl2onnx with default options: trees need no input scaling."""
    from skl2onnx import to_onnx
    from sklearn import ensemble, tree

    if family not in TREE_FAMILIES:
        raise ValueError(f"unknown tree family {family!r}; expected one of {list(TREE_FAMILIES)}")
    name = TREE_FAMILIES[family][dataset == "diabetes"]
    estimator_class = getattr(tree if family == "decision_tree" else ensemble, name)
    options: dict[str, Any] = {"max_depth": max_depth, "random_state": SEED}
    if family != "decision_tree":
        options["n_estimators"] = n_estimators
    split = load_split(dataset)
    model = estimator_class(**options).fit(split.x_train, split.y_train)
    onnx_model = to_onnx(model, split.x_train[:1])  # default options, as users export
    return ExampleModel(
        onnx_model.SerializeToString(), split.x_train[:SAMPLE_ROWS], split.x_test, split.y_test
    )


BOOSTING_LIBRARIES = ("xgboost", "lightgbm")


def train_boosted_trees(
    library: str, dataset: str, *, n_estimators: int = 10, max_depth: int = 3
) -> ExampleModel:
    """A gradient-boosted model of XGBoost or LightGBM (a regressor on diabetes, else a
    classifier), exported by onnxmltools (`convert_xgboost` / `convert_lightgbm`) as its
    documentation shows: the input declared as FloatTensorType([None, features])."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    if library not in BOOSTING_LIBRARIES:
        raise ValueError(f"unknown library {library!r}; expected one of {BOOSTING_LIBRARIES}")
    split = load_split(dataset)
    regression = dataset == "diabetes"
    options: dict[str, Any] = {"n_estimators": n_estimators, "max_depth": max_depth,
                               "random_state": SEED}
    if library == "xgboost":
        import xgboost

        model = (xgboost.XGBRegressor if regression else xgboost.XGBClassifier)(**options)
        convert = onnxmltools.convert_xgboost
    else:
        import lightgbm

        # num_leaves bounds LightGBM's leaf-wise trees; 2**max_depth keeps max_depth the limit.
        options.update(num_leaves=2**max_depth, verbose=-1)
        model = (lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier)(**options)
        convert = onnxmltools.convert_lightgbm
    model.fit(split.x_train, split.y_train)
    features = split.x_train.shape[1]
    onnx_model = convert(model, initial_types=[("input", FloatTensorType([None, features]))])
    return ExampleModel(
        onnx_model.SerializeToString(), split.x_train[:SAMPLE_ROWS], split.x_test, split.y_test
    )


def train_lightgbm_categorical(n_estimators: int = 4, max_depth: int = 3) -> ExampleModel:
    """LightGBM on wine with its color intensity binned into 8 categories, their codes
    shuffled so that no threshold orders them: a categorical feature, split by category sets
    (onnxmltools writes each set as a chain of BRANCH_EQ nodes sharing one child)."""
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    split = load_split("wine")
    feature = 9  # color intensity
    edges = np.quantile(split.x_train[:, feature], np.linspace(0, 1, 9)[1:-1])
    codes = np.array([5, 2, 7, 0, 3, 6, 1, 4], np.float32)

    def categorical(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        x[:, feature] = codes[np.searchsorted(edges, x[:, feature])]
        return x

    x_train, x_test = categorical(split.x_train), categorical(split.x_test)
    # Regularized less than by default: on wine's 133 training rows the defaults (cat_l2 10)
    # make no categorical split at all.
    booster = lightgbm.LGBMClassifier(
        n_estimators=n_estimators, max_depth=max_depth, num_leaves=2**max_depth,
        min_child_samples=3, min_data_per_group=5, cat_smooth=1.0, cat_l2=1.0, verbose=-1,
        random_state=SEED)
    booster.fit(x_train, split.y_train, categorical_feature=[feature])
    types = [("input", FloatTensorType([None, x_train.shape[1]]))]
    exported = convert_lightgbm(booster, initial_types=types).SerializeToString()
    return ExampleModel(exported, x_train[:40], x_test, split.y_test)


def _fit_torch(network: Any, x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    import torch

    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    network.train()
    for _ in range(epochs):  # full batch: the data sets have at most ~1.4k training rows
        optimizer.zero_grad()
        loss_fn(network(inputs), labels).backward()
        optimizer.step()
    network.eval()


def _export_torch(network: Any, sample: np.ndarray, softmax: bool = True) -> bytes:
    import torch

    # By default the export computes probabilities, as a user would ship it; normalize cuts the
    # softmax. Without it the model answers with its logits.
    exported = torch.nn.Sequential(network, torch.nn.Softmax(dim=1)) if softmax else network
    exported.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is legacy
        torch.onnx.export(
            exported,
            (torch.from_numpy(sample[:1]),),
            buffer,
            dynamo=False,  # the dynamo exporter needs onnxscript; this gives plain Gemm/Conv
            opset_version=17,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        )
    return buffer.getvalue()


def _standardizer(x_train: np.ndarray) -> Any:
    """A torch module computing (x - mean) / std with the training statistics baked in."""
    import torch

    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    inverse = np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 1.0).astype(np.float32)

    class Standardize(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32)))
            self.register_buffer("inverse_std", torch.from_numpy(inverse))

        def forward(self, x: Any) -> Any:
            return (x - self.mean) * self.inverse_std

    return Standardize()


def train_torch_mlp(dataset: str, softmax: bool = True) -> ExampleModel:
    """Standardize + Linear(32) + ReLU + Linear, trained with torch, exported with softmax
    (or, `softmax=False`, answering with its logits)."""
    import torch

    torch.manual_seed(SEED)
    split = load_split(dataset)
    classes = int(split.y_train.max()) + 1
    network = torch.nn.Sequential(
        _standardizer(split.x_train),
        torch.nn.Linear(split.x_train.shape[1], 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, classes),
    )
    _fit_torch(network, split.x_train, split.y_train, epochs=200)
    return ExampleModel(
        _export_torch(network, split.x_train, softmax),
        split.x_train[:SAMPLE_ROWS],
        split.x_test,
        split.y_test,
    )


def train_torch_cnn() -> ExampleModel:
    """A small CNN on digits as 1x8x8 images (pixels 0-16, scaled to [0, 1] inside the model):
    conv(4) relu pool conv(8) relu pool linear(10)."""
    import torch

    class ScalePixels(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 0.0625  # 1/16 is exact in fixed point

    torch.manual_seed(SEED)
    split = load_split("digits")
    images = [x.reshape(-1, 1, 8, 8) for x in (split.x_train, split.x_test)]
    network = torch.nn.Sequential(
        ScalePixels(),
        torch.nn.Conv2d(1, 4, kernel_size=3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, kernel_size=3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 2 * 2, 10),
    )
    _fit_torch(network, images[0], split.y_train, epochs=150)
    return ExampleModel(
        _export_torch(network, images[0]), images[0][:SAMPLE_ROWS], images[1], split.y_test
    )


OLD_ONNX_KINDS = ("mlp", "softmax", "one_node")


def old_onnx_model(ir_version: int, opset: int, kind: str = "mlp") -> ExampleModel:
    """A model written as the exporters of IR `ir_version` / `opset` wrote it: initializers
    listed among the inputs before IR 4, Gemm with its explicit bias (and `broadcast` before
    opset 7). `kind` "mlp": a logistic regression on iris answering with its logits through
    Gemm + Relu + Gemm layers; "softmax": the same regression's Gemm and Softmax
    (probabilities); "one_node": a single Softmax node."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if kind not in OLD_ONNX_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {OLD_ONNX_KINDS}")
    split = load_split("iris")
    scaler = StandardScaler().fit(split.x_train)
    fit = LogisticRegression(max_iter=2000).fit(scaler.transform(split.x_train), split.y_train)
    # The scaler folds into the first Gemm: w' = w / std, b' = b - w' @ mean.
    weights = (fit.coef_ / scaler.scale_).astype(np.float32)
    bias = (fit.intercept_ - weights @ scaler.mean_).astype(np.float32)
    gemm = {"transB": 1, **({"broadcast": 1} if opset < 7 else {})}
    tensors = [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")]
    linear = helper.make_node("Gemm", ["x", "W", "B"], ["z"], name="fc1", **gemm)
    outputs = 3
    if kind == "one_node":
        tensors, outputs = [], 4
        nodes = [helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=1)]
    elif kind == "softmax":
        nodes = [linear, helper.make_node("Softmax", ["z"], ["y"], name="softmax", axis=1)]
    else:
        # [z, -z] -> Relu -> Relu(z) - Relu(-z) = z: the logits, through a hidden Relu layer.
        split_signs = np.concatenate([np.eye(3), -np.eye(3)]).astype(np.float32)
        tensors += [numpy_helper.from_array(split_signs, "W2"),
                    numpy_helper.from_array(np.zeros(6, np.float32), "B2"),
                    numpy_helper.from_array(split_signs.T.copy(), "W3"),
                    numpy_helper.from_array(np.zeros(3, np.float32), "B3")]
        nodes = [linear,
                 helper.make_node("Gemm", ["z", "W2", "B2"], ["h"], name="fc2", **gemm),
                 helper.make_node("Relu", ["h"], ["r"], name="relu"),
                 helper.make_node("Gemm", ["r", "W3", "B3"], ["y"], name="fc3", **gemm)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])]
    if ir_version < 4:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in tensors]
    graph = helper.make_graph(
        nodes, "old", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, outputs])], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return ExampleModel(model.SerializeToString(), split.x_train[:SAMPLE_ROWS], split.x_test,
                        split.y_test)
