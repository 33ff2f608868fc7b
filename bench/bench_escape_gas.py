"""Benchmark: L1 gas of the escape hatch (receipt gasUsed: execution + calldata + base 21k).

On the embedded EVM (py-evm, Prague rules): a rollup whose last batch holds a state of N leaves
(random balances, and the user's ETH balance and RESULT object) is frozen; then the user's
leaves are paid by sparse-Merkle inclusion proof (an ETH balance, the RESULT as an ERC-721)
and a deposit no batch took is refunded. A proof has about log2(N) siblings, each two hashes
on chain and 32 bytes of calldata. The batch's committed state root is the bench's own (no
challenge window: posting does not re-execute), so the large state costs no posting.

    python bench/bench_escape_gas.py [--sizes 1000 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.core.batch import compute_batch_header, compute_tx_commitment  # noqa: E402
from flavum.core.encoding import keccak256  # noqa: E402
from flavum.core.genesis import DEV_ASSET, Genesis  # noqa: E402
from flavum.core.state import (  # noqa: E402
    Object,
    compute_balance_key,
    compute_object_key,
    compute_state_root,
    get_state_proof,
    set_balance,
    set_object,
)
from flavum.core.stf import process_transaction  # noqa: E402
from flavum.core.transactions import (  # noqa: E402
    address_of,
    compute_tx_hash,
    encode_transaction,  # noqa: E402
)
from flavum.core.types import Access, Address, Amount, Hash32, ObjectId, ObjectKind  # noqa: E402
from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.l1.evm_deploy import deploy_contracts  # noqa: E402
from flavum.l1.interface import BatchTx, EscapeBalance  # noqa: E402
from flavum.node.watcher import make_deposit_transaction  # noqa: E402
from tests.l1.conftest import DOMAIN  # noqa: E402

DEPLOYER, SEQUENCER, USER = b"\x61" * 32, b"\x62" * 32, b"\x63" * 32
ETH = 10**18
DELAY = 5  # blocks


def measure(size: int, seed: int) -> dict[str, int]:
    """Gas of each escape operation with a state of `size` other leaves."""
    w3 = embedded_web3([DEPLOYER, SEQUENCER, USER])
    ledger = deploy_contracts(w3, DEPLOYER, sequencer=address_of(SEQUENCER),
                              genesis=Genesis(DOMAIN), challenge_window_blocks=0,
                              escape_delay_blocks=DELAY, sequencer_key=SEQUENCER)
    user = address_of(USER)
    ledger.deposit_eth(USER, user, 2 * ETH)
    ledger.deposit_eth(USER, user, ETH)  # never taken in by a batch: refunded
    first, unconsumed = ledger.deposits(0, ledger.head())
    state = Genesis(DOMAIN).state()
    deposit = make_deposit_transaction(DOMAIN, ledger.ledger_id, first)
    process_transaction(state, deposit)
    rng = random.Random(seed)
    for _ in range(size):
        set_balance(state, Address(rng.randbytes(20)), DEV_ASSET, Amount(rng.randrange(1, 10**9)))
    result = Object(ObjectId(keccak256(b"result")), ObjectKind.RESULT, user, Access.OWNED,
                    keccak256(b"outputs"), keccak256(b"meta"), model_id=ObjectId(keccak256(b"m")))
    set_object(state, result)
    root = compute_state_root(state)
    commitment = compute_tx_commitment(compute_tx_hash(deposit), root, None, None)
    header = compute_batch_header(0, Genesis(DOMAIN).root, [commitment], Hash32(keccak256(b"d")))
    ledger.post_batch(header, [BatchTx(encode_transaction(deposit), commitment)])
    ledger.mine_to(ledger.escape_status().escape_at_block)
    native = first.asset
    balance_proof = get_state_proof(state, compute_balance_key(user, native))
    object_proof = get_state_proof(state, compute_object_key(result.object_id))
    gas = {"siblings (balance proof)": len(balance_proof.siblings)}
    ledger.escape_withdraw(EscapeBalance(user, native, Amount(2 * ETH)), balance_proof, USER)
    gas["escape withdrawal: ETH balance"] = int(ledger.last_receipt["gasUsed"])
    ledger.escape_withdraw(result, object_proof, USER)
    gas["escape withdrawal: RESULT as ERC-721"] = int(ledger.last_receipt["gasUsed"])
    gas["siblings (object proof)"] = len(object_proof.siblings)
    ledger.escape_refund_deposit(unconsumed, USER)
    gas["escape refund of an unconsumed ETH deposit"] = int(ledger.last_receipt["gasUsed"])
    return gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = {size: measure(size, args.seed) for size in args.sizes}
    print("| operation | " + " | ".join(f"{s:,} leaves" for s in args.sizes) + " |")
    print("|---|" + "---:|" * len(args.sizes))
    for name in results[args.sizes[0]]:
        print(f"| {name} | " + " | ".join(f"{results[s][name]:,}" for s in args.sizes) + " |")


if __name__ == "__main__":
    main()
