"""Deployment identity (flavum.l1.evm_identity): the rollup id is the rollup contract's, the
contract refuses a one-step executor judging for any other domain, and a transaction signed
for one deployment is refused by every other: by the Python rules and by the executor, so a
batch that includes it is reverted. A withdrawal finalized on one deployment is nothing to
another."""

import json

import pytest

from flavum.challenger import Challenger
from flavum.core.batch import compute_batch_header, compute_tx_commitment, compute_withdrawal_leaf
from flavum.core.errors import ConfigError, WrongDomain
from flavum.core.genesis import DEV_ASSET, Genesis
from flavum.core.merkle import compute_tree_proof
from flavum.core.state import (
    compute_rollup_id,
    compute_state_root,
    decrease_balance,
    increase_balance,
)
from flavum.core.stf import process_transaction
from flavum.core.transactions import (
    Transaction,
    Transfer,
    Withdraw,
    address_of,
    compute_tx_hash,
    encode_transaction,
    sign_transaction,
)
from flavum.core.types import NO_OBJECT, ZERO_HASH, Address, Amount, ChainId, Nonce
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import (
    constructor_data,
    embedded_web3,
    load_artifact,
    send_transaction,
)
from flavum.l1.evm_deploy import deploy_contracts, encode_genesis_balances, predict_domain
from flavum.l1.evm_deployment import write_deployment
from flavum.l1.evm_identity import (
    EMBEDDED_CHAIN_ID,
    compute_create_address,
    compute_embedded_domain,
    read_domain,
)
from flavum.l1.factory import open_ledger
from flavum.l1.interface import BatchTx
from flavum.node.config import LedgerSpec
from flavum.node.watcher import make_deposit_transaction
from tests.vectors_util import VECTORS_DIR

from .conftest import (
    ALICE,
    ALICE_KEY,
    BOB,
    BOB_KEY,
    DEPLOYER_KEY,
    DOMAIN,
    FUNDED,
    GENESIS,
    SEQUENCER,
    SEQUENCER_KEY,
    deploy,
)
from .test_challenge import CHALLENGER_KEY, WINDOW, Rollup, mine, native

ETH = 10**18
DEPLOYER = address_of(DEPLOYER_KEY)


def _deploy_raw(w3, name: str, args, value: int = 0) -> str:
    artifact = load_artifact(name)
    data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]), args)
    receipt = send_transaction(w3, w3.eth.chain_id, DEPLOYER_KEY,
                               {"data": data, "gas": 6_000_000, "value": value}, name)
    return str(receipt["contractAddress"])


def test_solidity_computes_the_python_rollup_ids():
    w3 = embedded_web3([DEPLOYER_KEY])
    harness = w3.eth.contract(address=_deploy_raw(w3, "FlavumHashesHarness", ()),
                              abi=load_artifact("FlavumHashesHarness")["abi"])
    vectors = json.loads((VECTORS_DIR / "core" / "rollup_id.json").read_text())
    for case in vectors["cases"]:
        rollup = w3.to_checksum_address(case["rollup"])
        got = bytes(harness.functions.rollupIdOf(int(case["chain_id"]), rollup).call())
        assert "0x" + got.hex() == case["rollup_id"]


def test_the_deployed_rollup_judges_for_its_own_address_on_its_own_chain():
    w3 = embedded_web3(FUNDED)
    assert w3.eth.chain_id == EMBEDDED_CHAIN_ID
    ledger = deploy(w3)
    rollup = Address(bytes.fromhex(ledger.deployment.rollup[2:]))
    assert read_domain(w3, ledger.deployment.rollup) == DOMAIN
    assert DOMAIN.rollup_id == compute_rollup_id(ChainId(EMBEDDED_CHAIN_ID), rollup)
    assert rollup == compute_create_address(DEPLOYER, 2)  # predictable before deploying
    second = deploy(w3)  # the same deployer again: another rollup, another domain
    assert read_domain(w3, second.deployment.rollup) != DOMAIN
    assert compute_embedded_domain(DEPLOYER) == DOMAIN


