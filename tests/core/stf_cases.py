"""State-transition cases: every transaction type and every typed refusal, defined in Python.

A case is a pre-state (written with the state's setters, from fixed keys) and a list of
transactions, each with the execution of its inference and what it must do: be accepted, or
be refused with a given error. `build_case_files` applies the case with the core's state
transition, checks that every step does what the definition says, and gives the JSON files of
tests/vectors/stf/<case>/ (see tests/core/stf_vectors.py). `tests/core/test_stf_vectors.py`
fails when the committed files differ; `python -m tests.core.stf_cases --write` rewrites them.

The shared pre-state (`base_state`):

    Alice  nonce 3, 1000 ETH; owns MODEL_FEE (common, fee 5 ETH), DATA_ALICE (owned) and
           MODEL_PRIVATE (owned, free); she granted Carol both DATA_ALICE and MODEL_PRIVATE
    Bob    nonce 1, 1000 ETH, 40 TOKEN; owns DATA_BOB (common)
    Carol  nonce 1, 2 ETH; owns RESULT_CAROL (MODEL_PRIVATE run on DATA_ALICE)
    Dave   nothing (a fresh account)
    the ledger event APPLIED_EVENT was already deposited
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from eth_keys.constants import SECPK1_N
from eth_keys.datatypes import PrivateKey

from flavum.core import errors
from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import compute_outputs_hash
from flavum.core.encoding import compute_tag, encode_abi, encode_uint
from flavum.core.errors import InvalidTransaction
from flavum.core.state import (
    Domain,
    Object,
    State,
    set_balance,
    set_deposit_applied,
    set_grant,
    set_nonce,
    set_object,
)
from flavum.core.stf import AnyExecution, Execution, compute_deposit_object_id, compute_object_id
from flavum.core.transactions import (
    ENVELOPE_ABI,
    Body,
    DeployModel,
    Deposit,
    GrantAccess,
    Infer,
    SubmitData,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
    compute_signing_hash,
    decode_transaction,
    encode_body,
    encode_transaction,
)
from flavum.core.types import (
    MAX_UINT256,
    NO_OBJECT,
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
    Signature,
)
from tests.core.conftest import ALICE, BOB, CAROL, DOMAIN, ETH, User, sign
from tests.core.stf_vectors import (
    STF_DIR,
    accepted_step_to_json,
    apply_step,
    executions_to_json,
    expected_to_json,
    pre_state_to_json,
    rejected_step_to_json,
    tx_entry_to_json,
    vectors_main,
)
from tests.vectors_util import check_vectors

DAVE = User(b"\x04" * 32)
LEDGER = compute_ledger_id("evm")
LITECOIN = compute_ledger_id("litecoin")
TOKEN_ADDRESS = Address(b"\x70" * 20)
TOKEN = compute_asset_id(LEDGER, TOKEN_ADDRESS)  # an ERC-20 of the EVM ledger
OTHER_ASSET = compute_asset_id(LITECOIN)  # nobody holds any
LITECOIN_TOKEN = compute_asset_id(LITECOIN, TOKEN_ADDRESS)  # the same address, on Litecoin
OTHER_CHAIN = Domain(ChainId(1), DOMAIN.rollup_id)
OTHER_ROLLUP = Domain(DOMAIN.chain_id, Hash32(b"\x22" * 32))


def h(name: str) -> Hash32:
    """A fixed 32-byte value named for what it stands for."""
    return compute_tag("vector." + name)


COMMITMENT_ALICE = h("commitment.alice")
COMMITMENT_BOB = h("commitment.bob")
COMMITMENT_NEW = h("commitment.new")
MODEL_FEE = compute_object_id(ALICE.address, Nonce(0))
DATA_ALICE = compute_object_id(ALICE.address, Nonce(1))
MODEL_PRIVATE = compute_object_id(ALICE.address, Nonce(2))
DATA_BOB = compute_object_id(BOB.address, Nonce(0))
RESULT_CAROL = compute_object_id(CAROL.address, Nonce(0))
UNKNOWN = ObjectId(h("object.unknown"))
APPLIED_EVENT = h("event.applied")
EXEC_ALICE = Execution(COMMITMENT_ALICE, (7, -3, 12))
EXEC_BOB = Execution(COMMITMENT_BOB, (1, 0, -1))


def _model(object_id: ObjectId, owner: User, access: Access, fee: int) -> Object:
    return Object(object_id, ObjectKind.MODEL, owner.address, access, h("onnx"), h("meta"),
                  vk_hash=h("vk"), fee_asset=ETH, fee=Amount(fee))


def _data(object_id: ObjectId, owner: User, access: Access, commitment: Hash32) -> Object:
    return Object(object_id, ObjectKind.DATA, owner.address, access, commitment, h("meta"))


def base_state() -> State:
    """The shared pre-state described in the module docstring."""
    state = State(DOMAIN)
    for user, nonce in ((ALICE, 3), (BOB, 1), (CAROL, 1)):
        set_nonce(state, user.address, Nonce(nonce))
    for user, asset, amount in ((ALICE, ETH, 1000), (BOB, ETH, 1000), (BOB, TOKEN, 40),
                                (CAROL, ETH, 2)):
        set_balance(state, user.address, asset, Amount(amount))
    set_object(state, _model(MODEL_FEE, ALICE, Access.COMMON, 5))
    set_object(state, _data(DATA_ALICE, ALICE, Access.OWNED, COMMITMENT_ALICE))
    set_object(state, _model(MODEL_PRIVATE, ALICE, Access.OWNED, 0))
    set_object(state, _data(DATA_BOB, BOB, Access.COMMON, COMMITMENT_BOB))
    set_object(state, Object(RESULT_CAROL, ObjectKind.RESULT, CAROL.address, Access.OWNED,
                             compute_outputs_hash((4, 2)), ZERO_HASH, model_id=MODEL_PRIVATE,
                             data_id=DATA_ALICE))
    set_grant(state, DATA_ALICE, ALICE.address, CAROL.address, True)
    set_grant(state, MODEL_PRIVATE, ALICE.address, CAROL.address, True)
    set_deposit_applied(state, APPLIED_EVENT)
    return state


def with_balance(user: User, asset: AssetId, amount: int) -> Callable[[], State]:
    """`base_state` with one more balance."""
    def build() -> State:
        state = base_state()
        set_balance(state, user.address, asset, Amount(amount))
        return state
    return build


# --- transactions -----------------------------------------------------------------------------


def unsigned(user: User, nonce: int, body: Body, domain: Domain = DOMAIN) -> Transaction:
    return Transaction(domain.chain_id, domain.rollup_id, user.address, Nonce(nonce), body)


def signed_by(signer: User, tx: Transaction) -> Transaction:
    """`tx` with a valid signature by `signer`'s key, whoever its sender is."""
    signature = PrivateKey(signer.key).sign_msg_hash(compute_signing_hash(tx)).to_bytes()
    return replace(tx, signature=Signature(signature))


