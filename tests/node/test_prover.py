"""ProofManager over the fake prover pool: status transitions, retries, failures, packs.

The circuits are real and tiny (the manager makes real witnesses, in milliseconds) but nothing
is proven: the fake pool settles each job with a recorded proof or fails it on demand, and a
stand-in model service checks proofs as the test says.
"""

import sqlite3
from pathlib import Path

import pytest

from flavum.core.batch import TraceEntry, compute_tx_commitment
from flavum.core.errors import FlavumError
from flavum.core.stf import Outcome
from flavum.core.types import Hash32, ObjectId
from flavum.ml.batching import make_batched
from flavum.ml.errors import InvalidInput
from flavum.node.prover import ProofManager
from flavum.node.sequencer import Receipt
from flavum.node.store import AcceptedTx, Store
from flavum.zk.circuit import CircuitArtifacts, CircuitConfig, build_circuit
from flavum.zk.execution import run_row
from flavum.zk.fake import FakeProverPool
from flavum.zk.interface import JobState
from flavum.zk.proof import Proof
from flavum.zk.srs import SrsStore
from tests.zk.conftest import make_calibration, make_mlp_model

from .conftest import ALICE

MODEL = ObjectId(Hash32(b"\x4d" * 32))
VK = Hash32(b"\x56" * 32)
RECORDED = Proof(proof_bytes=b"recorded proof", instances=(1, 2, 3), input_visibility="hashed",
                 num_input_instances=1)
ROWS = [[0.1, -0.2, 0.3, 0.4], [0.5, 0.25, -0.75, 0.0], [-0.4, 0.3, 0.2, -0.1]]


@pytest.fixture(scope="module")
def circuits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("circuits")


@pytest.fixture(scope="module")
def single(circuits: Path, shared_srs: Path) -> CircuitArtifacts:
    return build_circuit(make_mlp_model((4, 8, 3)), make_calibration(4), CircuitConfig(),
                         SrsStore(shared_srs), cache_dir=circuits)


@pytest.fixture(scope="module")
def batched(circuits: Path, shared_srs: Path, single: CircuitArtifacts) -> CircuitArtifacts:
    """The same MLP, two rows a call."""
    return build_circuit(make_batched(make_mlp_model((4, 8, 3)), 2),
                         make_calibration(4, rows=12), CircuitConfig(scales=(single.input_scale,)),
                         SrsStore(shared_srs), cache_dir=circuits)


class Models:
    """The ModelService hooks ProofManager calls: one model, its inputs, a proof check."""

    def __init__(self, artifacts: CircuitArtifacts) -> None:
        self.circuit = artifacts
        self.inputs: dict[Hash32, list[float]] = {}
        self.checked: list[tuple[Hash32, bytes, int]] = []  # (tx hash, proof.json, row)
        self.reject: str | None = None  # the reason the proof check gives, if it fails

    def artifacts(self, vk_hash: Hash32) -> CircuitArtifacts:
        return self.circuit

    def data_values(self, commitment: Hash32) -> tuple[Hash32, list[float]]:
        if commitment not in self.inputs:
            raise InvalidInput("no values for this commitment")
        return VK, self.inputs[commitment]

    def verify_trace(self, entry: TraceEntry, vk_hash: Hash32, proof_json: bytes,
                     row: int) -> None:
        if self.reject is not None:
            raise FlavumError(self.reject)
        self.checked.append((entry.tx_hash, proof_json, row))


class Model:
    vk_hash = VK


class Sequencer:
    """What ProofManager reads of the sequencer: its listeners and the model object."""

    def __init__(self) -> None:
        self.listeners: list = []
        self.model_exists = True

    def object(self, object_id: ObjectId) -> Model | None:
        return Model() if self.model_exists and object_id == MODEL else None


