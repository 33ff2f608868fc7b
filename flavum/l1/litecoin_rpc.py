"""JSON-RPC to Litecoin Core, and the amounts it speaks in.

One HTTP request carries one call or a batch of them. Connection failures (and a node still
loading) raise LedgerUnreachable; an error answer raises RpcError with Core's code. Amounts go
over RPC as decimal LTC; the rollup counts litoshis (10^8 to one LTC), converted here exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from flavum.l1.errors import LedgerError, LedgerUnreachable, RpcError

LITOSHIS_PER_LTC = 10**8
RPC_IN_WARMUP = -28
RPC_WALLET_NOT_FOUND = -18
RPC_WALLET_NOT_SPECIFIED = -19
RPC_WALLET_ALREADY_LOADED = -35
RPC_INVALID_PARAMETER = -8




def to_litoshis(value: Decimal | int | float | str) -> int:
    """An LTC amount as Core writes it, in litoshis (refused unless a whole number)."""
    amount = Decimal(str(value)) * LITOSHIS_PER_LTC
    if amount != amount.to_integral_value():
        raise LedgerError(f"{value} LTC is not a whole number of litoshis")
    return int(amount)


def to_ltc(litoshis: int) -> str:
    """Litoshis as the decimal LTC string Litecoin Core's RPC takes."""
    return f"{Decimal(litoshis) / LITOSHIS_PER_LTC:.8f}"


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # Core takes amounts as numbers or decimal strings
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class LitecoinRpc:
    """JSON-RPC over HTTP to Litecoin Core. Connection failures (and a node still loading)
    raise LedgerUnreachable; an error answer raises RpcError with Core's code."""

    def __init__(self, url: str, user: str, password: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.auth = (user, password)
        # No keep-alive: litecoind's shutdown waits for open HTTP connections (up to its
        # rpcservertimeout), so an idle adapter would stall every restart of the node.
        self.session.headers["Connection"] = "close"
        self._id = 0
        self._chain_name: str | None = None

    def call(self, method: str, *params: Any, wallet: str | None = None) -> Any:
        return self.batch([(method, list(params))], wallet=wallet)[0]

    def batch(self, calls: Sequence[tuple[str, list[Any]]], wallet: str | None = None) -> list[Any]:
        """Several calls in one HTTP request; the results in the order of `calls`."""
        if not calls:
            return []
        first = self._id
        self._id += len(calls)
        payload = [{"jsonrpc": "1.0", "id": first + i, "method": m, "params": p}
                   for i, (m, p) in enumerate(calls)]
        url = self.url + (f"/wallet/{quote(wallet, safe='')}" if wallet is not None else "")
        what = calls[0][0] if len(calls) == 1 else f"{len(calls)} calls ({calls[0][0]}, ...)"
        try:
            body = json.dumps(payload, default=_json_default)
            reply = self.session.post(url, data=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise LedgerUnreachable(f"{what}: Litecoin Core is unreachable at {self.url}: "
                                    f"{exc}") from exc
        if reply.status_code in (401, 403):
            raise LedgerError(f"{what}: Litecoin Core refused the RPC credentials",
                              reason="unauthorised")
        try:
            answers = reply.json(parse_float=Decimal)
        except ValueError as exc:
            raise LedgerUnreachable(f"{what}: Litecoin Core gave no JSON answer "
                                    f"(HTTP {reply.status_code})") from exc
        if not isinstance(answers, list):
            answers = [answers]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        results = []
        for i, (method, _) in enumerate(calls):
            answer = by_id.get(first + i)
            if answer is None:
                raise LedgerUnreachable(f"{method}: no answer (HTTP {reply.status_code})")
            error = answer.get("error")
            if error:
                code, message = int(error.get("code", 0)), str(error.get("message", error))
                if code == RPC_IN_WARMUP:
                    raise LedgerUnreachable(f"{method}: Litecoin Core is starting: {message}")
                raise RpcError(f"{method}: {message}", rpc_code=code)
            results.append(answer.get("result"))
        return results

    @property
    def chain(self) -> str:
        """"main", "test", "signet" or "regtest" (asked once)."""
        if self._chain_name is None:
            self._chain_name = str(self.call("getblockchaininfo")["chain"])
        return self._chain_name
