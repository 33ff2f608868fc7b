"""Batched proofs whose rows are committed with KZG (ezkl polycommit), on chain.

No public value carries the inputs: row r's commitment is keccak256 of the proof's r-th KZG
point (bytes [64 r, 64 r + 64), the commitment of row r's input column that the verifier
itself reads). A DATA object's commitment is that digest, computed from its values when it
is submitted (flavum.zk.polycommit). Registered with the row-points layout, the rollup
rebuilds row r's trace leaf from keccak256 of point r and the r-th slice of the outputs.
"""

from dataclasses import replace

import pytest

from flavum.core.batch import TraceEntry, compute_trace_leaf
from flavum.core.merkle import compute_tree_root
from flavum.core.types import ZERO_HASH, Hash32, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.interface import ModelLayout, ProvenInference, proven_inference
from flavum.zk.execution import CircuitRun, outputs_per_row
from flavum.zk.polycommit import compute_data_commitment
from flavum.zk.proof import Proof

from .conftest import PerRowModel
from .helpers import bind_model, h, make_batch, register

MODEL = ObjectId(h("row-points model"))
PADDING = (Hash32(ZERO_HASH), ObjectId(ZERO_HASH))
LAYOUT = ModelLayout(4, per_row_inputs=True, row_points=True)


@pytest.fixture
def bound(per_row_points):
    return bind_model(per_row_points, MODEL, LAYOUT)


@pytest.fixture
def registered(ledger, bound):
    register(ledger, bound)
    return ledger


def traces_of(model: PerRowModel, execution: CircuitRun, rows, real: int) -> list[TraceEntry]:
    """Trace entries of the first `real` rows, each bound to its DATA object's commitment as
    the node computes it when the data is submitted (before any proof)."""
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


def test_each_row_is_bound_by_its_point(registered, bound, per_row_points):
    model = per_row_points
    n = model.artifacts.batch_size
    assert model.artifacts.num_input_instances == 0
    traces = traces_of(model, model.full, model.inputs, n)
    assert len({t.input_commitment for t in traces}) == n
    batch = after(bound, traces=traces)
    assert batch.header.trace_root == compute_tree_root([compute_trace_leaf(t) for t in traces])
    inference = inference_of(model.full_proof, traces, n)
    assert len(inference.instances) == n * 3  # outputs only
    registered.post_batch(*batch, [inference])
    assert registered.batch_status(1).accepted
    assert registered.model(MODEL).layout == LAYOUT
    # Read back from the chain the way the contract read it: each row's DATA commitment.
    posted = registered.posted_executions(1)
    assert [posted[t.tx_hash].input_commitment for t in traces] == [
        t.input_commitment for t in traces]


def test_padding_rows_give_no_leaf(registered, bound, per_row_points):
    model = per_row_points
    traces = traces_of(model, model.padded, model.inputs, model.real)
    registered.post_batch(*after(bound, traces=traces),
                          [inference_of(model.padded_proof, traces, 4)])
    assert registered.batch_status(1).accepted


def test_a_proof_of_another_row_is_refused(registered, bound, per_row_points):
    """The attacker's claim: row 0 of this proof ran on DATA object 1 (another row's data), or
    on a data point the proof never saw. The chain hashes the proof's own point: refused."""
    model = per_row_points
    traces = traces_of(model, model.full, model.inputs, 4)
    inference = inference_of(model.full_proof, traces, 4)
    other_row = replace(traces[0], input_commitment=traces[1].input_commitment)
    unseen = replace(traces[0], input_commitment=compute_data_commitment(
        model.artifacts, model.inputs[0] * 0.5))
    for claimed in (other_row, unseen):
        with pytest.raises(LedgerError) as err:
            registered.post_batch(*after(bound, traces=[claimed, *traces[1:]]), [inference])
        assert err.value.reason == "trace root mismatch"
    # Nor can the poster move the points inside the proof: the verifier refuses it.
    b = inference.proof
    moved = replace(inference, proof=b[64:128] + b[0:64] + b[128:])
    swapped = [replace(traces[0], input_commitment=traces[1].input_commitment),
               replace(traces[1], input_commitment=traces[0].input_commitment), *traces[2:]]
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=swapped), [moved])
    assert err.value.reason == "proof rejected by the verifier"
    assert registered.next_batch_number() == 1


def test_a_hashed_layout_does_not_read_a_points_proof(registered, bound, per_row_points):
    """The same circuit bound with the public-commitment layout: its first 4 outputs are read
    as the rows' commitments and the other 8 as 4 rows of 2: no leaf is the trace's."""
    model = per_row_points
    traces = traces_of(model, model.full, model.inputs, 4)
    other = bind_model(model, ObjectId(h("points circuit, hashed layout")),
                       ModelLayout(4, per_row_inputs=True))
    inference = replace(inference_of(model.full_proof, traces, 4), model_id=other.model_id)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=traces, state_root=other.root), [inference],
                              registrations=[other.registration()])
    assert err.value.reason == "trace root mismatch"
