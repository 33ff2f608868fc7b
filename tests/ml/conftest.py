"""Shared, cached example models: each is trained once per test session (about a second each)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from flavum.ml import examples
from flavum.ml.examples import ExampleModel


@functools.cache
def _example(family: str, dataset: str = "digits") -> ExampleModel:
    if family == "torch_cnn":
        return examples.train_torch_cnn()
    trainers = {
        "sklearn_logreg": examples.train_sklearn_logreg,
        "sklearn_mlp": examples.train_sklearn_mlp,
        "torch_mlp": examples.train_torch_mlp,
    }
    return trainers[family](dataset)


@pytest.fixture
def example() -> Callable[..., ExampleModel]:
    """`example(family, dataset)`: a trained, exported example model (cached per session)."""
    return _example