class Rig:
    """A real store, a ProofManager, and the doubles around it."""

    def __init__(self, home: Path, artifacts: CircuitArtifacts, pool: FakeProverPool,
                 pack_wait_s: float = 60.0) -> None:
        self.home = home
        self.store = Store(home / "node.db")
        self.sequencer = Sequencer()
        self.models = Models(artifacts)
        self.pool = pool
        self.manager = self._manager(pack_wait_s)
        self.count = 0

    def _manager(self, pack_wait_s: float) -> ProofManager:
        return ProofManager(self.store, self.sequencer, self.models, self.pool,
                            self.home / "proofs", pack_wait_s=pack_wait_s)

    def restart(self, pool: FakeProverPool) -> None:
        self.pool = pool
        self.sequencer = Sequencer()
        self.manager = self._manager(60.0)

    def infer(self, values: list[float], outputs: tuple[int, ...] = (0,)) -> Hash32:
        """An accepted Infer: its trace entry in the store and handed to the manager."""
        self.count += 1
        tx_hash = Hash32(self.count.to_bytes(32, "big"))
        commitment = Hash32(bytes([0xC0]) + self.count.to_bytes(31, "big"))
        self.models.inputs[commitment] = values
        entry = TraceEntry(tx_hash, MODEL, ObjectId(commitment), commitment, outputs,
                           ObjectId(Hash32(b"\x52" * 32)))
        post_root = Hash32(b"\x5a" * 32)  # no state here: any root will do
        seq = self.store.next_seq()
        self.store.add_txs([AcceptedTx(seq, compute_tx_commitment(tx_hash, post_root, entry, None),
                                       b"", ALICE, "Infer", None, None, entry, None, 0.0)])
        for listener in self.sequencer.listeners:
            listener(Receipt(tx_hash, seq, Outcome(tx_hash, trace=entry), None))
        return tx_hash

    def proof_status(self, tx_hash: Hash32) -> tuple[str, str | None]:
        record = self.store.get_trace(tx_hash)
        assert record is not None
        return record.proof_status, record.reason


@pytest.fixture
def make_rig(tmp_path: Path):
    made: list[Rig] = []

    def make(artifacts: CircuitArtifacts, pool: FakeProverPool, **options: float) -> Rig:
        made.append(Rig(tmp_path / str(len(made)), artifacts, pool, **options))
        return made[-1]

    yield make
    for rig in made:
        rig.store.close()


@pytest.fixture
def rig(make_rig, single: CircuitArtifacts) -> Rig:
    return make_rig(single, FakeProverPool(RECORDED, hold=True))


def test_an_entry_follows_its_job_from_queued_to_proven(rig: Rig) -> None:
    tx_hash = rig.infer(ROWS[0])
    rig.manager.poll()
    assert rig.proof_status(tx_hash) == ("queued", None)
    assert rig.store.get_trace(tx_hash).proof_seconds is None
    [job] = rig.pool.submitted
    assert Path(job.witness_path).is_file() and job.proof_path.endswith(f"{tx_hash.hex()}.json")
    assert not rig.manager.all_done(1, 1)
    job_id = rig.pool.start()
    rig.manager.poll()
    assert rig.proof_status(tx_hash) == ("proving", None)
    rig.pool.finish(job_id)
    rig.manager.poll()
    record = rig.store.get_trace(tx_hash)
    assert (record.proof_status, record.proof, record.row) == ("proven", RECORDED.to_json(), 0)
    assert record.proof_seconds is not None and record.proof_seconds >= 0
    assert rig.models.checked == [(tx_hash, RECORDED.to_json(), 0)]
    assert rig.manager.all_done(1, 1)


def test_a_store_made_before_proof_times_gains_the_column(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "node.db")
    db.execute("CREATE TABLE traces (tx_hash BLOB PRIMARY KEY, seq INTEGER NOT NULL, entry TEXT"
               " NOT NULL, batch INTEGER, proof_status TEXT NOT NULL DEFAULT 'queued', proof"
               " BLOB, reason TEXT, proof_row INTEGER NOT NULL DEFAULT 0)")
    db.close()
    Store(tmp_path / "node.db").close()
    db = sqlite3.connect(tmp_path / "node.db")
    assert "proved_at" in {row[1] for row in db.execute("PRAGMA table_info(traces)")}
    db.close()


def test_a_failed_attempt_is_retried_and_the_entry_proven(make_rig, single) -> None:
    rig = make_rig(single, FakeProverPool(RECORDED, max_retries=1))
    rig.pool.fail_next("RuntimeError: transient failure")
    tx_hash = rig.infer(ROWS[0])
    rig.manager.poll()
    assert rig.proof_status(tx_hash) == ("proven", None)
    assert rig.pool.status("job-1").attempts == 2


