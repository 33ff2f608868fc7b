"""The one-step executor's ABI: a StepWitness as FlavumStep.execute's arguments, and its
verdict read back (a result, a refusal of the transaction, or a refusal of the witness)."""

from dataclasses import dataclass
from typing import Any

from flavum.core.batch import Trace, compute_trace_claim, compute_trace_leaf
from flavum.core.merkle import SmtProof, SmtSibling
from flavum.core.step_witness import StepWitness
from flavum.core.types import ZERO_HASH, Hash32

OK, INVALID, BAD_WITNESS = 0, 1, 2  # FlavumStep.judge's verdicts
NO_CLAIM = (ZERO_HASH,) * 5


@dataclass(frozen=True)
class StepVerdict:
    """What the executor said: `invalid` (the rules refuse the transaction: fraud if it was
    included), `bad_witness` (the witness proves nothing), or the transaction's results."""

    invalid: str | None = None
    bad_witness: str | None = None
    post_state_root: Hash32 | None = None
    withdrawal_leaf: Hash32 | None = None
    trace_leaf: Hash32 | None = None


def proof_arg(proof: SmtProof) -> tuple[Any, ...]:
    has_other = proof.other_key is not None
    return (list(proof.siblings), has_other, proof.other_key or ZERO_HASH,
            proof.other_value_hash or ZERO_HASH)


def sibling_arg(sibling: SmtSibling | None) -> tuple[Any, ...]:
    return (0, ZERO_HASH, ZERO_HASH) if sibling is None else (sibling.kind, sibling.a, sibling.b)


def trace_claim(trace: Trace | None) -> tuple[Hash32, tuple[bytes, ...]]:
    """The committed trace leaf and its fields (zero: the transaction committed none)."""
    if trace is None:
        return ZERO_HASH, NO_CLAIM
    return compute_trace_leaf(trace), compute_trace_claim(trace)


def execute_args(witness: StepWitness, raw: bytes, trace: Trace | None) -> tuple[Any, ...]:
    leaf, claim = trace_claim(trace)
    return (
        witness.pre_root, raw,
        [(e.key, e.preimage, proof_arg(e.proof)) for e in witness.entries],
        [(w.key, proof_arg(w.proof), sibling_arg(w.sibling)) for w in witness.writes],
        leaf, claim,
    )


def read_verdict(value: Any) -> StepVerdict:
    """FlavumStep.judge's return value as a StepVerdict."""
    verdict, reason, (post, withdrawal_leaf, trace_leaf) = value
    if verdict == INVALID:
        return StepVerdict(invalid=reason)
    if verdict == BAD_WITNESS:
        return StepVerdict(bad_witness=reason)
    return StepVerdict(None, None, Hash32(bytes(post)), Hash32(bytes(withdrawal_leaf)),
                       Hash32(bytes(trace_leaf)))
