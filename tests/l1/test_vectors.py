"""The core's JSON vectors (tests/vectors/), recomputed inside the EVM: Python and Solidity
agree byte for byte on tags, tree roots and proofs, leaves, header hashes and tx hashes."""

import json

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import (
    HEADER_TAG,
    OUTPUTS_TAG,
    TRACE_TAG,
    WITHDRAWAL_TAG,
    TraceEntry,
    Withdrawal,
    compute_outputs_hash,
    compute_trace_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import TREE_NODE_TAG, compute_tag, keccak256
from flavum.core.field import FIELD_MODULUS, felt_to_signed
from flavum.core.merkle import compute_tree_proof, compute_tree_root
from flavum.core.model_binding import (
    ModelBinding,
    compute_model_binding_hash,
    compute_public_row_commitment,
)
from flavum.core.state import (
    AMOUNT_TAG,
    Object,
    compute_balance_key,
    compute_number_preimage,
    compute_object_hash,
    compute_object_key,
)
from flavum.core.transactions import address_of
from flavum.core.types import (
    ZERO_HASH,
    Access,
    Address,
    Amount,
    AssetId,
    Hash32,
    ObjectId,
    ObjectKind,
)
from flavum.l1.evm_client import embedded_web3, load_artifact
from tests.vectors_util import VECTORS_DIR

from .conftest import DEPLOYER_KEY


def vectors(name: str) -> dict:
    return json.loads((VECTORS_DIR / name).read_text())


def b(text: str) -> bytes:
    return bytes.fromhex(text[2:])


@pytest.fixture(scope="module")
def harness():
    from flavum.l1.evm_client import constructor_data, send_transaction

    w3 = embedded_web3([DEPLOYER_KEY])
    artifact = load_artifact("FlavumHashesHarness")
    data = constructor_data(w3, artifact["abi"], b(artifact["bytecode"]), ())
    receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER_KEY, {"data": data, "gas": 3_000_000},
                               "harness")
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]).functions


def test_tags(harness):
    assert harness.tags().call() == [
        TREE_NODE_TAG, TRACE_TAG, WITHDRAWAL_TAG, OUTPUTS_TAG, HEADER_TAG, compute_tag("asset"),
        compute_tag("tx.sign"), compute_tag("tx.hash"),
    ]
    assert b(vectors("core/transactions.json")["tags"]["tree_node"]) == TREE_NODE_TAG


def test_tree_vectors(harness):
    data = vectors("merkle/tree.json")
    for case in data["cases"]:
        leaves = [b(x) for x in case["leaves"]]
        assert harness.computeTreeRoot(leaves).call() == b(case["root"])
        for p in case["proofs"]:
            siblings = [b(x) for x in p["siblings"]]
            leaf = leaves[p["index"]]
            assert harness.verifyTreeProof(b(case["root"]), leaf, p["index"], siblings).call()
            # A wrong index or a flipped sibling fails, in Solidity as in Python.
            assert not harness.verifyTreeProof(b(case["root"]), leaf, p["index"] ^ 1,
                                               siblings).call() or len(leaves) == 1
            if siblings:
                bad = [bytes([siblings[0][0] ^ 1]) + siblings[0][1:], *siblings[1:]]
                assert not harness.verifyTreeProof(b(case["root"]), leaf, p["index"], bad).call()


def test_batch_vectors(harness):
    data = vectors("core/batch.json")
    # The inputs of tests/core/test_encoding.py::test_vectors: H[i] = bytes([i]) * 32.
    h = [Hash32(bytes([i]) * 32) for i in range(8)]
    outputs = data["outputs"]
    assert harness.outputsHash(outputs).call() == b(data["outputs_hash"])
    trace = TraceEntry(h[1], ObjectId(h[2]), ObjectId(h[3]), h[4], tuple(outputs), ObjectId(h[5]))
    assert compute_trace_leaf(trace) == b(data["trace_leaf"])
    assert harness.traceLeaf(h[1], h[2], h[4], outputs, h[5]).call() == b(data["trace_leaf"])
    # Withdrawal(H[1], H[2], BOB, ETH, 7, H[3], RESULT, H[4], H[5]) with BOB's key 0x02..02.
    eth = compute_asset_id(compute_ledger_id("evm"))
    w = (h[1], h[2], to_checksum_address(address_of(b"\x02" * 32)), eth, 7, h[3], 3, h[4], h[5])
    assert harness.withdrawalLeaf(w).call() == b(data["withdrawal_leaf"])
    header = data["header"]
    header_tuple = (header["number"], b(header["prev_state_root"]), b(header["state_root"]),
                    b(header["tx_root"]), b(header["trace_root"]), b(header["withdrawal_root"]),
                    b(header["data_pointer"]))
    assert harness.batchHash(header_tuple).call() == b(data["batch_hash"])
    w_leaf = b(data["withdrawal_leaf"])
    proof = [b(x) for x in data["withdrawal_proof_index1"]]
    assert harness.verifyTreeProof(b(header["withdrawal_root"]), w_leaf, 1, proof).call()


def test_withdrawal_leaf_and_asset_id(harness):
    ledger = compute_ledger_id("evm")
    token = bytes.fromhex("00" * 19 + "42")
    w = Withdrawal(Hash32(b"\x01" * 32), ledger, bytes.fromhex("11" * 20),
                   compute_asset_id(ledger, token), Amount(7), ObjectId(b"\x03" * 32), 3,
                   Hash32(b"\x04" * 32), ObjectId(b"\x05" * 32))
    as_tuple = (w.withdrawal_id, w.ledger, to_checksum_address(w.recipient), w.asset, w.amount,
                w.object_id, w.object_kind, w.commitment, w.model_id)
    assert harness.withdrawalLeaf(as_tuple).call() == compute_withdrawal_leaf(w)
    assert harness.assetId(ledger, "0x" + token.hex()).call() == compute_asset_id(ledger, token)
    assert harness.assetId(ledger, "0x" + "00" * 20).call() == compute_asset_id(ledger)


