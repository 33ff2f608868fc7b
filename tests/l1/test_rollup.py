"""Rollup contract rules, driven from Python: every rejection, and the accepted batch."""

from dataclasses import replace

import pytest

from flavum.core.types import Hash32, ObjectId
from flavum.l1.errors import LedgerError, LedgerUnreachable
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import rpc_web3
from flavum.l1.interface import ModelLayout

from .conftest import ALICE, ALICE_KEY, _free_port
from .helpers import h, make_batch, one_inference, trace_of

MODEL = ObjectId(h("model"))


@pytest.fixture
def registered(ledger, tiny):
    ledger.register_model(MODEL, tiny.verifier, tiny.artifacts.vk_hash, ALICE)
    return ledger


def reason(exc_info) -> str:
    return exc_info.value.reason


def test_batch_with_a_real_proof_is_accepted(registered, tiny):
    header, inference = one_inference(tiny, MODEL)
    tx_hash = registered.post_batch(header, [inference])
    status = registered.batch_status(0)
    assert status.accepted and status.tx_hash == tx_hash
    assert registered.next_batch_number() == 1
    assert registered.model(MODEL).vk_hash == tiny.artifacts.vk_hash
    # The next batch chains from the state root just accepted.
    registered.post_batch(make_batch(1, prev_root=header.state_root))
    assert registered.next_batch_number() == 2


def test_posting_is_idempotent(registered, tiny):
    header, inference = one_inference(tiny, MODEL)
    first = registered.post_batch(header, [inference])
    block = registered.head()
    assert registered.post_batch(header, [inference]) == first
    assert registered.head() == block  # nothing sent
    with pytest.raises(LedgerError) as err:
        registered.post_batch(replace(header, data_pointer=h("other")), [inference])
    assert reason(err) == "batch hash mismatch"


def test_wrong_previous_root(registered):
    with pytest.raises(LedgerError) as err:
        registered.post_batch(make_batch(0, prev_root=h("not genesis")))
    assert reason(err) == "previous state root mismatch"


def test_batch_number_out_of_order(registered):
    ledger = EvmLedger(registered.w3, registered.deployment, registered.sequencer_key)
    fn = ledger.rollup.functions.submitBatch(
        (1, *[h(str(i)) for i in range(6)]), [], [])
    with pytest.raises(LedgerError) as err:
        ledger._transact("raw submit", registered.sequencer_key, fn)
    assert reason(err) == "batch number out of order"


def test_unauthorised_poster(registered, tiny):
    intruder = EvmLedger(registered.w3, registered.deployment, sequencer_key=ALICE_KEY)
    header, inference = one_inference(tiny, MODEL)
    with pytest.raises(LedgerError) as err:
        intruder.post_batch(header, [inference])
    assert reason(err) == "only the sequencer posts batches"


def test_bad_proof_byte(registered, tiny):
    header, inference = one_inference(tiny, MODEL)
    proof = bytearray(inference.proof)
    proof[100] ^= 0x01
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, [replace(inference, proof=bytes(proof))])
    assert reason(err) == "proof rejected by the verifier"
    assert registered.next_batch_number() == 0


def test_public_values_not_matching_the_trace_leaves(registered, tiny):
    tx_hash, result_id = h("infer0"), ObjectId(h("result0"))
    outputs = list(tiny.execution.outputs)
    outputs[0] += 1
    lying = make_batch(0, traces=[trace_of(tiny, MODEL, tx_hash, result_id, outputs)])
    _, inference = one_inference(tiny, MODEL)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(lying, [inference])
    assert reason(err) == "trace root mismatch"
    # Nor can the poster bend the proof's public values to the lie: the verifier refuses.
    felts = list(inference.instances)
    felts[1] += 1
    with pytest.raises(LedgerError) as err:
        registered.post_batch(lying, [replace(inference, instances=tuple(felts))])
    assert reason(err) == "proof rejected by the verifier"


def test_trace_root_mismatch(registered, tiny):
    header, inference = one_inference(tiny, MODEL)
    with pytest.raises(LedgerError) as err:
        registered.post_batch(replace(header, trace_root=h("garbage")), [inference])
    assert reason(err) == "trace root mismatch"
    # A proven inference whose row is another transaction than the header's trace says.
    other = replace(inference, rows=((h("another tx"), inference.rows[0][1]),))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, [other])
    assert reason(err) == "trace root mismatch"


