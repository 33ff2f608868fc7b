"""A model's binding, checked by the independent verifier: the record each batch publishes
must be the preimage of the MODEL's metadata hash, proofs are checked only with the SRS that
binding pins (a user's own ceremony file where it is that one), and `flavum verify --models`
re-derives each model's vk, verifier code and VKA from its published graph. A model owner who
commits to a verifier that is not ezkl's for the model's key is named."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from flavum.core.encoding import keccak256
from flavum.core.transactions import DeployModel
from flavum.core.types import Access, Amount, Hash32
from flavum.da.batch_data import encode_model_record
from flavum.l1.interface import PostedBatch
from flavum.ml import examples
from flavum.model_check import check_models
from flavum.node.node import Node
from flavum.verifier import LedgerHeaders, Verifier, verify_batch
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import ALICE, ALICE_KEY, make_config
from tests.node.test_inference import send, submit_data

from .conftest import ETH, digest, infer

ALWAYS_ONE = bytes.fromhex("600160005260206000f3")  # a runtime that returns 1 for any call


def h(value: bytes) -> str:
    return "0x" + value.hex()


def republished(chain, store, number: int, **changes):
    """Batch `number`'s data with `changes`, put in `store`; its header pointing at it."""
    data = replace(chain.blob(number), **changes)
    store.put(data.to_bytes())
    return replace(chain.headers[number], data_pointer=digest(data)), data


def test_a_record_that_is_not_the_metadata_hashs_preimage_is_refused(chain):
    store = chain.copy_store()
    data = chain.blob(1)
    ((metadata_hash, record),) = data.records.items()
    forged = json.loads(record) | {"accuracy": {"top1_agreement": 1.0}}
    header, _ = republished(chain, store, 1,
                            records={metadata_hash: encode_model_record(forged)})
    report = verify_batch(header, store, chain.domain)
    assert (report.ok, report.check) == (False, "proofs")
    assert report.reason.endswith(f"the record published for model {h(chain.model_id)} is "
                                  "not the one its metadata hash commits to")


def test_proofs_are_checked_only_with_the_pinned_srs(chain):
    store = chain.copy_store()
    data = chain.blob(1)
    ((vk_hash, circuit),) = data.circuits.items()
    srs = bytearray(store.get(circuit.srs_cid))
    srs[100] ^= 1  # another SRS of the same size: a sequencer's own, say
    other_cid = store.put(bytes(srs))
    header, _ = republished(chain, store, 1,
                            circuits={vk_hash: replace(circuit, srs_cid=other_cid)})
    report = verify_batch(header, store, chain.domain)
    assert (report.ok, report.check, report.code) == (False, "proofs", "srs_mismatch")
    assert f"SRS {other_cid} is not the SRS the model's keys were made with" in report.reason


def test_a_users_own_srs_file_serves_where_it_is_the_pinned_one(chain, tmp_path):
    store = chain.copy_store()
    data = chain.blob(1)
    (circuit,) = data.circuits.values()
    own = tmp_path / "ceremony.srs"
    own.write_bytes(store.get(circuit.srs_cid))
    del store.objects[circuit.srs_cid]  # the batch data's copy is gone
    with Verifier(LedgerHeaders(chain.ledger), store, chain.domain, srs_file=own) as verifier:
        assert all(r.ok for r in verifier.run(0)), [r.describe() for r in verifier.run(0)]
    other = tmp_path / "other.srs"
    pinned = own.read_bytes()  # one bit flipped: not the pinned one, so not used
    other.write_bytes(pinned[:-1] + bytes([pinned[-1] ^ 1]))
    with Verifier(LedgerHeaders(chain.ledger), store, chain.domain, srs_file=other) as verifier:
        report = verifier.verify(1)
    assert (report.ok, report.code) == (False, "data_unavailable")


def test_every_proven_model_is_rederived_from_its_published_graph(chain, tmp_path):
    (report,) = check_models(LedgerHeaders(chain.ledger), chain.copy_store(), chain.domain,
                             tmp_path, ledger=chain.ledger)
    assert report.ok, report.reason
    model = chain.node.sequencer.object(chain.model_id)
    record = chain.node.models.record(model.vk_hash)
    assert (report.model_id, report.batch, report.registered) == (chain.model_id, 1, "standing")
    assert report.vk_hash == model.vk_hash
    assert h(report.verifier_code_hash) == record.verifier_code_hash
    assert h(report.vka_digest) == record.vka_digest


def test_a_published_graph_that_is_not_the_records_is_named(chain, tmp_path):
    store = chain.copy_store()
    data = chain.blob(1)
    ((vk_hash, circuit),) = data.circuits.items()
    other = examples.train_sklearn_logreg("iris").onnx_bytes
    header, _ = republished(chain, store, 1, circuits={
        vk_hash: replace(circuit, model_cid=store.put(other))})

    class Headers:
        name = "tampered"

        def next_batch_number(self) -> int:
            return 2

        def posted_batch(self, number: int) -> PostedBatch:
            return PostedBatch(number, header if number == 1 else chain.headers[number])

    (report,) = check_models(Headers(), store, chain.domain, tmp_path)
    assert not report.ok
    assert report.reason == "the published graph is not the one the model's record names"


class NodeHeaders:
    """The batches a node sealed, as a ledger would have recorded them."""

    name = "node"

    def __init__(self, node: Node) -> None:
        self.node = node

    def next_batch_number(self) -> int:
        return len(self.node.store.batches())

    def posted_batch(self, number: int) -> PostedBatch:
        return PostedBatch(number, self.node.store.batches()[number].header)


@pytest.fixture(scope="module")
def lying_owner(tmp_path_factory: pytest.TempPathFactory, shared_srs: Path):
    """A model owner running its own node commits its model to a verifier that accepts every
    proof (its record names that contract's code hash), deploys it and proves an inference."""
    home = tmp_path_factory.mktemp("lying") / "home"
    config = make_config(home, prover="inline", ledgers=())
    (home / "srs").symlink_to(shared_srs)
    node = Node.open(config, pool=InlineProverPool())
    example = examples.train_sklearn_logreg("iris")
    honest = node.models.compile(example.onnx_bytes, example.samples)
    lie = replace(honest, verifier_code_hash=h(keccak256(ALWAYS_ONE)))
    vk_hash = Hash32(bytes.fromhex(honest.vk_hash[2:]))
    node.store.put_model_record(vk_hash, json.dumps(lie.to_json()))
    body = DeployModel(Hash32(bytes.fromhex(honest.model_hash[2:])), vk_hash,
                       lie.metadata_hash, Access.COMMON, ETH, Amount(0))
    model_id = send(node, ALICE_KEY, ALICE, body).outcome.object_id
    data_id = submit_data(node, model_id, example.test_inputs[0])
    infer(node, model_id, data_id)
    assert node.sequencer.seal_batch() is not None
    try:
        yield node, model_id
    finally:
        node.close()


def test_a_model_bound_to_a_verifier_that_is_not_ezkls_is_named(lying_owner, tmp_path):
    node, model_id = lying_owner
    store = node.sequencer.publisher.data_store
    (report,) = check_models(NodeHeaders(node), store, node.config.domain, tmp_path)
    assert (report.model_id, report.ok) == (model_id, False)
    assert report.reason == "its verifier code hash is not that of ezkl's verifier for its key"
