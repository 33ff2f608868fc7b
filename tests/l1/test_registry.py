"""Binding models to their verifiers with no registrar (ModelRegistry.sol), played as an
attacker would on the embedded EVM, and once on anvil.

A model's verifier is the one its DeployModel committed to: the MODEL object's metadata hash
is the hash of its binding (flavum.core.model_binding), and a registration shows that object
in the state root of a batch the rollup holds. So the sequencer, who posts every batch and
whose key used to register models, cannot bind a contract that says yes to any proof to an
honest model, nor to a model of a state root it never posted; a reusable verifier reads only
the VKA the binding names; and a registration stops counting when its batch is reverted."""

from dataclasses import dataclass, replace

import pytest

from flavum.core.assets import compute_asset_id
from flavum.core.batch import TxCommitment, Withdrawal, compute_outputs_hash
from flavum.core.field import FIELD_MODULUS
from flavum.core.merkle import compute_tree_proof
from flavum.core.state import Object, compute_object_key, compute_state_root, get_state_proof
from flavum.core.step_witness import compute_step_witness
from flavum.core.stf import (
    Execution,
    compute_deposit_object_id,
    compute_object_id,
    process_transaction,
)
from flavum.core.transactions import Infer, Transaction, Transfer, compute_tx_hash
from flavum.core.types import Access, Amount, Nonce, ObjectId, ObjectKind
from flavum.l1.errors import LedgerError
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_abi import header_tuple
from flavum.l1.evm_deploy import DEFAULT_BOND_WEI
from flavum.l1.interface import ProvenInference, proven_inference
from flavum.l1.verifiers import VerifierBuild
from flavum.node.watcher import make_deposit_transaction

from .conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, DOMAIN, SEQUENCER, SEQUENCER_KEY, deploy
from .helpers import (
    bind_model,
    h,
    make_batch,
    one_inference,
    registration_arg,
    send_registration,
    state_of,
    trace_of,
    tx_tuples,
)
from .test_challenge import (
    CHALLENGER_KEY,
    Rollup,
    deploy_model,
    make_rollup,
    native,
    registration_in,
    signed,
)

MODEL = ObjectId(h("honest model"))
# Runtime code that answers any call with the word 1: ezkl's "proof verified".
YES_RUNTIME = bytes.fromhex("600160005260206000f3")
# Creation code returning it: PUSH10 <runtime> PUSH1 0 MSTORE PUSH1 10 PUSH1 22 RETURN.
YES_INIT = bytes.fromhex("69") + YES_RUNTIME + bytes.fromhex("600052600a6016f3")


def reason(exc_info) -> str:
    return exc_info.value.reason


def deploy_yes_verifier(ledger: EvmLedger, key: bytes = SEQUENCER_KEY) -> str:
    """The sequencer's fake verifier: it accepts every proof."""
    address = ledger._deploy("fake verifier", key, [], YES_INIT, (), 100_000)["contractAddress"]
    assert bytes(ledger.w3.eth.get_code(address)) == YES_RUNTIME
    verify = "0x1e8e1e13" + "00" * 96  # verifyProof(bytes,uint256[]) of nothing
    assert int.from_bytes(ledger.w3.eth.call({"to": address, "data": verify}), "big") == 1
    return str(address)


def deploy_verifier(ledger: EvmLedger, build: VerifierBuild, key: bytes = BOB_KEY) -> str:
    """An instance of the model's own verifier code, deployed by `key` (anyone)."""
    contract = build.contract
    receipt = ledger._deploy("verifier", key, contract.abi, contract.bytecode, (), 8_000_000)
    return str(receipt["contractAddress"])


def inference_arg(inference: ProvenInference, vka: list[bytes] | None = None) -> tuple:
    """FlavumRollup.Inference for `inference`."""
    return (inference.model_id, inference.proof, list(inference.instances), vka or [],
            [t for t, _ in inference.rows], [r for _, r in inference.rows])


def refused(ledger: EvmLedger, fn, key: bytes = SEQUENCER_KEY) -> str:
    """Send `fn`, which must revert; its reason."""
    with pytest.raises(LedgerError) as err:
        ledger._transact("attack", key, fn, gas=6_000_000)
    return reason(err)


def submit(ledger: EvmLedger, header, txs, inferences=(), registrations=()):
    """FlavumRollup.submitBatch called directly, past the Python checks."""
    return ledger.rollup.functions.submitBatch(header_tuple(header), tx_tuples(txs),
                                               list(inferences), [], list(registrations))


# --- 1. a verifier that accepts everything ------------------------------------------------