def with_signature(tx: Transaction, signature: bytes) -> Transaction:
    return replace(tx, signature=Signature(signature))


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def high_s(tx: Transaction) -> Transaction:
    """The other (high-s) signature of the same message and key."""
    r, s, v = tx.signature[:32], int.from_bytes(tx.signature[32:64], "big"), tx.signature[64]
    return with_signature(tx, r + (SECPK1_N - s).to_bytes(32, "big") + bytes([v ^ 1]))


def deposit(event: str | Hash32, recipient: User, amount: int, token: Address = ZERO_ADDRESS,
            data: Hash32 = ZERO_HASH, domain: Domain = DOMAIN,
            ledger: Hash32 = LEDGER) -> Transaction:
    """A deposit of `token` of `ledger` (by default the EVM ledger's native coin, ETH)."""
    event_id = event if isinstance(event, bytes) else h("event." + event)
    metadata = ZERO_HASH if data == ZERO_HASH else h("meta")
    body = Deposit(ledger, event_id, recipient.address, token, Amount(amount), data, metadata)
    return Transaction(domain.chain_id, domain.rollup_id, ZERO_ADDRESS, Nonce(0), body)


def transfer(user: User, nonce: int, to: User, amount: int, asset: AssetId = ETH) -> Transaction:
    return sign(user, nonce, Transfer(to.address, asset, Amount(amount)))


def infer(user: User, nonce: int, model: ObjectId, data: ObjectId, max_fee: int) -> Transaction:
    return sign(user, nonce, Infer(model, data, Amount(max_fee)))


def withdraw(user: User, nonce: int, to: User, amount: int, asset: AssetId = ETH,
             object_id: ObjectId = NO_OBJECT) -> Transaction:
    return sign(user, nonce, Withdraw(LEDGER, to.address, asset, Amount(amount), object_id))


def envelope(tx: Transaction, tx_type: int, body: bytes) -> bytes:
    """A wire transaction with any type number and body bytes."""
    return encode_abi(ENVELOPE_ABI, [tx_type, tx.chain_id, tx.rollup_id, tx.sender, tx.nonce,
                                     body, tx.signature])


def patch_word(raw: bytes, index: int, word: bytes) -> bytes:
    """`raw` with its 32-byte word `index` replaced."""
    return raw[: 32 * index] + word + raw[32 * (index + 1):]


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    tx: Transaction | bytes  # bytes: a wire transaction that may not decode
    execution: AnyExecution | None = None
    refusal: type[InvalidTransaction] | None = None  # None: the step is accepted


