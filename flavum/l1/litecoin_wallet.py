"""The federation's wallet on Litecoin Core: custody and anchor coins, and spends of them.

A watch-only wallet of the node tracks the coins of the custody multisig and of the anchor key
(both imported as descriptors, never their private keys) and keeps the transactions sent from
them: a journal that is sent again after a restart of litecoind, so an anchor or payout sent
before a crash is found instead of made twice. A spend is built with Core
(`createrawtransaction`), signed key by key (`sign_spend`: the anchor key, or a federation
member's key, by this node in development or by each signer on its own node) and sent. The
network fee of a payout is taken from the paid amount, so custody decreases by exactly the
withdrawn amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from flavum.l1.errors import LedgerError, RpcError, WithdrawalRefused
from flavum.l1.litecoin_chain import ChainScanner
from flavum.l1.litecoin_rpc import (
    RPC_WALLET_ALREADY_LOADED,
    RPC_WALLET_NOT_FOUND,
    RPC_WALLET_NOT_SPECIFIED,
    LitecoinRpc,
    to_litoshis,
    to_ltc,
)
from flavum.l1.litecoin_script import (
    MultisigAccount,
    compute_public_key,
    encode_op_return,
    encode_wif,
    segwit_hrp,
)

DUST_LIMIT = 1_000  # litoshis: a smaller change goes to the fee, a smaller payout is refused



class FederationWallet:
    """The watch-only wallet `name` over the custody and anchor accounts. `fee_rate` is in
    litoshis per vbyte, `min_conf` the confirmations a coin needs before it is spent (our own
    unconfirmed change excepted), `rescan_from` the block time from which a new wallet looks
    for the accounts' coins."""

    def __init__(self, rpc: LitecoinRpc, scanner: ChainScanner, name: str, *, fee_rate: int,
                 min_conf: int, rescan_from: int) -> None:
        if fee_rate < 1:
            raise LedgerError("fee_rate is in litoshis per vbyte, at least 1")
        self.rpc = rpc
        self.scanner = scanner
        self.custody = scanner.custody
        self.anchor_account = scanner.anchor_account
        self.name = name
        self.fee_rate = fee_rate
        self.min_conf = min_conf
        self.rescan_from = rescan_from
        self._ready = False

    @property
    def hrp(self) -> str:
        return segwit_hrp(self.rpc.chain)

    def call(self, method: str, *params: Any) -> Any:
        """A call to Core in this wallet (loaded, or created, first)."""
        if not self._ready:
            self.ensure()
        try:
            return self.rpc.call(method, *params, wallet=self.name)
        except RpcError as exc:
            # After a restart of litecoind the wallet is no longer loaded.
            if exc.rpc_code not in (RPC_WALLET_NOT_FOUND, RPC_WALLET_NOT_SPECIFIED):
                raise
        self.ensure()
        return self.rpc.call(method, *params, wallet=self.name)

    def ensure(self) -> None:
        """Load (or create) the watch-only wallet and import the custody and anchor scripts."""
        if self.name not in self.rpc.call("listwallets"):
            try:
                self.rpc.call("loadwallet", self.name)
            except RpcError as exc:
                if exc.rpc_code == RPC_WALLET_NOT_FOUND:
                    self.rpc.call("createwallet", self.name, True, True)
                elif exc.rpc_code != RPC_WALLET_ALREADY_LOADED:
                    raise
        for account in (self.custody, self.anchor_account):
            info = self.rpc.call("getaddressinfo", account.address(self.hrp),
                                 wallet=self.name)
            if info.get("iswatchonly") or info.get("ismine"):
                continue
            checksum = self.rpc.call("getdescriptorinfo", account.descriptor)["checksum"]
            answer = self.rpc.call(
                "importmulti",
                [{"desc": f"{account.descriptor}#{checksum}", "timestamp": self.rescan_from,
                  "watchonly": True}],
                wallet=self.name)
            if not answer[0].get("success"):
                raise LedgerError(f"importing {account.descriptor} failed: {answer[0]}")
        self._ready = True

    def resend_journal(self) -> None:
        """Send again every unconfirmed transaction of the watch-only wallet that is not in the
        mempool (a restarted litecoind may have lost it): a payout or anchor sent before a crash
        is then found, instead of being made a second time."""
        entries = self.call("listtransactions", "*", 100_000, 0, True)
        pending = {e["txid"] for e in entries if int(e.get("confirmations", 0)) == 0}
        if not pending:
            return
        in_mempool = set(self.rpc.call("getrawmempool"))
        for txid in sorted(pending - in_mempool):
            raw = self.call("gettransaction", txid, True)["hex"]
            try:
                self.rpc.call("sendrawtransaction", raw)
            except RpcError:
                pass  # conflicted or already mined: nothing to restore

    def balance(self, account: MultisigAccount, min_conf: int) -> int:
        """Litoshis the account holds in coins of `min_conf` confirmations or more."""
        coins = self.call("listunspent", min_conf, 9_999_999, [account.address(self.hrp)], True)
        return sum(to_litoshis(c["amount"]) for c in coins)

    def spendable(self, account: MultisigAccount) -> list[dict[str, Any]]:
        """The account's coins: confirmed `min_conf` times, or unconfirmed change of our own
        transactions (spent by the account itself, so they cannot vanish unless it does)."""
        address = account.address(self.hrp)
        own = {tx.txid for tx in self.scanner.mempool() if any(
            (account is self.custody and tx.spent_by_custody,
             account is self.anchor_account and tx.spent_by_anchor_key))}
        coins = self.call("listunspent", 0, 9_999_999, [address], True)
        usable = [c for c in coins
                  if int(c["confirmations"]) >= max(self.min_conf, 1) or c["txid"] in own]
        return sorted(usable, key=lambda c: (-to_litoshis(c["amount"]), c["txid"], c["vout"]))

    def spend(self, account: MultisigAccount, keys: Sequence[bytes],
              payment: tuple[str, int] | None, data: bytes, underfunded: type[LedgerError],
              what: str) -> str:
        """Build a spend (see `build`), sign it with `keys`, send it. Returns the txid."""
        spend = self.sign(self.build(account, payment, data, underfunded, what), keys)
        if not spend.complete:
            raise LedgerError(f"{what}: the signatures are incomplete", reason="unsigned")
        return self.send(spend)

    def build(self, account: MultisigAccount, payment: tuple[str, int] | None, data: bytes,
              underfunded: type[LedgerError], what: str) -> Spend:
        """An unsigned spend of the account's coins to one OP_RETURN (and one payment, whose
        recipient bears the fee), change back to the account."""
        data_script = len(encode_op_return(data))
        outputs = ([22] if payment is not None else []) + [data_script, 34]  # P2WPKH, change
        amount = payment[1] if payment is not None else 0
        coins = self.spendable(account)
        chosen: list[dict[str, Any]] = []
        total = fee = 0
        for coin in coins:
            chosen.append(coin)
            total += to_litoshis(coin["amount"])
            fee = account.estimate_vsize(len(chosen), outputs) * self.fee_rate
            if total >= (amount if payment is not None else fee):
                break
        else:
            needed = amount if payment is not None else fee or self.fee_rate * 200
            raise underfunded(f"{what}: needs {needed} litoshis, the account "
                              f"{account.address(self.hrp)} can spend {total}",
                              reason="underfunded")
        tx_outputs: list[dict[str, str]] = []
        if payment is not None:
            net = amount - fee
            if net < DUST_LIMIT:
                raise WithdrawalRefused(f"{what}: {amount} litoshis do not cover the fee "
                                        f"({fee})", reason="below dust")
            tx_outputs.append({payment[0]: to_ltc(net)})
            change = total - amount
        else:
            change = total - fee
        tx_outputs.append({"data": data.hex()})
        if change >= DUST_LIMIT:
            tx_outputs.append({account.address(self.hrp): to_ltc(change)})
        raw = self.rpc.call("createrawtransaction",
                            [{"txid": c["txid"], "vout": c["vout"]} for c in chosen], tx_outputs)
        previous = tuple(
            {"txid": c["txid"], "vout": c["vout"], "scriptPubKey": c["scriptPubKey"],
             "witnessScript": account.witness_script.hex(), "amount": c["amount"]}
            for c in chosen)
        return Spend(account, str(raw), previous, False)

    def sign(self, spend: Spend, keys: Sequence[bytes]) -> Spend:
        """The spend signed by those of `keys` that are the account's, one key per call (as
        separate federation members sign in turn), up to its threshold."""
        signable = [k for k in keys if compute_public_key(k) in spend.account.public_keys]
        for key in signable[:spend.account.threshold]:
            spend = sign_spend(self.rpc, spend, key)
        return spend

    def check(self, spend: Spend) -> Spend:
        """The spend with `complete` as Core finds it (signing with no key only checks)."""
        signed = self.rpc.call("signrawtransactionwithkey", spend.raw, [],
                               list(spend.previous))
        return replace(spend, complete=bool(signed.get("complete")))

    def is_unspent(self, spend: Spend) -> bool:
        """Whether every coin the spend takes is still unspent (chain and mempool)."""
        return all(self.rpc.call("gettxout", p["txid"], p["vout"], True) is not None
                   for p in spend.previous)

    def send(self, spend: Spend) -> str:
        return str(self.rpc.call("sendrawtransaction", spend.raw))


@dataclass(frozen=True)
class Spend:
    """A transaction spending `account`'s coins (`previous`: the coins, as Core's signing
    calls take them), signed by some of its keys; `complete` once the threshold signed."""

    account: MultisigAccount
    raw: str
    previous: tuple[dict[str, Any], ...]
    complete: bool


def sign_spend(rpc: LitecoinRpc, spend: Spend, key: bytes) -> Spend:
    """The spend with one more signature, by `key` (the signatures already in it are kept)."""
    signed = rpc.call("signrawtransactionwithkey", spend.raw, [encode_wif(key, rpc.chain)],
                      list(spend.previous))
    return replace(spend, raw=str(signed["hex"]), complete=bool(signed.get("complete")))
