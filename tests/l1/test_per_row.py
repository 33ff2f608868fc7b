"""Batched proofs with one input commitment per row, on chain.

A model batched with make_batched proves N requests at once; its public values are
[c_0, ..., c_{N-1}, outputs of row 0, ..., outputs of row N-1]. Registered with that layout
(N rows, one commitment per row: the model's binding names it, the registry pins it, the
poster cannot choose), the rollup
rebuilds row i's trace leaf from c_i and the i-th slice of the outputs, and skips
padding rows (the copies of the last real row that fill a batch that is not full).
"""

from dataclasses import replace

import pytest

from flavum.core.batch import TraceEntry, compute_trace_leaf
from flavum.core.merkle import compute_tree_root
from flavum.core.types import ZERO_HASH, Hash32, ObjectId
from flavum.l1.errors import LedgerError
from flavum.l1.interface import ModelLayout, ProvenInference, proven_inference
from flavum.zk.execution import CircuitRun, compute_input_commitment, outputs_per_row
from flavum.zk.proof import Proof, check_public_row

from .conftest import PerRowModel
from .helpers import bind_model, h, make_batch, register

MODEL = ObjectId(h("per-row model"))
PADDING = (Hash32(ZERO_HASH), ObjectId(ZERO_HASH))


@pytest.fixture
def bound(per_row):
    """The batched model deployed as MODEL, its binding naming its layout: N rows, one input
    commitment per row."""
    return bind_model(per_row, MODEL, ModelLayout(per_row.artifacts.batch_size,
                                                  per_row_inputs=True))


@pytest.fixture
def registered(ledger, bound):
    """Batch 0 shows MODEL in its state root and Bob binds it; the tests' batches follow."""
    register(ledger, bound)
    return ledger


def after(bound, **kwargs):
    """Batch 1, the first after the registration batch."""
    return make_batch(1, prev_root=bound.root, **kwargs)


def reason(exc_info) -> str:
    return exc_info.value.reason


def row_traces(model: PerRowModel, execution: CircuitRun, real: int) -> list[TraceEntry]:
    """The core's trace entries of the first `real` rows of a proven execution."""
    outputs = outputs_per_row(model.artifacts, execution.outputs)
    return [
        TraceEntry(tx_hash=h(f"infer-row{i}"), model_id=MODEL, data_id=ObjectId(h(f"data{i}")),
                   input_commitment=execution.input_commitments[i].be_bytes,
                   outputs=outputs[i], result_id=ObjectId(h(f"result-row{i}")))
        for i in range(real)
    ]


def per_row_inference(proof: Proof, traces: list[TraceEntry], rows: int) -> ProvenInference:
    named = [(t.tx_hash, t.result_id) for t in traces]
    return proven_inference(MODEL, proof, named + [PADDING] * (rows - len(named)))


def test_full_batch_gives_one_leaf_per_row(registered, bound, per_row):
    n = per_row.artifacts.batch_size
    assert n == 4 and per_row.artifacts.commits_rows
    traces = row_traces(per_row, per_row.full, n)
    # Every row commits to its own input: four distinct commitments, each row's own.
    assert len({t.input_commitment for t in traces}) == n
    for i, trace in enumerate(traces):
        check_public_row(per_row.artifacts, per_row.full_proof, i,
                         input_commitment=per_row.full.input_commitments[i],
                         outputs=trace.outputs)
        assert per_row.full.input_commitments[i] == compute_input_commitment(
            per_row.artifacts, per_row.inputs[i])
    batch = after(bound, traces=traces)
    # The header's trace root is the core's: the contract rebuilt exactly these leaves.
    assert batch.header.trace_root == compute_tree_root([compute_trace_leaf(t) for t in traces])
    inference = per_row_inference(per_row.full_proof, traces, n)
    assert len(inference.instances) == n + n * 3
    registered.post_batch(*batch, [inference])
    assert registered.batch_status(1).accepted


