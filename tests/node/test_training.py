"""Proven training on a node, end to end on the embedded EVM: the step circuit and the
architecture's inference circuit deployed as MODELs, a trainable logistic model deployed from
zero params, breast_cancer rows submitted as DATA, a Train of two steps executed by the
sequencer (the step circuit's witness, step after step), its step proofs made by the prover
pool, the chain checked, and the batch accepted by the rollup contract, which verified every
step proof on chain with the step circuit's verifier and rebuilt the training's trace leaf."""

import json
from dataclasses import replace

import numpy as np
import pytest

from flavum.core import errors
from flavum.core.batch import TrainingTrace
from flavum.core.transactions import DeployModel, DeployTrainable, GrantAccess, SubmitData, Train
from flavum.core.types import ZERO_HASH, Access, Amount, ObjectKind
from flavum.da.factory import open_store
from flavum.da.interface import digest_from_cid
from flavum.ml.training import load_standardized, make_batches, make_labelled_rows
from flavum.verifier import load_batch_data, verify_batch

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY
from .test_batched import open_evm_node
from .test_inference import ETH, send, wait_proven

OPTIONS = {"features": 4, "batch": 4, "learning_rate": 0.5}
SCALE = 8  # logrows 13: step proofs in seconds


def deploy_circuit(node, body: DeployModel):
    return send(node, ALICE_KEY, ALICE, body).outcome.object_id


@pytest.fixture
def trained_node(tmp_path, shared_srs, shared_circuits):
    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    yield node
    node.close()


def setup_trainable(node, fee=0):
    """Alice deploys the architecture's circuits and a trainable model from zero params; Bob
    submits eight breast_cancer rows. Returns (version 0, the rows' DATA ids, the rows)."""
    step_record, inference_record = node.training.build_step("logistic", OPTIONS, SCALE)
    step_model = deploy_circuit(node, step_record.deploy_body(ETH))
    inference_model = deploy_circuit(node, inference_record.deploy_body(ETH))
    step_vk = node.sequencer.object(step_model).vk_hash
    zero = node.training.commit_params(step_vk, np.zeros(OPTIONS["features"] + 1))
    version0 = send(node, ALICE_KEY, ALICE, DeployTrainable(
        step_model, inference_model, zero, ZERO_HASH, Access.OWNED, ETH, Amount(fee))
    ).outcome.object_id
    x_train, y_train, _, _ = load_standardized("breast_cancer", OPTIONS["features"])
    rows = np.concatenate(make_batches(make_labelled_rows(x_train, y_train), 4, steps=2))
    data = [send(node, BOB_KEY, BOB, SubmitData(node.training.commit_row(step_vk, row), ZERO_HASH,
                                                Access.OWNED)).outcome.object_id
            for row in rows]
    return version0, tuple(data), rows


def test_train_two_steps_prove_and_post(trained_node):
    node = trained_node
    version0, data, _ = setup_trainable(node, fee=7)
    # Bob trains Alice's owned version only once she grants it.
    with pytest.raises(errors.NoAccess):
        send(node, BOB_KEY, BOB, Train(version0, 2, Amount(7), data))
    send(node, ALICE_KEY, ALICE, GrantAccess(version0, BOB, True))
    before = node.sequencer.account(ALICE)[1][ETH]
    receipt = send(node, BOB_KEY, BOB, Train(version0, 2, Amount(7), data))
    trace = receipt.outcome.trace
    assert isinstance(trace, TrainingTrace) and trace.steps == 2
    version = node.sequencer.object(receipt.outcome.object_id)
    parent = node.sequencer.object(version0)
    assert version.kind == ObjectKind.MODEL and version.owner == BOB
    assert version.data_id == version0 and version.model_id == parent.model_id
    assert version.commitment == trace.params_out != parent.commitment
    assert node.sequencer.account(ALICE)[1][ETH] == before + 7  # the training fee
    record = wait_proven(node, receipt.tx_hash)
    assert record.proof_status == "proven", record.reason
    batch = node.sequencer.seal_batch()
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is None, link.last_error
    ledger = link.ledger
    assert ledger.batch_status(batch.header.number).accepted
    # The contract verified both step proofs and read the version's params from the last.
    assert ledger.posted_executions(batch.header.number)[receipt.tx_hash].params_out == \
        version.commitment
    check_verifier(node, batch.header)
    check_api(node, receipt.tx_hash, version)
    check_cli(node, version, data)


def check_api(node, tx_hash, version):
    """The API serves the training trace, verifies its step proofs, and the version's lineage
    back to the first version; the model list shows versions and circuits without a record."""
    from fastapi.testclient import TestClient

    from flavum.api.app import create_app
    from flavum.core.codec import to_hex

    client = TestClient(create_app(node))
    trace = client.get(f"/v1/traces/{to_hex(tx_hash)}").json()
    assert trace["kind"] == "training" and trace["proof_status"] == "proven"
    assert client.post(f"/v1/traces/{to_hex(tx_hash)}/verify").json()["verified"]
    chain = client.get(f"/v1/models/{to_hex(version.object_id)}/lineage").json()
    assert [c["version"]["object_id"] for c in chain] == [to_hex(version.object_id),
                                                          to_hex(version.data_id)]
    assert chain[0]["training"]["params_out"] == to_hex(version.commitment)
    assert chain[1]["training"] is None  # the first version was deployed, not trained
    models = client.get("/v1/models").json()
    assert len(models) == 4 and all(m["record"] is None for m in models)


def check_verifier(node, header):
    """`flavum verify` re-verifies the step proofs and the chain; with the two step proofs
    swapped (other rows at each step, the chain broken) it refuses the batch."""
    store = open_store(str(node.config.home / "da"))
    report = verify_batch(header, store, node.config.domain,
                          prev_state_root=node.sequencer.genesis_root)
    assert report.ok, report.describe()
    data = load_batch_data(store, header.data_pointer)
    (proof,) = data.proofs
    swapped = replace(proof, proof=json.dumps(json.loads(proof.proof)[::-1]).encode())
    pointer = digest_from_cid(store.put(replace(data, proofs=(swapped,)).to_bytes()))
    report = verify_batch(replace(header, data_pointer=pointer), store, node.config.domain,
                          prev_state_root=node.sequencer.genesis_root)
    assert not report.ok and "other rows than the Train's" in report.describe()


def check_cli(node, version, data):
    """`flavum model train` (Bob trains his version one more step through the API) and
    `flavum model lineage` (three versions back to the first)."""
    import threading
    import time

    import uvicorn
    from typer.testing import CliRunner

    from flavum.api.app import create_app
    from flavum.cli import app
    from flavum.core.codec import to_hex

    from .conftest import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    home = node.config.home
    (home / "keys" / "bob.key").write_text(to_hex(BOB_KEY))
    where = ["--home", str(home), "--node", f"http://127.0.0.1:{port}", "--json"]
    try:
        rows = [arg for d in data[:4] for arg in ("--data", to_hex(d))]
        out = CliRunner().invoke(app, ["model", "train", to_hex(version.object_id), *rows,
                                       "--steps", "1", "--max-fee", "7", "--from", "bob",
                                       *where])
        assert out.exit_code == 0, out.output
        trained = json.loads(out.output)
        assert trained["steps"] == 1
        out = CliRunner().invoke(app, ["model", "lineage", trained["version_id"], *where])
        assert out.exit_code == 0, out.output
        chain = json.loads(out.output)
        assert [c["version"]["object_id"] for c in chain] == [
            trained["version_id"], to_hex(version.object_id), to_hex(version.data_id)]
    finally:
        server.should_exit = True
