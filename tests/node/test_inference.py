"""ZK-proven inference on a node, end to end: deploy, submit data, infer, prove, verify.

One test per model family users hand in (scikit-learn LogisticRegression and MLPClassifier via
skl2onnx defaults, PyTorch MLP and CNN via torch.onnx.export), plus every refusal.
"""

import json
import time
from dataclasses import replace

import numpy as np
import pytest

from flavum.core import errors
from flavum.core.batch import compute_outputs_hash
from flavum.core.genesis import DEV_ASSET
from flavum.core.transactions import (
    DeployModel,
    GrantAccess,
    Infer,
    SubmitData,
    Transaction,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_HASH, Access, Amount, Hash32, Nonce
from flavum.ml import examples
from flavum.ml.errors import AccuracyTooLow, InvalidInput, ModelRejected, UnsupportedOperator
from flavum.ml.normalize import normalize
from flavum.ml.reference import run_float
from flavum.node.models import interpret_outputs
from flavum.node.node import Node
from flavum.zk.errors import ProvingFailed
from flavum.zk.pool_inline import InlineProverPool

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config, share_artifacts

ETH = DEV_ASSET  # genesis funds pay the fees


@pytest.fixture
def node(tmp_path, shared_srs, shared_circuits):
    config = make_config(tmp_path / "home", prover="inline")
    share_artifacts(config.home, shared_srs, shared_circuits)
    node = Node.open(config, pool=InlineProverPool())
    yield node
    node.close()


def send(node: Node, key: bytes, sender, body, nonce=None):
    if nonce is None:
        nonce = node.sequencer.account(sender)[0]
    domain = node.config.domain
    tx = Transaction(domain.chain_id, domain.rollup_id, sender, Nonce(nonce), body)
    return node.sequencer.submit(encode_transaction(sign_transaction(tx, key)))


def deploy(node: Node, example, fee=0, access=Access.COMMON, **options):
    record = node.models.compile(example.onnx_bytes, example.samples)
    body = DeployModel(Hash32(bytes.fromhex(record.model_hash[2:])),
                       Hash32(bytes.fromhex(record.vk_hash[2:])), record.metadata_hash, access,
                       ETH, Amount(fee))
    return record, send(node, ALICE_KEY, ALICE, body).outcome.object_id


def submit_data(node: Node, model_id, values, key=BOB_KEY, sender=BOB, access=Access.OWNED):
    model = node.sequencer.object(model_id)
    commitment = node.models.commit_data(model.vk_hash, values)
    return send(node, key, sender, SubmitData(commitment, ZERO_HASH, access)).outcome.object_id


def wait_proven(node: Node, tx_hash, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node.tick()
        record = node.store.get_trace(tx_hash)
        if record.proof_status in ("proven", "failed"):
            return record
        time.sleep(0.05)
    raise AssertionError("proof did not finish")


FAMILIES = {
    "sklearn-logreg-iris": lambda: examples.train_sklearn_logreg("iris"),
    "sklearn-mlp-breast_cancer": lambda: examples.train_sklearn_mlp("breast_cancer"),
    "torch-mlp-wine": lambda: examples.train_torch_mlp("wine"),
    "torch-cnn-digits": examples.train_torch_cnn,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_model_family_end_to_end(node, family):
    example = FAMILIES[family]()
    record, model_id = deploy(node, example, fee=3)
    assert record.proven_output == "logits" and record.accuracy["top1_agreement"] >= 0.9
    data_id = submit_data(node, model_id, example.test_inputs[0])
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(3)))
    trace = receipt.outcome.trace
    result = node.sequencer.object(receipt.outcome.object_id)
    assert result.owner == BOB and result.commitment == compute_outputs_hash(trace.outputs)
    # The circuit's prediction is the float model's.
    normalized = normalize(example.onnx_bytes, example.samples)
    float_scores = run_float(normalized.model_bytes, example.test_inputs[:1])
    assert interpret_outputs(record, trace.outputs)["prediction"] == [int(float_scores.argmax())]
    proven = wait_proven(node, receipt.tx_hash)
    assert proven.proof_status == "proven", proven.reason
    node.models.verify_trace(trace, node.sequencer.object(model_id).vk_hash, proven.proof)
    assert node.sequencer.account(ALICE)[1][ETH] == 10**21 + 3  # the fee reached the owner


@pytest.fixture
def iris(node):
    example = examples.train_sklearn_logreg("iris")
    record, model_id = deploy(node, example, fee=0)
    return example, record, model_id


def test_tampered_proof_output_and_commitment_are_rejected(node, iris):
    example, record, model_id = iris
    data_id = submit_data(node, model_id, example.test_inputs[1])
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    proven = wait_proven(node, receipt.tx_hash)
    vk_hash = node.sequencer.object(model_id).vk_hash
    trace = receipt.outcome.trace
    proof = json.loads(proven.proof)
    proof["proof"][40] ^= 1
    with pytest.raises(errors.InvalidProof):
        node.models.verify_trace(trace, vk_hash, json.dumps(proof).encode())
    wrong_output = replace(trace, outputs=(trace.outputs[0] + 1, *trace.outputs[1:]))
    with pytest.raises(errors.InvalidProof, match="outputs"):
        node.models.verify_trace(wrong_output, vk_hash, proven.proof)
    wrong_input = replace(trace, input_commitment=Hash32(b"\x01" * 32))
    with pytest.raises(errors.InvalidProof, match="input commitment"):
        node.models.verify_trace(wrong_input, vk_hash, proven.proof)


def test_access_and_fees(node):
    example = examples.train_sklearn_logreg("iris")
    record, model_id = deploy(node, example, fee=10**22, access=Access.OWNED)
    data_id = submit_data(node, model_id, example.test_inputs[0])
    root = node.sequencer.state_root()
    with pytest.raises(errors.NoAccess):
        send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(10**22)))
    send(node, ALICE_KEY, ALICE, GrantAccess(model_id, BOB, True))
    with pytest.raises(errors.FeeTooLow):
        send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(1)))
    with pytest.raises(errors.InsufficientBalance):  # the fee is more than Bob holds
        send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(10**22)))
    # Bob's data is owned: Alice may not use it, even with her own model.
    with pytest.raises(errors.NoAccess):
        send(node, ALICE_KEY, ALICE, Infer(model_id, data_id, Amount(10**22)))
    assert node.store.count_txs() == 3 and node.sequencer.state_root() != root


