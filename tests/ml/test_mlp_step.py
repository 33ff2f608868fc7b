"""One-hidden-layer MLP step graph: the ONNX step equals the float reference step and
backpropagation's gradient; bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from flavum.ml.errors import InvalidInput
from flavum.ml.mlp_step import MlpStep
from flavum.ml.training import (
    load_standardized,
    make_batches,
    make_labelled_rows,
)
from tests.ml.test_training import run_graph


def test_graph_step_equals_float_step_along_a_training_run() -> None:
    step = MlpStep(features=6, hidden=4, batch=8, learning_rate=0.5)
    x_train, y_train, _, _ = load_standardized("breast_cancer", 6)
    theta = step.initial_params()
    start = theta.copy()
    for rows in make_batches(make_labelled_rows(x_train, y_train), step.batch, steps=20):
        expected = step.step(theta, rows)
        np.testing.assert_allclose(run_graph(step, theta, rows), expected, atol=1e-5)
        theta = expected
    assert np.abs(theta - start).max() > 0.1  # the run did move the params


def test_float_step_is_gradient_descent_on_the_logistic_loss() -> None:
    step = MlpStep(features=3, hidden=4, batch=5, learning_rate=0.5)
    rng = np.random.default_rng(4)
    theta = rng.normal(scale=0.5, size=step.params_size)
    rows = make_labelled_rows(rng.normal(size=(5, 3)), rng.integers(0, 2, size=5))

    def loss(t: np.ndarray) -> float:
        first, second = step.split(t)
        hidden = np.maximum(np.c_[rows[:, :3], np.ones(5)] @ first.T, 0.0)
        z = hidden @ second[:-1] + second[-1]
        return float(np.mean(np.log1p(np.exp(-z)) + (1 - rows[:, 3]) * z))

    eps = 1e-6
    gradient = np.array([(loss(theta + eps * e) - loss(theta - eps * e)) / (2 * eps)
                         for e in np.eye(step.params_size)])
    np.testing.assert_allclose(step.step(theta, rows, clip=False), theta - 0.5 * gradient,
                               atol=1e-6)


def test_initial_params_are_fixed_and_break_symmetry() -> None:
    step = MlpStep(features=4, hidden=3, batch=2, learning_rate=0.5)
    np.testing.assert_array_equal(step.initial_params(), step.initial_params())
    first, _ = step.split(step.initial_params())
    assert len({tuple(row) for row in first}) == 3
    assert np.all(step.initial_params() * 256 == np.round(step.initial_params() * 256))


def test_bad_shapes_rows_and_params_are_refused() -> None:
    with pytest.raises(InvalidInput, match="hidden"):
        MlpStep(features=2, hidden=0, batch=2, learning_rate=0.5)
    with pytest.raises(InvalidInput, match="learning rate"):
        MlpStep(features=2, hidden=2, batch=2, learning_rate=-1.0)
    step = MlpStep(features=2, hidden=2, batch=2, learning_rate=0.5)
    with pytest.raises(InvalidInput, match="shape"):
        step.check_rows(np.zeros((2, 4)))
    with pytest.raises(InvalidInput, match="labels"):
        step.check_rows(np.array([[0.1, 0.2, 2.0], [0.3, -0.1, 0.0]]))
    with pytest.raises(InvalidInput, match="values"):
        step.check_params(np.zeros(step.params_size + 1))
    with pytest.raises(InvalidInput, match="NaN"):
        step.check_params(np.full(step.params_size, np.nan))
