"""Every transaction type accepted, every refusal typed and leaving the state unchanged."""

from dataclasses import replace
from typing import Any

import pytest

from flavum.core import errors
from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import compute_outputs_hash
from flavum.core.state import (
    Domain,
    State,
    compute_object_key,
    compute_state_root,
    get_balance,
    get_nonce,
    get_object,
    get_state_proof,
)
from flavum.core.stf import (
    Execution,
    compute_deposit_object_id,
    compute_object_id,
    process_transaction,
    state_transition,
)
from flavum.core.transactions import (
    DeployModel,
    Deposit,
    GrantAccess,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
)
from flavum.core.types import (
    ZERO_ADDRESS,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    AssetId,
    ChainId,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)

from .conftest import ALICE, BOB, CAROL, DOMAIN, ETH, sign

LEDGER = Hash32(b"\x4c" * 32)
EVM = compute_ledger_id("evm")  # the ledger of ETH
COMMITMENT = Hash32(b"\xcc" * 32)
EXECUTION = Execution(COMMITMENT, (7, -3, 12))


def snapshot(state: State) -> tuple[Any, ...]:
    return (
        compute_state_root(state), dict(state.nonces), dict(state.balances),
        dict(state.objects), dict(state.grants), dict(state.deposits),
    )


def deploy(state: State, user=ALICE, fee: int = 5, access=Access.OWNED) -> ObjectId:
    body = DeployModel(Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), ZERO_HASH, access, ETH,
                       Amount(fee))
    nonce = get_nonce(state, user.address)
    return process_transaction(state, sign(user, nonce, body)).object_id


def submit(state: State, user=ALICE, access=Access.OWNED) -> ObjectId:
    nonce = get_nonce(state, user.address)
    body = SubmitData(COMMITMENT, ZERO_HASH, access)
    return process_transaction(state, sign(user, nonce, body)).object_id


def refused(state: State, tx: Transaction, error: type[Exception], execution=None) -> None:
    before = snapshot(state)
    with pytest.raises(error):
        process_transaction(state, tx, execution)
    assert snapshot(state) == before


# --- accepted ---


def test_transfer_moves_balance_and_bumps_nonce(state):
    root = compute_state_root(state)
    process_transaction(state, sign(ALICE, 0, Transfer(CAROL.address, ETH, Amount(300))))
    assert get_balance(state, ALICE.address, ETH) == 700
    assert get_balance(state, CAROL.address, ETH) == 300
    assert get_nonce(state, ALICE.address) == 1
    assert compute_state_root(state) != root


def test_deploy_submit_infer_pays_fee_and_creates_result(state):
    model_id = deploy(state, ALICE, fee=5, access=Access.COMMON)
    data_id = submit(state, BOB)
    outcome = process_transaction(state, sign(BOB, 1, Infer(model_id, data_id, Amount(5))),
                                  EXECUTION)
    result = get_object(state, outcome.object_id)
    assert result is not None and result.kind == ObjectKind.RESULT and result.owner == BOB.address
    assert result.commitment == compute_outputs_hash(EXECUTION.outputs)
    assert (result.model_id, result.data_id) == (model_id, data_id)
    assert get_balance(state, BOB.address, ETH) == 995
    assert get_balance(state, ALICE.address, ETH) == 1005
    assert outcome.trace is not None and outcome.trace.outputs == (7, -3, 12)
    assert outcome.trace.input_commitment == COMMITMENT


def test_object_ids_are_deterministic(state):
    model_id = deploy(state)
    assert model_id == compute_object_id(ALICE.address, Nonce(0))
    model = get_object(state, model_id)
    assert model.kind == ObjectKind.MODEL and model.fee == 5 and model.owner == ALICE.address


