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


def _export_torch(network: Any, sample: np.ndarray) -> bytes:
    import torch

    # The export computes probabilities, as a user would ship it; normalize cuts the softmax.
    exported = torch.nn.Sequential(network, torch.nn.Softmax(dim=1)).eval()
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
            output_names=["probabilities"],
            dynamic_axes={"input": {0: "batch_size"}, "probabilities": {0: "batch_size"}},
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


def train_torch_mlp(dataset: str) -> ExampleModel:
    """Standardize + Linear(32) + ReLU + Linear, trained with torch, exported with softmax."""
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
        _export_torch(network, split.x_train),
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