@dataclass(frozen=True)
class StfCase:
    name: str
    description: str
    steps: tuple[Step, ...]
    pre: Callable[[], State] = base_state


def ok(tx: Transaction, execution: AnyExecution | None = None) -> Step:
    return Step(tx, execution)


def no(refusal: type[InvalidTransaction], tx: Transaction | bytes,
       execution: AnyExecution | None = None) -> Step:
    return Step(tx, execution, refusal)


def case(name: str, description: str, *steps: Step,
         pre: Callable[[], State] = base_state) -> StfCase:
    return StfCase(name, description, steps, pre)


NEW_MODEL = DeployModel(h("onnx.new"), h("vk.new"), h("meta.new"), Access.COMMON, ETH, Amount(3))
VALID = transfer(ALICE, 3, BOB, 10)  # a valid transaction to break on the wire


def accepted_cases() -> list[StfCase]:
    result_bob = compute_object_id(BOB.address, Nonce(1))
    return [
        case("transfer", "Alice sends 300 ETH to a fresh account",
             ok(transfer(ALICE, 3, DAVE, 300))),
        case("transfer_whole_balance", "Bob sends all his TOKEN: his balance leaf goes away",
             ok(transfer(BOB, 1, DAVE, 40, TOKEN))),
        case("transfer_to_self", "Alice sends 10 ETH to herself: only her nonce changes",
             ok(transfer(ALICE, 3, ALICE, 10))),
        case("transfer_zero_to_fresh_account", "a zero transfer creates no balance leaf",
             ok(transfer(CAROL, 1, DAVE, 0))),
        case("transfer_other_asset", "Bob sends 15 TOKEN to Alice, who held none",
             ok(transfer(BOB, 1, ALICE, 15, TOKEN))),
        case("transfer_object", "Alice gives DATA_ALICE to Dave (Carol's grant stays, lapsed)",
             ok(sign(ALICE, 3, TransferObject(DATA_ALICE, DAVE.address)))),
        case("grant_access", "Alice lets Dave use DATA_ALICE",
             ok(sign(ALICE, 3, GrantAccess(DATA_ALICE, DAVE.address, True)))),
        case("revoke_access", "Alice revokes Carol's grant on DATA_ALICE: its leaf goes away",
             ok(sign(ALICE, 3, GrantAccess(DATA_ALICE, CAROL.address, False)))),
        case("revoke_absent_grant", "revoking a grant that does not exist changes only the nonce",
             ok(sign(ALICE, 3, GrantAccess(DATA_ALICE, DAVE.address, False)))),
        case("grant_again", "granting an existing grant again changes only the nonce",
             ok(sign(ALICE, 3, GrantAccess(DATA_ALICE, CAROL.address, True)))),
        case("deploy_model_owned_with_fee", "Dave deploys an owned model charging 7 TOKEN",
             ok(sign(DAVE, 0, DeployModel(h("onnx.dave"), h("vk.dave"), h("meta.dave"),
                                          Access.OWNED, TOKEN, Amount(7))))),
        case("deploy_model_common_free", "Bob deploys a common model with no fee",
             ok(sign(BOB, 1, DeployModel(h("onnx.bob"), h("vk.bob"), ZERO_HASH, Access.COMMON,
                                         ETH, Amount(0))))),
        case("submit_data_owned", "Dave submits an owned data point",
             ok(sign(DAVE, 0, SubmitData(COMMITMENT_NEW, h("meta.dave"), Access.OWNED)))),
        case("submit_data_common", "Alice submits a common data point",
             ok(sign(ALICE, 3, SubmitData(COMMITMENT_NEW, ZERO_HASH, Access.COMMON)))),
        case("infer_paying_fee", "Bob runs MODEL_FEE on his data and pays Alice 5 ETH",
             ok(infer(BOB, 1, MODEL_FEE, DATA_BOB, 5), EXEC_BOB)),
        case("infer_max_fee_above_fee", "Bob allows 100 ETH; the model's fee, 5, is paid",
             ok(infer(BOB, 1, MODEL_FEE, DATA_BOB, 100), EXEC_BOB)),
        case("infer_owner_pays_self", "Alice runs her own paid model: the fee goes to herself",
             ok(infer(ALICE, 3, MODEL_FEE, DATA_ALICE, 5), EXEC_ALICE)),
        case("infer_with_grants", "Carol runs Alice's owned model on Alice's owned data, granted",
             ok(infer(CAROL, 1, MODEL_PRIVATE, DATA_ALICE, 0), EXEC_ALICE)),
        case("infer_on_common_data", "Alice runs her private model on Bob's common data",
             ok(infer(ALICE, 3, MODEL_PRIVATE, DATA_BOB, 0), EXEC_BOB)),
        case("infer_extreme_outputs", "outputs at the ends of the int256 range",
             ok(infer(ALICE, 3, MODEL_PRIVATE, DATA_BOB, 0),
                Execution(COMMITMENT_BOB, (2**255 - 1, -(2**255), 0)))),
        case("withdraw_balance", "Alice withdraws 100 ETH to herself on the EVM ledger",
             ok(withdraw(ALICE, 3, ALICE, 100))),
        case("withdraw_whole_balance", "Bob withdraws all his TOKEN to Dave: his leaf goes away",
             ok(withdraw(BOB, 1, DAVE, 40, TOKEN))),
        case("withdraw_result_object", "Carol withdraws her RESULT (with its lineage)",
             ok(withdraw(CAROL, 1, CAROL, 0, AssetId(ZERO_HASH), RESULT_CAROL))),
        case("withdraw_data_object", "Bob withdraws his DATA object, paid out to Dave",
             ok(withdraw(BOB, 1, DAVE, 0, AssetId(ZERO_HASH), DATA_BOB))),
        case("withdraw_model_object", "Alice withdraws MODEL_PRIVATE; its grants stay as leaves",
             ok(withdraw(ALICE, 3, ALICE, 0, AssetId(ZERO_HASH), MODEL_PRIVATE))),
        case("deposit_balance", "a system deposit credits 50 ETH to a fresh account",
             ok(deposit("dave.eth", DAVE, 50))),
        case("deposit_data", "a deposit mints a DATA object only",
             ok(deposit("dave.data", DAVE, 0, data=COMMITMENT_NEW))),
        case("deposit_balance_and_data", "a deposit credits 9 ETH and mints a DATA object",
             ok(deposit("carol.both", CAROL, 9, data=COMMITMENT_NEW))),
        case("deposit_token_to_existing_account", "a TOKEN deposit to Alice, who holds ETH",
             ok(deposit("alice.token", ALICE, 25, TOKEN_ADDRESS))),
        case("deposit_up_to_max_balance", "a deposit fills a balance to exactly 2**256 - 1",
             ok(deposit("dave.max", DAVE, 1, TOKEN_ADDRESS)),
             pre=with_balance(DAVE, TOKEN, MAX_UINT256 - 1)),
        case("deposit_asset_from_ledger_and_token",
             "a deposit from Litecoin naming the EVM token's address credits Bob that address's "
             "Litecoin asset; his 40 TOKEN of the EVM ledger are untouched",
             ok(deposit("bob.litecoin", BOB, 5, TOKEN_ADDRESS, ledger=LITECOIN))),
        case("seq_infer_then_withdraw_result",
             "Bob's inference creates a RESULT, which he then withdraws",
             ok(infer(BOB, 1, MODEL_FEE, DATA_BOB, 5), EXEC_BOB),
             ok(withdraw(BOB, 2, BOB, 0, AssetId(ZERO_HASH), result_bob))),
    ]


