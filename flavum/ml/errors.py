"""Errors of model intake and data points (flavum/ml), under Flavum's one hierarchy."""

from flavum.core.errors import FlavumError


class ModelRejected(FlavumError):
    """An ONNX model that cannot be deployed; nothing is created."""

    code = "model_rejected"


class UnsupportedOperator(ModelRejected):
    """The graph holds an operator Flavum can neither prove nor rewrite."""

    code = "unsupported_operator"


class ModelTooLarge(ModelRejected):
    """A tensor of the graph (or all of them together) exceeds the intake limits: refused
    before anything runs the model."""

    code = "model_too_large"


class AccuracyTooLow(ModelRejected):
    """The circuit's fixed-point outputs disagree too often with the float model."""

    code = "accuracy_too_low"


class InvalidInput(FlavumError):
    """A data point that does not fit the model: wrong shape, NaN or infinite values."""

    code = "invalid_input"
