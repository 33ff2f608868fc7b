"""The one-step executor (contracts/src/FlavumStep.sol) against the Python state transition:
every tests/vectors/stf case, transaction by transaction, and random sequences. For each
transaction both must agree: refused, or the same post-state root and emitted leaves."""

from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import (
    Trace,
    TraceEntry,
    TrainingTrace,
    compute_rows_hash,
    compute_trace_leaf,
    compute_withdrawal_leaf,
)
from flavum.core.codec import from_hex
from flavum.core.errors import InvalidTransaction
from flavum.core.genesis import DEV_ASSET, create_genesis
from flavum.core.state import Domain, State, compute_state_root, get_nonce, get_object
from flavum.core.step_witness import compute_step_witness
from flavum.core.stf import (
    AnyExecution,
    Execution,
    TrainingExecution,
    compute_deposit_object_id,
    compute_object_id,
    process_transaction,
)
from flavum.core.transactions import (
    DeployModel,
    Deposit,
    GrantAccess,
    Infer,
    SubmitData,
    Train,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
    address_of,
    compute_tx_hash,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import (
    NO_OBJECT,
    ZERO_ADDRESS,
    ZERO_HASH,
    Access,
    Amount,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)
from flavum.l1.evm_client import constructor_data, embedded_web3, load_artifact, send_transaction
from flavum.l1.evm_step import StepVerdict, execute_args, read_verdict
from tests.core.stf_vectors import case_names, check_pre_state, load_case, read_executions

from .conftest import DEPLOYER_KEY


@pytest.fixture(scope="module")
def w3():
    return embedded_web3([DEPLOYER_KEY])


@pytest.fixture(scope="module")
def postable(w3):
    """Would the rollup contract take this raw transaction in a batch at all (a canonical
    envelope: FlavumHashes.txHashOf, which every posted transaction passes)?"""
    artifact = load_artifact("FlavumHashesHarness")
    data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]), ())
    receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER_KEY,
                               {"data": data, "gas": 3_000_000}, "harness")
    harness = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def check(raw: bytes) -> bool:
        try:
            harness.functions.txHashOf(raw).call()
        except Exception:
            return False
        return True

    return check


@pytest.fixture(scope="module")
def executors(w3):
    """FlavumStep deployed once per domain."""
    artifact = load_artifact("FlavumStep")
    deployed: dict[tuple[int, bytes], Any] = {}

    def get(chain_id: int, rollup_id: bytes) -> Any:
        if (chain_id, rollup_id) not in deployed:
            data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]),
                                    (chain_id, rollup_id))
            receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER_KEY,
                                       {"data": data, "gas": 6_000_000}, "step")
            deployed[chain_id, rollup_id] = w3.eth.contract(
                address=receipt["contractAddress"], abi=artifact["abi"])
        return deployed[chain_id, rollup_id]

    return get


@dataclass
class Expected:
    refusal: InvalidTransaction | None
    post_root: Hash32
    withdrawal_leaf: Hash32
    trace_leaf: Hash32


def run_step(contract: Any, pre: State, raw: bytes, execution: AnyExecution | None
             ) -> tuple[StepVerdict, int]:
    """Executor verdict and gas for `raw` on `pre`, with the witness the challenger builds."""
    try:
        tx = decode_transaction(raw)
    except InvalidTransaction:
        tx = None
    trace = None if tx is None else claimed_trace(pre, tx, execution)
    if tx is None:
        from flavum.core.step_witness import StepWitness
        witness = StepWitness(compute_state_root(pre), (), (), None)
    else:
        witness = compute_step_witness(pre, tx, execution)
    fn = contract.functions.judge(*execute_args(witness, raw, trace))
    verdict = read_verdict(fn.call())
    return verdict, (fn.estimate_gas() if verdict.post_state_root else 0)


