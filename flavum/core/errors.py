"""The root of Flavum's one error hierarchy, the state transition's errors, and the few every
layer shares (malformed hex, not found, a bad proof, bad configuration).

Every failure a user can cause raises a subclass of `FlavumError` with a message a person
understands; `code` is a stable machine-readable name (used by the CLI's --json and the API).
The other layers keep their own errors beside their code (flavum/ml, zk, l1, da errors.py;
the client's in client.py); flavum/errors.py maps a code back to its class across all of them.
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


class NotTrainable(InvalidTransaction):
    """A Train names a MODEL that is no trainable version, or a DeployTrainable names a circuit
    that is no plain MODEL."""

    code = "not_trainable"


class TrainingMismatch(InvalidTransaction):
    """The training execution handed to the state transition does not fit the transaction."""

    code = "training_mismatch"


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