def sequence_cases() -> list[StfCase]:
    new_model = compute_object_id(ALICE.address, Nonce(3))
    bob_data = compute_object_id(BOB.address, Nonce(1))
    dave_deposit = compute_deposit_object_id(h("event.dave.data2"))
    dave_model = compute_object_id(DAVE.address, Nonce(1))
    carol_data = compute_object_id(CAROL.address, Nonce(1))
    carol_result = compute_object_id(CAROL.address, Nonce(3))
    replayed = transfer(ALICE, 3, BOB, 10)
    repeated = deposit("twice", DAVE, 5)
    return [
        case("seq_deploy_submit_infer",
             "Alice deploys a model (fee 3), Bob submits owned data, then runs the new model "
             "on it: each step uses what the one before created",
             ok(sign(ALICE, 3, NEW_MODEL)),
             ok(sign(BOB, 1, SubmitData(COMMITMENT_NEW, ZERO_HASH, Access.OWNED))),
             ok(infer(BOB, 2, new_model, bob_data, 3), Execution(COMMITMENT_NEW, (5,)))),
        case("seq_deposit_then_spend",
             "a deposit funds Dave, who then transfers 20 and withdraws the remaining 30",
             ok(deposit("dave.fund", DAVE, 50)),
             ok(transfer(DAVE, 0, CAROL, 20)),
             ok(withdraw(DAVE, 1, DAVE, 30))),
        case("seq_deposit_data_then_infer",
             "a deposit mints Dave a DATA object; Alice grants him her private model; he runs it",
             ok(deposit("dave.data2", DAVE, 0, data=COMMITMENT_NEW)),
             ok(sign(ALICE, 3, GrantAccess(MODEL_PRIVATE, DAVE.address, True))),
             ok(infer(DAVE, 0, MODEL_PRIVATE, dave_deposit, 0), Execution(COMMITMENT_NEW, (3, 1)))),
        case("seq_grant_infer_revoke",
             "Alice grants Bob her private model, Bob runs it, Alice revokes, Bob is refused",
             ok(sign(ALICE, 3, GrantAccess(MODEL_PRIVATE, BOB.address, True))),
             ok(infer(BOB, 1, MODEL_PRIVATE, DATA_BOB, 0), EXEC_BOB),
             ok(sign(ALICE, 4, GrantAccess(MODEL_PRIVATE, BOB.address, False))),
             no(errors.NoAccess, infer(BOB, 2, MODEL_PRIVATE, DATA_BOB, 0), EXEC_BOB)),
        case("seq_transfer_object_lapses_grant",
             "Alice gives DATA_ALICE to Bob: Carol's grant (from Alice) lapses and she is "
             "refused; Bob grants her; she runs the model",
             ok(sign(ALICE, 3, TransferObject(DATA_ALICE, BOB.address))),
             no(errors.NoAccess, infer(CAROL, 1, MODEL_PRIVATE, DATA_ALICE, 0), EXEC_ALICE),
             ok(sign(BOB, 1, GrantAccess(DATA_ALICE, CAROL.address, True))),
             ok(infer(CAROL, 1, MODEL_PRIVATE, DATA_ALICE, 0), EXEC_ALICE)),
        case("seq_refusal_in_the_middle",
             "a transfer, one with a nonce too far ahead (refused, nothing changes), then the "
             "right next nonce",
             ok(transfer(ALICE, 3, BOB, 10)),
             no(errors.NonceMismatch, transfer(ALICE, 5, BOB, 10)),
             ok(transfer(ALICE, 4, BOB, 10))),
        case("seq_replay", "the same signed transfer twice: the replay is a nonce mismatch",
             ok(replayed), no(errors.NonceMismatch, replayed)),
        case("seq_duplicate_deposit", "a deposit, the same ledger event again, another event",
             ok(repeated), no(errors.DepositAlreadyApplied, repeated),
             ok(deposit("after.twice", DAVE, 6))),
        case("seq_repeated_event_id_other_body",
             "a deposit, then another body under the same event id (to Carol, 9 TOKEN): the id "
             "is applied once, whatever the body says",
             ok(deposit("reused", DAVE, 5)),
             no(errors.DepositAlreadyApplied, deposit("reused", CAROL, 9, TOKEN_ADDRESS))),
        case("seq_deposit_from_other_ledger_spends_only_its_asset",
             "Dave gets 5 of the token's address from Litecoin: he cannot send the EVM TOKEN, "
             "he can send the Litecoin one",
             ok(deposit("dave.litecoin", DAVE, 5, TOKEN_ADDRESS, ledger=LITECOIN)),
             no(errors.InsufficientBalance, transfer(DAVE, 0, ALICE, 5, TOKEN)),
             ok(transfer(DAVE, 0, ALICE, 5, LITECOIN_TOKEN))),
        case("seq_withdrawn_object_is_gone",
             "Carol withdraws her RESULT, then tries to give it away",
             ok(withdraw(CAROL, 1, CAROL, 0, AssetId(ZERO_HASH), RESULT_CAROL)),
             no(errors.UnknownObject, sign(CAROL, 2, TransferObject(RESULT_CAROL, DAVE.address)))),
        case("seq_spend_then_insufficient",
             "Bob sends 990 ETH, cannot then send 20, sends his last 10 (his leaf goes away)",
             ok(transfer(BOB, 1, ALICE, 990)),
             no(errors.InsufficientBalance, transfer(BOB, 2, ALICE, 20)),
             ok(transfer(BOB, 2, ALICE, 10))),
        case("seq_every_type",
             "every transaction type in one sequence, with a refused inference in the middle",
             ok(deposit("dave.every", DAVE, 100)),
             ok(transfer(DAVE, 0, CAROL, 10)),
             ok(sign(DAVE, 1, DeployModel(h("onnx.every"), h("vk.every"), ZERO_HASH,
                                          Access.COMMON, ETH, Amount(2)))),
             ok(sign(CAROL, 1, SubmitData(COMMITMENT_NEW, ZERO_HASH, Access.OWNED))),
             ok(sign(CAROL, 2, GrantAccess(carol_data, DAVE.address, True))),
             no(errors.NonceMismatch, infer(DAVE, 3, dave_model, carol_data, 2),
                Execution(COMMITMENT_NEW, (9,))),
             ok(infer(CAROL, 3, dave_model, carol_data, 2), Execution(COMMITMENT_NEW, (9,))),
             ok(sign(CAROL, 4, TransferObject(carol_data, DAVE.address))),
             ok(withdraw(DAVE, 2, DAVE, 50)),
             ok(withdraw(CAROL, 5, CAROL, 0, AssetId(ZERO_HASH), carol_result))),
    ]