def test_grant_access_lets_grantee_infer_and_revoke_stops_it(state):
    model_id = deploy(state, ALICE, fee=0)
    data_id = submit(state, BOB, access=Access.COMMON)
    infer = sign(BOB, 1, Infer(model_id, data_id, Amount(0)))
    refused(state, infer, errors.NoAccess, EXECUTION)
    process_transaction(state, sign(ALICE, 1, GrantAccess(model_id, BOB.address, True)))
    process_transaction(state, infer, EXECUTION)
    process_transaction(state, sign(ALICE, 2, GrantAccess(model_id, BOB.address, False)))
    refused(state, sign(BOB, 2, Infer(model_id, data_id, Amount(0))), errors.NoAccess, EXECUTION)


def test_transfer_object_changes_owner_and_lapses_grants(state):
    data_id = submit(state, ALICE)
    process_transaction(state, sign(ALICE, 1, GrantAccess(data_id, CAROL.address, True)))
    process_transaction(state, sign(ALICE, 2, TransferObject(data_id, BOB.address)))
    assert get_object(state, data_id).owner == BOB.address
    model_id = deploy(state, BOB, fee=0, access=Access.COMMON)
    # Carol's grant came from Alice, who no longer owns the data.
    refused(state, sign(CAROL, 0, Infer(model_id, data_id, Amount(0))), errors.NoAccess, EXECUTION)


def test_withdraw_balance_and_object(state):
    outcome = process_transaction(
        state, sign(ALICE, 0, Withdraw(LEDGER, ALICE.address, ETH, Amount(100), ZERO_HASH))
    )
    assert get_balance(state, ALICE.address, ETH) == 900
    assert outcome.withdrawal.amount == 100 and outcome.withdrawal.object_kind == 0
    data_id = submit(state, ALICE)
    outcome = process_transaction(
        state, sign(ALICE, 2, Withdraw(LEDGER, BOB.address, ETH, Amount(0), data_id))
    )
    assert get_object(state, data_id) is None
    w = outcome.withdrawal
    assert (w.object_id, w.object_kind, w.commitment, w.recipient) == (
        data_id, ObjectKind.DATA, COMMITMENT, BOB.address)


def deposit_tx(body: Deposit) -> Transaction:
    return Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, ZERO_ADDRESS, Nonce(0), body)


def test_deposit_credits_and_mints_data_once(state):
    event = Hash32(b"\xee" * 32)
    deposit = deposit_tx(Deposit(EVM, event, CAROL.address, ZERO_ADDRESS, Amount(50), COMMITMENT,
                                 ZERO_HASH))
    process_transaction(state, deposit)
    assert get_balance(state, CAROL.address, ETH) == 50
    data = get_object(state, compute_deposit_object_id(event))
    assert data.owner == CAROL.address and data.commitment == COMMITMENT
    refused(state, deposit, errors.DepositAlreadyApplied)


def test_deposit_credits_only_its_own_ledgers_asset(state):
    # A deposit "from Litecoin" of the EVM bridge's token credits a Litecoin asset, never the
    # asset the EVM bridge pays out.
    token = Address(b"\x70" * 20)
    litecoin = compute_ledger_id("litecoin")
    body = Deposit(litecoin, Hash32(b"\xef" * 32), CAROL.address, token, Amount(7), ZERO_HASH,
                   ZERO_HASH)
    process_transaction(state, deposit_tx(body))
    assert body.asset == compute_asset_id(litecoin, token)
    assert get_balance(state, CAROL.address, compute_asset_id(litecoin, token)) == 7
    assert get_balance(state, CAROL.address, compute_asset_id(EVM, token)) == 0
    assert get_balance(state, CAROL.address, ETH) == 0


def test_state_transition_checks_claimed_root(state):
    other = state.copy()
    tx = sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(1)))
    process_transaction(other, tx)
    state_transition(state.copy(), [tx], [None], compute_state_root(other))
    with pytest.raises(errors.StateRootMismatch):
        state_transition(state, [tx], [None], Hash32(b"\x00" * 32))


