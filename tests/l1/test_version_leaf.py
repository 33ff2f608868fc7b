"""The rollup's reading of an inference proof on a trainable version (layout word 5,
INPUTS_VERSION): public values [H(θ), H(row), outputs], one row, the leaf's model word
keccak256(VERSION_TAG, inference circuit, H(θ)). Python (flavum.core.batch) and FlavumLeaves
compute the same leaf; another H(θ) gives another leaf. The whole path, with real proofs, is
tests/node/test_version_inference.py."""

import pytest

from flavum.core.batch import TraceEntry, compute_trace_leaf, compute_version_word
from flavum.core.field import FIELD_MODULUS
from flavum.core.model_binding import INPUTS_VERSION, compute_inputs_layout
from flavum.core.types import ZERO_HASH, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import call_mapped, load_artifact
from flavum.l1.interface import ModelLayout, ProvenInference, proven_executions

from .helpers import h

CIRCUIT = ObjectId(h("inference circuit"))
VERSION = ObjectId(h("version"))


@pytest.fixture
def reader(ledger):
    artifact = load_artifact("FlavumLeaves")
    address = ledger.rollup.functions.leafReader().call()
    return ledger.w3.eth.contract(address=address, abi=artifact["abi"]).functions


def test_a_versions_leaf_binds_its_weights(reader):
    assert compute_inputs_layout(False, False, version_inference=True) == INPUTS_VERSION
    tx, result = h("tx"), h("result")
    weights, row, logit = 12345, 678, FIELD_MODULUS - 3  # logit -3
    entry = TraceEntry(tx, VERSION, ObjectId(h("data")), row.to_bytes(32, "big"), (-3,),
                       ObjectId(result), circuit_id=CIRCUIT, weights=weights.to_bytes(32, "big"))
    leaves = reader.leaves(CIRCUIT, INPUTS_VERSION, [tx], [result], [weights, row, logit],
                           b"").call()
    assert leaves == [compute_trace_leaf(entry)]
    other = reader.leaves(CIRCUIT, INPUTS_VERSION, [tx], [result], [weights + 1, row, logit],
                          b"").call()
    assert other != leaves
    assert compute_version_word(CIRCUIT, (weights + 1).to_bytes(32, "big")) != \
        compute_version_word(CIRCUIT, weights.to_bytes(32, "big"))
    # The node reads the same execution from the proof's public values.
    proven = ProvenInference(CIRCUIT, b"", (weights, row, logit), ((tx, ObjectId(result)),))
    ((tx_hash, execution),) = proven_executions(proven, ModelLayout(version_inference=True))
    assert (tx_hash, execution.input_commitment, execution.outputs) == (
        tx, entry.input_commitment, (-3,))


@pytest.mark.parametrize(("rows", "values", "reason"), [
    (2, [1, 2, 3, 4], "a version's inference proves one row"),
    (0, [1, 2, 3], "a version's inference proves one row"),
    (1, [1, 2], "proof exposes no outputs"),
])
def test_a_malformed_versions_proof_is_refused(reader, rows, values, reason):
    txs = [h(f"tx{i}") for i in range(rows)]
    results = [h(f"result{i}") for i in range(rows)]
    with pytest.raises(LedgerError) as err:
        call_mapped("leaves", reader.leaves(CIRCUIT, INPUTS_VERSION, txs, results, values,
                                            b"").call)
    assert err.value.reason == reason


def test_a_padding_row_is_no_versions_inference(reader):
    with pytest.raises(LedgerError) as err:
        call_mapped("leaves", reader.leaves(CIRCUIT, INPUTS_VERSION, [ZERO_HASH], [ZERO_HASH],
                                            [1, 2, 3], b"").call)
    assert err.value.reason == "an inference has no real row"
