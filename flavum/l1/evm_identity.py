"""Deployment identity on an EVM: the rollup id is the rollup contract's, so two deployments
never share a signing domain.

`rollup_id = compute_rollup_id(chain_id, rollup address)` (flavum.core.state; the rollup
contract's constructor requires its one-step executor to judge for exactly that id). The
rollup is its deployer's third contract (model registry, one-step executor, rollup), so its
address, hence the domain, is known before anything is deployed: from the deployer's address
and account nonce (CREATE). The embedded EVM is a fresh chain at every node start, deployed by
the sequencer key from nonce 0, so its domain follows from that key alone.
"""

from typing import Any

import rlp

from flavum.core.encoding import keccak256
from flavum.core.state import Domain, compute_rollup_id
from flavum.core.types import Address, ChainId, Hash32

EMBEDDED_CHAIN_ID = 131277322940537  # eth-tester's chain id (flavum.l1.evm_client.embedded_web3)
ROLLUP_NONCE_OFFSET = 2  # registry, one-step executor, then the rollup (flavum.l1.evm_deploy)


def compute_create_address(deployer: Address, nonce: int) -> Address:
    """Where the contract `deployer` creates with account nonce `nonce` lands (CREATE)."""
    return Address(keccak256(rlp.encode([deployer, nonce]))[12:])


def compute_deployment_domain(chain_id: int, deployer: Address, nonce: int) -> Domain:
    """The domain of the rollup `deployer` deploys from account nonce `nonce` on `chain_id`."""
    rollup = compute_create_address(deployer, nonce + ROLLUP_NONCE_OFFSET)
    return Domain(ChainId(chain_id), compute_rollup_id(ChainId(chain_id), rollup))


def compute_embedded_domain(sequencer: Address) -> Domain:
    """The domain of the embedded EVM's rollup, which `sequencer` deploys at every start."""
    return compute_deployment_domain(EMBEDDED_CHAIN_ID, sequencer, 0)


def read_domain(w3: Any, rollup: str) -> Domain:
    """The domain the rollup contract at `rollup` judges transactions for (its executor's)."""
    from flavum.l1.evm_client import call_mapped, load_artifact

    contract = w3.eth.contract(address=rollup, abi=load_artifact("FlavumRollup")["abi"])
    step_address = call_mapped("step", contract.functions.step().call)
    step = w3.eth.contract(address=step_address, abi=load_artifact("FlavumStep")["abi"])
    return Domain(ChainId(int(call_mapped("chainId", step.functions.chainId().call))),
                  Hash32(bytes(call_mapped("rollupId", step.functions.rollupId().call))))
