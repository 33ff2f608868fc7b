"""Benchmark: L1 gas of sequencer rotation (receipt gasUsed: execution + calldata + base 21k).

On the embedded EVM (py-evm, Prague rules): the admin's proposal and its cancellation, the
activation once the delay is over, and a batch of one Transfer (its sender checked against
the sequencer in storage, its domain against the rollup's own).

    python bench/bench_rotation_gas.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.core.transactions import Transfer, address_of  # noqa: E402
from flavum.core.types import Amount  # noqa: E402
from flavum.l1.evm import EvmLedger  # noqa: E402
from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.node.watcher import make_deposit_transaction  # noqa: E402
from tests.l1.conftest import ALICE, ALICE_KEY, BOB_KEY, DEPLOYER_KEY, DOMAIN, FUNDED, GENESIS  # noqa: E402
from tests.l1.test_challenge import ETH, Rollup, deploy, native, signed  # noqa: E402

NEW_KEY = b"\x36" * 32


def gas(ledger: EvmLedger) -> int:
    return int(ledger.last_receipt["gasUsed"])


def main() -> None:
    ledger = deploy(embedded_web3((*FUNDED, NEW_KEY)), forced_window=5, challenge_window=10,
                    rotation_delay=16)
    r = Rollup(ledger, GENESIS.state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, event)])
    rows: list[tuple[str, int]] = []
    r.post([signed(BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))])
    rows.append(("batch of one Transfer (sequencer and domain checked)", gas(ledger)))
    ledger.propose_sequencer(address_of(NEW_KEY), DEPLOYER_KEY)
    rows.append(("proposeSequencer (admin)", gas(ledger)))
    ledger.cancel_sequencer(DEPLOYER_KEY)
    rows.append(("cancelSequencer (admin)", gas(ledger)))
    ledger.propose_sequencer(address_of(NEW_KEY), DEPLOYER_KEY)
    ledger.mine_to(ledger.sequencer_roles().pending_at_block)
    ledger.activate_sequencer(ALICE_KEY)
    rows.append(("activateSequencer (anyone, after the delay)", gas(ledger)))
    r.ledger = EvmLedger(ledger.w3, ledger.deployment, NEW_KEY)
    r.post([signed(BOB_KEY, 1, Transfer(ALICE, native(), Amount(0)))])
    rows.append(("batch of one Transfer by the new sequencer", gas(r.ledger)))
    print("| operation | gas |\n|---|---:|")
    for name, used in rows:
        print(f"| {name} | {used:,} |")


if __name__ == "__main__":
    main()
