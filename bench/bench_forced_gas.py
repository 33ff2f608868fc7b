"""Benchmark: L1 gas of forced inclusion (receipt gasUsed: execution + calldata + base 21k).

On the embedded EVM (py-evm, Prague rules), with the lying-sequencer harness of
tests/l1/test_challenge.py: queueing a signed transaction (its domain and signature checked
by FlavumStep.checkForcible), posting a batch that includes it or refuses it (the refusal's
hash is stored), and proving a wrongful refusal (`challengeRefusal`: the refused Withdraw
re-executed on the committed state at its position).

    python bench/bench_forced_gas.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flavum.challenger import Challenger  # noqa: E402
from flavum.core.transactions import Transfer, Withdraw, encode_transaction  # noqa: E402
from flavum.core.types import NO_OBJECT, Amount  # noqa: E402
from flavum.l1.evm_client import embedded_web3  # noqa: E402
from flavum.l1.interface import ForcedInclusion  # noqa: E402
from flavum.node.watcher import make_deposit_transaction  # noqa: E402
from tests.l1.conftest import ALICE, ALICE_KEY, BOB, BOB_KEY, DOMAIN, FUNDED, GENESIS  # noqa: E402
from tests.l1.test_challenge import (  # noqa: E402
    CHALLENGER_KEY,
    ETH,
    WINDOW,
    Rollup,
    deploy,
    native,
    r_ledger_id,
    signed,
)


def last_gas(r: Rollup) -> int:
    w3 = r.ledger.w3
    return int(w3.eth.get_transaction_receipt(w3.eth.get_block("latest")["transactions"][0])
               ["gasUsed"])


def fresh() -> Rollup:
    """Batch 0 credits Alice's 5 ETH deposit."""
    ledger = deploy(embedded_web3((*FUNDED, CHALLENGER_KEY)), challenge_window=WINDOW)
    r = Rollup(ledger, GENESIS.state())
    ledger.deposit_eth(ALICE_KEY, ALICE, 5 * ETH)
    (event,) = ledger.deposits(0, ledger.head())
    r.post([make_deposit_transaction(DOMAIN, ledger.ledger_id, event)])
    return r


def main() -> None:
    rows: list[tuple[str, int]] = []
    withdraw = Withdraw(r_ledger_id(), ALICE, native(), Amount(ETH), NO_OBJECT)

    r = fresh()
    r.post([signed(BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))])
    rows.append(("batch of one Transfer, no forced request", last_gas(r)))

    r = fresh()
    forced = signed(ALICE_KEY, 0, withdraw)
    r.ledger.queue_forced_transaction(encode_transaction(forced), ALICE_KEY)
    rows.append(("queue a forced Withdraw (domain and signature checked)", last_gas(r)))
    transfer = signed(ALICE_KEY, 1, Transfer(BOB, native(), Amount(1)))
    r.ledger.queue_forced_transaction(encode_transaction(transfer), ALICE_KEY)
    rows.append(("queue a forced Transfer", last_gas(r)))
    r.post([forced, transfer], forced=[ForcedInclusion(0, True, 0), ForcedInclusion(1, True, 1)])
    rows.append(("batch including both forced requests (2 txs)", last_gas(r)))

    r = fresh()
    r.ledger.queue_forced_transaction(encode_transaction(forced), ALICE_KEY)
    r.post([signed(BOB_KEY, 0, Transfer(ALICE, native(), Amount(0)))],
           forced=[ForcedInclusion(0, False, 1)])
    rows.append(("batch of one Transfer refusing one forced request", last_gas(r)))
    (fraud,) = Challenger(r.ledger, GENESIS.state(), CHALLENGER_KEY).run()
    receipt = r.ledger.w3.eth.get_transaction_receipt(fraud.challenge_tx)
    rows.append(("challengeRefusal: the refused Withdraw was valid (batch reverted)",
                 int(receipt["gasUsed"])))

    width = max(len(name) for name, _ in rows)
    print(f"{'case':<{width}}  gas")
    for name, gas in rows:
        print(f"{name:<{width}}  {gas:,}")


if __name__ == "__main__":
    main()