@pytest.mark.parametrize("which", ["rollup", "chain"])
def test_the_rollup_refuses_an_executor_for_another_domain(which):
    """The executor's domain is checked by the rollup's constructor, not taken on trust."""
    w3 = embedded_web3([DEPLOYER_KEY])
    nonce = w3.eth.get_transaction_count(w3.to_checksum_address(DEPLOYER))
    rollup = compute_create_address(DEPLOYER, nonce + 1)  # deployed right after the executor
    chain = EMBEDDED_CHAIN_ID if which == "rollup" else 1
    other = compute_create_address(DEPLOYER, nonce + 7) if which == "rollup" else rollup
    step = _deploy_raw(w3, "FlavumStep", (chain, compute_rollup_id(ChainId(chain), other)))
    args = (w3.to_checksum_address(SEQUENCER), w3.to_checksum_address(DEPLOYER), 6, step,
            encode_genesis_balances([]), 5, step, step, 0, 1)
    with pytest.raises(LedgerError, match=f"the one-step executor is for another {which}"):
        _deploy_raw(w3, "FlavumRollup", args, value=ETH)


def test_deploying_for_another_domain_is_refused_before_anything_is_deployed():
    w3 = embedded_web3(FUNDED)
    deploy(w3)  # DOMAIN is taken: the deployer's next rollup is another
    nonce = w3.eth.get_transaction_count(w3.to_checksum_address(DEPLOYER))
    with pytest.raises(LedgerError, match="transactions signed for it would be refused"):
        deploy_contracts(w3, DEPLOYER_KEY, sequencer=SEQUENCER, genesis=GENESIS)
    assert w3.eth.get_transaction_count(w3.to_checksum_address(DEPLOYER)) == nonce


def test_a_node_refuses_contracts_of_another_deployment(tmp_path):
    """A deployment file naming other contracts than the home's domain (a redeploy, another
    rollup's file): nothing is posted there."""
    from tests.l1.conftest import Anvil

    anvil = Anvil()
    try:
        first = predict_domain(anvil.w3, DEPLOYER)
        deploy_contracts(anvil.w3, DEPLOYER_KEY, sequencer=SEQUENCER, genesis=Genesis(first))
        second = predict_domain(anvil.w3, DEPLOYER)
        replaced = deploy_contracts(anvil.w3, DEPLOYER_KEY, sequencer=SEQUENCER,
                                    genesis=Genesis(second))
        write_deployment(tmp_path / "evm-deployment.json", replaced.deployment)
        spec = LedgerSpec(name="evm", kind="evm", url=anvil.url,
                          deployment="evm-deployment.json")
        assert open_ledger(spec, tmp_path, genesis=Genesis(second)).ledger is not None
        with pytest.raises(ConfigError, match="another deployment"):
            open_ledger(spec, tmp_path, genesis=Genesis(first))
    finally:
        anvil.stop()


def _rollup(w3) -> Rollup:
    """A deployment on `w3` where Alice deposited 5 ETH (batch 0, honest)."""
    ledger = deploy(w3, challenge_window=WINDOW)
    r = Rollup(ledger, Genesis(read_domain(w3, ledger.deployment.rollup)).state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(r.state.domain, ledger.ledger_id, event)])
    return r


def _signed(r: Rollup, key: bytes, nonce: int, body) -> Transaction:
    domain = r.state.domain
    return sign_transaction(Transaction(domain.chain_id, domain.rollup_id, address_of(key),
                                        Nonce(nonce), body), key)


