"""Deploying the rollup's contracts on an EVM chain: registry, one-step executor, rollup
(bonded), bridge (its deposit inbox, which the rollup reads) and the shared reusable verifier.
The rollup's domain follows from where it lands (flavum.l1.evm_identity): `predict_domain`."""

from collections.abc import Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address

from flavum.core.assets import compute_ledger_id
from flavum.core.codec import to_hex
from flavum.core.genesis import Genesis, GenesisBalance
from flavum.core.state import Domain
from flavum.core.transactions import address_of
from flavum.core.types import Address
from flavum.l1.errors import LedgerError
from flavum.l1.evm import EvmLedger
from flavum.l1.evm_client import call_mapped, constructor_data, load_artifact, send_transaction
from flavum.l1.evm_deployment import EvmDeployment
from flavum.l1.evm_gas import GasPolicy
from flavum.l1.evm_identity import (
    ROLLUP_NONCE_OFFSET,
    compute_create_address,
    compute_deployment_domain,
)
from flavum.l1.evm_step import proof_arg
from flavum.l1.verifiers import REUSABLE_CONTRACT

DEFAULT_BOND_WEI = 10**18  # the sequencer's bond, paid to whoever proves a batch fraudulent
# Blocks without an accepted batch before the rollup freezes into escape mode: 14 days of
# 12-second blocks, twice the default challenge window (docs/settlement.md, "Escape hatch").
DEFAULT_ESCAPE_DELAY = 100_800
# Blocks from a sequencer rotation's proposal to its activation, beyond the forced and challenge
# windows (which it must exceed, so users can leave first): one day of 12-second blocks.
ROTATION_MARGIN = 7_200


