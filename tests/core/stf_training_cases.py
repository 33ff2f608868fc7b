"""State-transition cases of trainable models: DeployTrainable and Train, accepted and refused.

The pre-state (`training_state`) is `base_state` with a trainable model: its step circuit is
MODEL_FEE, its inference circuit MODEL_PRIVATE (plain MODEL objects), its first version
VERSION_OWNED (Alice's, owned, fee 5 ETH, Carol granted) and VERSION_COMMON (Alice's, common,
free); Carol holds 100 ETH.
"""

from dataclasses import replace
from typing import Any

from flavum.core import errors
from flavum.core.state import Object, State, set_balance, set_grant, set_object
from flavum.core.stf import TrainingExecution, compute_object_id
from flavum.core.transactions import MAX_TRAIN_ROWS, DeployTrainable, Train
from flavum.core.types import Access, Amount, Nonce, ObjectId, ObjectKind
from tests.core.conftest import ALICE, BOB, CAROL, ETH, User, sign
from tests.core.stf_cases import (
    DATA_ALICE,
    DATA_BOB,
    EXEC_ALICE,
    EXEC_BOB,
    MODEL_FEE,
    MODEL_PRIVATE,
    RESULT_CAROL,
    UNKNOWN,
    StfCase,
    base_state,
    case,
    h,
    infer,
    no,
    ok,
)

VERSION_OWNED = ObjectId(h("object.version.owned"))
VERSION_COMMON = ObjectId(h("object.version.common"))
TRAINED = TrainingExecution(h("commitment.trained"))
TRAINED_AGAIN = TrainingExecution(h("commitment.trained.again"))


def _version(object_id: ObjectId, access: Access, fee: int) -> Object:
    return Object(object_id, ObjectKind.MODEL, ALICE.address, access, h("weights.zero"),
                  h("meta.trainable"), vk_hash=MODEL_PRIVATE, fee_asset=ETH, fee=Amount(fee),
                  model_id=MODEL_FEE)


def training_state() -> State:
    state = base_state()
    set_object(state, _version(VERSION_OWNED, Access.OWNED, 5))
    set_object(state, _version(VERSION_COMMON, Access.COMMON, 0))
    set_grant(state, VERSION_OWNED, ALICE.address, CAROL.address, True)
    set_balance(state, CAROL.address, ETH, Amount(100))
    return state


def orphan_version_state() -> State:
    """VERSION_COMMON's inference circuit withdrawn (gone from the state)."""
    state = training_state()
    set_object(state, replace(_version(VERSION_COMMON, Access.COMMON, 0), vk_hash=UNKNOWN))
    return state


def train(user: User, nonce: int, model: ObjectId, data: tuple[ObjectId, ...], steps: int,
          max_fee: int) -> Any:
    return sign(user, nonce, Train(model, steps, Amount(max_fee), data))


def deploy_trainable(step: ObjectId, inference: ObjectId) -> Any:
    return sign(ALICE, 3, DeployTrainable(step, inference, h("weights.zero"), h("meta.t"),
                                          Access.COMMON, ETH, Amount(2)))


