"""State-witness cases: a pre-state, a batch of valid transactions, and the witness the core
builds for it, as data in tests/vectors/witness/<case>/.

A case takes the accepted transactions of a state-transition case (tests/core/stf_cases.py) and
runs them over a pre-state with bystanders (balances the batch does not touch), so that the
witness's tree has opaque subtrees; several delete a leaf, so the witness needs openings.
`build_witness_files` gives the files (pre_state, transactions and executions as in
tests/vectors/stf, witness.json in the form of flavum/core/witness_codec.py, and roots.json);
`tests/core/test_witness_vectors.py` fails when the committed files differ, and
`python -m tests.core.witness_cases --write` rewrites them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from flavum.core.codec import to_hex
from flavum.core.state import State, compute_state_root, set_balance
from flavum.core.stf import apply_block
from flavum.core.transactions import Transaction, encode_transaction
from flavum.core.types import Address, Amount
from flavum.core.witness_build import compute_batch_witness
from flavum.core.witness_codec import witness_to_json
from tests.core.conftest import DOMAIN, ETH
from tests.core.stf_cases import Step, all_cases, base_state, h
from tests.core.stf_vectors import (
    executions_to_json,
    pre_state_to_json,
    tx_entry_to_json,
    vectors_main,
)
from tests.vectors_util import VECTORS_DIR, check_vectors

WITNESS_DIR = VECTORS_DIR / "witness"
WITNESS_FILES = ("pre_state", "transactions", "executions", "witness", "roots")


@dataclass(frozen=True)
class WitnessCase:
    name: str
    description: str
    steps: tuple[Step, ...]  # all accepted
    pre: Callable[[], State]


def with_bystanders(count: int) -> Callable[[], State]:
    """The shared pre-state of the stf cases and `count` balances no transaction touches."""
    def build() -> State:
        state = base_state()
        for i in range(count):
            set_balance(state, Address(h(f"bystander.{i}")[:20]), ETH, Amount(i + 1))
        return state
    return build


def accepted_steps(stf_case: str) -> tuple[Step, ...]:
    """The accepted transactions of a state-transition case, in order."""
    source = next(c for c in all_cases() if c.name == stf_case)
    return tuple(step for step in source.steps if step.refusal is None)


def all_witness_cases() -> list[WitnessCase]:
    return [
        WitnessCase("transfer_among_bystanders", "one transfer in a state of 64 more accounts",
                    accepted_steps("transfer"), with_bystanders(64)),
        WitnessCase("deleted_balance", "a balance sent away whole: its leaf is deleted",
                    accepted_steps("transfer_whole_balance"), with_bystanders(32)),
        WitnessCase("revoked_grant", "a grant revoked: its leaf is deleted",
                    accepted_steps("revoke_access"), with_bystanders(32)),
        WitnessCase("withdrawn_object", "a RESULT withdrawn: its leaf is deleted",
                    accepted_steps("withdraw_result_object"), with_bystanders(32)),
        WitnessCase("created_and_burnt", "a RESULT created and withdrawn in the same batch",
                    accepted_steps("seq_infer_then_withdraw_result"), with_bystanders(16)),
        WitnessCase("every_type", "every transaction type in one batch",
                    accepted_steps("seq_every_type"), with_bystanders(48)),
        WitnessCase("empty_batch", "a batch without transactions", (), with_bystanders(8)),
        WitnessCase("deposit_into_empty_state", "a deposit into a state with no entries",
                    accepted_steps("deposit_balance"), lambda: State(DOMAIN)),
    ]


def build_witness_files(case: WitnessCase) -> dict[str, dict[str, Any]]:
    pre = case.pre()
    txs: list[Transaction] = []
    for step in case.steps:
        if not isinstance(step.tx, Transaction):
            raise ValueError(f"case {case.name}: a witness case takes decodable transactions")
        txs.append(step.tx)
    executions = [step.execution for step in case.steps]
    witness = compute_batch_witness(pre, txs, executions)  # pre is left unchanged
    post = pre.copy()
    apply_block(post, txs, executions)
    return {
        "pre_state": pre_state_to_json(pre),
        "transactions": {"transactions": [tx_entry_to_json(encode_transaction(tx), tx)
                                          for tx in txs]},
        "executions": executions_to_json(executions),
        "witness": witness_to_json(witness),
        "roots": {"description": case.description,
                  "prev_state_root": to_hex(compute_state_root(pre)),
                  "post_state_root": to_hex(compute_state_root(post))},
    }


def check_witness_files(case: WitnessCase) -> None:
    """Fail unless tests/vectors/witness/<case>/ holds what the core computes."""
    for stem, data in build_witness_files(case).items():
        check_vectors(f"witness/{case.name}/{stem}.json", data)


if __name__ == "__main__":
    vectors_main(__doc__.splitlines()[0], WITNESS_DIR,
                 {c.name: partial(check_witness_files, c) for c in all_witness_cases()})
