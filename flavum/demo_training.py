"""The demo's training part: a trainable logistic model on breast_cancer, trained by a `Train`
whose step proof the rollup contract verifies, and an inference on the trained version proven
with the architecture's inference key (docs/training.md)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from flavum.core.transactions import Body, DeployTrainable, SubmitData, Train
from flavum.core.types import ZERO_HASH, Access, Amount, AssetId, ObjectId
from flavum.node.node import Node
from flavum.node.sequencer import Receipt

OPTIONS = {"features": 4, "batch": 4, "learning_rate": 0.5}
SCALE = 8  # logrows 13: the step proof takes seconds


def train_and_prove(node: Node, send: Callable[[str, Body], Receipt],
                    seal_and_post: Callable[[], Any], wait: Callable[[Node, Any], Any],
                    eth: AssetId, workdir: Path) -> dict[str, Any]:
    """Alice deploys the architecture and a trainable model from zero weights, Bob trains it
    one proven step on four of his rows; the batch goes to L1, which verifies the step proof;
    then an inference on the new version is proven and bound to its weight commitment."""
    from flavum.ml.training import load_standardized, make_batches, make_labelled_rows
    from flavum.zk.versions import build_version_key, prove_version, run_version, verify_version

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
    # Inference on the version, with the architecture's key: its proof shows the version's
    # weight commitment (the last step proof's output).
    key = build_version_key(training.circuit(step_vk).step,  # type: ignore[arg-type]
                            training.srs, scale=SCALE,
                            cache_dir=training.directory / "versions")
    run = run_version(key, training.values(version.commitment), x_test[0], workdir / "infer")
    values = verify_version(key, prove_version(key, run))
    return {
        "version_id": version.object_id,
        "training_step_proven": record.proof_status == "proven" and accepted,
        "trained_version_inference_proven": values.params_commitment.be_bytes ==
        version.commitment,
        "logit": values.logit / 2**SCALE,
    }


def _vk(node: Node, model_id: ObjectId | None) -> Any:
    model = None if model_id is None else node.sequencer.object(model_id)
    if model is None:
        raise RuntimeError("a circuit MODEL was not deployed")
    return model.vk_hash
