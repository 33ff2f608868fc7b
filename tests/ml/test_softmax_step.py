"""Softmax-regression step graph: the ONNX step equals the float reference step and the
gradient of the cross-entropy; bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from flavum.ml.errors import InvalidInput
from flavum.ml.softmax_step import SoftmaxStep, make_one_hot_rows, softmax
from flavum.ml.training import (
    load_standardized,
    make_batches,
)
from tests.ml.test_training import run_graph


def test_graph_step_equals_float_step_along_a_training_run_on_iris() -> None:
    step = SoftmaxStep(features=4, classes=3, batch=8, learning_rate=0.5)
    x_train, y_train, _, _ = load_standardized("iris", 4)
    theta = np.zeros(step.params_size)
    for rows in make_batches(make_one_hot_rows(x_train, y_train, 3), step.batch, steps=20):
        expected = step.step(theta, rows)
        np.testing.assert_allclose(run_graph(step, theta, rows), expected, atol=1e-5)
        theta = expected
    assert np.abs(theta).max() > 0.5  # the run did move the params


def test_graph_clips_large_logits_like_the_reference() -> None:
    step = SoftmaxStep(features=2, classes=3, batch=2, learning_rate=1.0)
    theta = np.array([9.0, 0.0, 1.0, -7.0, 2.0, 0.0, 0.5, 0.5, -0.5])
    rows = make_one_hot_rows(np.array([[1.5, -0.5], [-2.0, 1.0]]), np.array([2, 0]), 3)
    np.testing.assert_allclose(run_graph(step, theta, rows), step.step(theta, rows), atol=1e-5)
    assert not np.allclose(step.step(theta, rows), step.step(theta, rows, clip=False))


def test_float_step_is_gradient_descent_on_the_cross_entropy() -> None:
    step = SoftmaxStep(features=3, classes=4, batch=5, learning_rate=0.5)
    rng = np.random.default_rng(3)
    theta = rng.normal(scale=0.3, size=step.params_size)
    rows = make_one_hot_rows(rng.normal(size=(5, 3)), rng.integers(0, 4, size=5), 4)

    def loss(t: np.ndarray) -> float:
        logits = np.c_[rows[:, :3], np.ones(5)] @ t.reshape(4, 4).T
        return float(-np.mean(np.sum(rows[:, 3:] * np.log(softmax(logits)), axis=1)))

    eps = 1e-6
    gradient = np.array([(loss(theta + eps * e) - loss(theta - eps * e)) / (2 * eps)
                         for e in np.eye(step.params_size)])
    np.testing.assert_allclose(step.step(theta, rows), theta - 0.5 * gradient, atol=1e-6)


def test_predict_takes_the_largest_logit() -> None:
    step = SoftmaxStep(features=1, classes=3, batch=1, learning_rate=0.5)
    theta = np.array([1.0, 0.0, -1.0, 0.0, 0.0, 0.5])
    assert step.predict(theta, np.array([[2.0], [-2.0], [0.0]])).tolist() == [0, 1, 2]


def test_bad_shapes_rows_and_params_are_refused() -> None:
    with pytest.raises(InvalidInput, match="classes"):
        SoftmaxStep(features=2, classes=1, batch=2, learning_rate=0.5)
    with pytest.raises(InvalidInput, match="batch"):
        SoftmaxStep(features=2, classes=3, batch=0, learning_rate=0.5)
    step = SoftmaxStep(features=2, classes=3, batch=2, learning_rate=0.5)
    good = make_one_hot_rows(np.array([[0.1, 0.2], [0.3, -0.1]]), np.array([0, 2]), 3)
    step.check_rows(good)
    with pytest.raises(InvalidInput, match="shape"):
        step.check_rows(good[:1])
    two_hot = good.copy()
    two_hot[0, 3] = 1.0
    with pytest.raises(InvalidInput, match="one-hot"):
        step.check_rows(two_hot)
    soft = good.copy()
    soft[0, 2:] = [0.5, 0.5, 0.0]
    with pytest.raises(InvalidInput, match="one-hot"):
        step.check_rows(soft)
    with pytest.raises(InvalidInput, match="values"):
        step.check_params(np.zeros(3))
    with pytest.raises(InvalidInput, match="infinite"):
        step.check_params(np.r_[np.zeros(8), np.inf])
    with pytest.raises(InvalidInput, match="class indices"):
        make_one_hot_rows(np.zeros((2, 2)), np.array([0, 3]), 3)
