"""The rollup id (flavum.core.state.compute_rollup_id): vectors for the Solidity side
(tests/l1/test_identity.py), and the property that makes replay across deployments impossible:
another chain or another contract address is another id."""

from flavum.core.encoding import keccak256
from flavum.core.state import ROLLUP_ID_TAG, compute_rollup_id
from flavum.core.types import Address, ChainId
from tests.vectors_util import check_vectors

CASES = [(1, b"\x00" * 20), (31337, bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")),
         (131277322940537, b"\xff" * 20), (2**256 - 1, b"\x01" * 20)]


def test_rollup_id_vectors():
    rows = [{"chain_id": str(chain), "rollup": "0x" + rollup.hex(),
             "rollup_id": "0x" + compute_rollup_id(ChainId(chain), Address(rollup)).hex()}
            for chain, rollup in CASES]
    check_vectors("core/rollup_id.json", {"tag": "0x" + ROLLUP_ID_TAG.hex(), "cases": rows})


def test_the_rollup_id_is_the_tagged_hash_of_chain_and_address():
    rollup = Address(b"\x22" * 20)
    word = (7).to_bytes(32, "big") + b"\x00" * 12 + rollup
    assert compute_rollup_id(ChainId(7), rollup) == keccak256(ROLLUP_ID_TAG + word)
    assert ROLLUP_ID_TAG == keccak256(b"flavum.rollup.id")


def test_another_chain_or_contract_is_another_rollup():
    ids = {compute_rollup_id(ChainId(chain), Address(bytes([n]) * 20))
           for chain in (1, 31337) for n in (1, 2)}
    assert len(ids) == 4