def junk_batch(ledger: EvmLedger, tiny, root, number: int = 1):
    """Batch `number` of an Infer of MODEL whose trace holds outputs the sequencer chose, and
    the Withdraw of its RESULT to the sequencer (an ERC-721 vouching for those outputs); the
    inference 'proven' by 64 junk bytes with public values to match. Its state root shows
    the model. Returns (batch, inference, withdrawal)."""
    chosen = (1000, 2000, 3000)
    _, _, honest = one_inference(tiny, MODEL, number, root)
    [(tx_hash, result_id)] = honest.rows
    trace = trace_of(tiny, MODEL, tx_hash, result_id, chosen)
    instances = (tiny.proof.instances[0], *(v % FIELD_MODULUS for v in chosen))
    junk = ProvenInference(MODEL, bytes(range(64)), instances, honest.rows)
    withdrawal = Withdrawal(h("the ERC-721"), ledger.ledger_id, SEQUENCER,
                            compute_asset_id(ledger.ledger_id), Amount(0), result_id,
                            int(ObjectKind.RESULT), compute_outputs_hash(chosen), MODEL)
    batch = make_batch(number, prev_root=root, traces=[trace], withdrawals=[withdrawal],
                       state_root=root)
    return batch, junk, withdrawal


def play_the_yes_verifier_attack(ledger: EvmLedger, tiny) -> None:
    """The sequencer posts batch 0 showing Alice's honest model, deploys a verifier that
    accepts everything and tries to bind it to her model, then posts junk proofs for it."""
    bound = bind_model(tiny, MODEL)
    batch0 = make_batch(0, state_root=bound.root)
    ledger.post_batch(*batch0)
    yes = deploy_yes_verifier(ledger)
    fake = registration_arg(ledger, bound.registration(), yes)
    # With the registry's `register`, open to anyone: the code is not the one she committed to.
    assert refused(ledger, ledger.registry.functions.register(
        header_tuple(batch0.header), fake)) == "verifier code is not the model's"
    # Inside the posting of a batch that uses it.
    batch, junk, withdrawal = junk_batch(ledger, tiny, bound.root)
    assert refused(ledger, submit(ledger, *batch, [inference_arg(junk)], [fake])) == (
        "verifier code is not the model's")
    # Without a registration, the junk proof meets no verifier at all.
    assert refused(ledger, submit(ledger, *batch, [inference_arg(junk)])) == (
        "model not registered")
    with pytest.raises(LedgerError) as err:  # the Python side does not even send it
        ledger.post_batch(*batch, [junk])
    assert reason(err) == "model not registered"
    assert ledger.model(MODEL) is None and ledger.next_batch_number() == 1
    # So no ERC-721 is minted for the RESULT of the chosen outputs.
    with pytest.raises(LedgerError, match="batch not accepted"):
        ledger.finalize_withdrawal(withdrawal, 1, 0, compute_tree_proof(
            [h("any leaf")], 0), SEQUENCER_KEY)
    assert ledger.object_owner(withdrawal.object_id) is None
    # Bound to its own verifier, the model takes real proofs only: the junk one is refused.
    ledger.register_model(batch0.header, bound.registration(), ALICE_KEY)
    assert ledger.model(MODEL).verifier != bytes.fromhex(yes[2:])
    assert refused(ledger, submit(ledger, *batch, [inference_arg(junk)])) == (
        "proof rejected by the verifier")
    assert ledger.object_owner(withdrawal.object_id) is None


def test_a_verifier_that_accepts_everything_cannot_be_bound_to_an_honest_model(ledger, tiny):
    play_the_yes_verifier_attack(ledger, tiny)


def test_the_same_attack_on_anvil(anvil_as_embedded, tiny):
    play_the_yes_verifier_attack(deploy(anvil_as_embedded.w3), tiny)


# --- 2. what a registration must show ---------------------------------------------------