def test_state_proofs_cover_objects_and_absence(state):
    from flavum.core.merkle import verify_smt_proof
    from flavum.core.state import compute_object_hash

    data_id = submit(state, ALICE)
    root = compute_state_root(state)
    key = compute_object_key(data_id)
    value = compute_object_hash(get_object(state, data_id))
    assert verify_smt_proof(root, key, value, get_state_proof(state, key))
    missing = compute_object_key(ObjectId(b"\x99" * 32))
    assert verify_smt_proof(root, missing, None, get_state_proof(state, missing))


def test_equal_states_have_equal_roots_regardless_of_history(state):
    a, b = state.copy(), state.copy()
    process_transaction(a, sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(10))))
    process_transaction(a, sign(BOB, 0, Transfer(ALICE.address, ETH, Amount(10))))
    # Same balances; only the nonces differ, so the roots differ exactly by the account leaves.
    assert get_balance(a, ALICE.address, ETH) == get_balance(b, ALICE.address, ETH)
    assert compute_state_root(a) != compute_state_root(b)
    c = state.copy()
    process_transaction(c, sign(ALICE, 0, Transfer(CAROL.address, ETH, Amount(1000))))
    process_transaction(c, sign(CAROL, 0, Transfer(ALICE.address, ETH, Amount(1000))))
    d = state.copy()
    process_transaction(d, sign(CAROL, 0, Transfer(CAROL.address, ETH, Amount(0))))
    process_transaction(d, sign(ALICE, 0, Transfer(ALICE.address, ETH, Amount(0))))
    # Zero balances leave no leaf: c and d hold the same state.
    assert compute_state_root(c) == compute_state_root(d)


# --- refused, state unchanged ---


def test_bad_signature(state):
    tx = sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(1)))
    refused(state, replace(tx, sender=BOB.address), errors.BadSignature)
    forged = bytearray(tx.signature)
    forged[5] ^= 1
    refused(state, replace(tx, signature=bytes(forged)), errors.BadSignature)
    refused(state, replace(tx, signature=b"\x01" * 10), errors.BadSignature)
    tampered_body = replace(tx, body=Transfer(BOB.address, ETH, Amount(999)))
    refused(state, tampered_body, errors.BadSignature)


def test_high_s_signature_refused(state):
    from eth_keys.constants import SECPK1_N

    tx = sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(1)))
    r, s, v = tx.signature[:32], int.from_bytes(tx.signature[32:64], "big"), tx.signature[64]
    malleated = r + (SECPK1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
    refused(state, replace(tx, signature=malleated), errors.BadSignature)


def test_wrong_nonce_and_replay(state):
    refused(state, sign(ALICE, 1, Transfer(BOB.address, ETH, Amount(1))), errors.NonceMismatch)
    tx = sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(1)))
    process_transaction(state, tx)
    refused(state, tx, errors.NonceMismatch)  # the same signed transaction again


def test_wrong_domain(state):
    other_chain = Domain(ChainId(1), DOMAIN.rollup_id)
    other_rollup = Domain(DOMAIN.chain_id, Hash32(b"\x22" * 32))
    body = Transfer(BOB.address, ETH, Amount(1))
    refused(state, sign(ALICE, 0, body, other_chain), errors.WrongDomain)
    refused(state, sign(ALICE, 0, body, other_rollup), errors.WrongDomain)


def test_insufficient_balance(state):
    refused(state, sign(ALICE, 0, Transfer(BOB.address, ETH, Amount(1001))),
            errors.InsufficientBalance)
    other_asset = AssetId(b"\x05" * 32)
    refused(state, sign(ALICE, 0, Transfer(BOB.address, other_asset, Amount(1))),
            errors.InsufficientBalance)
    refused(state, sign(ALICE, 0, Withdraw(LEDGER, ALICE.address, ETH, Amount(2000), ZERO_HASH)),
            errors.InsufficientBalance)


