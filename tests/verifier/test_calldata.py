"""EVM calldata data availability: the node's batch data rides in its batch transactions
(`submitBatchWithData`, checked on chain), and a verifier reads it back from the chain alone
(plus the SRS from wherever it is published)."""

import pytest

from flavum.core.batch import compute_batch_hash
from flavum.core.transactions import Transfer
from flavum.core.types import Amount, Hash32
from flavum.da.batch_data import BatchData
from flavum.da.evm_calldata import EvmCalldataStore
from flavum.da.interface import cid_from_digest, compute_digest
from flavum.da.local import LocalStore
from flavum.da.memory import MemoryStore
from flavum.l1.errors import LedgerError
from flavum.l1.interface import BatchTx
from flavum.ml import examples
from flavum.verifier import LedgerHeaders, Verifier
from tests.node.test_inference import deploy, send, submit_data

from .conftest import ALICE, ALICE_KEY, BOB, ETH, infer, open_node, seal_and_post


@pytest.fixture
def node(tmp_path, shared_srs, shared_circuits):
    # As configured: `data_store = "evm-calldata"` (the node's data directory is the outbox).
    node = open_node(tmp_path / "home", shared_srs, shared_circuits, data_store="evm-calldata")
    assert isinstance(node.sequencer.publisher.data_store, EvmCalldataStore)
    assert isinstance(node.sequencer.publisher.data_store.side, LocalStore)
    yield node
    node.close()


def srs_only(outbox_store, headers, ledger) -> MemoryStore:
    """What a verifier gets besides the chain: the SRS files, published elsewhere."""
    side = MemoryStore()
    for header in headers:
        blob = ledger.batch_data(header.data_pointer)
        if blob is None:
            continue
        for circuit in BatchData.from_bytes(blob).circuits.values():
            side.put(outbox_store.get(circuit.srs_cid))
    return side


def test_batches_carry_their_data_and_verify_from_the_chain(node):
    ledger = node.ledger("evm").ledger
    outbox = node.sequencer.publisher.data_store.side
    example = examples.train_sklearn_logreg("iris")
    send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(5)))
    _, model_id = deploy(node, example)
    data_id = submit_data(node, model_id, example.test_inputs[0])
    headers = [seal_and_post(node)]
    infer(node, model_id, data_id)
    infer(node, model_id, data_id)
    headers.append(seal_and_post(node))

    for header in headers:
        blob = ledger.batch_data(header.data_pointer)
        assert blob is not None and compute_digest(blob) == header.data_pointer
    reader = EvmCalldataStore(ledger, srs_only(outbox, headers, ledger), attach=False)
    assert reader.has(cid_from_digest(headers[1].data_pointer))
    with Verifier(LedgerHeaders(ledger), reader, node.config.domain,
                  genesis_root=node.sequencer.genesis_root) as verifier:
        reports = list(verifier.run(0))
    assert [r.ok for r in reports] == [True, True], [r.describe() for r in reports]
    assert reports[1].inferences == 2

    # A batch posted without its data (the outbox lost it): the verifier says so.
    send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(1)))
    batch = node.sequencer.seal_batch()
    cid = cid_from_digest(batch.header.data_pointer)
    outbox.path_for(cid).unlink()
    node.ledger("evm").tick()
    assert ledger.next_batch_number() == 3 and ledger.batch_data(batch.header.data_pointer) is None
    with Verifier(LedgerHeaders(ledger), reader, node.config.domain) as verifier:
        (report,) = list(verifier.run(2))
    assert (report.check, report.code) == ("data", "data_unavailable")
    assert report.reason == (f"batch data {cid}: {reader.name}: no batch transaction carries "
                             f"{cid}, and memory:: no object {cid}")


def batch_txs(node, batch) -> list[BatchTx]:
    """The sealed batch's transactions as the node posts them, with what each one did."""
    store = node.store
    first, last = store.batch_seq_span(batch)
    return [BatchTx(stored.raw, commitment) for stored, commitment in
            zip(store.txs_in(first, last), store.commitments(first, last), strict=True)]


def test_the_contract_refuses_data_that_is_not_the_pointers(node):
    ledger = node.ledger("evm").ledger
    send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(5)))
    batch = node.sequencer.seal_batch()
    txs = batch_txs(node, batch)
    ledger.batch_data_source = lambda pointer: b"not the batch data"
    with pytest.raises(LedgerError, match="batch data does not hash to the data pointer"):
        ledger.post_batch(batch.header, txs)
    assert ledger.next_batch_number() == 0
    ledger.batch_data_source = None
    ledger.post_batch(batch.header, txs)  # without data: the plain submitBatch
    assert ledger.batch_status(0).batch_hash == compute_batch_hash(batch.header)


def test_a_read_only_calldata_store_refuses_puts(node):
    ledger = node.ledger("evm").ledger
    reader = EvmCalldataStore(ledger, attach=False)
    with pytest.raises(Exception, match="read-only calldata store"):
        reader.put(b"x")
    assert not reader.has(cid_from_digest(Hash32(b"\x01" * 32)))
