"""One error hierarchy for the whole of Flavum.

Every failure a user can cause raises a subclass of `FlavumError` with a message a person
understands; `code` is a stable machine-readable name (used by the CLI's --json and the API).
"""


class FlavumError(Exception):
    """Base of every error Flavum raises on purpose."""

    code = "flavum_error"


class InvalidTransaction(FlavumError):
    """A transaction that the state transition refuses; the state is left unchanged."""

    code = "invalid_transaction"


class MalformedTransaction(InvalidTransaction):
    code = "malformed_transaction"


class BadSignature(InvalidTransaction):
    code = "bad_signature"


class WrongDomain(InvalidTransaction):
    """Signed for another rollup or chain (replay across domains)."""

    code = "wrong_domain"


class NonceMismatch(InvalidTransaction):
    code = "nonce_mismatch"


class InsufficientBalance(InvalidTransaction):
    code = "insufficient_balance"


class UnknownObject(InvalidTransaction):
    code = "unknown_object"


class NotOwner(InvalidTransaction):
    code = "not_owner"


class NoAccess(InvalidTransaction):
    code = "no_access"


class WrongObjectKind(InvalidTransaction):
    code = "wrong_object_kind"


class FeeTooLow(InvalidTransaction):
    """The fee the sender accepts is below the model's per-inference fee."""

    code = "fee_too_low"


class DepositAlreadyApplied(InvalidTransaction):
    code = "deposit_already_applied"


class InferenceMismatch(InvalidTransaction):
    """The execution output handed to the state transition does not fit the transaction."""

    code = "inference_mismatch"


class DuplicateTransaction(InvalidTransaction):
    """The very same signed transaction was already accepted (a replay)."""

    code = "duplicate_transaction"


class MalformedHex(FlavumError):
    """Text that should spell bytes as 0x-prefixed hex (of a given size) and does not."""

    code = "malformed_hex"


class StateRootMismatch(FlavumError):
    code = "state_root_mismatch"


class InvalidProof(FlavumError):
    """A Merkle or ZK proof that does not verify."""

    code = "invalid_proof"


class NotFound(FlavumError):
    code = "not_found"


class ConfigError(FlavumError):
    code = "config_error"


# --- Models, data and proofs (flavum/ml, flavum/zk) ---


class ModelRejected(FlavumError):
    """An ONNX model that cannot be deployed; nothing is created."""

    code = "model_rejected"


class UnsupportedOperator(ModelRejected):
    """The graph holds an operator Flavum can neither prove nor rewrite."""

    code = "unsupported_operator"


class CircuitTooLarge(ModelRejected):
    """The circuit would need more rows than the configured logrows limit."""

    code = "circuit_too_large"


class AccuracyTooLow(ModelRejected):
    """The circuit's fixed-point outputs disagree too often with the float model."""

    code = "accuracy_too_low"


class InvalidInput(FlavumError):
    """A data point that does not fit the model: wrong shape, NaN or infinite values."""

    code = "invalid_input"


class ProvingFailed(FlavumError):
    """A proof job failed (after its retries) or timed out."""

    code = "proving_failed"


class SrsError(FlavumError):
    """A structured reference string that is missing, unreadable or too small."""

    code = "srs_error"


class NodeUnreachable(FlavumError):
    """The CLI or client could not reach the node's API."""

    code = "node_unreachable"


def error_for_code(code: str) -> type[FlavumError]:
    """The error class with this `code` (FlavumError itself for an unknown one)."""
    stack: list[type[FlavumError]] = [FlavumError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return FlavumError
