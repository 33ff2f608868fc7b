"""Errors of the ledgers (flavum/l1), under Flavum's one hierarchy: a refusal by a ledger (a
revert, with its reason), a ledger out of reach, or a call outside its capabilities."""

from flavum.core.errors import FlavumError


class LedgerError(FlavumError):
    """A ledger refused a call (a revert, with its reason) or could not be reached."""

    code = "ledger_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # the contract's revert reason, when there is one


class LedgerUnreachable(LedgerError):
    """The ledger's node did not answer (connection refused, timeout)."""

    code = "ledger_unreachable"


class ChainReset(LedgerError):
    """The chain no longer holds what the rollup put on it: its contracts have no code, or it
    forgot a batch that was accepted beyond the confirmation depth (a reset, or a reorg deeper
    than the confirmations). Nothing is posted to it: the node re-deploys nothing itself."""

    code = "chain_reset"


class DepositReorged(LedgerError):
    """A reorg deeper than the confirmations took away a deposit the rollup already credited:
    the credit cannot be taken back, and the ledger would refuse the batch that consumes it."""

    code = "deposit_reorged"


class DepositNotCredited(LedgerError):
    """A deposit mined on the ledger was not credited on L2 in the time waited for it (too
    few blocks on top of it yet: an idle anvil makes none unless given --block-time)."""

    code = "deposit_not_credited"


class LedgerUnsupported(LedgerError):
    """The call has no meaning on this ledger (e.g. a user finalizing a withdrawal that the
    ledger's federation pays): it is outside the ledger's capabilities."""

    code = "ledger_unsupported"


class WithdrawalRefused(LedgerError):
    """The withdrawal cannot be paid by this ledger (other ledger or asset, bad proof, dust)."""

    code = "withdrawal_refused"


class BondShort(LedgerError):
    """The sequencer's bond is under the ledger's minimum (a fraud proof took it): the ledger
    refuses batches until it is topped up. Nothing was sent."""

    code = "bond_short"


class NotSequencer(LedgerError):
    """This handle's key is not the rollup's sequencer (the admin rotated it away, or it never
    was): the rollup refuses its batches. Nothing was sent."""

    code = "not_sequencer"


class NotEscaped(LedgerError):
    """The rollup is not frozen yet: escape withdrawals are refused for `blocks_left` more
    blocks (if no batch is accepted meanwhile). Nothing was sent."""

    code = "not_escaped"

    def __init__(self, message: str, *, blocks_left: int) -> None:
        super().__init__(message, reason="the rollup is not in escape mode yet")
        self.blocks_left = blocks_left


class RpcError(LedgerError):
    """Litecoin Core answered a call with an error."""

    code = "ledger_rpc_error"

    def __init__(self, message: str, *, rpc_code: int) -> None:
        super().__init__(message, reason=message)
        self.rpc_code = rpc_code


class CustodyUnderfunded(LedgerError):
    """Custody holds less than a withdrawal: nothing was sent, the withdrawal stays pending."""

    code = "custody_underfunded"


class AnchorUnderfunded(LedgerError):
    """The anchor key cannot pay the fee of an anchor: nothing was sent."""

    code = "anchor_underfunded"


class BatchNotFinal(LedgerError):
    """The batch is not anchored, or not under enough confirmations, to pay from it."""

    code = "batch_not_final"


class PayoutRefused(LedgerError):
    """A federation signer refused to co-sign a payout (`reason` says why: the batch is not
    final or fails its verification, the leaf is not in the verified root, the transaction
    pays anything but the withdrawal, the leaf was co-signed before, ...)."""

    code = "payout_refused"


class PayoutUnsigned(LedgerError):
    """Fewer than the threshold of federation members signed a payout: nothing was sent, the
    withdrawal stays pending. `refusals` holds each signer's answer (URL, reason, message)."""

    code = "payout_unsigned"

    def __init__(self, message: str, *, refusals: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__(message, reason="not enough signatures")
        self.refusals = refusals


class CompileError(LedgerError):
    """solc refused a source, or Node / solc-js is not available."""

    code = "compile_error"


class VerifierGenerationError(LedgerError):
    code = "verifier_generation_error"
