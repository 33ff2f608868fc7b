"""The state transition function: how each transaction changes the state.

`process_transaction` checks everything (domain, signature, nonce, balances, ownership, access,
fees) and applies the transaction, or raises a typed `InvalidTransaction` and leaves the state
exactly as it was. `state_transition` applies a block and checks the claimed state root.

ML execution is not re-run here: an Infer transaction is applied together with its `Execution`
(the input commitment and outputs that the circuit's witness generation produced). The ZK proof
of the trace entry is what shows that those outputs are right; this module checks that the
execution fits the transaction (the input commitment is the DATA object's). A Train is applied
with its `TrainingExecution` (the params commitment its last step ended at): the chained step
proofs show it, from the parent version's commitment on the DATA objects' rows.

A trainable model is a chain of MODEL objects, its versions (docs/training.md). A version's
`commitment` is its weight commitment, `model_id` the architecture's step-circuit MODEL,
`vk_hash` its inference-circuit MODEL, `data_id` the parent version (zero for the first), and
`metadata_hash` its lineage (`compute_lineage_hash`) or, for the first, the deployer's record.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from flavum.core.assets import compute_asset_id
from flavum.core.batch import (
    Trace,
    TraceEntry,
    TrainingTrace,
    Withdrawal,
    compute_outputs_hash,
    compute_rows_hash,
    compute_trace_leaf,
)
from flavum.core.encoding import (
    compute_tag,
    encode_address,
    encode_uint,
    hash_tagged,
    keccak256,
)
from flavum.core.errors import (
    BadSignature,
    DepositAlreadyApplied,
    FeeTooLow,
    InferenceMismatch,
    MalformedTransaction,
    NoAccess,
    NonceMismatch,
    NotOwner,
    NotTrainable,
    StateRootMismatch,
    TrainingMismatch,
    UnknownObject,
    WrongDomain,
    WrongObjectKind,
)
from flavum.core.state import (
    Object,
    State,
    compute_state_root,
    decrease_balance,
    delete_object,
    get_nonce,
    get_object,
    increase_balance,
    is_allowed,
    is_deposit_applied,
    set_deposit_applied,
    set_grant,
    set_nonce,
    set_object,
)
from flavum.core.transactions import (
    DeployModel,
    DeployTrainable,
    Deposit,
    GrantAccess,
    Infer,
    Recovered,
    SubmitData,
    Train,
    Transaction,
    Transfer,
    TransferObject,
    Withdraw,
    compute_tx_hash,
    recover_signer,
    validate_transaction,
)
from flavum.core.types import (
    NO_OBJECT,
    ZERO_HASH,
    Access,
    Address,
    Amount,
    Hash32,
    Nonce,
    ObjectId,
    ObjectKind,
)

OBJECT_ID_TAG = compute_tag("object.id")
DEPOSIT_OBJECT_ID_TAG = compute_tag("object.deposit_id")
LINEAGE_TAG = compute_tag("object.lineage")


@dataclass(frozen=True)
class Execution:
    """The canonical execution of an Infer: what the circuit's witness generation produced."""

    input_commitment: Hash32
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TrainingExecution:
    """The canonical execution of a Train: the params commitment its last step ended at."""

    params_out: Hash32


AnyExecution = Execution | TrainingExecution


@dataclass(frozen=True)
class Outcome:
    """What a transaction did, besides changing the state."""

    tx_hash: Hash32
    object_id: ObjectId | None = None  # the object it created, if any
    trace: Trace | None = None
    withdrawal: Withdrawal | None = None


def compute_object_id(creator: Address, nonce: Nonce) -> ObjectId:
    """Id of the object created by `creator`'s transaction with `nonce`."""
    return ObjectId(keccak256(OBJECT_ID_TAG + encode_address(creator) + encode_uint(nonce)))


def compute_deposit_object_id(event_id: Hash32) -> ObjectId:
    """Id of the DATA object minted by the deposit mirroring ledger event `event_id`."""
    return ObjectId(keccak256(DEPOSIT_OBJECT_ID_TAG + event_id))


def process_transaction(
    state: State, tx: Transaction, execution: AnyExecution | None = None
) -> Outcome:
    """Check and apply `tx`; on any error the state is unchanged and the error propagates."""
    return _process(state, tx, None, None, execution)


def process_recovered(
    state: State, recovered: Recovered, execution: AnyExecution | None = None
) -> Outcome:
    """`process_transaction` of `recovered.tx`, with the signer and hash recovered beforehand
    from its bytes (`recover_transaction`): the same checks in the same order, the same result."""
    return _process(state, recovered.tx, recovered.signer, recovered.tx_hash, execution)


