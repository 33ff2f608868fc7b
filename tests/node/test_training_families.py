"""Every training family in the rollup, end to end on the embedded EVM: softmax regression on
iris (one-hot rows), the one-hidden-layer network on breast_cancer and its multi-class form on
pooled digits (both from their fixed-seed start) deploy as trainable models, train two proven
steps, their step proofs are verified on chain, an Infer on the trained version is proven with
the architecture's inference circuit and checked on chain, and `flavum verify` accepts the
batch (logistic regression: test_training.py, test_version_inference.py)."""

import numpy as np
import pytest

from flavum.core.batch import TrainingTrace
from flavum.core.transactions import DeployTrainable, Infer, SubmitData, Train
from flavum.core.types import ZERO_HASH, Access, Amount, ObjectId
from flavum.da.factory import open_store
from flavum.ml.errors import InvalidInput
from flavum.ml.softmax_step import make_one_hot_rows
from flavum.ml.training import (
    load_pooled_digits,
    load_standardized,
    make_batches,
    make_labelled_rows,
)
from flavum.node.training import initial_params, make_training_row
from flavum.verifier import verify_batch
from flavum.zk.training import make_step

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY
from .test_batched import open_evm_node
from .test_inference import ETH, send, wait_proven
from .test_training import deploy_circuit

SCALE = 8  # small lookup tables: step proofs in seconds

FAMILIES = {
    "softmax": ({"features": 4, "classes": 3, "batch": 4, "learning_rate": 0.5}, "iris"),
    "mlp": ({"features": 4, "hidden": 3, "batch": 4, "learning_rate": 0.5}, "breast_cancer"),
    "softmax-mlp": ({"features": 16, "hidden": 4, "classes": 10, "batch": 2,
                     "learning_rate": 0.5}, "digits"),  # pooled to 4x4
}


def training_rows(family: str, options: dict, dataset: str) -> np.ndarray:
    """Two batches of the family's rows: [x, e_y] one-hot for softmax, [x, y] otherwise."""
    x_train, y_train, _, _ = (load_pooled_digits() if dataset == "digits"
                              else load_standardized(dataset, options["features"]))
    if "classes" in options:
        rows = make_one_hot_rows(x_train, y_train, options["classes"])
    else:
        rows = make_labelled_rows(x_train, y_train)
    return np.concatenate(make_batches(rows, options["batch"], steps=2))


@pytest.fixture
def trained_node(tmp_path, shared_srs, shared_circuits):
    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    yield node
    node.close()


@pytest.mark.parametrize("family", [  # the MLPs' circuits take longer: slow
    "softmax", pytest.param("mlp", marks=pytest.mark.slow),
    pytest.param("softmax-mlp", marks=pytest.mark.slow)])
def test_family_trains_in_the_rollup(family, trained_node):
    node = trained_node
    options, dataset = FAMILIES[family]
    step = make_step(family, options)
    step_record, inference_record = node.training.build_step(family, options, SCALE)
    step_model = deploy_circuit(node, step_record.deploy_body(ETH))
    inference_model = deploy_circuit(node, inference_record.deploy_body(ETH))
    step_vk = node.sequencer.object(step_model).vk_hash
    start = initial_params(step, None)
    version0 = send(node, ALICE_KEY, ALICE, DeployTrainable(
        step_model, inference_model, node.training.commit_params(step_vk, start), ZERO_HASH,
        Access.COMMON, ETH, Amount(0))).outcome.object_id
    rows = training_rows(family, options, dataset)
    data = tuple(send(node, BOB_KEY, BOB, SubmitData(node.training.commit_row(step_vk, row),
                                                     ZERO_HASH, Access.OWNED)).outcome.object_id
                 for row in rows)

    receipt = send(node, BOB_KEY, BOB, Train(version0, 2, Amount(0), data))
    trace = receipt.outcome.trace
    assert isinstance(trace, TrainingTrace) and trace.steps == 2
    version = node.sequencer.object(receipt.outcome.object_id)
    # The version holds the canonical fixed-point steps' params, close to float SGD's.
    expected = start
    for batch in (rows[:options["batch"]], rows[options["batch"]:]):
        expected = step.step(expected, batch)  # type: ignore[attr-defined]
    np.testing.assert_allclose(node.training.values(version.commitment), expected, atol=0.05)

    # An Infer on the trained version: the architecture's inference circuit on its weights.
    circuit = node.sequencer.object(ObjectId(version.vk_hash))
    x = rows[0][:options["features"]]
    row = node.prover.versions.commit_row(circuit.vk_hash, x)
    data_id = send(node, BOB_KEY, BOB, SubmitData(row, ZERO_HASH, Access.OWNED)
                   ).outcome.object_id
    inferred = send(node, BOB_KEY, BOB, Infer(version.object_id, data_id, Amount(0)))
    logits = inferred.outcome.trace.outputs
    assert len(logits) == options.get("classes", 1)

    for tx_hash in (receipt.tx_hash, inferred.tx_hash):
        record = wait_proven(node, tx_hash)
        assert record.proof_status == "proven", record.reason
    batch = node.sequencer.seal_batch()
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is None, link.last_error
    assert link.ledger.batch_status(batch.header.number).accepted
    # The contract verified both step proofs and read the version's params from the last.
    posted = link.ledger.posted_executions(batch.header.number)
    assert posted[receipt.tx_hash].params_out == version.commitment
    # ... and the inference proof's logits, bound to the version's weights.
    assert posted[inferred.tx_hash].outputs == logits
    report = verify_batch(batch.header, open_store(str(node.config.home / "da")),
                          node.config.domain, prev_state_root=node.sequencer.genesis_root)
    assert report.ok, report.describe()


def test_examples_become_the_rows_of_their_family():
    """The node turns (features, label) into the row a family's step takes; the first
    version's weights are zero for linear families and the fixed-seed start for hidden
    layers (a seed for a linear family is refused)."""
    softmax = make_step("softmax", FAMILIES["softmax"][0])
    mlp = make_step("mlp", FAMILIES["mlp"][0])
    np.testing.assert_array_equal(make_training_row(softmax, [1, 2, 3, 4], 2),
                                  [1, 2, 3, 4, 0, 0, 1])
    np.testing.assert_array_equal(make_training_row(mlp, [1, 2, 3, 4], 1), [1, 2, 3, 4, 1])
    for step, features, label, message in [
            (softmax, [1, 2, 3, 4], 3, "class indices in 0..2"),
            (softmax, [1, 2, 3, 4], 0.5, "class indices"),
            (mlp, [1, 2, 3, 4], 2, "a label is 0 or 1"),
            (mlp, [1, 2, 3], 1, "4 finite features"),
            (mlp, [1, 2, 3, float("nan")], 1, "4 finite features")]:
        with pytest.raises(InvalidInput, match=message):
            make_training_row(step, features, label)
    np.testing.assert_array_equal(initial_params(softmax, None), np.zeros(15))
    np.testing.assert_array_equal(initial_params(mlp, None), mlp.initial_params(0))
    assert not np.array_equal(initial_params(mlp, 1), initial_params(mlp, 0))
    with pytest.raises(InvalidInput, match="give no seed"):
        initial_params(softmax, 1)