def test_not_the_owner(state):
    data_id = submit(state, ALICE)
    refused(state, sign(BOB, 0, TransferObject(data_id, BOB.address)), errors.NotOwner)
    refused(state, sign(BOB, 0, GrantAccess(data_id, BOB.address, True)), errors.NotOwner)
    refused(state, sign(BOB, 0, Withdraw(LEDGER, BOB.address, ETH, Amount(0), data_id)),
            errors.NotOwner)


def test_unknown_object_and_wrong_kind(state):
    model_id = deploy(state, ALICE, fee=0, access=Access.COMMON)
    data_id = submit(state, ALICE)
    unknown = ObjectId(b"\x77" * 32)
    refused(state, sign(ALICE, 2, Infer(unknown, data_id, Amount(0))), errors.UnknownObject,
            EXECUTION)
    refused(state, sign(ALICE, 2, Infer(model_id, unknown, Amount(0))), errors.UnknownObject,
            EXECUTION)
    refused(state, sign(ALICE, 2, Infer(data_id, model_id, Amount(0))), errors.WrongObjectKind,
            EXECUTION)
    refused(state, sign(ALICE, 2, TransferObject(unknown, BOB.address)), errors.UnknownObject)


def test_no_access_to_owned_data(state):
    model_id = deploy(state, ALICE, fee=0, access=Access.COMMON)
    data_id = submit(state, ALICE)
    refused(state, sign(BOB, 0, Infer(model_id, data_id, Amount(0))), errors.NoAccess, EXECUTION)


def test_fee_checks(state):
    model_id = deploy(state, ALICE, fee=5, access=Access.COMMON)
    data_id = submit(state, CAROL, access=Access.COMMON)
    refused(state, sign(CAROL, 1, Infer(model_id, data_id, Amount(4))), errors.FeeTooLow, EXECUTION)
    # Carol has no balance to pay the fee with.
    refused(state, sign(CAROL, 1, Infer(model_id, data_id, Amount(5))), errors.InsufficientBalance,
            EXECUTION)


def test_inference_must_match_the_data_commitment(state):
    model_id = deploy(state, ALICE, fee=0, access=Access.COMMON)
    data_id = submit(state, ALICE)
    infer = sign(ALICE, 2, Infer(model_id, data_id, Amount(0)))
    refused(state, infer, errors.InferenceMismatch, None)
    refused(state, infer, errors.InferenceMismatch, Execution(Hash32(b"\x01" * 32), (1,)))


def test_malformed_transactions(state):
    refused(state, sign(ALICE, 0, Withdraw(LEDGER, ALICE.address, ETH, Amount(0), ZERO_HASH)),
            errors.MalformedTransaction)
    empty_deposit = deposit_tx(Deposit(EVM, Hash32(b"\x01" * 32), ALICE.address, ZERO_ADDRESS,
                                       Amount(0), ZERO_HASH, ZERO_HASH))
    refused(state, empty_deposit, errors.MalformedTransaction)
    signed_deposit = sign(ALICE, 0, Deposit(EVM, Hash32(b"\x01" * 32), ALICE.address,
                                            ZERO_ADDRESS, Amount(1), ZERO_HASH, ZERO_HASH))
    refused(state, signed_deposit, errors.MalformedTransaction)


def test_rollback_after_writing_an_absent_entry_as_absent(state):
    # A zero transfer to a fresh account "writes" its absent balance; a later failure in the
    # same transaction must still roll back cleanly (a fee it cannot pay, here).
    model_id = deploy(state, ALICE, fee=5, access=Access.COMMON)
    data_id = submit(state, CAROL, access=Access.COMMON)
    from flavum.core.state import increase_balance

    state.begin()
    increase_balance(state, CAROL.address, ETH, Amount(0))
    state.rollback()
    refused(state, sign(CAROL, 1, Infer(model_id, data_id, Amount(5))), errors.InsufficientBalance,
            EXECUTION)