def _process(state: State, tx: Transaction, signer: Address | None, tx_hash: Hash32 | None,
             execution: AnyExecution | None) -> Outcome:
    validate_transaction(tx)
    check_domain(state, tx)
    if not tx.is_system:
        # None: not recovered beforehand, or recovered to no key (recovering again says why).
        check_signature(tx, signer or recover_signer(tx))
        check_nonce(state, tx)
    tx_hash = tx_hash or compute_tx_hash(tx)
    state.begin()
    try:
        outcome = process_body(state, tx, tx_hash, execution)
    except BaseException:
        state.rollback()
        raise
    state.commit()
    return outcome


def check_domain(state: State, tx: Transaction) -> None:
    if tx.chain_id != state.domain.chain_id:
        raise WrongDomain(f"signed for chain {tx.chain_id}, this is {state.domain.chain_id}")
    if tx.rollup_id != state.domain.rollup_id:
        raise WrongDomain(
            f"signed for rollup 0x{tx.rollup_id.hex()}, this is 0x{state.domain.rollup_id.hex()}"
        )


def check_signature(tx: Transaction, signer: Address) -> None:
    """`signer`: the address `tx`'s signature recovers to."""
    if signer != tx.sender:
        raise BadSignature(f"signed by 0x{signer.hex()}, not by the sender 0x{tx.sender.hex()}")


def check_nonce(state: State, tx: Transaction) -> None:
    expected = get_nonce(state, tx.sender)
    if tx.nonce != expected:
        raise NonceMismatch(f"nonce {tx.nonce} but the account's next nonce is {expected}")


def process_body(
    state: State, tx: Transaction, tx_hash: Hash32, execution: AnyExecution | None
) -> Outcome:
    body = tx.body
    if isinstance(body, Deposit):
        return process_deposit(state, body, tx_hash)
    set_nonce(state, tx.sender, Nonce(tx.nonce + 1))
    if isinstance(body, Transfer):
        return process_transfer(state, tx.sender, body, tx_hash)
    if isinstance(body, TransferObject):
        return process_transfer_object(state, tx.sender, body, tx_hash)
    if isinstance(body, GrantAccess):
        return process_grant_access(state, tx.sender, body, tx_hash)
    if isinstance(body, DeployModel):
        return process_deploy_model(state, tx, body, tx_hash)
    if isinstance(body, SubmitData):
        return process_submit_data(state, tx, body, tx_hash)
    if isinstance(body, Infer):
        return process_infer(state, tx, body, tx_hash, execution)
    if isinstance(body, DeployTrainable):
        return process_deploy_trainable(state, tx, body, tx_hash)
    if isinstance(body, Train):
        return process_train(state, tx, body, tx_hash, execution)
    return process_withdraw(state, tx.sender, body, tx_hash)


def process_transfer(state: State, sender: Address, body: Transfer, tx_hash: Hash32) -> Outcome:
    decrease_balance(state, sender, body.asset, body.amount)
    increase_balance(state, body.to, body.asset, body.amount)
    return Outcome(tx_hash)


def process_transfer_object(
    state: State, sender: Address, body: TransferObject, tx_hash: Hash32
) -> Outcome:
    obj = get_owned_object(state, body.object_id, sender)
    # Grants are keyed by the owner who made them, so they lapse with the transfer.
    set_object(state, replace(obj, owner=body.to))
    return Outcome(tx_hash, object_id=obj.object_id)


def process_grant_access(
    state: State, sender: Address, body: GrantAccess, tx_hash: Hash32
) -> Outcome:
    obj = get_owned_object(state, body.object_id, sender)
    set_grant(state, obj.object_id, sender, body.grantee, body.allowed)
    return Outcome(tx_hash, object_id=obj.object_id)


def process_deploy_model(
    state: State, tx: Transaction, body: DeployModel, tx_hash: Hash32
) -> Outcome:
    model = compute_new_object(tx, ObjectKind.MODEL, body.access, body.model_hash,
                               body.metadata_hash)
    return add_object(state, tx_hash, replace(model, vk_hash=body.vk_hash,
                                              fee_asset=body.fee_asset, fee=body.fee))


def process_submit_data(
    state: State, tx: Transaction, body: SubmitData, tx_hash: Hash32
) -> Outcome:
    data = compute_new_object(tx, ObjectKind.DATA, body.access, body.commitment,
                              body.metadata_hash)
    return add_object(state, tx_hash, data)


