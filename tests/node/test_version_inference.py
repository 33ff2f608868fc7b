"""An Infer on a trained version, end to end on the embedded EVM: a logistic model trained one
proven step on breast_cancer rows, then an ordinary Infer on the new version, executed by the
sequencer with the architecture's inference circuit on the version's weights, proven by the
prover pool, and the batch accepted by the rollup contract, which verified the proof with the
inference circuit's bound verifier and rebuilt the leaf from its public values [H(θ), H(row),
logits]; `flavum verify` checks it too. The attack: the same batch posted with a real proof made
with another version's weights (the parent's), which the contract refuses."""

import numpy as np
import pytest

from flavum.core.batch import TraceEntry
from flavum.core.errors import InvalidProof
from flavum.core.transactions import GrantAccess, Infer, SubmitData, Train
from flavum.core.types import ZERO_HASH, Access, Amount, ObjectId
from flavum.da.factory import open_store
from flavum.ml.training import load_standardized
from flavum.verifier import verify_batch
from flavum.zk.versions import prove_version, run_version

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY
from .test_batched import open_evm_node
from .test_inference import send, wait_proven
from .test_training import OPTIONS, setup_trainable


@pytest.fixture
def node(tmp_path, shared_srs, shared_circuits):
    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    yield node
    node.close()


def train_and_infer(node):
    """Bob, granted, trains Alice's version one step on his rows, submits an inference row
    [x, 1] and runs his trained version on it. Returns (parent, version, inference circuit,
    the Infer's receipt, the features)."""
    version0, data, _ = setup_trainable(node)
    send(node, ALICE_KEY, ALICE, GrantAccess(version0, BOB, True))
    trained = send(node, BOB_KEY, BOB, Train(version0, 1, Amount(0), data[:4]))
    assert wait_proven(node, trained.tx_hash).proof_status == "proven"
    version = node.sequencer.object(trained.outcome.object_id)
    circuit = node.sequencer.object(ObjectId(version.vk_hash))
    _, _, x_test, _ = load_standardized("breast_cancer", OPTIONS["features"])
    row = node.prover.versions.commit_row(circuit.vk_hash, x_test[0])
    data_id = send(node, BOB_KEY, BOB, SubmitData(row, ZERO_HASH, Access.OWNED)
                   ).outcome.object_id
    receipt = send(node, BOB_KEY, BOB, Infer(version.object_id, data_id, Amount(0)))
    return node.sequencer.object(version0), version, circuit, receipt, x_test[0]


def test_infer_on_a_trained_version_is_proven_on_chain(node):
    parent, version, circuit, receipt, x = train_and_infer(node)
    trace = receipt.outcome.trace
    assert isinstance(trace, TraceEntry) and trace.model_id == version.object_id
    assert (trace.circuit_id, trace.weights) == (circuit.object_id, version.commitment)
    assert len(trace.outputs) == 1  # the logistic model's logit
    record = wait_proven(node, receipt.tx_hash)
    assert record.proof_status == "proven", record.reason
    batch = node.sequencer.seal_batch()
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is None, link.last_error
    ledger = link.ledger
    assert ledger.batch_status(batch.header.number).accepted
    # The contract read the row's commitment and the logit from the proof.
    posted = ledger.posted_executions(batch.header.number)[receipt.tx_hash]
    assert posted.input_commitment == trace.input_commitment
    assert posted.outputs == trace.outputs
    result = node.sequencer.object(receipt.outcome.object_id)
    assert result.model_id == version.object_id
    check_api(node, receipt.tx_hash)
    store = open_store(str(node.config.home / "da"))
    report = verify_batch(batch.header, store, node.config.domain,
                          prev_state_root=node.sequencer.genesis_root)
    assert report.ok, report.describe()


def check_api(node, tx_hash):
    """The API serves the trace entry (the version, its circuit and weights) and verifies
    its proof with the inference circuit's key."""
    from fastapi.testclient import TestClient

    from flavum.api.app import create_app
    from flavum.core.codec import to_hex

    client = TestClient(create_app(node))
    trace = client.get(f"/v1/traces/{to_hex(tx_hash)}").json()
    assert trace["proof_status"] == "proven"
    assert client.post(f"/v1/traces/{to_hex(tx_hash)}/verify").json()["verified"]


def test_a_proof_with_another_versions_weights_is_refused_on_chain(node):
    """The attacker proves the Infer's row with the parent's weights (a real proof under the
    same inference circuit's key) and posts it in place of the trained version's: the
    contract rebuilds a leaf whose model word binds the parent's H(θ), not in the trace."""
    parent, version, circuit, receipt, x = train_and_infer(node)
    assert wait_proven(node, receipt.tx_hash).proof_status == "proven"
    key = node.prover.versions.key(circuit.vk_hash)
    run = run_version(key, node.training.values(parent.commitment), np.asarray(x),
                      node.config.home / "attack")
    assert run.params_commitment.be_bytes == parent.commitment != version.commitment
    forged = prove_version(key, run).to_json()
    # The node's own check refuses it (the trace binds the trained version's weights) ...
    with pytest.raises(InvalidProof, match="other weights"):
        node.prover.versions.verify_trace(circuit, receipt.outcome.trace, forged)
    # ... so the attacker slips it into the store, and the batch data, in its place.
    node.store.set_proof(receipt.tx_hash, forged, 0)
    batch = node.sequencer.seal_batch()
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is not None and "trace root mismatch" in link.last_error
    assert link.ledger.next_batch_number() == batch.header.number  # nothing was accepted
    store = open_store(str(node.config.home / "da"))
    report = verify_batch(batch.header, store, node.config.domain,
                          prev_state_root=node.sequencer.genesis_root)
    assert not report.ok and "other weights" in report.describe()