def test_bad_models_are_refused_before_anything_is_created(node):
    example = examples.train_sklearn_logreg("iris")
    for bad in (b"", b"not an onnx file", example.onnx_bytes[:100]):
        with pytest.raises(ModelRejected):
            node.models.compile(bad, example.samples)
    from skl2onnx import to_onnx
    from sklearn.svm import SVC

    svm = SVC().fit(example.samples, [0, 1] * 4)  # trees are rewritten; kernels are not
    with pytest.raises(UnsupportedOperator, match="SVMClassifier"):
        node.models.compile(to_onnx(svm, example.samples[:1]).SerializeToString(),
                            example.samples)
    with pytest.raises(InvalidInput):
        node.models.compile(example.onnx_bytes, np.full_like(example.samples, np.nan))
    unknown = DeployModel(Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), ZERO_HASH, Access.COMMON,
                          ETH, Amount(0))
    with pytest.raises(ModelRejected, match="no compiled circuit"):
        send(node, ALICE_KEY, ALICE, unknown)
    assert node.store.count_txs() == 0


def test_bad_data_is_refused(node, iris):
    example, record, model_id = iris
    vk_hash = node.sequencer.object(model_id).vk_hash
    for values, match in (([1.0, 2.0], "values"), ([np.nan] * 4, "NaN"),
                          ([np.inf] * 4, "infinite")):
        with pytest.raises(InvalidInput, match=match):
            node.models.commit_data(vk_hash, values)
    # A commitment the node holds no values for cannot become a DATA object.
    with pytest.raises(InvalidInput, match="no values"):
        send(node, BOB_KEY, BOB, SubmitData(Hash32(b"\x05" * 32), ZERO_HASH, Access.OWNED))
    with pytest.raises(errors.UnknownObject):
        send(node, BOB_KEY, BOB, Infer(Hash32(b"\x07" * 32), model_id, Amount(0)))
    with pytest.raises(errors.WrongObjectKind):
        send(node, BOB_KEY, BOB, Infer(model_id, model_id, Amount(0)))
    assert node.store.count_txs() == 1  # the deployment only


