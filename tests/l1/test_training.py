"""Training on chain: the rollup contract verifies a Train's step proofs with the verifier bound
to the step circuit's MODEL (registered with the training-step layout), checks that they
chain, and rebuilds the training's one trace leaf from them. Real ezkl proofs of logistic SGD
steps on breast_cancer rows, on the embedded EVM; the attacks post proofs that do not prove
what the batch committed: another batch, a skipped step, another final version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from flavum.core.batch import TrainingTrace, compute_rows_hash, compute_tx_commitment
from flavum.core.model_binding import ModelBinding, compute_model_binding_hash
from flavum.core.state import Object, compute_object_key, get_state_proof
from flavum.core.stf import TrainingExecution
from flavum.core.transactions import Train, compute_tx_hash
from flavum.core.types import Access, Amount, Hash32, ObjectId, ObjectKind
from flavum.l1.errors import LedgerError
from flavum.l1.interface import CircuitFiles, ModelLayout, proven_inference
from flavum.l1.verifiers import VerifierBuild, build_model_verifier, compute_reusable_code_hash
from flavum.ml.training import LogisticStep, load_standardized, make_batches, make_labelled_rows
from flavum.zk.proof import Proof
from flavum.zk.srs import SrsStore
from flavum.zk.training import (
    StepCircuit,
    StepRun,
    build_step_circuit,
    compute_row_commitment,
    prove_step,
    run_step,
)

from .conftest import ALICE
from .helpers import (
    BoundModel,
    batch_of,
    h,
    nonce_of,
    register,
    signed,
    state_of,
)

STEP_MODEL = ObjectId(h("logistic step circuit"))
VERSION = ObjectId(h("trained version"))
PARENT = ObjectId(h("parent version"))
SMALL = LogisticStep(features=4, batch=4, learning_rate=0.5)
SCALE = 8  # logrows 13: a step proof in seconds


@dataclass(frozen=True)
class ProvenSteps:
    circuit: StepCircuit
    verifier: VerifierBuild
    batches: list[np.ndarray]
    runs: list[StepRun]  # the honest chain from zero params over batches[0..2]
    proofs: list[Proof]
    other: Proof  # a step from zero params on batches[3]
    verifier_dir: Path  # the verifier is kept under verifier_dir/evm

    def rows(self, index: int) -> list[Hash32]:
        return [compute_row_commitment(self.circuit, row).be_bytes
                for row in self.batches[index]]


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> ProvenSteps:
    root = tmp_path_factory.mktemp("l1-training")
    circuit = build_step_circuit(SMALL, SrsStore(root / "srs"), scale=SCALE,
                                 cache_dir=root / "steps")
    x_train, y_train, _, _ = load_standardized("breast_cancer", SMALL.features)
    batches = make_batches(make_labelled_rows(x_train, y_train), SMALL.batch, steps=4)
    theta = np.zeros(SMALL.width)
    runs = []
    for i in range(3):
        runs.append(run_step(circuit, theta, batches[i], root / f"step{i}"))
        theta = runs[-1].new_params_values
    other = run_step(circuit, np.zeros(SMALL.width), batches[3], root / "other")
    verifier = build_model_verifier(circuit.vk_path, circuit.settings_path, circuit.srs_path,
                                    root / "verifier" / "evm")
    return ProvenSteps(circuit, verifier, batches, runs,
                       [prove_step(circuit, run) for run in runs], prove_step(circuit, other),
                       root / "verifier")


@pytest.fixture(scope="module")
def bound(steps: ProvenSteps) -> BoundModel:
    """The step circuit deployed as a MODEL whose binding names its verifier and the
    training-step layout."""
    layout = ModelLayout(1, training_step=True)
    binding = ModelBinding(
        record_hash=h(f"step record {steps.circuit.vk_hash.hex()}"),
        srs_hash=Hash32(bytes.fromhex(steps.circuit.srs_sha256)),
        verifier_code_hash=steps.verifier.code_hash, vka_digest=steps.verifier.vka_digest,
        reusable_code_hash=compute_reusable_code_hash(), rows=1, per_row_inputs=False,
        training_step=True,
    )
    obj = Object(STEP_MODEL, ObjectKind.MODEL, ALICE, Access.COMMON, h("step onnx"),
                 compute_model_binding_hash(binding), steps.circuit.vk_hash)
    circuit = CircuitFiles(steps.circuit.vk_path, steps.circuit.settings_path,
                           steps.circuit.srs_path, steps.verifier_dir, layout)
    return BoundModel(obj, binding, state_of(obj), circuit)


@pytest.fixture
def registered(ledger, bound):
    register(ledger, bound)
    return ledger


def training_batch(bound: BoundModel, steps: ProvenSteps, batches: list[int],
                   params_out: Hash32 | None = None, params_in: Hash32 | None = None):
    """Batch 1: one Train of len(batches) steps on those batches from zero params, committed
    with its training trace (by default ending where the honest chain over them ends)."""
    rows = [c for i in batches for c in steps.rows(i)]
    tx = signed(Train(PARENT, len(batches), Amount(0),
                      tuple(ObjectId(h(f"data{i}")) for i in range(len(rows)))), nonce_of(1, 0))
    tx_hash = compute_tx_hash(tx)
    last = steps.runs[len(batches) - 1].new_params_commitment.be_bytes
    trace = TrainingTrace(
        tx_hash, STEP_MODEL,
        steps.runs[0].params_commitment.be_bytes if params_in is None else params_in,
        len(batches), compute_rows_hash(rows), last if params_out is None else params_out,
        VERSION)
    header, txs = batch_of(1, bound.root, [(tx, trace, None)])
    return header, txs, tx_hash


def step_proofs(tx_hash: Hash32, proofs: list[Proof]):
    return [proven_inference(STEP_MODEL, p, [(tx_hash, VERSION)]) for p in proofs]


def test_a_chain_of_step_proofs_posts_and_reads_back(registered, bound, steps):
    header, txs, tx_hash = training_batch(bound, steps, [0, 1, 2])
    registered.post_batch(header, txs, step_proofs(tx_hash, steps.proofs))
    assert registered.batch_status(1).accepted
    assert registered.model(STEP_MODEL).layout.training_step
    # What the proofs prove of the Train: the last step's new params.
    assert registered.posted_executions(1) == {
        tx_hash: TrainingExecution(steps.runs[2].new_params_commitment.be_bytes)}


def refused(ledger, header, txs, inferences) -> str:
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(header, txs, inferences)
    return str(err.value.reason)


def test_a_step_proven_on_another_batch_is_refused(registered, bound, steps):
    """The committed training names batch 0's rows; the proof is of a step on batch 3."""
    header, txs, tx_hash = training_batch(bound, steps, [0],
                                          params_out=steps.runs[0].new_params_commitment.be_bytes)
    assert refused(registered, header, txs, step_proofs(tx_hash, [steps.other])) == \
        "trace root mismatch"