def test_transaction_hashes(harness):
    for tx in vectors("core/transactions.json")["transactions"]:
        tx_hash, tx_type = harness.txHashOf(b(tx["encoded"])).call()
        assert tx_hash == b(tx["tx_hash"]), tx["type"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(2**100), 2**100), min_size=0, max_size=12))
def test_outputs_hash_matches(harness, outputs):
    assert harness.outputsHash(outputs).call() == compute_outputs_hash(outputs)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32).filter(any), min_size=1, max_size=9),
       st.data())
def test_tree_root_and_proofs_match(harness, leaves, data):
    root = compute_tree_root(leaves)
    assert harness.computeTreeRoot(leaves).call() == root
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = list(compute_tree_proof(leaves, index))
    assert harness.verifyTreeProof(root, leaves[index], index, proof).call()


@pytest.mark.parametrize("felt", [0, 1, 5, FIELD_MODULUS // 2, FIELD_MODULUS // 2 + 1,
                                  FIELD_MODULUS - 1])
def test_felt_to_signed(harness, felt):
    assert harness.feltToSigned(felt).call() == felt_to_signed(felt)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, FIELD_MODULUS - 1), max_size=12))
def test_outputs_hash_of_felts_matches(harness, felts):
    """The rollup's path (scratch memory, straight from the public values) is outputsHash."""
    expected = compute_outputs_hash([felt_to_signed(f) for f in felts])
    assert harness.outputsHashOfFelts(felts).call() == expected


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.binary(min_size=32, max_size=32),
       st.integers(0, 2**256 - 1), st.sampled_from(list(ObjectKind)))
def test_state_keys_and_value_hashes_match(harness, account, word, amount, kind):
    """The escape hatch's leaves (FlavumBridge): balance and object keys and value hashes."""
    asset, object_id = AssetId(word), ObjectId(keccak256(word))
    assert harness.balanceKey(to_checksum_address(account), asset).call() == (
        compute_balance_key(Address(account), asset))
    assert harness.objectKey(object_id).call() == compute_object_key(object_id)
    expected = keccak256(compute_number_preimage(AMOUNT_TAG, amount)) if amount else ZERO_HASH
    assert harness.amountValueHash(amount).call() == expected
    obj = Object(object_id, kind, Address(account), Access.OWNED, Hash32(word), keccak256(b"m"),
                 keccak256(b"v"), asset, Amount(amount), ObjectId(keccak256(b"model")),
                 ObjectId(keccak256(b"data")))
    as_tuple = (obj.object_id, int(obj.kind), to_checksum_address(obj.owner), int(obj.access),
                obj.commitment, obj.metadata_hash, obj.vk_hash, obj.fee_asset, obj.fee,
                obj.model_id, obj.data_id)
    assert harness.objectValueHash(as_tuple).call() == compute_object_hash(obj)


def binding_tuple(binding: ModelBinding) -> tuple:
    return (binding.record_hash, binding.srs_hash, binding.verifier_code_hash,
            binding.vka_digest, binding.reusable_code_hash, binding.rows, binding.inputs)


def test_model_binding_vectors(harness):
    """A MODEL's metadata hash: the registry recomputes it from the binding a registrant shows."""
    data = vectors("core/model_binding.json")
    assert b(data["tag"]) == keccak256(b"flavum.model.binding")
    for case in data["cases"]:
        c = case["binding"]
        binding = ModelBinding(b(c["record_hash"]), b(c["srs_hash"]), b(c["verifier_code_hash"]),
                               b(c["vka_digest"]), b(c["reusable_code_hash"]), c["rows"],
                               c["per_row_inputs"], c["row_points"], row_width=c["row_width"],
                               training_step=c["training_step"],
                               version_inference=c["version_inference"])
        assert harness.modelBindingHash(binding_tuple(binding)).call() == b(case["hash"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=5, max_size=5),
       st.integers(0, 2**32 - 1), st.booleans(), st.booleans(), st.integers(0, 2**24 - 1),
       st.booleans())
def test_model_binding_hash_matches(harness, words, rows, per_row_inputs, row_points, width,
                                    training_step):
    # Public rows are neither row points nor a training step (that binding is no layout).
    row_width = 0 if row_points or training_step else width
    binding = ModelBinding(*(Hash32(w) for w in words), rows, per_row_inputs, row_points,
                           row_width=row_width, training_step=training_step)
    assert harness.modelBindingHash(binding_tuple(binding)).call() == (
        compute_model_binding_hash(binding))


def test_public_row_commitment_vectors(harness):
    """A public row's DATA commitment: the rollup recomputes it from a proof's public values."""
    data = vectors("core/public_row.json")
    assert b(data["tag"]) == keccak256(b"flavum.data.public_row")
    for case in data["cases"]:
        values = [int(v, 16) for v in case["values"]]
        assert harness.publicRowCommitment(values).call() == b(case["commitment"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, FIELD_MODULUS - 1), max_size=70))
def test_public_row_commitment_matches(harness, values):
    assert harness.publicRowCommitment(values).call() == compute_public_row_commitment(values)