def test_data_of_another_models_shape_is_refused(node, iris):
    example, record, iris_model = iris
    wine = examples.train_sklearn_logreg("wine")
    _, wine_model = deploy(node, wine)
    wine_data = submit_data(node, wine_model, wine.test_inputs[0])
    with pytest.raises(InvalidInput, match="another model"):
        send(node, BOB_KEY, BOB, Infer(iris_model, wine_data, Amount(0)))


def test_redeploy_reuses_artifacts(node, iris):
    example, record, _ = iris
    pk = node.models.artifacts(Hash32(bytes.fromhex(record.vk_hash[2:]))).pk_path
    made = pk.stat().st_mtime_ns
    again = node.models.compile(example.onnx_bytes, example.samples)
    assert again.vk_hash == record.vk_hash and again.metadata_hash == record.metadata_hash
    assert pk.stat().st_mtime_ns == made  # keys reused, not set up again


def test_proving_resumes_after_restart(node, iris, tmp_path):
    example, record, model_id = iris
    data_id = submit_data(node, model_id, example.test_inputs[2])
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    assert node.store.get_trace(receipt.tx_hash).proof_status == "queued"
    node.close()  # stopped before any proof was made
    again = Node.open(node.config, pool=InlineProverPool())
    try:
        assert wait_proven(again, receipt.tx_hash).proof_status == "proven"
    finally:
        again.close()


def test_accuracy_below_the_threshold_is_refused(node):
    from flavum.node.models import DeployOptions

    example = examples.train_sklearn_logreg("iris")
    strict = DeployOptions(min_agreement=1.01)
    with pytest.raises(AccuracyTooLow, match="agrees"):
        node.models.compile(example.onnx_bytes, example.samples, strict)


def test_a_failing_prover_marks_the_trace_failed_and_never_wedges_the_node(
        tmp_path, shared_srs, shared_circuits):
    attempts = []

    def flaky(job):
        attempts.append(job)
        raise ProvingFailed("prover crashed")

    config = make_config(tmp_path / "home", prover="inline")
    share_artifacts(config.home, shared_srs, shared_circuits)
    node = Node.open(config, pool=InlineProverPool(max_retries=2, runner=flaky))
    try:
        example = examples.train_sklearn_logreg("iris")
        _, model_id = deploy(node, example)
        data_id = submit_data(node, model_id, example.test_inputs[0])
        receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
        record = wait_proven(node, receipt.tx_hash)
        assert record.proof_status == "failed" and "prover crashed" in record.reason
        assert len(attempts) == 3  # one try and two retries, then it gives up
        # The node goes on: more transactions, and a batch seals (with the failures recorded).
        again = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
        assert node.sequencer.seal_batch() is None  # its proof is still being attempted
        assert wait_proven(node, again.tx_hash).proof_status == "failed"
        assert node.sequencer.seal_batch() is not None
    finally:
        node.close()


def test_calibration_in_ezkls_layout_deploys_the_same_model(node):
    """ezkl's notebooks write a batch as one flat list (`{"input_data": [x.reshape([-1])]}`):
    the node chunks it by the input size and compiles the same circuit from it."""
    example = examples.train_sklearn_logreg("iris")
    rows = node.models.compile(example.onnx_bytes, example.samples)
    flat = node.models.compile(example.onnx_bytes, [example.samples.reshape(-1).tolist()])
    assert flat.vk_hash == rows.vk_hash and flat.accuracy == rows.accuracy
    assert flat.accuracy["samples"] == min(len(example.samples), 32)


def test_pytorch_default_exporter_deploys(node):
    """torch.onnx.export with its defaults (the dynamo exporter, onnxscript installed)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3)).eval()
    onnx_bytes = torch.onnx.export(model, (torch.randn(1, 4),)).model_proto.SerializeToString()
    samples = np.random.default_rng(0).uniform(-1, 1, (16, 4)).astype(np.float32)
    record = node.models.compile(onnx_bytes, samples)
    assert record.accuracy["top1_agreement"] >= 0.9