def deploy_contracts(
    w3: Any, deployer_key: bytes, *, sequencer: Address, genesis: Genesis,
    forced_window_blocks: int = 100, challenge_window_blocks: int = 50_400,
    escape_delay_blocks: int | None = None, admin: Address | None = None,
    rotation_delay_blocks: int | None = None,
    bond_wei: int = DEFAULT_BOND_WEI, ledger_name: str = "evm",
    with_reusable_verifier: bool = True, sequencer_key: bytes | None = None,
    gas: GasPolicy = GasPolicy(),
) -> EvmLedger:
    """Deploy registry, the one-step executor for the genesis's domain, rollup (bonded with
    `bond_wei` from the deployer; it computes the genesis state root from the allocations),
    bridge (which deploys the ERC-721 of objects) and the shared reusable ezkl verifier;
    return the ledger handle (signing with `sequencer_key`). The genesis's domain must be the
    one this deployment gets (`predict_domain`), and `escape_delay_blocks` (None:
    DEFAULT_ESCAPE_DELAY) must exceed the challenge window: nothing is deployed otherwise.
    `admin` (None: the deployer) may rotate the sequencer, each rotation taking effect
    `rotation_delay_blocks` after it is proposed (None: the forced and challenge windows plus
    ROTATION_MARGIN), which must exceed those two windows together (the contract's rule).
    Only a rotation proposed more than the rotation delay before the escape delay runs out
    replaces a sequencer gone silent: the defaults leave 6 days (docs/settlement.md)."""
    escape_delay = DEFAULT_ESCAPE_DELAY if escape_delay_blocks is None else escape_delay_blocks
    if escape_delay <= challenge_window_blocks:
        raise LedgerError(f"the escape delay ({escape_delay} blocks) must exceed the challenge "
                          f"window ({challenge_window_blocks} blocks): a frozen rollup's "
                          "batches must all be final")
    windows = forced_window_blocks + challenge_window_blocks
    rotation_delay = (windows + ROTATION_MARGIN if rotation_delay_blocks is None
                      else rotation_delay_blocks)
    if rotation_delay <= windows:
        raise LedgerError(f"the rotation delay ({rotation_delay} blocks) must exceed the forced "
                          f"and challenge windows ({windows} blocks together): users must be "
                          "able to leave before a new sequencer posts")
    chain_id = int(call_mapped("chain id", lambda: w3.eth.chain_id))
    start = int(call_mapped("block number", lambda: w3.eth.block_number))
    deployer = w3.to_checksum_address(address_of(deployer_key))
    nonce = int(call_mapped("nonce", lambda: w3.eth.get_transaction_count(deployer)))
    domain = compute_deployment_domain(chain_id, address_of(deployer_key), nonce)
    if genesis.domain != domain:
        raise LedgerError(
            f"the rollup deployed now would be rollup {to_hex(domain.rollup_id)} on chain "
            f"{domain.chain_id}, the genesis is for rollup {to_hex(genesis.domain.rollup_id)} on "
            f"chain {genesis.domain.chain_id}: transactions signed for it would be refused")

    def deploy(name: str, args: Sequence[Any], gas_limit: int, value: int = 0) -> str:
        artifact = load_artifact(name)
        data = constructor_data(w3, artifact["abi"], bytes.fromhex(artifact["bytecode"][2:]),
                                 args)
        receipt = send_transaction(w3, chain_id, deployer_key,
                                   {"data": data, "gas": gas_limit, "value": value},
                                   f"{name} deployment")
        return str(receipt["contractAddress"])

    seq = w3.to_checksum_address(sequencer)
    # The registry reads which batches stand from the rollup, deployed two contracts later.
    rollup_address = compute_create_address(address_of(deployer_key),
                                            nonce + ROLLUP_NONCE_OFFSET)
    registry = deploy("ModelRegistry", (w3.to_checksum_address(rollup_address),), 2_500_000)
    step = deploy("FlavumStep", (domain.chain_id, domain.rollup_id), 4_500_000)
    # The rollup reads the bridge's deposit inbox: the bridge is deployed right after it.
    inbox = w3.to_checksum_address(compute_create_address(address_of(deployer_key), nonce + 3))
    balances = encode_genesis_balances(genesis.balances())
    owner = deployer if admin is None else w3.to_checksum_address(admin)
    rollup = deploy("FlavumRollup", (seq, owner, rotation_delay, registry, balances,
                                     forced_window_blocks, inbox, step, challenge_window_blocks,
                                     escape_delay),
                    6_500_000 + 60_000 * len(genesis.allocations), bond_wei)
    if rollup != w3.to_checksum_address(rollup_address):
        raise LedgerError(f"the rollup landed at {rollup}, the registry reads {rollup_address!r}")
    bridge = deploy("FlavumBridge", (rollup, compute_ledger_id(ledger_name)), 4_500_000)
    if bridge != inbox:
        raise LedgerError(f"the bridge landed at {bridge}, the rollup reads {inbox}")
    reusable = deploy(REUSABLE_CONTRACT, (), 5_000_000) if with_reusable_verifier else None
    bridge_contract = w3.eth.contract(address=bridge, abi=load_artifact("FlavumBridge")["abi"])
    objects = call_mapped("objects", bridge_contract.functions.objects().call)
    deployment = EvmDeployment(chain_id, rollup, registry, bridge, str(objects), reusable, start,
                               ledger_name)
    ledger = EvmLedger(w3, deployment, sequencer_key, gas)
    if ledger.genesis_state_root() != genesis.root:
        raise LedgerError(f"the rollup computed genesis root {to_hex(ledger.genesis_state_root())}"
                          f", this node {to_hex(genesis.root)}")
    return ledger


def predict_domain(w3: Any, deployer: Address) -> Domain:
    """The domain of the rollup `deploy_contracts` deploys with `deployer`'s key now."""
    chain_id = int(call_mapped("chain id", lambda: w3.eth.chain_id))
    account = w3.to_checksum_address(deployer)
    nonce = int(call_mapped("nonce", lambda: w3.eth.get_transaction_count(account)))
    return compute_deployment_domain(chain_id, deployer, nonce)


def encode_genesis_balances(balances: Sequence[GenesisBalance]) -> bytes:
    """abi.encode(FlavumStep.GenesisBalance[]), the rollup constructor's `genesis`."""
    rows = [(to_checksum_address(b.account), b.amount, proof_arg(b.proof)) for b in balances]
    return bytes(abi_encode(["(address,uint256,(bytes32[],bool,bytes32,bytes32))[]"], [rows]))