def test_a_job_out_of_retries_fails_its_entry_with_the_reason(make_rig, single) -> None:
    rig = make_rig(single, FakeProverPool(RECORDED, max_retries=2))
    rig.pool.fail_next("worker process died (exit code -9)", times=3)
    tx_hash = rig.infer(ROWS[0])
    rig.manager.poll()
    assert rig.proof_status(tx_hash) == (
        "failed", "failed after 3 attempt(s): worker process died (exit code -9)")
    assert rig.manager.all_done(1, 1) and rig.models.checked == []
    again = rig.infer(ROWS[1])  # the manager goes on with the next entry
    rig.manager.poll()
    assert rig.proof_status(again) == ("proven", None)


def test_a_proof_that_fails_its_check_fails_the_entry(rig: Rig) -> None:
    rig.models.reject = "the proof's outputs are not the RESULT's"
    tx_hash = rig.infer(ROWS[0])
    rig.manager.poll()
    rig.pool.run()
    rig.manager.poll()
    assert rig.proof_status(tx_hash) == (
        "failed", "proof rejected: the proof's outputs are not the RESULT's")


def test_entries_fail_at_once_when_no_job_can_be_made(rig: Rig) -> None:
    rig.pool.close()
    closed = rig.infer(ROWS[0])
    rig.manager.poll()
    rig.sequencer.model_exists = False
    gone = rig.infer(ROWS[1])
    rig.manager.poll()
    assert rig.proof_status(closed) == ("failed", "the prover pool is closed")
    status, reason = rig.proof_status(gone)
    assert status == "failed" and "no longer exists" in reason
    assert len(rig.pool.submitted) == 0


def test_entries_queued_or_proving_are_proven_after_a_restart(rig: Rig) -> None:
    first, second = rig.infer(ROWS[0]), rig.infer(ROWS[1])
    rig.manager.poll()
    rig.pool.start()
    rig.manager.poll()
    assert [rig.proof_status(t)[0] for t in (first, second)] == ["proving", "queued"]
    rig.pool.close()  # the node stops; its store keeps the two statuses
    rig.restart(FakeProverPool(RECORDED))
    rig.manager.poll()
    assert [rig.proof_status(t) for t in (first, second)] == [("proven", None)] * 2


def test_a_pack_is_one_job_with_a_row_per_entry(make_rig, batched) -> None:
    rig = make_rig(batched, FakeProverPool(RECORDED, hold=True))
    wrong = tuple(x + 1 for x in run_row(batched, ROWS[1]))
    entries = [rig.infer(ROWS[0], run_row(batched, ROWS[0])), rig.infer(ROWS[1], wrong)]
    rig.manager.poll()
    # The second receipt's outputs are not what the circuit gives for its row: that entry
    # fails, and the first is proven alone (padded).
    assert rig.proof_status(entries[1]) == (
        "failed", "the packed batch's outputs differ from the receipt's for this row")
    assert len(rig.pool.submitted) == 1
    rig.pool.run()
    rig.manager.poll()
    assert rig.proof_status(entries[0]) == ("proven", None)
    third, fourth = (rig.infer(row, run_row(batched, row)) for row in ROWS[1:])
    rig.manager.poll()
    assert len(rig.pool.submitted) == 2  # the pack was full: one job for both
    assert rig.pool.status("job-2").state is JobState.QUEUED
    rig.pool.run()
    rig.manager.poll()
    assert [(t, row) for t, _, row in rig.models.checked] == [
        (entries[0], 0), (third, 0), (fourth, 1)]


def test_a_partial_pack_goes_after_the_wait(make_rig, batched) -> None:
    rig = make_rig(batched, FakeProverPool(RECORDED), pack_wait_s=60.0)
    tx_hash = rig.infer(ROWS[0], run_row(batched, ROWS[0]))
    rig.manager.poll()
    assert rig.pool.submitted == [] and rig.proof_status(tx_hash) == ("queued", None)
    rig.manager.pack_wait_s = 0.0  # the oldest entry has now waited long enough
    rig.manager.poll()
    assert len(rig.pool.submitted) == 1
    assert rig.proof_status(tx_hash) == ("proven", None)
