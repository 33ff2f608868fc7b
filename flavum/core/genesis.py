"""Genesis: the state batch 0 starts from, which the rollup contract computes itself.

A genesis may fund accounts only in `DEV_ASSET`, an asset no bridge pays (a bridge pays
`compute_asset_id(its ledger, token)`, and no such id equals this one): value a user can
withdraw enters the rollup only as a deposit its bridge holds. The rollup contract takes the
allocations with one non-inclusion proof each (`GenesisBalance`) and rebuilds the genesis
root from the empty state (FlavumStep.genesisRoot), so the deployer cannot write in a root
that holds anything else.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from flavum.core.encoding import compute_tag, keccak256
from flavum.core.merkle import SmtProof, SparseMerkleTree
from flavum.core.state import (
    AMOUNT_TAG,
    Domain,
    State,
    compute_balance_key,
    compute_number_preimage,
    compute_state_root,
    increase_balance,
)
from flavum.core.types import Address, Amount, AssetId, Hash32

DEV_ASSET = AssetId(compute_tag("asset.dev"))  # keccak256("flavum.asset.dev"), FlavumStep.DEV_ASSET


@dataclass(frozen=True)
class GenesisBalance:
    """One allocation as the rollup contract takes it: `amount` of DEV_ASSET for `account`,
    and its balance key's non-inclusion proof under the root of the allocations before it."""

    account: Address
    amount: Amount
    proof: SmtProof


def merge_allocations(
    allocations: Sequence[tuple[Address, Amount]],
) -> list[tuple[Address, Amount]]:
    """One allocation per account (amounts of one account summed, in first-seen order), none
    of zero: the form the contract accepts."""
    merged: dict[Address, int] = {}
    for address, amount in allocations:
        if amount < 0:
            raise ValueError(f"a genesis allocation of {amount}")
        merged[address] = merged.get(address, 0) + amount
    return [(address, Amount(amount)) for address, amount in merged.items() if amount]


def create_genesis(domain: Domain, allocations: Sequence[tuple[Address, Amount]]) -> State:
    """A fresh state whose accounts hold their dev-asset allocations."""
    state = State(domain)
    for address, amount in merge_allocations(allocations):
        increase_balance(state, address, DEV_ASSET, amount)
    return state


def compute_genesis_balances(allocations: Sequence[tuple[Address, Amount]]) -> list[GenesisBalance]:
    """The allocations with the proofs FlavumStep.genesisRoot inserts them by, in order."""
    tree = SparseMerkleTree()
    balances = []
    for address, amount in merge_allocations(allocations):
        key = compute_balance_key(address, DEV_ASSET)
        balances.append(GenesisBalance(address, amount, tree.prove(key)))
        tree.set(key, keccak256(compute_number_preimage(AMOUNT_TAG, amount)))
    return balances



@dataclass(frozen=True)
class Genesis:
    """A rollup's domain and genesis allocations: what a ledger is deployed for and checked
    against, and what a verifier replays from."""

    domain: Domain
    allocations: tuple[tuple[Address, Amount], ...] = ()

    def state(self) -> State:
        """A fresh copy of the genesis state."""
        return create_genesis(self.domain, self.allocations)

    @cached_property
    def root(self) -> Hash32:
        return compute_state_root(self.state())

    def balances(self) -> list[GenesisBalance]:
        return compute_genesis_balances(self.allocations)