def claimed_trace(pre: State, tx: Transaction, execution: AnyExecution | None) -> Trace | None:
    """The trace leaf an honest sequencer commits for `tx` (as if the rules accepted it)."""
    body = tx.body
    if isinstance(body, Train) and isinstance(execution, TrainingExecution):
        return claimed_training(pre, tx, body, execution)
    if not isinstance(body, Infer) or not isinstance(execution, Execution):
        return None
    entry = TraceEntry(compute_tx_hash(tx), body.model_id, body.data_id,
                       execution.input_commitment, execution.outputs,
                       compute_object_id(tx.sender, tx.nonce))
    model = get_object(pre, body.model_id)
    if model is not None and model.model_id != NO_OBJECT:
        # A trainable version: its inference circuit proves it, on its weights.
        entry = replace(entry, circuit_id=ObjectId(model.vk_hash), weights=model.commitment)
    return entry


def claimed_training(pre: State, tx: Transaction, body: Train, execution: TrainingExecution
                     ) -> TrainingTrace | None:
    """The training trace an honest sequencer commits, read from the pre-state (None: an
    object is missing, so the rules refuse the transaction anyway)."""
    parent = get_object(pre, body.model_id)
    rows = [get_object(pre, data_id) for data_id in body.data_ids]
    if parent is None or any(row is None for row in rows):
        return None
    return TrainingTrace(compute_tx_hash(tx), parent.model_id, parent.commitment, body.steps,
                         compute_rows_hash([row.commitment for row in rows if row]),
                         execution.params_out, compute_object_id(tx.sender, tx.nonce))


def python_step(state: State, raw: bytes, execution: AnyExecution | None) -> Expected:
    try:
        tx = decode_transaction(raw)
        outcome = process_transaction(state, tx, execution)
    except InvalidTransaction as exc:
        return Expected(exc, compute_state_root(state), ZERO_HASH, ZERO_HASH)
    return Expected(
        None, compute_state_root(state),
        ZERO_HASH if outcome.withdrawal is None else compute_withdrawal_leaf(outcome.withdrawal),
        ZERO_HASH if outcome.trace is None else compute_trace_leaf(outcome.trace),
    )


def check_agree(contract: Any, state: State, raw: bytes, execution: AnyExecution | None,
                where: str, postable: Any) -> int:
    """Apply `raw` to `state` with Python and with the executor; fail where they disagree."""
    pre = state.copy()
    expected = python_step(state, raw, execution)
    if not postable(raw):
        # Not a canonical envelope: no batch can hold it, so there is nothing to challenge.
        assert expected.refusal is not None and expected.refusal.code == "malformed_transaction"
        return 0
    verdict, gas = run_step(contract, pre, raw, execution)
    assert verdict.bad_witness is None, f"{where}: the executor refused the witness: " \
                                        f"{verdict.bad_witness}"
    if expected.refusal is not None:
        assert verdict.invalid is not None, (
            f"{where}: Python refuses ({expected.refusal.code}), the executor accepts")
        return 0
    assert verdict.invalid is None, f"{where}: the executor refuses: {verdict.invalid}"
    assert verdict.post_state_root == expected.post_root, f"{where}: post-state roots differ"
    assert verdict.withdrawal_leaf == expected.withdrawal_leaf, f"{where}: withdrawal leaves differ"
    assert verdict.trace_leaf == expected.trace_leaf, f"{where}: trace leaves differ"
    return gas


GAS: dict[str, int] = {}


@pytest.mark.parametrize("name", case_names())
def test_executor_agrees_with_the_stf_vectors(executors, postable, name):
    case = load_case(name)
    state = check_pre_state(case["pre_state"])
    contract = executors(state.domain.chain_id, state.domain.rollup_id)
    entries = case["transactions"]["transactions"]
    for index, (entry, execution) in enumerate(zip(entries, read_executions(case), strict=True)):
        gas = check_agree(contract, state, from_hex(entry["raw"]), execution,
                          f"{name} transaction {index}", postable)
        decoded = entry["decoded"]
        if gas and decoded is not None:
            GAS[decoded["type"]] = max(GAS.get(decoded["type"], 0), gas)


def test_every_transaction_type_is_under_a_million_gas():
    """The cost of a one-step re-execution per type, as measured above (all vectors)."""
    if not GAS:
        pytest.skip("run with the vector cases")  # pragma: no cover
    print("one-step gas by type:", GAS)
    assert len(GAS) == 10, f"types measured: {sorted(GAS)}"
    assert max(GAS.values()) < 1_000_000


