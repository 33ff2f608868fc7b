"""No unbacked value at genesis: the rollup contract computes the genesis state root itself from
dev-asset allocations (FlavumStep.genesisRoot, the same root as flavum.core.genesis), refuses
anything else, and a dev balance can never take ETH out of the Bridge: a lying sequencer that
treats it as withdrawable is proven fraudulent by the challenger."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flavum.challenger import Challenger
from flavum.core.assets import compute_asset_id
from flavum.core.batch import TxCommitment, Withdrawal, compute_withdrawal_leaf
from flavum.core.genesis import (
    DEV_ASSET,
    Genesis,
    GenesisBalance,
    compute_genesis_balances,
    create_genesis,
)
from flavum.core.merkle import SmtProof
from flavum.core.state import get_balance
from flavum.core.transactions import (
    Transaction,
    Withdraw,
    address_of,
    compute_tx_hash,
    sign_transaction,
)
from flavum.core.types import NO_OBJECT, ZERO_HASH, Address, Amount, Nonce
from flavum.l1.errors import LedgerError
from flavum.l1.evm_client import call_mapped, embedded_web3, load_artifact
from flavum.l1.evm_deploy import deploy_contracts, encode_genesis_balances, predict_domain
from flavum.node.watcher import make_deposit_transaction

from .conftest import ALICE, ALICE_KEY, DEPLOYER_KEY, DOMAIN, FUNDED, SEQUENCER, SEQUENCER_KEY
from .helpers import mine
from .test_challenge import CHALLENGER_KEY, WINDOW, Rollup, balance, h

ETH = 10**18
DEV_KEY = b"\x55" * 32  # a key funded at genesis, as `flavum init` funds `default`
DEV = address_of(DEV_KEY)
CHALLENGER = address_of(CHALLENGER_KEY)


@pytest.fixture(scope="module")
def step():
    """The one-step executor of a deployment (genesisRoot is a pure function of it)."""
    ledger = deploy_contracts(embedded_web3(FUNDED), DEPLOYER_KEY, sequencer=SEQUENCER,
                              genesis=Genesis(DOMAIN), challenge_window_blocks=0,
                              sequencer_key=SEQUENCER_KEY)
    address = ledger.rollup.functions.step().call()
    return ledger.w3.eth.contract(address=address, abi=load_artifact("FlavumStep")["abi"])


def solidity_root(step, balances: list[GenesisBalance]) -> bytes:
    return bytes(call_mapped("genesisRoot",
                             step.functions.genesisRoot(encode_genesis_balances(balances)).call))


allocations = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20).map(Address),
              st.integers(min_value=0, max_value=2**256 - 1).map(Amount)),
    max_size=8)


@settings(max_examples=40, deadline=None)
@given(allocations)
def test_the_contract_computes_the_genesis_root_python_computes(step, allocated):
    total: dict[Address, int] = {}
    for address, amount in allocated:
        total[address] = total.get(address, 0) + amount
    if any(amount >= 2**256 for amount in total.values()):
        return  # more than a uint256 balance: not a genesis anyone can write
    genesis = Genesis(DOMAIN, tuple(allocated))
    assert solidity_root(step, genesis.balances()) == genesis.root
    state = create_genesis(DOMAIN, allocated)
    for address, amount in total.items():
        assert get_balance(state, address, DEV_ASSET) == amount


def test_the_contract_refuses_a_genesis_it_did_not_derive(step):
    alice = GenesisBalance(ALICE, Amount(ETH), SmtProof(()))
    with pytest.raises(LedgerError, match="zero"):
        solidity_root(step, [GenesisBalance(ALICE, Amount(0), SmtProof(()))])
    # The same account twice: its second insert's non-inclusion proof is false.
    with pytest.raises(LedgerError, match="does not match root"):
        solidity_root(step, [alice, alice])
    # A proof against some other state (a root the deployer would like to start from).
    (bob,) = compute_genesis_balances([(SEQUENCER, Amount(ETH))])
    forged = GenesisBalance(SEQUENCER, Amount(ETH), SmtProof((h("forged state"),)))
    with pytest.raises(LedgerError, match="does not match root"):
        solidity_root(step, [forged])
    assert solidity_root(step, [bob]) == Genesis(DOMAIN, ((SEQUENCER, Amount(ETH)),)).root


def test_a_deployment_starts_from_the_root_of_its_genesis():
    genesis = Genesis(DOMAIN, ((DEV, Amount(1000 * ETH)), (ALICE, Amount(1))))
    ledger = deploy_contracts(embedded_web3(FUNDED), DEPLOYER_KEY, sequencer=SEQUENCER,
                              genesis=genesis, sequencer_key=SEQUENCER_KEY)
    assert ledger.genesis_state_root() == genesis.root != Genesis(DOMAIN).root
    assert bytes(ledger.rollup.functions.lastStateRoot().call()) == genesis.root


@pytest.fixture
def funded_rollup() -> Rollup:
    """A deployment whose genesis gives DEV_KEY 1,000 dev units; Alice deposits 5 ETH."""
    genesis = Genesis(DOMAIN, ((DEV, Amount(1000 * ETH)),))
    ledger = deploy_contracts(embedded_web3((*FUNDED, CHALLENGER_KEY, DEV_KEY)), DEPLOYER_KEY,
                              sequencer=SEQUENCER, genesis=genesis,
                              challenge_window_blocks=WINDOW, sequencer_key=SEQUENCER_KEY)
    r = Rollup(ledger, genesis.state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, event)])
    return r


def dev_withdrawal(r: Rollup, asset: bytes, amount: int) -> tuple[Transaction, Withdrawal]:
    tx = sign_transaction(Transaction(DOMAIN.chain_id, DOMAIN.rollup_id, DEV, Nonce(0),
                                      Withdraw(r.ledger.ledger_id, DEV, asset,
                                               Amount(amount), NO_OBJECT)), DEV_KEY)
    return tx, Withdrawal(compute_tx_hash(tx), r.ledger.ledger_id, DEV, asset,
                          Amount(amount), NO_OBJECT, 0, ZERO_HASH, NO_OBJECT)


def test_a_genesis_balance_treated_as_eth_is_proven_fraudulent(funded_rollup):
    """The unbacked-genesis attack: the genesis key withdraws the Bridge's 5 ETH (Alice's) as if
    its 1,000 genesis units were ETH. The challenger, replaying from the genesis the contract
    itself computed, proves the withdrawal was invalid; the batch is reverted, the Bridge keeps
    Alice's 5 ETH and the challenger takes the bond."""
    r = funded_rollup
    bridge = bytes.fromhex(r.ledger.deployment.bridge[2:])
    eth = compute_asset_id(r.ledger.ledger_id)
    theft, paid = dev_withdrawal(r, eth, 5 * ETH)
    lie = TxCommitment(compute_tx_hash(theft), h("as if genesis held ETH"),
                       compute_withdrawal_leaf(paid))
    r.post([theft], lie={0: lie})
    before = balance(r.ledger, CHALLENGER)
    genesis = Genesis(DOMAIN, ((DEV, Amount(1000 * ETH)),))
    (fraud,) = Challenger(r.ledger, genesis.state(), CHALLENGER_KEY).run()
    assert (fraud.number, fraud.index) == (1, 0)
    assert "balance" in fraud.reason or "holds" in fraud.reason
    assert r.ledger.next_batch_number() == 1
    mine(r.ledger, WINDOW + 1)
    with pytest.raises(LedgerError, match="batch not accepted"):
        r.ledger.finalize_withdrawal(paid, 1, 0, [], DEV_KEY)
    assert balance(r.ledger, bridge) == 5 * ETH
    assert balance(r.ledger, CHALLENGER) > before


