"""Batched proofs whose rows are public values (common data), bound on chain by keccak.

A common DATA object needs no hiding: a public-row model (input_visibility "public") shows
each row's quantized values among its proof's public values, and the row's DATA commitment is
compute_public_row_commitment of those values (keccak256 of a tag and the 32-byte words,
flavum.zk.public_rows). Registered with the public-rows layout (the row width in the layout
word), the rollup hashes row r's public values itself and rebuilds row r's trace leaf from that
commitment and the r-th slice of the outputs: a sequencer cannot claim another data point.
"""

from dataclasses import replace

import pytest

from flavum.core.batch import TraceEntry, compute_trace_leaf
from flavum.core.encoding import keccak256
from flavum.core.field import FIELD_MODULUS
from flavum.core.merkle import compute_tree_root
from flavum.core.model_binding import (
    INPUTS_PUBLIC_ROWS,
    INPUTS_TRAINING_STEP,
    compute_inputs_layout,
    compute_public_row_commitment,
)
from flavum.core.types import ZERO_HASH, Hash32, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import call_mapped, load_artifact
from flavum.l1.interface import ModelLayout, ProvenInference, proven_executions, proven_inference
from flavum.zk.execution import CircuitRun, outputs_per_row
from flavum.zk.polycommit import compute_data_commitment
from flavum.zk.proof import Proof
from flavum.zk.public_rows import compute_row_values

from .conftest import PerRowModel
from .helpers import bind_model, h, make_batch, register

MODEL = ObjectId(h("public-rows model"))
PADDING = (Hash32(ZERO_HASH), ObjectId(ZERO_HASH))
LAYOUT = ModelLayout(4, per_row_inputs=True, row_width=4)


@pytest.fixture
def bound(per_row_public):
    return bind_model(per_row_public, MODEL, LAYOUT)


@pytest.fixture
def registered(ledger, bound):
    register(ledger, bound)
    return ledger


def traces_of(model: PerRowModel, execution: CircuitRun, rows, real: int) -> list[TraceEntry]:
    """Trace entries of the first `real` rows, each bound to its DATA object's commitment as
    the node computes it when the common data is submitted (before any proof)."""
    outputs = outputs_per_row(model.artifacts, execution.outputs)
    return [
        TraceEntry(tx_hash=h(f"infer-row{i}"), model_id=MODEL, data_id=ObjectId(h(f"data{i}")),
                   input_commitment=compute_data_commitment(model.artifacts, rows[i]),
                   outputs=outputs[i], result_id=ObjectId(h(f"result-row{i}")))
        for i in range(real)
    ]


def inference_of(proof: Proof, traces: list[TraceEntry], rows: int) -> ProvenInference:
    named = [(t.tx_hash, t.result_id) for t in traces]
    return proven_inference(MODEL, proof, named + [PADDING] * (rows - len(named)))


def after(bound, **kwargs):
    return make_batch(1, prev_root=bound.root, **kwargs)


def test_each_row_is_bound_by_its_public_values(registered, bound, per_row_public):
    model = per_row_public
    n = model.artifacts.batch_size
    traces = traces_of(model, model.full, model.inputs, n)
    assert len({t.input_commitment for t in traces}) == n
    inference = inference_of(model.full_proof, traces, n)
    # The rows come first among the public values, as the circuit quantized them.
    assert inference.instances[:16] == tuple(
        v for row in model.inputs for v in compute_row_values(model.artifacts, row))
    assert len(inference.instances) == n * 4 + n * 3
    batch = after(bound, traces=traces)
    assert batch.header.trace_root == compute_tree_root([compute_trace_leaf(t) for t in traces])
    registered.post_batch(*batch, [inference])
    assert registered.batch_status(1).accepted
    assert registered.model(MODEL).layout == LAYOUT
    # Read back from the chain as the contract read it: each row's DATA commitment.
    posted = registered.posted_executions(1)
    assert [posted[t.tx_hash].input_commitment for t in traces] == [
        t.input_commitment for t in traces]
    assert dict(proven_executions(inference, LAYOUT)) == posted