def test_a_forged_witness_is_refused_not_taken_for_fraud(executors):
    case = load_case("transfer")
    state = check_pre_state(case["pre_state"])
    contract = executors(state.domain.chain_id, state.domain.rollup_id)
    raw = from_hex(case["transactions"]["transactions"][0]["raw"])
    tx = decode_transaction(raw)
    witness = compute_step_witness(state, tx, None)
    forged = witness.entries[0]
    # A balance the pre-state does not hold: its proof fails, whatever the preimage says.
    from dataclasses import replace
    bad = replace(witness, entries=(replace(forged, preimage=forged.preimage + b"\x01"),
                                    *witness.entries[1:]))
    verdict = read_verdict(contract.functions.judge(*execute_args(bad, raw, None)).call())
    assert verdict.bad_witness == "a state entry is not proven against the pre-state root"
    missing = replace(witness, entries=witness.entries[1:])
    verdict = read_verdict(contract.functions.judge(*execute_args(missing, raw, None)).call())
    assert verdict.bad_witness == "the witness lacks a state entry the transaction touches"
    no_writes = replace(witness, writes=())
    verdict = read_verdict(contract.functions.judge(*execute_args(no_writes, raw, None)).call())
    assert verdict.bad_witness == "a changed entry has no write proof"


def test_a_versions_inference_committed_with_other_weights_is_fraud(executors):
    """A lying sequencer commits an Infer on a trained version with a leaf that names other
    weights (or the version itself, as a plain model's leaf would): the one-step executor
    re-executes it and finds the committed entry is not this inference's."""
    case = load_case("infer_version_paying_fee")
    state = check_pre_state(case["pre_state"])
    contract = executors(state.domain.chain_id, state.domain.rollup_id)
    raw = from_hex(case["transactions"]["transactions"][0]["raw"])
    (execution,) = read_executions(case)
    tx = decode_transaction(raw)
    honest = claimed_trace(state, tx, execution)
    assert isinstance(honest, TraceEntry) and honest.circuit_id != NO_OBJECT
    witness = compute_step_witness(state, tx, execution)
    for lie in (replace(honest, weights=Hash32(b"\x07" * 32)),
                replace(honest, circuit_id=NO_OBJECT)):
        verdict = read_verdict(contract.functions.judge(*execute_args(witness, raw, lie)).call())
        assert verdict.invalid == "the committed trace entry is not this inference's"
    verdict = read_verdict(contract.functions.judge(*execute_args(witness, raw, honest)).call())
    assert verdict.invalid is None and verdict.trace_leaf == compute_trace_leaf(honest)


# --- random sequences ---------------------------------------------------------------------
# Hypothesis draws sequences of valid and invalid transactions of every type from three users
# (wrong nonces, amounts past the balance, objects of others or none, revoked grants, fees,
# another rollup's domain, deposits twice); Python and the executor must agree on each one.

USERS = tuple(bytes([0x61 + i]) * 32 for i in range(3))
RANDOM_DOMAIN = Domain(ChainId(31337), Hash32(b"\x44" * 32))
OTHER_DOMAIN = Domain(ChainId(5), Hash32(b"\x45" * 32))
LEDGER = compute_ledger_id("evm")
ASSETS = (compute_asset_id(LEDGER), DEV_ASSET)


def random_genesis() -> State:
    return create_genesis(RANDOM_DOMAIN, [(address_of(k), Amount(1_000)) for k in USERS])