def test_a_batch_posted_to_one_deployment_is_refused_by_another_at_posting():
    """The replay of a batch's posting, its very calldata, from one deployment to another of
    the same sequencer, genesis and chain, both with a challenge window of 0 (nothing could
    be challenged: whatever is accepted is final at once): refused at posting, the batch's
    transactions being signed for the first rollup. So is the batch posted by a node's store
    made for the first."""
    w3 = embedded_web3(FUNDED)
    funded = ((ALICE, Amount(10 * ETH)),)
    a = deploy(w3, genesis=Genesis(DOMAIN, funded))
    b = deploy(w3, genesis=Genesis(DOMAIN, funded))
    assert a.genesis_state_root() == b.genesis_state_root()
    state = Genesis(read_domain(w3, a.deployment.rollup), funded).state()
    prev_root = compute_state_root(state)
    domain = state.domain
    tx = sign_transaction(Transaction(domain.chain_id, domain.rollup_id, ALICE, Nonce(0),
                                      Transfer(BOB, DEV_ASSET, Amount(ETH))), ALICE_KEY)
    outcome = process_transaction(state, tx)
    commitment = compute_tx_commitment(outcome.tx_hash, compute_state_root(state), None, None)
    header = compute_batch_header(0, prev_root, [commitment], ZERO_HASH)
    posted = [BatchTx(encode_transaction(tx), commitment)]
    a.post_batch(header, posted)
    assert a.batch_status(0).accepted

    calldata = w3.eth.get_transaction(a.batch_status(0).tx_hash)["input"]
    with pytest.raises(LedgerError) as err:
        send_transaction(w3, w3.eth.chain_id, SEQUENCER_KEY,
                         {"to": b.deployment.rollup, "data": calldata, "gas": 3_000_000},
                         "replayed posting")
    assert err.value.reason == "the batch's transactions are signed for another rollup"
    with pytest.raises(LedgerError) as err:
        b.post_batch(header, posted)
    assert err.value.reason == "the batch's transactions are signed for another rollup"
    assert b.next_batch_number() == 0


def test_a_transaction_signed_for_one_deployment_is_refused_by_another():
    """Two deployments on one chain (the double deploy): Alice's transfer and withdrawal on A,
    replayed into a batch of B, are refused by the rules, and proven fraudulent on B when
    posted after one of B's own transactions (opening a batch, they are refused at posting);
    the withdrawal A paid cannot be finalized on B."""
    w3 = embedded_web3((*FUNDED, CHALLENGER_KEY))
    a, b = _rollup(w3), _rollup(w3)
    assert a.state.domain != b.state.domain
    transfer = _signed(a, ALICE_KEY, 0, Transfer(BOB, native(), Amount(ETH)))
    withdraw = _signed(a, ALICE_KEY, 1, Withdraw(a.ledger.ledger_id, ALICE, native(),
                                                 Amount(ETH), NO_OBJECT))
    a.post([transfer])
    outcome = process_transaction(a.state.copy(), withdraw)
    a.post([withdraw])
    mine(a.ledger, WINDOW + 1)
    paid = outcome.withdrawal
    proof = compute_tree_proof([compute_withdrawal_leaf(paid)], 0)
    a.ledger.finalize_withdrawal(paid, 2, 0, proof, ALICE_KEY)

    with pytest.raises(WrongDomain, match="signed for rollup"):
        process_transaction(b.state.copy(), transfer)
    # B's sequencer includes A's transfer as if it applied there (the state it would give):
    # opening a batch, it is refused at posting; after one of B's own, it is posted.
    own = _signed(b, BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))
    lying = b.state.copy()
    decrease_balance(lying, ALICE, native(), Amount(ETH))
    increase_balance(lying, BOB, native(), Amount(ETH))
    lie = compute_tx_commitment(compute_tx_hash(transfer), compute_state_root(lying), None, None)
    with pytest.raises(LedgerError, match="signed for another rollup"):
        b.post([transfer], lie={0: lie})
    process_transaction(lying, own)
    lie = compute_tx_commitment(compute_tx_hash(transfer), compute_state_root(lying), None, None)
    b.post([own, transfer], lie={1: lie})
    (fraud,) = Challenger(b.ledger, Genesis(b.state.domain).state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index) == (1, 1) and "signed for rollup" in fraud.reason
    (revert,) = b.ledger.batch_reverts()
    assert revert.reason == "wrong domain"  # the one-step executor's verdict
    assert b.ledger.next_batch_number() == 1
    mine(b.ledger, WINDOW + 1)
    with pytest.raises(LedgerError):
        b.ledger.finalize_withdrawal(paid, 2, 0, proof, ALICE_KEY)
    with pytest.raises(LedgerError):
        b.ledger.finalize_withdrawal(paid, 1, 0, proof, ALICE_KEY)