def test_a_registration_shows_the_models_own_binding_in_an_accepted_batch(ledger, tiny):
    bound = bind_model(tiny, MODEL)
    # A DATA object committed to the same hash, beside the model in batch 0's state.
    data = Object(ObjectId(h("a data point")), ObjectKind.DATA, bound.model.owner,
                  Access.OWNED, h("commitment"), bound.model.metadata_hash)
    bound = replace(bound, state=state_of(bound.model, data))
    batch0 = make_batch(0, state_root=bound.root)
    ledger.post_batch(*batch0)
    verifier = deploy_verifier(ledger, tiny.verifier)
    honest = bound.registration()

    def why(registration, header=batch0.header) -> str:
        return refused(ledger, ledger.registry.functions.register(
            header_tuple(header), registration_arg(ledger, registration, verifier)), BOB_KEY)

    # A binding preimage other than the one the metadata hash commits to: other rows, or
    # another verifier's code (the attacker's) named in it.
    for tampered in (replace(bound.binding, rows=2),
                     replace(bound.binding, verifier_code_hash=h("the attacker's code"))):
        assert why(replace(honest, binding=tampered)) == "not the model's binding"
    # A MODEL object the batch's state does not hold: another model, or the model with
    # another owner (its leaf is not the one committed).
    elsewhere = bind_model(tiny, ObjectId(h("a model of no batch")))
    assert why(elsewhere.registration()) == "model not in the batch's state"
    stolen = replace(bound.model, owner=BOB)
    assert why(replace(honest, model=stolen)) == "model not in the batch's state"
    # A DATA object, though in the state and committed to the binding's hash.
    data_proof = get_state_proof(bound.state, compute_object_key(data.object_id))
    assert why(replace(honest, model=data, proof=data_proof)) == "not a MODEL object"
    # A header the rollup did not accept: another data pointer, or a state root of the
    # attacker's (one that shows the other model) under batch 0's number.
    assert why(honest, replace(batch0.header, data_pointer=h("other"))) == (
        "not the header of the accepted batch")
    made_up = replace(batch0.header, state_root=elsewhere.root)
    assert why(elsewhere.registration(), made_up) == "not the header of the accepted batch"
    # A batch not accepted yet, though its header is well formed.
    batch1 = make_batch(1, prev_root=bound.root, state_root=bound.root)
    assert why(honest, batch1.header) == "batch not accepted"
    assert ledger.model(MODEL) is None
    # The honest registration, by anyone.
    send_registration(ledger, batch0.header, registration_arg(ledger, honest, verifier))
    model = ledger.model(MODEL)
    assert model.standing and (model.batch_number, model.layout.rows) == (0, 1)


# --- 3. the reusable verifier -------------------------------------------------------------


def test_the_reusable_path_reads_only_the_vka_the_binding_names(ledger, tiny):
    bound = bind_model(tiny, MODEL, own=False)  # no verifier of its own: its VKA on the shared
    batch0 = make_batch(0, state_root=bound.root)
    ledger.post_batch(*batch0)
    reusable = ledger.reusable_verifier.address
    vka = list(tiny.verifier.vka)

    def why(verifier, words) -> str:
        return refused(ledger, ledger.registry.functions.register(
            header_tuple(batch0.header),
            registration_arg(ledger, bound.registration(), verifier, words)), BOB_KEY)

    # Other VKA words: one word more, one less, one changed.
    changed = [vka[0], bytes([vka[1][0] ^ 1]) + vka[1][1:], *vka[2:]]
    for words in (vka + [bytes(32)], vka[:-1], changed):
        assert why(reusable, words) == "VKA is not the model's"
    # A "reusable verifier" whose code is not the one the binding names: the yes-verifier.
    assert why(deploy_yes_verifier(ledger), vka) == "reusable verifier code is not the model's"
    # Its own verifier, though the binding names none.
    own = deploy_verifier(ledger, tiny.verifier)
    assert why(own, []) == "the model has no verifier of its own: register its VKA"
    assert ledger.model(MODEL) is None
    # The posting of batch 1 binds it with the right VKA, and the real proof in it verifies.
    header, txs, inference = one_inference(tiny, MODEL, 1, bound.root, state_root=bound.root)
    right = registration_arg(ledger, bound.registration(), reusable, vka)
    wrong = registration_arg(ledger, bound.registration(), reusable, vka[:-1])
    assert refused(ledger, submit(ledger, header, txs, [inference_arg(inference, vka)],
                                  [wrong])) == "VKA is not the model's"
    ledger._transact("submit", SEQUENCER_KEY, submit(
        ledger, header, txs, [inference_arg(inference, vka)], [right]), gas=6_000_000)
    assert ledger.batch_status(1).accepted
    model = ledger.model(MODEL)
    assert model.reusable and model.vka_digest == tiny.verifier.vka_digest
    assert (model.batch_number, model.standing) == (1, True)


# --- 4. a registration does not survive its batch's revert -------------------------------


@dataclass
class Reverted:
    """Batch 1 showed Alice's model and Bob registered it from there; then a fraud proof
    reverted batch 1. What the honest batch 1 in its place is made of."""

    r: Rollup  # its state: the truth before batch 1
    model_id: ObjectId
    txs: list[Transaction]  # the deposit of Alice's data point, her DeployModel, a transfer
    infer: Transaction  # an Infer of the model on that data point
    execution: Execution
    inference: ProvenInference