def signature_and_domain_cases() -> list[StfCase]:
    body = Transfer(BOB.address, ETH, Amount(10))
    return [
        case("bad_signature_other_signer", "Alice's transaction signed with Bob's key",
             no(errors.BadSignature, signed_by(BOB, unsigned(ALICE, 3, body)))),
        case("bad_signature_tampered", "one bit of the signature's r flipped",
             no(errors.BadSignature, with_signature(VALID, flip_byte(VALID.signature, 5)))),
        case("bad_signature_flipped_recovery_id", "the recovery id v flipped",
             no(errors.BadSignature, with_signature(VALID, flip_byte(VALID.signature, 64)))),
        case("bad_signature_short", "a 64-byte signature (v missing)",
             no(errors.BadSignature, with_signature(VALID, VALID.signature[:64]))),
        case("bad_signature_empty", "a user transaction with no signature",
             no(errors.BadSignature, unsigned(ALICE, 3, body))),
        case("bad_signature_high_s", "the malleated high-s twin of a valid signature",
             no(errors.BadSignature, high_s(VALID))),
        case("bad_signature_tampered_body", "the amount changed after signing",
             no(errors.BadSignature, replace(VALID, body=Transfer(BOB.address, ETH,
                                                                 Amount(999))))),
        case("wrong_domain_chain_id", "signed for chain 1",
             no(errors.WrongDomain, sign(ALICE, 3, body, OTHER_CHAIN))),
        case("wrong_domain_rollup_id", "signed for another rollup on the same chain",
             no(errors.WrongDomain, sign(ALICE, 3, body, OTHER_ROLLUP))),
        case("wrong_domain_deposit", "a deposit for another chain",
             no(errors.WrongDomain, deposit("other.chain", DAVE, 5, domain=OTHER_CHAIN))),
        case("nonce_too_high", "Alice's next nonce is 3, the transaction says 4",
             no(errors.NonceMismatch, transfer(ALICE, 4, BOB, 10))),
        case("nonce_too_low", "Alice's next nonce is 3, the transaction says 2",
             no(errors.NonceMismatch, transfer(ALICE, 2, BOB, 10))),
        case("nonce_of_fresh_account", "a fresh account's first nonce is 0, not 1",
             no(errors.NonceMismatch, transfer(DAVE, 1, BOB, 0))),
        case("precedence_malformed_before_domain", "a deposit with a sender, for another chain",
             no(errors.MalformedTransaction,
                replace(deposit("p1", DAVE, 5, domain=OTHER_CHAIN), sender=ALICE.address))),
        case("precedence_domain_before_signature", "another chain and a garbage signature",
             no(errors.WrongDomain, with_signature(unsigned(ALICE, 3, body, OTHER_CHAIN),
                                                   b"\x01" * 65))),
        case("precedence_signature_before_nonce", "a wrong nonce and Bob's key",
             no(errors.BadSignature, signed_by(BOB, unsigned(ALICE, 9, body)))),
        case("precedence_nonce_before_balance", "a wrong nonce and far too large an amount",
             no(errors.NonceMismatch, transfer(ALICE, 9, BOB, 10**6))),
    ]