def process_infer(
    state: State, tx: Transaction, body: Infer, tx_hash: Hash32, execution: AnyExecution | None
) -> Outcome:
    sender = tx.sender
    model = get_usable_object(state, body.model_id, ObjectKind.MODEL, sender)
    data = get_usable_object(state, body.data_id, ObjectKind.DATA, sender)
    # A trainable version runs on its architecture's inference circuit, which must still be
    # there (a verifier reads its key from it).
    circuit = get_circuit_model(state, ObjectId(model.vk_hash)) if is_trainable(model) else None
    if model.fee > body.max_fee:
        raise FeeTooLow(f"the model's fee is {model.fee}, the transaction allows {body.max_fee}")
    if not isinstance(execution, Execution):
        raise InferenceMismatch("an inference needs its execution output")
    # The proof binds the output to this commitment; it must be the DATA object's.
    if execution.input_commitment != data.commitment:
        raise InferenceMismatch("the execution's input commitment is not the data object's")
    if model.fee:
        decrease_balance(state, sender, model.fee_asset, model.fee)
        increase_balance(state, model.owner, model.fee_asset, model.fee)
    result = compute_new_object(tx, ObjectKind.RESULT, Access.OWNED,
                                compute_outputs_hash(execution.outputs), ZERO_HASH)
    result = replace(result, model_id=model.object_id, data_id=data.object_id)
    trace = TraceEntry(
        tx_hash=tx_hash,
        model_id=model.object_id,
        data_id=data.object_id,
        input_commitment=data.commitment,
        outputs=execution.outputs,
        result_id=result.object_id,
    )
    if circuit is not None:
        # The architecture's inference circuit proves it, its weights an input: the leaf
        # binds them (H(θ), the version's commitment), and the circuit, not the version.
        trace = replace(trace, circuit_id=circuit.object_id, weights=model.commitment)
    return add_object(state, tx_hash, result, trace)


def is_trainable(obj: Object) -> bool:
    """A version of a trainable model: a MODEL naming its step circuit."""
    return obj.kind == ObjectKind.MODEL and obj.model_id != NO_OBJECT


def get_circuit_model(state: State, object_id: ObjectId) -> Object:
    """A plain MODEL object that a trainable model names as one of its circuits."""
    obj = get_object(state, object_id)
    if obj is None:
        raise UnknownObject(f"no MODEL object 0x{object_id.hex()}")
    if obj.kind != ObjectKind.MODEL or is_trainable(obj):
        raise NotTrainable(f"object 0x{object_id.hex()} is no plain MODEL (a circuit)")
    return obj


def process_deploy_trainable(
    state: State, tx: Transaction, body: DeployTrainable, tx_hash: Hash32
) -> Outcome:
    step = get_circuit_model(state, body.step_model_id)
    inference = get_circuit_model(state, body.inference_model_id)
    model = compute_new_object(tx, ObjectKind.MODEL, body.access, body.weight_commitment,
                               body.metadata_hash)
    return add_object(state, tx_hash, replace(
        model, vk_hash=Hash32(inference.object_id), fee_asset=body.fee_asset, fee=body.fee,
        model_id=step.object_id))


def compute_lineage_hash(parent_id: ObjectId, rows_hash: Hash32, steps: int,
                         trace_leaf: Hash32) -> Hash32:
    """A trained version's metadata hash: its parent, the rows it was trained on, how many
    steps, and the trace leaf the step proofs rebuild."""
    return hash_tagged(LINEAGE_TAG, ("bytes32", "bytes32", "uint64", "bytes32"),
                       (parent_id, rows_hash, steps, trace_leaf))


def process_train(
    state: State, tx: Transaction, body: Train, tx_hash: Hash32,
    execution: AnyExecution | None,
) -> Outcome:
    sender = tx.sender
    parent = get_usable_object(state, body.model_id, ObjectKind.MODEL, sender)
    if not is_trainable(parent):
        raise NotTrainable(f"MODEL 0x{parent.object_id.hex()} is not trainable")
    if parent.fee > body.max_fee:
        raise FeeTooLow(f"the model's fee is {parent.fee}, the transaction allows {body.max_fee}")
    rows = [get_usable_object(state, data_id, ObjectKind.DATA, sender).commitment
            for data_id in body.data_ids]
    if not isinstance(execution, TrainingExecution):
        raise TrainingMismatch("a training needs its execution output")
    if parent.fee:
        decrease_balance(state, sender, parent.fee_asset, parent.fee)
        increase_balance(state, parent.owner, parent.fee_asset, parent.fee)
    version_id = compute_object_id(sender, tx.nonce)
    trace = TrainingTrace(
        tx_hash=tx_hash,
        step_model_id=parent.model_id,
        params_in=parent.commitment,
        steps=body.steps,
        rows_hash=compute_rows_hash(rows),
        params_out=execution.params_out,
        version_id=version_id,
    )
    lineage = compute_lineage_hash(parent.object_id, trace.rows_hash, body.steps,
                                   compute_trace_leaf(trace))
    version = Object(
        object_id=version_id, kind=ObjectKind.MODEL, owner=sender, access=Access.OWNED,
        commitment=execution.params_out, metadata_hash=lineage, vk_hash=parent.vk_hash,
        fee_asset=parent.fee_asset, fee=parent.fee, model_id=parent.model_id,
        data_id=parent.object_id,
    )
    return add_object(state, tx_hash, version, trace)


