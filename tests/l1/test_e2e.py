"""Ledger-level end to end, on the embedded EVM and on anvil: deposit ETH and data -> the
watcher credits them -> a batch with a real ezkl proof is accepted on L1 -> ETH and the RESULT
(as an ERC-721) are withdrawn -> balances and token ownership are right."""

import pytest

from flavum.core.assets import compute_asset_id
from flavum.core.batch import (
    compute_batch_header,
    compute_outputs_hash,
    compute_tx_commitment,
    compute_withdrawal_leaf,
)
from flavum.core.genesis import Genesis
from flavum.core.merkle import compute_tree_proof
from flavum.core.model_binding import compute_model_binding_hash
from flavum.core.state import (
    compute_object_key,
    compute_state_root,
    get_balance,
    get_object,
    get_state_proof,
)
from flavum.core.stf import (
    Execution,
    compute_deposit_object_id,
    process_transaction,
)
from flavum.core.transactions import (
    DeployModel,
    Infer,
    Transaction,
    Withdraw,
    address_of,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import ZERO_HASH, Access, Amount, Nonce, ObjectId
from flavum.l1.evm_client import embedded_web3
from flavum.l1.evm_deploy import predict_domain
from flavum.l1.interface import BatchTx, ModelRegistration, proven_inference
from flavum.node.watcher import LedgerWatcher

from .conftest import ALICE, ALICE_KEY, BOB, DEPLOYER_KEY, FUNDED, deploy
from .helpers import h, mine, model_binding

ETH = 10**18
BOB_KEY_FOR_GAS = FUNDED[3]  # a third party relays the finalizations and pays their gas


def _signed(domain, nonce, body):
    tx = Transaction(domain.chain_id, domain.rollup_id, ALICE, Nonce(nonce), body)
    return sign_transaction(tx, ALICE_KEY)


def run_e2e(w3, tiny, tmp_path):
    domain = predict_domain(w3, address_of(DEPLOYER_KEY))  # the rollup's: its batches are
    genesis = Genesis(domain)  # refused at posting unless their transactions are signed for it
    state = genesis.state()
    genesis_root = genesis.root
    ledger = deploy(w3, genesis=genesis)
    eth = compute_asset_id(ledger.ledger_id)

    # 1. Deposits on L1, seen by the watcher after 2 confirmations.
    commitment = tiny.execution.input_commitment.be_bytes
    ledger.deposit_eth(ALICE_KEY, ALICE, 2 * ETH)
    ledger.deposit_data(ALICE_KEY, ALICE, commitment, b"digits sample 7")
    mine(ledger, 2)
    applied = []
    batch = []  # every transaction applied, with the state root after it and its emissions

    def submit(tx, execution=None):
        outcome = process_transaction(state, tx, execution)
        applied.append((tx, outcome))
        batch.append(BatchTx(encode_transaction(tx), compute_tx_commitment(
            outcome.tx_hash, compute_state_root(state), outcome.trace, outcome.withdrawal)))
        return outcome

    watcher = LedgerWatcher(ledger, submit, domain, tmp_path / "watcher.db", confirmations=2)
    assert watcher.poll().submitted == 2
    assert get_balance(state, ALICE, eth) == 2 * ETH
    data_event = applied[1][0].body.event_id
    data_id = compute_deposit_object_id(data_event)
    assert get_object(state, data_id).commitment == commitment

    # 2. L2: deploy the model, infer, withdraw 1 ETH to ALICE and the RESULT to BOB.
    # Alice's DeployModel commits to the model's binding: its own verifier's code, its VKA.
    binding = model_binding(tiny)
    deploy_tx = _signed(domain, 0, DeployModel(h("onnx"), tiny.artifacts.vk_hash,
                                               compute_model_binding_hash(binding),
                                               Access.COMMON, eth, Amount(0)))
    model_id = submit(deploy_tx).object_id
    infer_tx = _signed(domain, 1, Infer(model_id, data_id, Amount(0)))
    infer = submit(infer_tx, Execution(commitment, tiny.execution.outputs))
    result_id = infer.object_id
    withdraw_eth = _signed(domain, 2, Withdraw(ledger.ledger_id, ALICE, eth, Amount(ETH),
                                               ObjectId(ZERO_HASH)))
    withdraw_obj = _signed(domain, 3, Withdraw(ledger.ledger_id, BOB, eth, Amount(0), result_id))
    w_eth = submit(withdraw_eth).withdrawal
    w_obj = submit(withdraw_obj).withdrawal

    # 3. The batch, posted with its six transactions (two deposits, four signed); its posting
    # also binds the model to its verifier: the MODEL shown in the batch's state root.
    header = compute_batch_header(0, genesis_root, [t.commitment for t in batch], h("data"))
    assert header.state_root == compute_state_root(state) and len(batch) == 6
    inference = proven_inference(model_id, tiny.proof, [(infer.trace.tx_hash, result_id)])
    registration = ModelRegistration(get_object(state, model_id), binding, get_state_proof(
        state, compute_object_key(model_id)), tiny.circuit())
    ledger.post_batch(header, batch, [inference], registrations=[registration])
    assert ledger.batch_status(0).accepted
    assert ledger.model(model_id).standing

    # 4. Withdrawals against the accepted root.
    leaves = [compute_withdrawal_leaf(w) for w in (w_eth, w_obj)]
    before = ledger.eth_balance(ALICE)
    ledger.finalize_withdrawal(w_eth, 0, 0, compute_tree_proof(leaves, 0), BOB_KEY_FOR_GAS)
    assert ledger.eth_balance(ALICE) == before + ETH
    ledger.finalize_withdrawal(w_obj, 0, 1, compute_tree_proof(leaves, 1), BOB_KEY_FOR_GAS)
    assert ledger.object_owner(result_id) == BOB
    kind, outputs_hash, model = ledger.object_info(result_id)
    assert (kind, outputs_hash, model) == (3, compute_outputs_hash(tiny.execution.outputs),
                                           model_id)
    assert get_object(state, result_id) is None  # burnt on L2 when withdrawn
    assert ledger.eth_balance(bytes.fromhex(ledger.deployment.bridge[2:])) == ETH
    return ledger


def test_e2e_embedded(tiny, tmp_path):
    run_e2e(embedded_web3(FUNDED), tiny, tmp_path)


def test_e2e_anvil(anvil, tiny, tmp_path):
    ledger = run_e2e(anvil.w3, tiny, tmp_path)
    assert ledger.chain_id == 31337


@pytest.mark.parametrize("backend", ["embedded"])
def test_chain_id_is_reported(backend):
    from .conftest import deploy as deploy_ledger

    ledger = deploy_ledger(embedded_web3(FUNDED))
    assert ledger.chain_id == ledger.deployment.chain_id == 131277322940537