def state_refusal_cases() -> list[StfCase]:
    return [
        case("insufficient_balance_transfer", "Carol holds 2 ETH and sends 3",
             no(errors.InsufficientBalance, transfer(CAROL, 1, BOB, 3))),
        case("insufficient_balance_unknown_asset", "Alice sends an asset she never held",
             no(errors.InsufficientBalance, transfer(ALICE, 3, BOB, 1, OTHER_ASSET))),
        case("insufficient_balance_withdraw", "Alice withdraws 1001 of her 1000 ETH",
             no(errors.InsufficientBalance, withdraw(ALICE, 3, ALICE, 1001))),
        case("insufficient_balance_fee", "Carol allows the fee of 5 ETH but holds 2",
             no(errors.InsufficientBalance, infer(CAROL, 1, MODEL_FEE, DATA_BOB, 5), EXEC_BOB)),
        case("balance_overflow_deposit", "a deposit past 2**256 - 1",
             no(errors.InsufficientBalance, deposit("overflow", DAVE, 1, TOKEN_ADDRESS)),
             pre=with_balance(DAVE, TOKEN, MAX_UINT256)),
        case("balance_overflow_transfer", "a transfer that would take Dave past 2**256 - 1",
             no(errors.InsufficientBalance, transfer(ALICE, 3, DAVE, 10)),
             pre=with_balance(DAVE, ETH, MAX_UINT256 - 5)),
        case("unknown_object_transfer", "giving away an object that does not exist",
             no(errors.UnknownObject, sign(ALICE, 3, TransferObject(UNKNOWN, BOB.address)))),
        case("unknown_object_grant", "granting access to an object that does not exist",
             no(errors.UnknownObject, sign(ALICE, 3, GrantAccess(UNKNOWN, BOB.address, True)))),
        case("unknown_object_infer_model", "running a model that does not exist",
             no(errors.UnknownObject, infer(BOB, 1, UNKNOWN, DATA_BOB, 5), EXEC_BOB)),
        case("unknown_object_infer_data", "running a model on data that does not exist",
             no(errors.UnknownObject, infer(BOB, 1, MODEL_FEE, UNKNOWN, 5), EXEC_BOB)),
        case("unknown_object_withdraw", "withdrawing an object that does not exist",
             no(errors.UnknownObject, withdraw(ALICE, 3, ALICE, 0, ETH, UNKNOWN))),
        case("not_owner_transfer_object", "Bob gives away Alice's data",
             no(errors.NotOwner, sign(BOB, 1, TransferObject(DATA_ALICE, BOB.address)))),
        case("not_owner_grant", "Carol, a grantee, grants Dave access to Alice's data",
             no(errors.NotOwner, sign(CAROL, 1, GrantAccess(DATA_ALICE, DAVE.address, True)))),
        case("not_owner_withdraw", "Bob withdraws Alice's data",
             no(errors.NotOwner, withdraw(BOB, 1, BOB, 0, ETH, DATA_ALICE))),
        case("no_access_owned_model", "Bob runs Alice's owned model without a grant",
             no(errors.NoAccess, infer(BOB, 1, MODEL_PRIVATE, DATA_BOB, 0), EXEC_BOB)),
        case("no_access_owned_data", "Bob runs a common model on Alice's owned data",
             no(errors.NoAccess, infer(BOB, 1, MODEL_FEE, DATA_ALICE, 5), EXEC_ALICE)),
        case("wrong_kind_data_as_model", "a DATA object named as the model",
             no(errors.WrongObjectKind, infer(BOB, 1, DATA_BOB, DATA_BOB, 0), EXEC_BOB)),
        case("wrong_kind_model_as_data", "a MODEL object named as the data",
             no(errors.WrongObjectKind, infer(BOB, 1, MODEL_FEE, MODEL_FEE, 5), EXEC_BOB)),
        case("wrong_kind_result_as_data", "a RESULT object named as the data",
             no(errors.WrongObjectKind, infer(CAROL, 1, MODEL_PRIVATE, RESULT_CAROL, 0),
                EXEC_ALICE)),
        case("fee_too_low", "Bob allows 4 ETH, the model charges 5",
             no(errors.FeeTooLow, infer(BOB, 1, MODEL_FEE, DATA_BOB, 4), EXEC_BOB)),
        case("precedence_access_before_fee", "no access to the data and too low a fee",
             no(errors.NoAccess, infer(BOB, 1, MODEL_FEE, DATA_ALICE, 0), EXEC_ALICE)),
        case("precedence_fee_before_execution", "too low a fee and no execution",
             no(errors.FeeTooLow, infer(BOB, 1, MODEL_FEE, DATA_BOB, 0))),
        case("deposit_already_applied", "a deposit of a ledger event applied before",
             no(errors.DepositAlreadyApplied, deposit(APPLIED_EVENT, DAVE, 1))),
        case("inference_mismatch_no_execution", "an inference handed no execution",
             no(errors.InferenceMismatch, infer(BOB, 1, MODEL_FEE, DATA_BOB, 5))),
        case("inference_mismatch_wrong_commitment", "the execution ran on other data",
             no(errors.InferenceMismatch, infer(BOB, 1, MODEL_FEE, DATA_BOB, 5), EXEC_ALICE)),
    ]