def test_a_dev_balance_withdrawn_honestly_is_never_paid(funded_rollup):
    """Withdrawing the dev asset is a valid rollup transaction (the balance leaves the rollup),
    but the Bridge pays no asset it does not hold: the finalization reverts, the ETH stays."""
    r = funded_rollup
    bridge = bytes.fromhex(r.ledger.deployment.bridge[2:])
    tx, withdrawal = dev_withdrawal(r, DEV_ASSET, 5 * ETH)
    r.post([tx])
    mine(r.ledger, WINDOW + 1)
    with pytest.raises(LedgerError, match="unknown asset"):
        r.ledger.finalize_withdrawal(withdrawal, 1, 0, [], DEV_KEY)
    assert balance(r.ledger, bridge) == 5 * ETH



def test_a_node_refuses_a_deployment_of_another_genesis(anvil, tmp_path):
    """A home whose genesis is not the one the rollup computed (another rollup's deployment
    file, or a config edited after the deploy) is refused before anything is posted."""
    from flavum.core.errors import ConfigError
    from flavum.l1.evm_deployment import write_deployment
    from flavum.l1.factory import open_ledger
    from flavum.node.config import LedgerSpec

    domain = predict_domain(anvil.w3, address_of(DEPLOYER_KEY))
    genesis = Genesis(domain, ((DEV, Amount(1000 * ETH)),))
    deployed = deploy_contracts(anvil.w3, DEPLOYER_KEY, sequencer=SEQUENCER, genesis=genesis)
    write_deployment(tmp_path / "evm-deployment.json", deployed.deployment)
    spec = LedgerSpec(name="evm", kind="evm", url=anvil.url, deployment="evm-deployment.json")
    assert open_ledger(spec, tmp_path, genesis=genesis).ledger.genesis_state_root() == genesis.root
    other = Genesis(domain, ((DEV, Amount(1001 * ETH)),))
    with pytest.raises(ConfigError, match="another rollup's deployment"):
        open_ledger(spec, tmp_path, genesis=other)
