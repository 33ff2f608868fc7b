"""The demo's training part: a trainable logistic model on breast_cancer, trained by a `Train`
whose step proof the rollup contract verifies, then an ordinary `Infer` on the trained version,
proven by the architecture's inference circuit and verified on chain (docs/training.md)."""

from collections.abc import Callable
from typing import Any

import numpy as np

from flavum.core.batch import TraceEntry
from flavum.core.stf import Execution
from flavum.core.transactions import Body, DeployTrainable, Infer, SubmitData, Train
from flavum.core.types import ZERO_HASH, Access, Amount, AssetId, ObjectId
from flavum.node.node import Node
from flavum.node.sequencer import Receipt

OPTIONS = {"features": 4, "batch": 4, "learning_rate": 0.5}
SCALE = 8  # logrows 13: the step proof takes seconds


def train_and_prove(node: Node, send: Callable[[str, Body], Receipt],
                    seal_and_post: Callable[[], Any], wait: Callable[[Node, Any], Any],
                    eth: AssetId) -> dict[str, Any]:
    """Alice deploys the architecture and a trainable model from zero weights, Bob trains it
    one proven step on four of his rows; the batch goes to L1, which verifies the step proof;
    then Bob runs the new version on an inference row with an Infer, whose proof (bound to the
    version's weight commitment) L1 verifies in the next batch."""
    from flavum.ml.training import load_standardized, make_batches, make_labelled_rows

    training = node.training
    step_record, inference_record = training.build_step("logistic", OPTIONS, SCALE)
    step_model = send("alice", step_record.deploy_body(eth)).outcome.object_id
    inference_model = send("alice", inference_record.deploy_body(eth)).outcome.object_id
    step_vk = _vk(node, step_model)
    zero = training.commit_params(step_vk, np.zeros(OPTIONS["features"] + 1))
    first = send("alice", DeployTrainable(step_model, inference_model, zero, ZERO_HASH,
                                          Access.COMMON, eth, Amount(0))).outcome.object_id
    x_train, y_train, x_test, _ = load_standardized("breast_cancer", OPTIONS["features"])
    (rows,) = make_batches(make_labelled_rows(x_train, y_train), OPTIONS["batch"], steps=1)
    data = tuple(send("bob", SubmitData(training.commit_row(step_vk, row), ZERO_HASH,
                                        Access.OWNED)).outcome.object_id for row in rows)
    receipt = send("bob", Train(first, 1, Amount(0), data))
    record = wait(node, receipt.tx_hash)
    batch = seal_and_post()
    accepted = node.ledgers[0].ledger.batch_status(batch.header.number).accepted
    version = node.sequencer.object(ObjectId(receipt.outcome.object_id or ZERO_HASH))
    if version is None:
        raise RuntimeError("the Train created no version")
    # An Infer on the version: the inference circuit's proof shows the version's weight
    # commitment (the last step proof's output), which the trace leaf binds on L1.
    versions = node.prover.versions
    if versions is None:
        raise RuntimeError("the node runs no trained versions")
    row = versions.commit_row(_vk(node, inference_model), x_test[0])
    row_data = send("bob", SubmitData(row, ZERO_HASH, Access.OWNED)).outcome.object_id
    inferred = send("bob", Infer(version.object_id, ObjectId(row_data or ZERO_HASH), Amount(0)))
    inference = wait(node, inferred.tx_hash)
    infer_batch = seal_and_post()
    trace = inferred.outcome.trace
    if not isinstance(trace, TraceEntry):
        raise RuntimeError("the Infer emitted no inference trace")
    posted = node.ledgers[0].ledger.posted_executions(infer_batch.header.number).get(
        inferred.tx_hash)
    return {
        "version_id": version.object_id,
        "training_step_proven": record.proof_status == "proven" and accepted,
        "trained_version_inference_proven": inference.proof_status == "proven"
        and node.ledgers[0].ledger.batch_status(infer_batch.header.number).accepted
        and trace.weights == version.commitment
        and isinstance(posted, Execution) and posted.outputs == trace.outputs,
        "logit": trace.outputs[0] / 2**SCALE,
    }


def _vk(node: Node, model_id: ObjectId | None) -> Any:
    model = None if model_id is None else node.sequencer.object(model_id)
    if model is None:
        raise RuntimeError("a circuit MODEL was not deployed")
    return model.vk_hash
