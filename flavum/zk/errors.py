"""Errors of circuits and proofs (flavum/zk), under Flavum's one hierarchy."""

from flavum.core.errors import FlavumError
from flavum.ml.errors import ModelRejected


class CircuitTooLarge(ModelRejected):
    """The circuit would need more rows than the configured logrows limit."""

    code = "circuit_too_large"


class ProvingFailed(FlavumError):
    """A proof job failed (after its retries) or timed out."""

    code = "proving_failed"


class SrsError(FlavumError):
    """A structured reference string that is missing, unreadable or too small."""

    code = "srs_error"