def test_padding_rows_give_no_leaf(registered, bound, per_row_public):
    model = per_row_public
    traces = traces_of(model, model.padded, model.inputs, model.real)
    registered.post_batch(*after(bound, traces=traces),
                          [inference_of(model.padded_proof, traces, 4)])
    assert registered.batch_status(1).accepted


def test_a_proof_over_other_rows_is_refused(registered, bound, per_row_public):
    """A lying sequencer: the trace says row 0 ran on DATA object 1 (another row's data), or
    on a data point the proof never saw; or it rewrites the proof's public rows to the ones
    it names. The chain hashes the rows the verifier accepted: refused."""
    model = per_row_public
    traces = traces_of(model, model.full, model.inputs, 4)
    inference = inference_of(model.full_proof, traces, 4)
    unseen_row = model.inputs[0] * 0.5
    other_row = replace(traces[0], input_commitment=traces[1].input_commitment)
    unseen = replace(traces[0], input_commitment=compute_data_commitment(
        model.artifacts, unseen_row))
    for claimed in (other_row, unseen):
        with pytest.raises(LedgerError) as err:
            registered.post_batch(*after(bound, traces=[claimed, *traces[1:]]), [inference])
        assert err.value.reason == "trace root mismatch"
    # The named row's values put in place of the proven ones: the proof no longer verifies.
    values = list(inference.instances)
    values[0:4] = compute_row_values(model.artifacts, unseen_row)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=[unseen, *traces[1:]]),
                              [replace(inference, instances=tuple(values))])
    assert err.value.reason == "proof rejected by the verifier"
    assert registered.next_batch_number() == 1


def test_another_layout_does_not_read_a_public_rows_proof(registered, bound, per_row_public):
    """The same circuit bound with the per-row Poseidon layout (its first 4 public values read
    as commitments) or with a wrong row width: no leaf is the trace's."""
    model = per_row_public
    traces = traces_of(model, model.full, model.inputs, 4)
    for label, layout in (("hashed layout", ModelLayout(4, per_row_inputs=True)),
                          ("width 3", ModelLayout(4, per_row_inputs=True, row_width=3))):
        other = bind_model(model, ObjectId(h(f"public circuit, {label}")), layout)
        inference = replace(inference_of(model.full_proof, traces, 4), model_id=other.model_id)
        with pytest.raises(LedgerError) as err:
            registered.post_batch(*after(bound, traces=traces, state_root=other.root),
                                  [inference], registrations=[other.registration()])
        assert err.value.reason == "trace root mismatch"


def test_the_rollups_leaf_reader_reads_public_rows_and_no_other_word(ledger):
    """FlavumLeaves, the contract the rollup creates to read proofs' leaves, is the built code;
    it rebuilds a public row's leaf from its values, and refuses every word that is no
    inference layout: the training step's (3, chained by the rollup itself) included."""
    artifact = load_artifact("FlavumLeaves")
    address = ledger.rollup.functions.leafReader().call()
    assert keccak256(bytes(ledger.w3.eth.get_code(address))) == bytes.fromhex(
        artifact["codeHash"][2:])
    reader = ledger.w3.eth.contract(address=address, abi=artifact["abi"])
    tx, result, row = h("tx"), h("result"), [3, FIELD_MODULUS - 2]
    entry = TraceEntry(tx, MODEL, ObjectId(h("data")), compute_public_row_commitment(row), (5,),
                       ObjectId(result))
    word = compute_inputs_layout(True, False, row_width=2)
    assert word == INPUTS_PUBLIC_ROWS | 2 << 8
    assert reader.functions.leaves(MODEL, word, [tx], [result], [*row, 5], b"").call() == [
        compute_trace_leaf(entry)]
    for other in (INPUTS_TRAINING_STEP, INPUTS_TRAINING_STEP | 2 << 8, INPUTS_PUBLIC_ROWS,
                  INPUTS_PUBLIC_ROWS + 1 | 2 << 8, 2 << 8):
        with pytest.raises(LedgerError) as err:
            call_mapped("leaves", reader.functions.leaves(MODEL, other, [tx], [result],
                                                          [*row, 5], b"").call)
        assert err.value.reason == "not an inputs layout"