def test_a_skipped_step_is_refused(registered, bound, steps):
    """Steps 0 and 2 posted for a three-step training: step 2 does not start where 0 ended."""
    header, txs, tx_hash = training_batch(bound, steps, [0, 1, 2])
    assert refused(registered, header, txs,
                   step_proofs(tx_hash, [steps.proofs[0], steps.proofs[2]])) == \
        "training steps do not chain"
    # Nor may a step be left out of a leaf that claims fewer steps over the same rows.
    header, txs, tx_hash = training_batch(bound, steps, [0, 2])
    assert refused(registered, header, txs,
                   step_proofs(tx_hash, [steps.proofs[0], steps.proofs[2]])) == \
        "training steps do not chain"


def test_a_version_other_than_the_last_steps_output_is_refused(registered, bound, steps):
    header, txs, tx_hash = training_batch(bound, steps, [0, 1],
                                          params_out=steps.runs[2].new_params_commitment.be_bytes)
    assert refused(registered, header, txs, step_proofs(tx_hash, steps.proofs[:2])) == \
        "trace root mismatch"


def test_a_training_from_other_params_is_refused(registered, bound, steps):
    """The committed training starts at the parent's commitment; the proofs at zero params."""
    header, txs, tx_hash = training_batch(bound, steps, [0], params_in=h("other parent"))
    assert refused(registered, header, txs, step_proofs(tx_hash, steps.proofs[:1])) == \
        "trace root mismatch"


