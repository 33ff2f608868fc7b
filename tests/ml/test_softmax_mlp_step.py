"""Multi-class MLP step graph (digits): the ONNX step equals the float reference step and
backpropagation of the cross-entropy; the shifted clip keeps float SGD's accuracy where the plain
clip does not; bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from flavum.ml.errors import InvalidInput
from flavum.ml.softmax_mlp_step import SoftmaxMlpStep
from flavum.ml.softmax_step import make_one_hot_rows, softmax
from flavum.ml.training import load_pooled_digits, make_batches
from tests.ml.test_training import run_graph

DIGITS = SoftmaxMlpStep(features=16, hidden=16, classes=10, batch=8, learning_rate=0.25)


def test_pooled_digits_have_16_standardized_features() -> None:
    x_train, y_train, x_test, y_test = load_pooled_digits()
    assert x_train.shape[1] == x_test.shape[1] == 16
    assert set(y_train.tolist()) == set(range(10)) and len(y_test) > 400
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)


def test_graph_step_equals_float_step_along_a_training_run_on_digits() -> None:
    x_train, y_train, _, _ = load_pooled_digits()
    theta = start = DIGITS.initial_params()
    for rows in make_batches(make_one_hot_rows(x_train, y_train, 10), DIGITS.batch, steps=15):
        expected = DIGITS.step(theta, rows)
        np.testing.assert_allclose(run_graph(DIGITS, theta, rows), expected, atol=1e-5)
        theta = expected
    assert np.abs(theta - start).max() > 0.1  # the run did move the params


def test_graph_shifts_and_clips_large_logits_like_the_reference() -> None:
    step = SoftmaxMlpStep(features=2, hidden=2, classes=3, batch=2, learning_rate=1.0)
    theta = np.r_[np.eye(2, 3).reshape(-1) * 20, np.array([[9, 0, 1], [0, -9, 2], [5, 5, 0]])
                  .reshape(-1)]
    rows = make_one_hot_rows(np.array([[1.0, -1.0], [2.0, 1.0]]), np.array([0, 2]), 3)
    assert np.abs(step.logits(theta, rows[:, :2])).max() > 100  # far beyond the clip
    np.testing.assert_allclose(run_graph(step, theta, rows), step.step(theta, rows), atol=1e-4)


def test_float_step_is_backpropagation_of_the_cross_entropy() -> None:
    step = SoftmaxMlpStep(features=3, hidden=4, classes=3, batch=5, learning_rate=0.5)
    rng = np.random.default_rng(2)
    theta = rng.normal(scale=0.5, size=step.params_size)
    rows = make_one_hot_rows(rng.normal(size=(5, 3)), rng.integers(0, 3, size=5), 3)

    def loss(t: np.ndarray) -> float:
        probabilities = softmax(step.logits(t, rows[:, :3]))
        return float(-np.mean(np.log((probabilities * rows[:, 3:]).sum(axis=1))))

    eps = 1e-6
    gradient = np.array([(loss(theta + eps * e) - loss(theta - eps * e)) / (2 * eps)
                         for e in np.eye(step.params_size)])
    np.testing.assert_allclose(step.step(theta, rows, clip=False), theta - 0.5 * gradient,
                               atol=1e-6)


def test_shifted_clip_trains_like_plain_softmax_on_digits() -> None:
    """Float SGD, one pass: the graph's shifted clip ends within a point of plain softmax (the
    plain clip at +-4 of the softmax step would not: its weights diverge here)."""
    x_train, y_train, x_test, y_test = load_pooled_digits()
    clipped = plain = DIGITS.initial_params()
    for rows in make_batches(make_one_hot_rows(x_train, y_train, 10), DIGITS.batch, steps=168):
        clipped, plain = DIGITS.step(clipped, rows), DIGITS.step(plain, rows, clip=False)
    plain_accuracy = np.mean(DIGITS.predict(plain, x_test) == y_test)
    assert plain_accuracy > 0.8
    assert abs(np.mean(DIGITS.predict(clipped, x_test) == y_test) - plain_accuracy) <= 0.01


def test_initial_params_are_fixed_and_break_symmetry() -> None:
    np.testing.assert_array_equal(DIGITS.initial_params(), DIGITS.initial_params())
    first, second = DIGITS.split(DIGITS.initial_params())
    assert first.shape == (16, 17) and second.shape == (10, 17)
    assert len({tuple(row) for row in first}) == 16
    assert np.all(DIGITS.initial_params() * 256 == np.round(DIGITS.initial_params() * 256))


def test_bad_shapes_rows_and_params_are_refused() -> None:
    with pytest.raises(InvalidInput, match="classes"):
        SoftmaxMlpStep(features=2, hidden=2, classes=1, batch=2, learning_rate=0.5)
    with pytest.raises(InvalidInput, match="hidden"):
        SoftmaxMlpStep(features=2, hidden=0, classes=3, batch=2, learning_rate=0.5)
    step = SoftmaxMlpStep(features=2, hidden=2, classes=3, batch=2, learning_rate=0.5)
    with pytest.raises(InvalidInput, match="shape"):
        step.check_rows(np.zeros((2, 3)))
    with pytest.raises(InvalidInput, match="one-hot"):
        step.check_rows(np.array([[0.1, 0.2, 1.0, 1.0, 0.0], [0.3, -0.1, 0.0, 0.0, 1.0]]))
    with pytest.raises(InvalidInput, match="values"):
        step.check_params(np.zeros(step.params_size - 1))