def process_withdraw(state: State, sender: Address, body: Withdraw, tx_hash: Hash32) -> Outcome:
    if body.object_id == NO_OBJECT:
        decrease_balance(state, sender, body.asset, body.amount)
        withdrawal = Withdrawal(
            withdrawal_id=tx_hash, ledger=body.ledger, recipient=body.recipient,
            asset=body.asset, amount=body.amount, object_id=body.object_id, object_kind=0,
            commitment=ZERO_HASH, model_id=ObjectId(ZERO_HASH),
        )
        return Outcome(tx_hash, withdrawal=withdrawal)
    obj = get_owned_object(state, body.object_id, sender)
    delete_object(state, obj.object_id)  # burnt here, minted as a token on the ledger
    withdrawal = Withdrawal(
        withdrawal_id=tx_hash, ledger=body.ledger, recipient=body.recipient, asset=body.asset,
        amount=Amount(0), object_id=obj.object_id, object_kind=int(obj.kind),
        commitment=obj.commitment, model_id=obj.model_id,
    )
    return Outcome(tx_hash, object_id=obj.object_id, withdrawal=withdrawal)


def process_deposit(state: State, body: Deposit, tx_hash: Hash32) -> Outcome:
    if is_deposit_applied(state, body.event_id):
        raise DepositAlreadyApplied(f"ledger event 0x{body.event_id.hex()} was already applied")
    if body.amount == 0 and body.data_commitment == ZERO_HASH:
        raise MalformedTransaction("a deposit carries an amount, data, or both")
    set_deposit_applied(state, body.event_id)
    if body.amount:
        # The asset follows from the ledger: a deposit from one ledger never credits another's.
        asset = compute_asset_id(body.ledger, body.token)
        increase_balance(state, body.recipient, asset, body.amount)
    if body.data_commitment == ZERO_HASH:
        return Outcome(tx_hash)
    data = Object(
        object_id=compute_deposit_object_id(body.event_id),
        kind=ObjectKind.DATA,
        owner=body.recipient,
        access=Access.OWNED,
        commitment=body.data_commitment,
        metadata_hash=body.metadata_hash,
    )
    return add_object(state, tx_hash, data)


def compute_new_object(
    tx: Transaction, kind: ObjectKind, access: Access, commitment: Hash32, metadata_hash: Hash32
) -> Object:
    """The object a user's transaction creates: the sender owns it, and its id follows from the
    sender and the nonce."""
    return Object(
        object_id=compute_object_id(tx.sender, tx.nonce),
        kind=kind,
        owner=tx.sender,
        access=access,
        commitment=commitment,
        metadata_hash=metadata_hash,
    )


def add_object(
    state: State, tx_hash: Hash32, obj: Object, trace: Trace | None = None
) -> Outcome:
    """Store the object a transaction created; its outcome names the object."""
    set_object(state, obj)
    return Outcome(tx_hash, object_id=obj.object_id, trace=trace)


def get_owned_object(state: State, object_id: ObjectId, sender: Address) -> Object:
    obj = get_object(state, object_id)
    if obj is None:
        raise UnknownObject(f"no object 0x{object_id.hex()}")
    if obj.owner != sender:
        raise NotOwner(f"object 0x{object_id.hex()} belongs to 0x{obj.owner.hex()}")
    return obj


def get_usable_object(
    state: State, object_id: ObjectId, kind: ObjectKind, user: Address
) -> Object:
    obj = get_object(state, object_id)
    if obj is None:
        raise UnknownObject(f"no {kind.name} object 0x{object_id.hex()}")
    if obj.kind != kind:
        raise WrongObjectKind(f"object 0x{object_id.hex()} is a {obj.kind.name}, not a {kind.name}")
    if not is_allowed(state, obj, user):
        raise NoAccess(f"0x{user.hex()} may not use {kind.name} 0x{object_id.hex()}")
    return obj


def apply_block(
    state: State,
    txs: Sequence[Transaction],
    executions: Sequence[AnyExecution | None],
) -> list[Outcome]:
    """Apply transactions in order (a refused one aborts: a block holds only valid ones)."""
    return [process_transaction(state, tx, ex) for tx, ex in zip(txs, executions, strict=True)]


def state_transition(
    state: State,
    txs: Sequence[Transaction],
    executions: Sequence[AnyExecution | None],
    claimed_root: Hash32,
) -> list[Outcome]:
    """Apply a block, then check that the resulting state root is the claimed one."""
    outcomes = apply_block(state, txs, executions)
    root = compute_state_root(state)
    if root != claimed_root:
        raise StateRootMismatch(f"state root is 0x{root.hex()}, claimed 0x{claimed_root.hex()}")
    return outcomes