def test_step_proofs_need_the_step_circuits_verifier(registered, bound, steps, tmp_path: Path):
    """A tampered step proof (one public value changed) is refused by the verifier."""
    header, txs, tx_hash = training_batch(bound, steps, [0])
    proof = steps.proofs[0]
    values = list(proof.instances)
    values[1] ^= 1
    forged = replace(proof, instances=tuple(values))
    assert refused(registered, header, txs, step_proofs(tx_hash, [forged])) == \
        "proof rejected by the verifier"


# --- a lying sequencer: training without the right -------------------------------------------


def test_training_by_someone_without_the_right_is_challenged(steps, bound):
    """The sequencer includes Bob's Train of Alice's owned version (she granted him nothing),
    as if it were valid: the step proofs are real, so the batch is accepted at posting, but
    the one-step fraud proof re-executes the Train on L1, finds that Bob may not use the
    version, and reverts the batch; the challenger takes the bond."""
    from flavum.core.state import compute_state_root, set_grant
    from flavum.core.stf import compute_object_id, process_transaction
    from flavum.core.transactions import DeployModel, DeployTrainable, SubmitData
    from flavum.core.types import Nonce

    from .conftest import ALICE_KEY, BOB, BOB_KEY
    from .test_challenge import challenge_all, make_rollup, native
    from .test_challenge import signed as signed_by

    r = make_rollup()
    rows = steps.rows(0)
    step_body = DeployModel(h("step onnx"), steps.circuit.vk_hash,
                            bound.model.metadata_hash, Access.COMMON, native(), Amount(0))
    inference_body = DeployModel(h("inference onnx"), h("inference vk"), h("inference meta"),
                                 Access.COMMON, native(), Amount(0))
    step_id, inference_id = (compute_object_id(ALICE, Nonce(n)) for n in (0, 1))
    version_id = compute_object_id(ALICE, Nonce(2))
    zero = steps.runs[0].params_commitment.be_bytes
    txs = [signed_by(ALICE_KEY, 0, step_body), signed_by(ALICE_KEY, 1, inference_body),
           signed_by(ALICE_KEY, 2, DeployTrainable(step_id, inference_id, zero, h("meta"),
                                                   Access.OWNED, native(), Amount(0)))]
    txs += [signed_by(ALICE_KEY, 3 + i, SubmitData(c, h("meta"), Access.COMMON))
            for i, c in enumerate(rows)]
    header, _ = r.post(txs)
    r.ledger.register_model(header, replace(
        bound.registration(), model=r.state.objects[step_id],
        proof=get_state_proof(r.state, compute_object_key(step_id))), BOB_KEY)
    data_ids = tuple(compute_object_id(ALICE, Nonce(3 + i)) for i in range(len(rows)))
    train = signed_by(BOB_KEY, 0, Train(version_id, 1, Amount(0), data_ids))
    params_out = TrainingExecution(steps.runs[0].new_params_commitment.be_bytes)
    # The lie: the state as if Alice had granted Bob the version.
    lying_state = r.state.copy()
    set_grant(lying_state, version_id, ALICE, BOB, True)
    outcome = process_transaction(lying_state, train, params_out)
    lie = compute_tx_commitment(outcome.tx_hash, compute_state_root(lying_state),
                                outcome.trace, None)
    r.post([train], lie={0: lie}, inferences=[proven_inference(
        step_id, steps.proofs[0], [(outcome.tx_hash, outcome.object_id)])])
    assert r.ledger.next_batch_number() == 3  # accepted: its step proof verified on chain
    reason = challenge_all(r, 2)
    assert reason.startswith("the rules refuse it") and "may not use" in reason
