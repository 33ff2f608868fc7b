"""Fixtures for the verifier tests: a node posting to the embedded EVM, and an honest chain of
batches (transfers, a model deployed, data, proven inferences, withdrawals) to verify."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flavum.core.batch import BatchHeader
from flavum.core.genesis import DEV_ASSET
from flavum.core.state import Domain
from flavum.core.transactions import Infer, Transfer, Withdraw
from flavum.core.types import NO_OBJECT, Amount, Hash32, ObjectId
from flavum.da.batch_data import BatchData
from flavum.da.interface import DataStore, cid_from_digest
from flavum.da.memory import MemoryStore
from flavum.l1.evm import EvmLedger
from flavum.ml import examples
from flavum.node.config import LedgerSpec
from flavum.node.node import Node
from flavum.zk.pool_inline import InlineProverPool
from tests.node.conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, make_config, share_artifacts
from tests.node.test_inference import deploy, send, submit_data, wait_proven

ETH = DEV_ASSET  # the genesis funds the users hold
DEPOSIT = 12_345  # wei Bob deposits on the EVM bridge in batch 0
SEQUENCER_KEY = b"\x05" * 32


def open_node(home: Path, srs: Path, circuits: Path, **overrides: object) -> Node:
    """A node posting to the embedded EVM, on the run's shared SRS and circuits."""
    embedded = LedgerSpec(name="evm", kind="evm", confirmations=0)
    config = make_config(home, prover="inline", ledgers=(embedded,), **overrides)
    (config.home / "keys" / "sequencer.key").write_text("0x" + SEQUENCER_KEY.hex())
    share_artifacts(config.home, srs, circuits)
    return Node.open(config, pool=InlineProverPool())


def seal_and_post(node: Node) -> BatchHeader:
    batch = node.sequencer.seal_batch()
    assert batch is not None
    link = node.ledger("evm")
    link.tick()
    assert link.last_error is None, link.last_error
    assert link.ledger.next_batch_number() == batch.header.number + 1
    return batch.header


def infer(node: Node, model_id: ObjectId, data_id: ObjectId):
    receipt = send(node, BOB_KEY, BOB, Infer(model_id, data_id, Amount(0)))
    assert wait_proven(node, receipt.tx_hash).proof_status == "proven"
    return receipt


@dataclass
class Chain:
    """An honest run: the node, its ledger, the posted headers and the node's data store."""

    node: Node
    ledger: EvmLedger
    headers: list[BatchHeader]
    store: DataStore
    domain: Domain
    model_id: ObjectId
    traces: dict[int, list] = field(default_factory=dict)  # batch -> trace entries

    def blob(self, number: int) -> BatchData:
        return BatchData.from_bytes(self.store.get(cid_from_digest(self.headers[number]
                                                                   .data_pointer)))

    def copy_store(self) -> MemoryStore:
        """Every blob the batches need (their data, SRS files and circuit graphs) in a store
        tests may tamper."""
        copy = MemoryStore()
        for header in self.headers:
            blob = self.store.get(cid_from_digest(header.data_pointer))
            copy.put(blob)
            for circuit in BatchData.from_bytes(blob).circuits.values():
                copy.put(self.store.get(circuit.srs_cid))
                copy.put(self.store.get(circuit.model_cid))
        return copy


def build_honest_chain(node: Node) -> Chain:
    """Batch 0: a bridge deposit, transfers, a model deployed, two data points. Batch 1: two
    proven inferences and a transfer. Batch 2: an inference, a withdrawal of funds and a
    RESULT withdrawal."""
    link = node.ledger("evm")
    ledger = link.ledger
    example = examples.train_sklearn_logreg("iris")
    headers = []
    ledger.deposit_eth(BOB_KEY, BOB, DEPOSIT)
    link.tick()  # the watcher credits it (no confirmations on the embedded chain)
    send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(5)))
    _, model_id = deploy(node, example)
    data_1 = submit_data(node, model_id, example.test_inputs[0])
    data_2 = submit_data(node, model_id, example.test_inputs[1])
    headers.append(seal_and_post(node))

    first = infer(node, model_id, data_1)
    second = infer(node, model_id, data_2)
    send(node, ALICE_KEY, ALICE, Transfer(BOB, ETH, Amount(7)))
    headers.append(seal_and_post(node))

    third = infer(node, model_id, data_1)
    send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, BOB, ETH, Amount(3), NO_OBJECT))
    send(node, BOB_KEY, BOB, Withdraw(ledger.ledger_id, BOB, ETH, Amount(0),
                                      first.outcome.object_id))
    headers.append(seal_and_post(node))
    traces = {1: [first.outcome.trace, second.outcome.trace], 2: [third.outcome.trace]}
    return Chain(node, ledger, headers, node.sequencer.publisher.data_store,  # type: ignore[union-attr]
                 node.config.domain, model_id, traces)


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory, shared_srs: Path,
          shared_circuits: Path) -> Iterator[Chain]:
    """One honest chain for every verifier test (three modules use it): tests only read it and
    tamper with copies (`copy_store`), so building it once is as good as once per module."""
    node = open_node(tmp_path_factory.mktemp("verifier") / "home", shared_srs, shared_circuits)
    try:
        yield build_honest_chain(node)
    finally:
        node.close()


def digest(data: BatchData) -> Hash32:
    from flavum.da.interface import compute_digest

    return compute_digest(data.to_bytes())
