"""Canonical encodings round-trip, refuse garbage, and are pinned by JSON test vectors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flavum.core.batch import (
    TraceEntry,
    TxCommitment,
    Withdrawal,
    compute_batch_hash,
    compute_batch_header,
    compute_outputs_hash,
    compute_trace_leaf,
    compute_tx_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.encoding import SMT_LEAF_TAG, SMT_NODE_TAG, TREE_NODE_TAG, keccak256
from flavum.core.errors import MalformedTransaction
from flavum.core.merkle import compute_tree_proof
from flavum.core.state import (
    compute_account_key,
    compute_balance_key,
    compute_object_hash,
    compute_object_key,
    compute_state_root,
    get_leaf_value,
    get_object,
    get_state_proof,
)
from flavum.core.stf import Execution, process_transaction
from flavum.core.transactions import (
    DeployModel,
    Deposit,
    GrantAccess,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
    compute_signing_hash,
    compute_tx_hash,
    decode_transaction,
    encode_transaction,
)
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Access, Amount, Hash32, Nonce, ObjectId
from tests.vectors_util import check_vectors

from .conftest import ALICE, BOB, DOMAIN, ETH, sign

H = [Hash32(bytes([i]) * 32) for i in range(8)]

BODIES = [
    Transfer(BOB.address, ETH, Amount(123)),
    TransferObject(ObjectId(H[1]), BOB.address),
    GrantAccess(ObjectId(H[2]), BOB.address, True),
    DeployModel(H[3], H[4], H[5], Access.COMMON, ETH, Amount(10)),
    SubmitData(H[6], ZERO_HASH, Access.OWNED),
    Infer(ObjectId(H[1]), ObjectId(H[2]), Amount(10)),
    Withdraw(H[7], ALICE.address, ETH, Amount(5), ZERO_HASH),
]
DEPOSIT = Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ZERO_ADDRESS, Nonce(0),
                      Deposit(H[3], H[1], BOB.address, ZERO_ADDRESS, Amount(9), H[2], ZERO_HASH))


def hx(b: bytes) -> str:
    return "0x" + b.hex()


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_round_trip(body):
    tx = sign(ALICE, 3, body)
    assert decode_transaction(encode_transaction(tx)) == tx


def test_deposit_round_trip():
    assert decode_transaction(encode_transaction(DEPOSIT)) == DEPOSIT


@given(st.binary(max_size=600))
def test_garbage_is_refused_with_a_typed_error(data):
    try:
        tx = decode_transaction(data)
    except MalformedTransaction:
        return
    assert encode_transaction(tx) == data  # only a canonical encoding may decode


def test_truncated_and_unknown_type_refused():
    data = encode_transaction(sign(ALICE, 0, BODIES[0]))
    with pytest.raises(MalformedTransaction):
        decode_transaction(data[:-1])
    with pytest.raises(MalformedTransaction):
        decode_transaction(data[:31] + b"\x63" + data[32:])  # type 99


def test_signature_covers_the_domain():
    tx = sign(ALICE, 0, BODIES[0])
    from dataclasses import replace

    assert compute_signing_hash(tx) != compute_signing_hash(replace(tx, chain_id=1))
    assert compute_signing_hash(tx) != compute_signing_hash(replace(tx, rollup_id=H[7]))


def test_vectors(state):
    """Encodings, hashes, leaves, roots and proofs, for the Solidity tests of the EVM ledger."""
    txs = [sign(ALICE, n, body) for n, body in enumerate(BODIES)] + [DEPOSIT]
    tx_vectors = [
        {"type": tx.type.name, "encoded": hx(encode_transaction(tx)),
         "signing_hash": hx(compute_signing_hash(tx)), "tx_hash": hx(compute_tx_hash(tx)),
         "sender": hx(tx.sender)}
        for tx in txs
    ]
    # A small history, to pin state leaves, a root and proofs.
    process_transaction(state, sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(100))))
    data_id = process_transaction(
        state, sign(ALICE, 1, SubmitData(H[6], ZERO_HASH, Access.OWNED))).object_id
    root = compute_state_root(state)
    leaves = {
        "alice_account": compute_account_key(ALICE.address),
        "alice_eth_balance": compute_balance_key(ALICE.address, ETH),
        "data_object": compute_object_key(data_id),
    }
    state_vectors = {
        "root": hx(root),
        "leaves": {
            name: {
                "key": hx(key),
                "value_hash": hx(get_leaf_value(state, key)),
                "siblings": [hx(s) for s in get_state_proof(state, key).siblings],
            }
            for name, key in leaves.items()
        },
        "object": {"encoded_hash": hx(compute_object_hash(get_object(state, data_id)))},
    }
    trace = TraceEntry(H[1], ObjectId(H[2]), ObjectId(H[3]), H[4], (5, -2, 0), ObjectId(H[5]))
    withdrawal = Withdrawal(H[1], H[2], BOB.address, ETH, Amount(7), ObjectId(H[3]), 3, H[4],
                            ObjectId(H[5]))
    w_leaf = compute_withdrawal_leaf(withdrawal)
    # Transaction 1 emits the trace entry, 2 and 3 the withdrawal; the last ends at `root`.
    emitted = {1: (ZERO_HASH, compute_trace_leaf(trace)), 2: (w_leaf, ZERO_HASH),
               3: (w_leaf, ZERO_HASH)}
    commitments = [
        TxCommitment(compute_tx_hash(t), root if i == len(txs) - 1 else H[i % 8],
                     *emitted.get(i, (ZERO_HASH, ZERO_HASH)))
        for i, t in enumerate(txs)
    ]
    header = compute_batch_header(1, H[1], commitments, H[6])
    batch_vectors = {
        "outputs": [5, -2, 0],
        "outputs_hash": hx(compute_outputs_hash((5, -2, 0))),
        "trace_leaf": hx(compute_trace_leaf(trace)),
        "withdrawal_leaf": hx(w_leaf),
        "withdrawal_proof_index1": [hx(s) for s in compute_tree_proof([w_leaf, w_leaf], 1)],
        "tx_leaves": [hx(compute_tx_leaf(c)) for c in commitments],
        "header": {k: (hx(v) if isinstance(v, bytes) else v) for k, v in vars(header).items()},
        "batch_hash": hx(compute_batch_hash(header)),
    }
    check_vectors("core/transactions.json", {
        "domain": {"chain_id": DOMAIN.chain_id, "rollup_id": hx(DOMAIN.rollup_id)},
        "tags": {"smt_leaf": hx(SMT_LEAF_TAG), "smt_node": hx(SMT_NODE_TAG),
                 "tree_node": hx(TREE_NODE_TAG)},
        "transactions": tx_vectors,
    })
    check_vectors("core/state.json", state_vectors)
    check_vectors("core/batch.json", batch_vectors)


def test_execution_outputs_change_the_result_commitment(state):
    assert compute_outputs_hash((1, 2)) != compute_outputs_hash((2, 1))
    assert compute_outputs_hash((1,)) != compute_outputs_hash((1, 0))
    assert Execution(H[1], (1,)) != Execution(H[1], (2,))


# --- the ABI codec matches eth-abi byte for byte (style rule 7) ---

WORD_VALUES = {
    "bytes32": st.binary(min_size=32, max_size=32),
    "address": st.binary(min_size=20, max_size=20),
    "bool": st.booleans(),
    "uint8": st.integers(0, 2**8 - 1),
    "uint64": st.integers(0, 2**64 - 1),
    "uint256": st.integers(0, 2**256 - 1),
    "int256": st.integers(-(2**255), 2**255 - 1),
    "bytes": st.binary(max_size=100),
    "int256[]": st.lists(st.integers(-(2**255), 2**255 - 1), max_size=5),
}


@st.composite
def typed_values(draw):
    types = draw(st.lists(st.sampled_from(sorted(WORD_VALUES)), min_size=1, max_size=6))
    return types, [draw(WORD_VALUES[t]) for t in types]


@given(typed_values())
def test_abi_codec_matches_eth_abi(case):
    from eth_abi import encode as reference_encode

    from flavum.core.encoding import decode_abi, encode_abi

    types, values = case
    pairs = zip(types, values, strict=True)
    as_eth_abi = ["0x" + v.hex() if t == "address" else v for t, v in pairs]
    encoded = encode_abi(types, values)
    assert encoded == reference_encode(types, as_eth_abi)
    assert decode_abi(types, encoded) == values


@pytest.mark.parametrize("types,values", [
    (["uint8"], [256]), (["uint64"], [-1]), (["address"], [b"\x01" * 19]),
    (["bytes32"], [b"\x01" * 31]), (["int256"], [2**255]),
])
def test_abi_codec_refuses_out_of_range(types, values):
    from flavum.core.encoding import encode_abi

    with pytest.raises(ValueError):
        encode_abi(types, values)


def test_abi_decoder_refuses_non_canonical():
    from flavum.core.encoding import decode_abi, encode_abi

    data = encode_abi(["uint8", "bytes"], [1, b"abc"])
    with pytest.raises(ValueError):
        decode_abi(["uint8", "bytes"], data + b"\x00" * 32)  # trailing garbage
    with pytest.raises(ValueError):
        decode_abi(["uint8", "bytes"], data[:-1] + b"\x01")  # non-zero padding
    with pytest.raises(ValueError):
        decode_abi(["address"], b"\x01" * 32)  # dirty address padding


@given(st.binary(max_size=300))
def test_keccak256_is_ethereums_keccak(data):
    """The core's keccak (pysha3, C) is eth-hash's keccak-256 byte for byte."""
    from eth_hash.auto import keccak

    assert keccak256(data) == keccak(data)