def malformed_cases() -> list[StfCase]:
    raw = encode_transaction(VALID)
    grant = sign(ALICE, 3, GrantAccess(DATA_ALICE, DAVE.address, True))
    bad_access: Any = 2  # not an Access mode: only the wire can carry it
    bad_deploy = sign(ALICE, 3, replace(NEW_MODEL, access=bad_access))
    return [
        case("malformed_withdraw_amount_and_object", "a withdrawal of an amount and an object",
             no(errors.MalformedTransaction, withdraw(ALICE, 3, ALICE, 1, ETH, DATA_ALICE))),
        case("malformed_withdraw_nothing", "a withdrawal of neither an amount nor an object",
             no(errors.MalformedTransaction, withdraw(ALICE, 3, ALICE, 0))),
        case("malformed_deposit_empty", "a deposit of neither an amount nor data",
             no(errors.MalformedTransaction, deposit("empty", DAVE, 0))),
        case("malformed_deposit_signed", "a deposit carrying a signature",
             no(errors.MalformedTransaction, with_signature(deposit("signed", DAVE, 5),
                                                            b"\x01" * 65))),
        case("malformed_deposit_with_sender", "a deposit with a sender",
             no(errors.MalformedTransaction, replace(deposit("sender", DAVE, 5),
                                                     sender=ALICE.address))),
        case("malformed_deposit_with_nonce", "a deposit with a nonce",
             no(errors.MalformedTransaction, replace(deposit("nonce", DAVE, 5),
                                                     nonce=Nonce(1)))),
        case("malformed_raw_empty", "zero bytes", no(errors.MalformedTransaction, b"")),
        case("malformed_raw_truncated", "a valid transaction missing its last word",
             no(errors.MalformedTransaction, raw[:-32])),
        case("malformed_raw_trailing_bytes", "a valid transaction and one more word",
             no(errors.MalformedTransaction, raw + bytes(32))),
        case("malformed_raw_unknown_type", "transaction type 11",
             no(errors.MalformedTransaction, envelope(VALID, 11, encode_body(VALID.body)))),
        case("malformed_raw_type_zero", "transaction type 0",
             no(errors.MalformedTransaction, envelope(VALID, 0, encode_body(VALID.body)))),
        case("malformed_raw_address_padding", "the sender word has a non-zero padding byte",
             no(errors.MalformedTransaction, patch_word(raw, 3, b"\x01" + raw[97:128]))),
        case("malformed_raw_nonce_too_large", "a nonce of 2**64 in the uint64 word",
             no(errors.MalformedTransaction, patch_word(raw, 4, encode_uint(2**64)))),
        case("malformed_raw_short_body", "a transfer body cut to two of its three words",
             no(errors.MalformedTransaction,
                envelope(VALID, 1, encode_body(VALID.body)[:64]))),
        case("malformed_raw_access_mode", "a model deployed with access mode 2",
             no(errors.MalformedTransaction, encode_transaction(bad_deploy))),
        case("malformed_raw_bool", "a grant whose `allowed` word is 2",
             no(errors.MalformedTransaction,
                envelope(grant, 3, patch_word(encode_body(grant.body), 2, encode_uint(2))))),
    ]


