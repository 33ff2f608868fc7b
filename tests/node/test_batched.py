"""Batched models: one proof covers N inferences, each bound to its own DATA commitment.

Requests for the same model are queued and packed: a full pack of N is proven at once, a
partial one after the packing wait (the other rows are padding)."""

import pytest

from flavum.core import errors
from flavum.core.codec import from_hex
from flavum.core.transactions import DeployModel, Infer
from flavum.core.types import Access, Amount, Hash32
from flavum.ml import examples
from flavum.node.models import DeployOptions
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config, share_artifacts
from .test_inference import ETH, send, submit_data, wait_proven

N = 4


@pytest.fixture
def batched(tmp_path, shared_srs, shared_circuits):
    # The tests seal their batches themselves: no timed sealing racing a slow proof.
    config = make_config(tmp_path / "home", prover="inline", prover_pack_wait_s=0.2,
                         batch_interval_s=3600.0)
    share_artifacts(config.home, shared_srs, shared_circuits)
    node = Node.open(config, pool=InlineProverPool())
    example = examples.train_sklearn_logreg("iris")
    record = node.models.compile(example.onnx_bytes, example.samples,
                                 DeployOptions(batch_size=N))
    body = DeployModel(Hash32(from_hex(record.model_hash)), Hash32(from_hex(record.vk_hash)),
                       record.metadata_hash, Access.COMMON, ETH, Amount(0))
    model_id = send(node, ALICE_KEY, ALICE, body).outcome.object_id
    yield node, example, record, model_id
    node.close()


def infer_rows(node, example, model_id, count):
    receipts = []
    for i in range(count):
        data_id = submit_data(node, model_id, example.test_inputs[i])
        receipts.append(send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0))))
    return receipts


def test_a_full_pack_is_one_proof_with_a_row_per_inference(batched):
    node, example, record, model_id = batched
    assert record.batch_size == N
    receipts = infer_rows(node, example, model_id, N)
    records = [wait_proven(node, r.tx_hash) for r in receipts]
    assert all(r.proof_status == "proven" for r in records), [r.reason for r in records]
    assert len({r.proof for r in records}) == 1  # one proof for the four
    assert [r.row for r in records] == list(range(N))
    vk_hash = node.sequencer.object(model_id).vk_hash
    for receipt, proven in zip(receipts, records, strict=True):
        node.models.verify_trace(receipt.outcome.trace, vk_hash, proven.proof, proven.row)
    # Row binding: an entry checked against another row of the same proof is refused.
    with pytest.raises(errors.InvalidProof):
        node.models.verify_trace(receipts[0].outcome.trace, vk_hash, records[0].proof, 1)


def test_a_partial_pack_is_proven_after_the_wait_with_padding(batched):
    node, example, record, model_id = batched
    receipts = infer_rows(node, example, model_id, 3)
    records = [wait_proven(node, r.tx_hash) for r in receipts]
    assert all(r.proof_status == "proven" for r in records), [r.reason for r in records]
    assert [r.row for r in records] == [0, 1, 2] and len({r.proof for r in records}) == 1
    assert node.sequencer.seal_batch() is not None


def test_the_receipt_is_the_rows_output_in_the_batch(batched):
    node, example, record, model_id = batched
    from flavum.ml.normalize import normalize
    from flavum.ml.reference import run_float
    from flavum.node.models import interpret_outputs

    receipts = infer_rows(node, example, model_id, 2)
    normalized = normalize(example.onnx_bytes, example.samples)
    for i, receipt in enumerate(receipts):
        expected = int(run_float(normalized.model_bytes, example.test_inputs[i:i + 1]).argmax())
        assert interpret_outputs(record, receipt.outcome.trace.outputs)["prediction"] == [expected]


def test_the_independent_verifier_checks_each_row_of_a_batched_proof(batched):
    from flavum.da.factory import open_store
    from flavum.verifier import verify_batch

    node, example, record, model_id = batched
    receipts = infer_rows(node, example, model_id, N)
    for receipt in receipts:
        wait_proven(node, receipt.tx_hash)
    batch = node.sequencer.seal_batch()
    store = open_store(str(node.config.home / "da"))
    report = verify_batch(batch.header, store, node.config.domain,
                          prev_state_root=node.sequencer.genesis_root)
    assert report.ok, report.describe()
    assert report.inferences == N


def open_evm_node(tmp_path, shared_srs, shared_circuits) -> Node:
    """A node posting to the embedded EVM; the test seals its batches itself (no timed sealing
    racing it)."""
    from flavum.node.config import LedgerSpec

    config = make_config(tmp_path / "home", prover="inline", prover_pack_wait_s=0.2,
                         batch_interval_s=3600.0,
                         ledgers=(LedgerSpec(name="evm", kind="evm", confirmations=0),))
    (config.home / "keys" / "sequencer.key").write_text("0x" + (b"\x05" * 32).hex())
    share_artifacts(config.home, shared_srs, shared_circuits)
    return Node.open(config, pool=InlineProverPool())