@st.composite
def random_transaction(draw, state: State, known: list[ObjectId]
                       ) -> tuple[bytes, AnyExecution | None]:
    """One signed (or system) transaction, valid or not, on `state`; `known` lists object ids
    created so far (and some that never exist)."""
    key = draw(st.sampled_from(USERS))
    sender = address_of(key)
    nonce = get_nonce(state, sender) + draw(st.sampled_from((0, 0, 0, 0, 1)))
    to = address_of(draw(st.sampled_from(USERS)))
    amount = Amount(draw(st.sampled_from((0, 1, 7, 999, 1_000, 1_001, 2_000))))
    objects = [(o, get_object(state, o)) for o in known]
    mine = [o for o, stored in objects if stored is not None and stored.owner == sender]
    # Mostly the sender's own objects (so the ownership rules pass and the next rule is met).
    obj = draw(st.sampled_from([*mine, *mine, *known, ObjectId(b"\x0f" * 32)]))
    asset = draw(st.sampled_from(ASSETS))
    access = draw(st.sampled_from((Access.OWNED, Access.COMMON)))
    kind = draw(st.sampled_from(("transfer", "object", "grant", "model", "data", "infer",
                                 "withdraw", "deposit")))
    execution = None
    if kind == "deposit":
        event = Hash32(bytes([draw(st.integers(0, 3))]) * 32)  # a repeat is applied once only
        body: Any = Deposit(LEDGER, event, to, ZERO_ADDRESS, amount, ZERO_HASH, ZERO_HASH)
        return encode_transaction(Transaction(RANDOM_DOMAIN.chain_id, RANDOM_DOMAIN.rollup_id,
                                              ZERO_ADDRESS, Nonce(0), body)), None
    if kind == "transfer":
        body = Transfer(to, asset, amount)
    elif kind == "object":
        body = TransferObject(obj, to)
    elif kind == "grant":
        body = GrantAccess(obj, to, draw(st.booleans()))
    elif kind == "model":
        body = DeployModel(Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), ZERO_HASH, access, asset,
                           Amount(draw(st.sampled_from((0, 5, 5_000)))))
    elif kind == "data":
        body = SubmitData(Hash32(bytes([draw(st.integers(1, 3))]) * 32), ZERO_HASH, access)
    elif kind == "infer":
        models = [o for o, stored in objects if stored and stored.kind == ObjectKind.MODEL]
        datas = [o for o, stored in objects if stored and stored.kind == ObjectKind.DATA]
        model = draw(st.sampled_from([*models, *models, obj]))
        data = draw(st.sampled_from([*datas, *datas, *known, ObjectId(b"\x0e" * 32)]))
        body = Infer(model, data, Amount(draw(st.sampled_from((10_000, 5, 0)))))
        stored = get_object(state, data)
        matching = stored is not None and draw(st.sampled_from((True, True, True, False)))
        commitment = stored.commitment if matching else Hash32(b"\x03" * 32)
        execution = Execution(commitment, tuple(draw(st.lists(st.integers(-2**40, 2**40),
                                                              min_size=1, max_size=3))))
    else:
        withdrawn = draw(st.sampled_from((NO_OBJECT, NO_OBJECT, obj)))
        body = Withdraw(LEDGER, to, asset, Amount(0) if withdrawn != NO_OBJECT else amount,
                        withdrawn)
    domain = draw(st.sampled_from((RANDOM_DOMAIN,) * 19 + (OTHER_DOMAIN,)))
    tx = Transaction(domain.chain_id, domain.rollup_id, sender, Nonce(nonce), body)
    return encode_transaction(sign_transaction(tx, key)), execution


RANDOM_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=10, **RANDOM_SETTINGS)
@given(st.data())
def test_executor_agrees_with_the_stf_on_random_sequences(executors, postable, data):
    agree_on_a_random_sequence(executors, postable, data)


@pytest.mark.slow
@settings(max_examples=60, **RANDOM_SETTINGS)
@given(st.data())
def test_executor_agrees_with_the_stf_on_many_random_sequences(executors, postable, data):
    agree_on_a_random_sequence(executors, postable, data)


def agree_on_a_random_sequence(executors, postable, data) -> None:
    state = random_genesis()
    contract = executors(RANDOM_DOMAIN.chain_id, RANDOM_DOMAIN.rollup_id)
    known: list[ObjectId] = []
    for index in range(data.draw(st.integers(4, 12))):
        raw, execution = data.draw(random_transaction(state, known))
        check_agree(contract, state, raw, execution, f"random transaction {index}", postable)
        tx = decode_transaction(raw)
        created = compute_object_id(tx.sender, tx.nonce)
        if get_object(state, created) is not None and created not in known:
            known.append(created)
        if isinstance(tx.body, Deposit) and get_object(state, compute_deposit_object_id(
                tx.body.event_id)) is not None:
            known.append(compute_deposit_object_id(tx.body.event_id))