def test_the_registration_pins_the_layout(registered, bound, per_row):
    n = per_row.artifacts.batch_size
    assert registered.model(MODEL).layout == ModelLayout(n, per_row_inputs=True)
    traces = row_traces(per_row, per_row.full, n)
    inference = per_row_inference(per_row.full_proof, traces, n)
    # The poster cannot name fewer rows than the model's proofs have (nor more)...
    for rows in (inference.rows[:3], inference.rows + (PADDING,)):
        with pytest.raises(LedgerError) as err:
            registered.post_batch(*after(bound, traces=traces[:3]),
                                  [replace(inference, rows=rows)])
        assert reason(err) == "rows differ from the model's registration"
    # ...and a model bound with the one-commitment layout does not read a per-row proof:
    # [c_0..c_3, 12 outputs] read as [c, 15 outputs] does not split into 4 rows.
    other = bind_model(per_row, ObjectId(h("same circuit, one-commitment layout")),
                       ModelLayout(n, per_row_inputs=False))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=traces, state_root=other.root),
                              [replace(inference, model_id=other.model_id)],
                              registrations=[other.registration()])
    assert reason(err) == "outputs do not split into the rows"
    assert registered.next_batch_number() == 1


def test_padding_rows_give_no_leaf(registered, bound, per_row):
    n, real = per_row.artifacts.batch_size, per_row.real
    assert real == 3
    # The padding row repeats the last real row: its commitment too.
    assert per_row.padded.input_commitments[real] == per_row.padded.input_commitments[real - 1]
    traces = row_traces(per_row, per_row.padded, real)
    batch = after(bound, traces=traces)
    registered.post_batch(*batch, [per_row_inference(per_row.padded_proof, traces, n)])
    assert registered.batch_status(1).accepted
    # The next batch chains on: the padded proof counted 3 leaves, not 4.
    registered.post_batch(*make_batch(2, prev_root=batch.header.state_root))
    assert registered.next_batch_number() == 3


def test_swapped_row_commitments(registered, bound, per_row):
    n = per_row.artifacts.batch_size
    traces = row_traces(per_row, per_row.full, n)
    swapped = list(traces)
    swapped[0] = replace(traces[0], input_commitment=traces[1].input_commitment)
    swapped[1] = replace(traces[1], input_commitment=traces[0].input_commitment)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=swapped),
                              [per_row_inference(per_row.full_proof, traces, n)])
    assert reason(err) == "trace root mismatch"
    # Nor can the poster swap them in the public values: the verifier refuses.
    inference = per_row_inference(per_row.full_proof, traces, n)
    felts = list(inference.instances)
    felts[0], felts[1] = felts[1], felts[0]
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=swapped),
                              [replace(inference, instances=tuple(felts))])
    assert reason(err) == "proof rejected by the verifier"
    assert registered.next_batch_number() == 1


def test_padding_row_claimed_as_real(registered, bound, per_row):
    n, real = per_row.artifacts.batch_size, per_row.real
    traces = row_traces(per_row, per_row.padded, real)
    inference = per_row_inference(per_row.padded_proof, traces, n)
    claimed = inference.rows[:real] + ((h("made-up tx"), ObjectId(h("made-up result"))),)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=traces), [replace(inference, rows=claimed)])
    assert reason(err) == "trace root mismatch"


def test_padding_row_must_be_all_zero(registered, bound, per_row):
    n, real = per_row.artifacts.batch_size, per_row.real
    traces = row_traces(per_row, per_row.padded, real)
    inference = per_row_inference(per_row.padded_proof, traces, n)
    half = inference.rows[:real] + ((Hash32(ZERO_HASH), ObjectId(h("a result"))),)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=traces), [replace(inference, rows=half)])
    assert reason(err) == "a padding row names a result"
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound), [replace(inference, rows=(PADDING,) * n)])
    assert reason(err) == "an inference has no real row"


def test_instances_must_split_into_the_rows(registered, bound, per_row):
    n = per_row.artifacts.batch_size
    traces = row_traces(per_row, per_row.full, n)
    inference = per_row_inference(per_row.full_proof, traces, n)
    # A model bound with 3 rows over this circuit: 13 outputs do not split into 3.
    three_rows = bind_model(per_row, ObjectId(h("three rows")),
                            ModelLayout(3, per_row_inputs=True))
    three = replace(inference, model_id=three_rows.model_id, rows=inference.rows[:3])
    with pytest.raises(LedgerError) as err:
        registered.post_batch(*after(bound, traces=traces[:3], state_root=three_rows.root),
                              [three], registrations=[three_rows.registration()])
    assert reason(err) == "outputs do not split into the rows"
