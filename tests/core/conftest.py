"""Shared fixtures for the core tests: a domain, three funded users, and a signing helper."""

from dataclasses import dataclass

import pytest

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.state import Domain, State, increase_balance
from flavum.core.transactions import Body, Transaction, address_of, sign_transaction
from flavum.core.types import Address, Amount, ChainId, Hash32, Nonce

DOMAIN = Domain(ChainId(31337), Hash32(b"\x11" * 32))
ETH = compute_asset_id(compute_ledger_id("evm"))


@dataclass(frozen=True)
class User:
    key: bytes

    @property
    def address(self) -> Address:
        return address_of(self.key)


ALICE = User(b"\x01" * 32)
BOB = User(b"\x02" * 32)
CAROL = User(b"\x03" * 32)


def sign(user: User, nonce: int, body: Body, domain: Domain = DOMAIN) -> Transaction:
    tx = Transaction(domain.chain_id, domain.rollup_id, user.address, Nonce(nonce), body)
    return sign_transaction(tx, user.key)


@pytest.fixture
def state() -> State:
    """Alice and Bob hold 1,000 of ETH each (as if deposited)."""
    state = State(DOMAIN)
    for user in (ALICE, BOB):
        increase_balance(state, user.address, ETH, Amount(1_000))
    return state