def test_rows_are_the_registered_ones(registered, ledger, tiny):
    header, inference = one_inference(tiny, MODEL)
    two_rows = replace(inference, rows=inference.rows * 2)  # the model's proofs have 1 row
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, [two_rows])
    assert reason(err) == "rows differ from the model's registration"
    # Registered with 2 rows, the same circuit's 3 outputs do not split into them.
    model = ObjectId(h("two-row model"))
    ledger.register_model(model, tiny.verifier, tiny.artifacts.vk_hash, ALICE, ModelLayout(2))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, [replace(two_rows, model_id=model)])
    assert reason(err) == "outputs do not split into the rows"
    # No registration without rows.
    with pytest.raises(LedgerError) as err:
        ledger.register_model(ObjectId(h("no rows")), tiny.verifier, tiny.artifacts.vk_hash,
                              ALICE, ModelLayout(0))
    assert reason(err) == "a model's proofs have at least one row"


def test_unregistered_model(registered, tiny):
    header, inference = one_inference(tiny, ObjectId(h("unknown model")))
    with pytest.raises(LedgerError) as err:
        registered.post_batch(header, [inference])
    assert reason(err) == "model not registered"


def test_model_registration_is_permanent_and_restricted(registered, tiny):
    again = registered.register_model(MODEL, tiny.verifier, h("other vk"), ALICE)
    assert again.vk_hash == tiny.artifacts.vk_hash  # idempotent: the first binding stays
    outsider = EvmLedger(registered.w3, registered.deployment, sequencer_key=ALICE_KEY)
    fn = outsider.registry.functions.registerModel(h("m2"), outsider.rollup.address, h("vk"),
                                                   outsider.rollup.address, 1, False)
    with pytest.raises(LedgerError) as err:
        outsider._transact("registerModel", ALICE_KEY, fn)
    assert reason(err) == "only the registrar registers models"


def test_reusable_verifier_with_the_registry_allow_list(ledger, tiny):
    model = ObjectId(h("vka model"))
    registered = ledger.register_model(model, tiny.verifier, tiny.artifacts.vk_hash, ALICE,
                                       use_reusable=True)
    assert registered.reusable
    header, inference = one_inference(tiny, model)
    ledger.post_batch(header, [inference])
    assert ledger.batch_status(0).accepted
    # Anyone can register a VKA on the shared verifier; the rollup still refuses it for a
    # model that the registry did not bind it to.
    forged = list(tiny.verifier.vka) + [b"\x00" * 32]
    reusable = ledger.reusable_verifier.functions.registerVka(forged)
    ledger._transact("registerVka", ALICE_KEY, reusable, gas=2_000_000)
    header1, inference1 = one_inference(tiny, model, number=1, prev_root=header.state_root)
    fn = ledger.rollup.functions.submitBatch(
        (header1.number, header1.prev_state_root, header1.state_root, header1.tx_root,
         header1.trace_root, header1.withdrawal_root, header1.data_pointer),
        [(model, inference1.proof, list(inference1.instances), forged,
          [inference1.rows[0][0]], [inference1.rows[0][1]])], [])
    with pytest.raises(LedgerError) as err:
        ledger._transact("submit", ledger.sequencer_key, fn, gas=5_000_000)
    assert reason(err) == "VKA not allowed for this model"


def test_unreachable_node_is_a_typed_error():
    with pytest.raises(LedgerUnreachable):
        rpc_web3(f"http://127.0.0.1:{_free_port()}", timeout_s=2)


def test_revert_reason_from_anvil(anvil):
    from .conftest import deploy

    ledger = deploy(anvil.w3)
    assert ledger.chain_id == 31337
    with pytest.raises(LedgerError) as err:
        ledger.post_batch(make_batch(0, prev_root=Hash32(b"\x09" * 32)))
    assert reason(err) == "previous state root mismatch"
    intruder = EvmLedger(anvil.w3, ledger.deployment, sequencer_key=ALICE_KEY)
    with pytest.raises(LedgerError) as err:
        intruder.post_batch(make_batch(0))
    assert reason(err) == "only the sequencer posts batches"