def training_cases() -> list[StfCase]:
    rows = (DATA_ALICE, DATA_BOB, DATA_BOB, DATA_ALICE)
    carol_version = compute_object_id(CAROL.address, Nonce(1))
    t = training_state
    return [
        case("deploy_trainable", "Alice deploys a trainable model on two circuits",
             ok(deploy_trainable(MODEL_FEE, MODEL_PRIVATE)), pre=t),
        case("train_grantee_two_steps", "Carol, granted, trains Alice's version for 2 steps",
             ok(train(CAROL, 1, VERSION_OWNED, rows, 2, 5), TRAINED), pre=t),
        case("seq_train_a_trained_version", "Carol trains Alice's version, then her own",
             ok(train(CAROL, 1, VERSION_OWNED, rows, 4, 5), TRAINED),
             ok(train(CAROL, 2, carol_version, rows[:2], 1, 5), TRAINED_AGAIN), pre=t),
        case("train_common_version", "Bob trains a common version on common data",
             ok(train(BOB, 1, VERSION_COMMON, (DATA_BOB,), 1, 0), TRAINED), pre=t),
        case("not_trainable_train_plain_model", "training a plain MODEL",
             no(errors.NotTrainable, train(BOB, 1, MODEL_FEE, (DATA_BOB,), 1, 5), TRAINED),
             pre=t),
        case("not_trainable_step_is_data", "a DATA object named as the step circuit",
             no(errors.NotTrainable, deploy_trainable(DATA_BOB, MODEL_PRIVATE)), pre=t),
        case("not_trainable_step_is_version", "a trainable version named as the step circuit",
             no(errors.NotTrainable, deploy_trainable(VERSION_COMMON, MODEL_PRIVATE)), pre=t),
        case("unknown_object_inference_circuit", "an inference circuit that does not exist",
             no(errors.UnknownObject, deploy_trainable(MODEL_FEE, UNKNOWN)), pre=t),
        case("no_access_train_owned_version", "Bob trains Alice's owned version",
             no(errors.NoAccess, train(BOB, 1, VERSION_OWNED, (DATA_BOB,), 1, 5), TRAINED),
             pre=t),
        case("no_access_train_on_owned_data", "Bob trains on Alice's owned data",
             no(errors.NoAccess, train(BOB, 1, VERSION_COMMON, (DATA_ALICE,), 1, 0), TRAINED),
             pre=t),
        case("wrong_kind_train_on_result", "a RESULT named as a training row",
             no(errors.WrongObjectKind, train(CAROL, 1, VERSION_OWNED, (RESULT_CAROL,), 1, 5),
                TRAINED), pre=t),
        case("fee_too_low_train", "Carol allows 4 ETH, the version charges 5",
             no(errors.FeeTooLow, train(CAROL, 1, VERSION_OWNED, rows, 2, 4), TRAINED),
             pre=t),
        case("training_mismatch_no_execution", "a training handed no execution",
             no(errors.TrainingMismatch, train(CAROL, 1, VERSION_OWNED, rows, 2, 5)), pre=t),
        case("training_mismatch_inference_execution", "a training handed an inference's",
             no(errors.TrainingMismatch, train(CAROL, 1, VERSION_OWNED, rows, 2, 5), EXEC_BOB),
             pre=t),
        case("inference_mismatch_training_execution", "an inference handed a training's",
             no(errors.InferenceMismatch, infer(BOB, 1, MODEL_FEE, DATA_BOB, 5), TRAINED),
             pre=t),
        case("infer_version_paying_fee", "Carol, granted, runs Alice's version on Alice's data",
             ok(infer(CAROL, 1, VERSION_OWNED, DATA_ALICE, 5), EXEC_ALICE), pre=t),
        case("seq_train_then_infer_version", "Bob trains a common version, then runs his own",
             ok(train(BOB, 1, VERSION_COMMON, (DATA_BOB,), 1, 0), TRAINED),
             ok(infer(BOB, 2, compute_object_id(BOB.address, Nonce(1)), DATA_BOB, 0), EXEC_BOB),
             pre=t),
        case("no_access_infer_owned_version", "Bob runs Alice's owned version",
             no(errors.NoAccess, infer(BOB, 1, VERSION_OWNED, DATA_BOB, 5), EXEC_BOB), pre=t),
        case("inference_mismatch_version_wrong_commitment", "a version's inference on other data",
             no(errors.InferenceMismatch, infer(BOB, 1, VERSION_COMMON, DATA_BOB, 0), EXEC_ALICE),
             pre=t),
        case("unknown_object_version_circuit", "a version whose inference circuit is gone",
             no(errors.UnknownObject, infer(BOB, 1, VERSION_COMMON, DATA_BOB, 0), EXEC_BOB),
             pre=orphan_version_state),
        case("malformed_train_zero_steps", "a training of zero steps",
             no(errors.MalformedTransaction, train(BOB, 1, VERSION_COMMON, (DATA_BOB,), 0, 0))),
        case("malformed_train_uneven_batches", "three rows in two steps",
             no(errors.MalformedTransaction, train(BOB, 1, VERSION_COMMON, rows[1:], 2, 0))),
        case("malformed_train_no_rows", "a training on no rows",
             no(errors.MalformedTransaction, train(BOB, 1, VERSION_COMMON, (), 1, 0))),
        case("malformed_train_too_many_rows", f"{MAX_TRAIN_ROWS + 1} rows",
             no(errors.MalformedTransaction,
                train(BOB, 1, VERSION_COMMON, (DATA_BOB,) * (MAX_TRAIN_ROWS + 1), 1, 0))),
    ]