def revert_a_registration(tiny) -> Reverted:
    r = make_rollup()  # batch 0: Alice's 5 ETH (honest)
    ledger = r.ledger
    ledger.deposit_data(ALICE_KEY, ALICE, tiny.execution.input_commitment.be_bytes, b"a row")
    event = ledger.deposits(0, ledger.head())[-1]
    deposit = make_deposit_transaction(DOMAIN, ledger.ledger_id, event)
    truth = r.state.copy()
    # Batch 1: the deposit, Alice's model (committed to its verifier), and a transfer
    # committed as if Bob had received 2 ETH: the lying state root shows the model too.
    model_tx = deploy_model(tiny)
    transfer = signed(ALICE_KEY, 1, Transfer(BOB, native(), Amount(10**18)))
    pre = r.state.copy()
    process_transaction(pre, deposit)
    process_transaction(pre, model_tx)
    lying = pre.copy()
    process_transaction(lying, signed(ALICE_KEY, 1, Transfer(BOB, native(), Amount(2 * 10**18))))
    lie = TxCommitment(compute_tx_hash(transfer), compute_state_root(lying))
    header1, posted1 = r.post([deposit, model_tx, transfer], lie={2: lie})
    model_id = compute_object_id(ALICE, Nonce(0))
    ledger.register_model(header1, registration_in(lying, tiny, model_id), BOB_KEY)
    assert ledger.model(model_id).standing
    # A challenger proves the lie: batch 1 is reverted, and the registration with it.
    witness = compute_step_witness(pre, transfer, None)
    ledger.challenge(header1, posted1, 2, witness, None, CHALLENGER_KEY)
    assert ledger.next_batch_number() == 1
    model = ledger.model(model_id)
    assert (model.batch_number, model.standing) == (1, False)
    r.state, r.batches = truth, r.batches[:1]
    ledger.top_up_bond(Amount(DEFAULT_BOND_WEI), ALICE_KEY)  # the revert paid the bond away

    infer = signed(ALICE_KEY, 2, Infer(model_id, compute_deposit_object_id(event.event_id),
                                       Amount(0)))
    execution = Execution(tiny.execution.input_commitment.be_bytes, tiny.execution.outputs)
    result_id = compute_object_id(ALICE, Nonce(2))
    inference = proven_inference(model_id, tiny.proof, [(compute_tx_hash(infer), result_id)])
    return Reverted(r, model_id, [deposit, model_tx, transfer], infer, execution, inference)


def test_a_registration_from_a_reverted_batch_stops_counting(tiny):
    v = revert_a_registration(tiny)
    ledger = v.r.ledger
    # The honest batch 1 in its place, showing the same model.
    header1, _ = v.r.post(v.txs)
    shown = v.r.state.copy()
    # Batch 2 proves an inference of the model: refused while its registration is the
    # reverted batch's (by the Python side, and by the rollup when sent past it).
    header2, posted2 = v.r.seal([v.infer], executions={0: v.execution})
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(header2, posted2, [v.inference])
    assert reason(err) == "model not registered"
    assert refused(ledger, submit(ledger, header2, posted2, [inference_arg(v.inference)])) == (
        "model registered from a reverted batch: register it again")
    # Registered again from the standing batch 1, the same inference is taken.
    ledger.register_model(header1, registration_in(shown, tiny, v.model_id), BOB_KEY)
    model = ledger.model(v.model_id)
    assert (model.batch_number, model.standing) == (1, True)
    ledger.post_batch(header2, posted2, [v.inference])
    assert ledger.next_batch_number() == 3


def test_the_batch_in_place_of_the_reverted_one_binds_the_model_again(tiny):
    """The new batch 1 has the reverted batch's number, not its hash: the old registration
    does not count for it either; its own posting binds the model again."""
    v = revert_a_registration(tiny)
    ledger = v.r.ledger
    header1, posted1 = v.r.seal([*v.txs, v.infer], executions={3: v.execution})
    assert refused(ledger, submit(ledger, header1, posted1, [inference_arg(v.inference)])) == (
        "model registered from a reverted batch: register it again")
    ledger.post_batch(header1, posted1, [v.inference],
                      registrations=[registration_in(v.r.state, tiny, v.model_id)])
    model = ledger.model(v.model_id)
    assert (model.batch_number, model.standing) == (1, True)
    assert ledger.batch_status(1).accepted