def all_cases() -> list[StfCase]:
    cases = accepted_cases() + sequence_cases() + signature_and_domain_cases()
    cases += state_refusal_cases() + malformed_cases()
    from tests.core.stf_training_cases import training_cases  # it builds on this module
    cases += training_cases()
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("two cases share a name")
    return cases


# --- building the files -------------------------------------------------------------------------


def _decode_or_none(raw: bytes) -> Transaction | None:
    try:
        return decode_transaction(raw)
    except InvalidTransaction:
        return None


def build_case_files(stf_case: StfCase) -> dict[str, dict[str, Any]]:
    """The JSON files of a case, computed by the core; ValueError if a step does not do what
    the definition says."""
    state = stf_case.pre()
    pre = pre_state_to_json(state)
    entries, executions, steps = [], [], []
    for index, step in enumerate(stf_case.steps):
        where = f"case {stf_case.name}, transaction {index}"
        raw = step.tx if isinstance(step.tx, bytes) else encode_transaction(step.tx)
        tx = _decode_or_none(raw)
        if not isinstance(step.tx, bytes) and tx != step.tx:
            raise ValueError(f"{where} does not survive its wire encoding")
        entry = tx_entry_to_json(raw, tx)
        result = apply_step(state, entry, step.execution)
        if isinstance(result, InvalidTransaction):
            if step.refusal is None or result.code != step.refusal.code:
                raise ValueError(f"{where} is refused with {result.code}: {result}")
            steps.append(rejected_step_to_json(state, result))
        else:
            if step.refusal is not None:
                raise ValueError(f"{where} is accepted, not refused with {step.refusal.code}")
            steps.append(accepted_step_to_json(state, result))
        entries.append(entry)
        executions.append(step.execution)
    return {
        "pre_state": pre,
        "transactions": {"transactions": entries},
        "executions": executions_to_json(executions),
        "expected": expected_to_json(stf_case.description, steps,
                                     [e["tx_hash"] for e in entries]),
    }


def check_case_files(stf_case: StfCase) -> None:
    """Fail unless tests/vectors/stf/<case>/ holds what the core computes (regenerate it with
    FLAVUM_REGEN_VECTORS=1)."""
    for stem, data in build_case_files(stf_case).items():
        check_vectors(f"stf/{stf_case.name}/{stem}.json", data)


if __name__ == "__main__":
    vectors_main(__doc__.splitlines()[0], STF_DIR,
                 {c.name: partial(check_case_files, c) for c in all_cases()})