def test_packed_proofs_are_posted_to_the_evm_and_verified_there(
        tmp_path, shared_srs, shared_circuits):
    """Batched proofs on L1: interleaved with another model's entries (a pack closes when
    another model's entry comes, so each proof covers a contiguous run of the trace)."""

    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    try:
        example = examples.train_sklearn_logreg("iris")
        models = []
        for batch_size in (N, 1):
            record = node.models.compile(example.onnx_bytes, example.samples,
                                         DeployOptions(batch_size=batch_size))
            body = DeployModel(Hash32(from_hex(record.model_hash)),
                               Hash32(from_hex(record.vk_hash)), record.metadata_hash,
                               Access.COMMON, ETH, Amount(0))
            models.append(send(node, ALICE_KEY, ALICE, body).outcome.object_id)
        batched_model, single_model = models
        receipts = []
        for i, model_id in enumerate([batched_model, batched_model, single_model,
                                      batched_model, batched_model, batched_model]):
            data_id = submit_data(node, model_id, example.test_inputs[i])
            receipts.append(send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0))))
            node.prover.poll()
        records = [wait_proven(node, r.tx_hash) for r in receipts]
        assert all(r.proof_status == "proven" for r in records), [r.reason for r in records]
        assert [r.row for r in records] == [0, 1, 0, 0, 1, 2]  # packs: 2 rows, single, 3 rows
        batch = node.sequencer.seal_batch()
        link = node.ledger("evm")
        link.tick()
        assert link.last_error is None, link.last_error
        assert link.ledger.batch_status(batch.header.number).accepted
    finally:
        node.close()


def test_kzg_committed_rows_go_from_data_to_an_accepted_batch(
        tmp_path, shared_srs, shared_circuits):
    """Owned data with polycommit inputs, end to end: each DATA commitment is keccak256 of its
    row's KZG point (computed at submission, before any proof); the rollup contract reads each
    row's point from the posted proof and accepts the batch; the independent verifier agrees."""
    from flavum.da.factory import open_store
    from flavum.verifier import verify_batch
    from flavum.zk.circuit import CircuitConfig
    from flavum.zk.polycommit import compute_data_commitment

    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    try:
        example = examples.train_sklearn_logreg("iris")
        record = node.models.compile(example.onnx_bytes, example.samples, DeployOptions(
            batch_size=N, circuit=CircuitConfig(input_visibility="polycommit")))
        assert record.visibility["input"] == "polycommit"
        body = DeployModel(Hash32(from_hex(record.model_hash)), Hash32(from_hex(record.vk_hash)),
                           record.metadata_hash, Access.COMMON, ETH, Amount(0))
        model_id = send(node, ALICE_KEY, ALICE, body).outcome.object_id
        receipts = infer_rows(node, example, model_id, N)
        artifacts = node.models.artifacts(Hash32(from_hex(record.vk_hash)))
        for i, receipt in enumerate(receipts):
            assert receipt.outcome.trace.input_commitment == compute_data_commitment(
                artifacts, example.test_inputs[i])
        records = [wait_proven(node, r.tx_hash) for r in receipts]
        assert all(r.proof_status == "proven" for r in records), [r.reason for r in records]
        assert len({r.proof for r in records}) == 1
        batch = node.sequencer.seal_batch()
        link = node.ledger("evm")
        link.tick()
        assert link.last_error is None, link.last_error
        assert link.ledger.batch_status(batch.header.number).accepted
        report = verify_batch(batch.header, open_store(str(node.config.home / "da")),
                              node.config.domain, prev_state_root=node.sequencer.genesis_root)
        assert report.ok, report.describe()
        assert report.inferences == N
    finally:
        node.close()


def test_public_rows_take_common_data_to_an_accepted_batch(
        tmp_path, shared_srs, shared_circuits):
    """Common data with a public-row model, end to end: each DATA commitment is the keccak of
    the row's quantized values (computed at submission); the rollup contract hashes each row's
    public values in the posted proof and accepts the batch; the independent verifier agrees.
    Owned data is refused for such a model: its rows would be public."""
    from flavum.da.factory import open_store
    from flavum.ml.errors import InvalidInput
    from flavum.verifier import verify_batch
    from flavum.zk.circuit import CircuitConfig
    from flavum.zk.public_rows import compute_public_row_data_commitment

    node = open_evm_node(tmp_path, shared_srs, shared_circuits)
    try:
        example = examples.train_sklearn_logreg("iris")
        record = node.models.compile(example.onnx_bytes, example.samples, DeployOptions(
            batch_size=N, circuit=CircuitConfig(input_visibility="public")))
        assert record.binding.row_width == 4 and record.binding.rows == N
        body = DeployModel(Hash32(from_hex(record.model_hash)), Hash32(from_hex(record.vk_hash)),
                           record.metadata_hash, Access.COMMON, ETH, Amount(0))
        model_id = send(node, ALICE_KEY, ALICE, body).outcome.object_id
        with pytest.raises(InvalidInput, match="common"):
            submit_data(node, model_id, example.test_inputs[0])  # owned
        receipts = []
        for i in range(N):
            data_id = submit_data(node, model_id, example.test_inputs[i], access=Access.COMMON)
            receipts.append(send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0))))
        artifacts = node.models.artifacts(Hash32(from_hex(record.vk_hash)))
        for i, receipt in enumerate(receipts):
            assert receipt.outcome.trace.input_commitment == compute_public_row_data_commitment(
                artifacts, example.test_inputs[i])
        records = [wait_proven(node, r.tx_hash) for r in receipts]
        assert all(r.proof_status == "proven" for r in records), [r.reason for r in records]
        assert len({r.proof for r in records}) == 1
        batch = node.sequencer.seal_batch()
        link = node.ledger("evm")
        link.tick()
        assert link.last_error is None, link.last_error
        assert link.ledger.batch_status(batch.header.number).accepted
        assert link.ledger.model(model_id).layout.row_width == 4
        report = verify_batch(batch.header, open_store(str(node.config.home / "da")),
                              node.config.domain, prev_state_root=node.sequencer.genesis_root)
        assert report.ok, report.describe()
        assert report.inferences == N
    finally:
        node.close()
