"""Training-step graphs: the ONNX step equals the float reference step, bad inputs are refused."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from flavum.ml.errors import InvalidInput
from flavum.ml.mlp_step import MlpStep
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import SoftmaxStep
from flavum.ml.training import (
    NEW_PARAMS_OUTPUT,
    PARAMS_INPUT,
    LogisticStep,
    SgdStep,
    TrainedModel,
    get_row_input_name,
    load_standardized,
    make_batches,
    make_labelled_rows,
)


def run_graph(step: SgdStep, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A family's step graph run by onnxruntime on params `theta` and a batch of rows."""
    session = ort.InferenceSession(step.make_graph(), providers=["CPUExecutionProvider"])
    feeds = {PARAMS_INPUT: theta.reshape(1, -1).astype(np.float32)}
    for i, row in enumerate(rows):
        feeds[get_row_input_name(i)] = row.reshape(1, -1).astype(np.float32)
    (result,) = session.run([NEW_PARAMS_OUTPUT], feeds)
    return np.asarray(result, dtype=np.float64).reshape(-1)


def test_graph_step_equals_float_step_along_a_training_run() -> None:
    step = LogisticStep(features=6, batch=8, learning_rate=0.5)
    x_train, y_train, _, _ = load_standardized("breast_cancer", 6)
    theta = np.zeros(step.width)
    for rows in make_batches(make_labelled_rows(x_train, y_train), step.batch, steps=20):
        expected = step.step(theta, rows)
        np.testing.assert_allclose(run_graph(step, theta, rows), expected, atol=1e-5)
        theta = expected
    assert np.abs(theta).max() > 0.1  # the run did move the params


def test_graph_clips_large_logits_like_the_reference() -> None:
    step = LogisticStep(features=2, batch=2, learning_rate=1.0)
    theta = np.array([30.0, -30.0, 0.5])  # logits far beyond the clip bound
    rows = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 1.0]])
    np.testing.assert_allclose(run_graph(step, theta, rows), step.step(theta, rows), atol=1e-5)


def test_float_step_is_a_gradient_step_on_the_log_loss() -> None:
    step = LogisticStep(features=3, batch=4, learning_rate=0.25)
    rng = np.random.default_rng(0)
    rows = np.c_[rng.normal(size=(4, 3)), [0, 1, 1, 0]]
    theta = rng.normal(scale=0.3, size=4)

    def loss(t: np.ndarray) -> float:
        z = np.c_[rows[:, :3], np.ones(4)] @ t
        return float(np.mean(np.log1p(np.exp(-z)) + (1 - rows[:, 3]) * z))

    eps = 1e-6
    gradient = np.array([(loss(theta + eps * e) - loss(theta - eps * e)) / (2 * eps)
                         for e in np.eye(4)])
    np.testing.assert_allclose(step.step(theta, rows), theta - 0.25 * gradient, atol=1e-6)


def test_predict_uses_the_sign_of_the_logit() -> None:
    step = LogisticStep(features=2, batch=1, learning_rate=0.5)
    predictions = step.predict(np.array([1.0, -1.0, 0.0]), np.array([[2.0, 1.0], [0.0, 1.0]]))
    assert predictions.tolist() == [1, 0]


@pytest.mark.parametrize("kwargs", [
    {"features": 0, "batch": 4, "learning_rate": 0.5},
    {"features": 4, "batch": 0, "learning_rate": 0.5},
    {"features": 4, "batch": 4, "learning_rate": 0.0},
    {"features": 4, "batch": 4, "learning_rate": float("nan")},
])
def test_bad_step_shapes_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        LogisticStep(**kwargs)  # type: ignore[arg-type]


def test_bad_rows_and_params_are_refused() -> None:
    step = LogisticStep(features=2, batch=2, learning_rate=0.5)
    good = np.array([[0.1, 0.2, 1.0], [0.3, -0.1, 0.0]])
    with pytest.raises(InvalidInput, match="shape"):
        step.check_rows(good[:1])
    with pytest.raises(InvalidInput, match="labels"):
        step.check_rows(np.array([[0.1, 0.2, 0.5], [0.3, -0.1, 0.0]]))
    with pytest.raises(InvalidInput, match="NaN"):
        step.check_rows(np.array([[np.nan, 0.2, 1.0], [0.3, -0.1, 0.0]]))
    with pytest.raises(InvalidInput, match="values"):
        step.check_params(np.zeros(2))
    with pytest.raises(InvalidInput, match="infinite"):
        step.check_params(np.array([0.0, np.inf, 0.0]))
    with pytest.raises(InvalidInput):
        make_labelled_rows(np.zeros((3, 2)), np.zeros(2))


def test_batches_cover_the_rows_in_a_fixed_order() -> None:
    rows = np.arange(20, dtype=np.float64).reshape(10, 2)
    batches = make_batches(rows, batch=4, steps=5)
    assert len(batches) == 5 and all(b.shape == (4, 2) for b in batches)
    first_pass = np.concatenate(batches)[:10, 0]
    assert sorted(first_pass.tolist()) == rows[:, 0].tolist()  # one pass sees every row once
    np.testing.assert_array_equal(np.concatenate(make_batches(rows, 4, 5)), np.concatenate(batches))


def run_inference_graph(step: TrainedModel, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(step.make_inference_graph(),
                                   providers=["CPUExecutionProvider"])
    feeds = {PARAMS_INPUT: theta.reshape(1, -1).astype(np.float32),
             "x": np.append(x, 1.0).reshape(1, -1).astype(np.float32)}
    (logits,) = session.run(None, feeds)
    return np.asarray(logits, dtype=np.float64).reshape(-1)


@pytest.mark.parametrize("step", [
    LogisticStep(features=3, batch=2, learning_rate=0.5),
    SoftmaxStep(features=3, classes=4, batch=2, learning_rate=0.5),
    MlpStep(features=3, hidden=5, batch=2, learning_rate=0.5),
    SoftmaxMlpStep(features=3, hidden=5, classes=4, batch=2, learning_rate=0.5),
], ids=lambda step: step.name)
def test_inference_graph_gives_the_families_logits(step: TrainedModel) -> None:
    """Every family's inference graph (params and [x, 1] in) computes the logits its predict
    takes the argmax or sign of."""
    rng = np.random.default_rng(3)
    theta = rng.normal(size=step.params_size)
    x = rng.normal(size=(6, 3))
    logits = np.array([run_inference_graph(step, theta, row) for row in x])
    assert logits.shape == (6, step.outputs)
    np.testing.assert_allclose(logits, step.logits(theta, x), atol=1e-5)
    expected = (np.argmax(logits, axis=1) if step.outputs > 1
                else (logits[:, 0] > 0).astype(np.int64))
    np.testing.assert_array_equal(step.predict(theta, x), expected)
