"""The Litecoin federation: independent signers co-sign each payout from custody.

Custody is a k-of-n multisig whose keys are held by n signers, each its own process with its
own key, Litecoin node and copy of the batch data (flavum/signer.py). To pay a withdrawal the
node builds the payout transaction and asks the signers in turn to co-sign it
(`gather_signatures`); each one checks, on its own, that the batch is anchored, that its
verifier accepts the batch and every batch before it, that the leaf is in the verified
withdrawal root, that it never co-signed another payout of that leaf, and that the transaction
does nothing but pay that withdrawal from custody (`check_payout`). The payout is sent once k
signatures are in; fewer than k honest signers cannot be made to pay from a forged batch.

The wire format: POST `<signer>/v1/cosign` with a `CosignRequest` as JSON, signed by the
sequencer's anchor key; the answer is
`{"tx": hex}` (the transaction with the signer's signature added) or, with a 4xx status,
`{"code": ..., "reason": ..., "message": ...}` (a `PayoutRefused`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import coincurve
import requests

from flavum.core.batch import Withdrawal
from flavum.core.codec import from_hex, to_hex, withdrawal_from_json, withdrawal_to_json
from flavum.core.errors import FlavumError
from flavum.core.types import Hash32
from flavum.l1.errors import LedgerUnreachable, PayoutRefused, RpcError
from flavum.l1.litecoin_chain import encode_payout_tag
from flavum.l1.litecoin_rpc import LitecoinRpc, to_litoshis
from flavum.l1.litecoin_script import MultisigAccount, encode_op_return
from flavum.l1.litecoin_wallet import DUST_LIMIT, FederationWallet, Spend

COSIGN_PATH = "/v1/cosign"
REQUEST_TAG = b"flavum.litecoin.cosign\x00"  # no other message of the anchor key starts so


@dataclass(frozen=True)
class CosignRequest:
    """Co-sign `tx`, the payout of withdrawal leaf `index` (with its Merkle `proof`) of
    anchored batch `batch`. Nothing in it is trusted: the signer reads the batch itself. It is
    signed by the sequencer's anchor key (`signature`, DER): a signer co-signs one payout
    transaction per leaf, so a request from anyone else could make it commit to a payout the
    node never completes, and stall the leaf."""

    batch: int
    index: int
    proof: tuple[Hash32, ...]
    withdrawal: Withdrawal
    tx: str  # the raw transaction, hex, with the signatures gathered so far
    signature: str = ""  # hex: the anchor key's signature of `message`

    def to_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "index": self.index,
                "proof": [to_hex(p) for p in self.proof],
                "withdrawal": withdrawal_to_json(self.withdrawal), "tx": self.tx,
                "signature": self.signature}

    @property
    def message(self) -> bytes:
        """What the anchor key signs: the request but its signature, as canonical JSON."""
        fields = {k: v for k, v in self.to_json().items() if k != "signature"}
        return REQUEST_TAG + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, anchor_key: bytes) -> CosignRequest:
        signature = coincurve.PrivateKey(anchor_key).sign(self.message).hex()
        return replace(self, signature=signature)

    def is_signed_by(self, anchor_public_key: bytes) -> bool:
        try:
            return bool(coincurve.PublicKey(anchor_public_key).verify(
                bytes.fromhex(self.signature), self.message))
        except ValueError:  # not DER, not hex
            return False

    @classmethod
    def from_json(cls, data: Any) -> CosignRequest:
        """The request in `data`, or PayoutRefused("malformed request")."""
        try:
            batch, index = data["batch"], data["index"]
            if not isinstance(batch, int) or not isinstance(index, int) or batch < 0 or index < 0:
                raise ValueError("batch and index are non-negative integers")
            tx = data["tx"]
            if not isinstance(tx, str):
                raise ValueError("tx is a hex string")
            bytes.fromhex(tx)
            signature = data.get("signature", "")
            if not isinstance(signature, str):
                raise ValueError("signature is a hex string")
            return cls(batch, index,
                       tuple(Hash32(from_hex(p, 32, "proof")) for p in data["proof"]),
                       withdrawal_from_json(data["withdrawal"]), tx, signature)
        except (KeyError, TypeError, ValueError, FlavumError) as exc:
            raise PayoutRefused(f"malformed co-sign request: {exc}",
                                reason="malformed request") from exc


def request_cosign(url: str, request: CosignRequest, timeout_s: float) -> str:
    """Ask the signer at `url` to co-sign; the transaction with its signature (hex).
    A refusal raises PayoutRefused with the signer's reason, no answer LedgerUnreachable."""
    try:
        reply = requests.post(url.rstrip("/") + COSIGN_PATH, json=request.to_json(),
                              timeout=timeout_s)
    except requests.RequestException as exc:
        raise LedgerUnreachable(f"signer {url} is unreachable: {exc}") from exc
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if reply.status_code == 200 and isinstance(body, dict) and isinstance(body.get("tx"), str):
        return str(body["tx"])
    if 400 <= reply.status_code < 500 and isinstance(body, dict):
        raise PayoutRefused(f"signer {url}: {body.get('message', reply.text)}",
                            reason=str(body.get("reason", "refused")))
    raise LedgerUnreachable(f"signer {url} answered HTTP {reply.status_code}")


def gather_signatures(wallet: FederationWallet, spend: Spend, signers: Sequence[str],
                      request: CosignRequest, anchor_key: bytes, timeout_s: float,
                      ) -> tuple[Spend, list[tuple[str, str, str]]]:
    """Ask the signers in turn until the spend is complete, each request signed with the
    anchor key. Returns the spend and every refusal met on the way as (url, reason, message).
    A signer that answers with another transaction than the one asked for counts as a
    refusal."""
    refusals: list[tuple[str, str, str]] = []
    txid = wallet.rpc.call("decoderawtransaction", spend.raw)["txid"]
    for url in signers:
        if spend.complete:
            break
        try:
            raw = request_cosign(url, replace(request, tx=spend.raw).signed(anchor_key),
                                 timeout_s)
        except PayoutRefused as exc:
            refusals.append((url, exc.reason or "refused", str(exc)))
            continue
        except LedgerUnreachable as exc:
            refusals.append((url, "unreachable", str(exc)))
            continue
        try:
            answered = wallet.rpc.call("decoderawtransaction", raw)["txid"]
            if answered != txid:
                refusals.append((url, "bad answer", f"signer {url} returned another "
                                 "transaction"))
                continue
            # Merged, not taken as it is: a signer cannot drop the signatures of the others.
            merged = wallet.rpc.call("combinerawtransaction", [spend.raw, raw])
        except RpcError as exc:
            refusals.append((url, "bad answer", f"signer {url}: {exc}"))
            continue
        spend = wallet.check(Spend(spend.account, str(merged), spend.previous, False))
    return spend, refusals


def check_payout(rpc: LitecoinRpc, custody: MultisigAccount, withdrawal: Withdrawal, raw: str,
                 *, max_fee_rate: int) -> tuple[str, Spend]:
    """What a signer checks in a payout before signing it, with its own node: every input is
    an unspent custody coin; the outputs are the payment to the withdrawal's recipient, the
    payout tag of its leaf, and at most one change output back to custody, nothing else;
    custody gives exactly the withdrawn amount (the fee comes out of the payment) and the fee
    is at most `max_fee_rate` litoshis a vbyte. Returns the txid and the spend to sign."""
    try:
        tx = rpc.call("decoderawtransaction", raw)
    except RpcError as exc:
        raise PayoutRefused(f"the transaction does not decode: {exc}",
                            reason="bad payout transaction") from exc
    previous, total_in = [], 0
    for vin in tx["vin"]:
        if "txid" not in vin:
            raise _bad("a coinbase input")
        coin = rpc.call("gettxout", vin["txid"], int(vin["vout"]), True)
        if coin is None:
            raise _bad(f"input {vin.get('txid')}:{vin.get('vout')} is spent or unknown")
        if coin["scriptPubKey"]["hex"] != custody.script_pubkey.hex():
            raise _bad(f"input {vin['txid']}:{vin['vout']} is not a custody coin")
        total_in += to_litoshis(coin["value"])
        previous.append({"txid": vin["txid"], "vout": vin["vout"],
                         "scriptPubKey": coin["scriptPubKey"]["hex"],
                         "witnessScript": custody.witness_script.hex(), "amount": coin["value"]})
    recipient_script = (b"\x00\x14" + withdrawal.recipient).hex()
    tag_script = encode_op_return(encode_payout_tag(withdrawal)).hex()
    paid = change = 0
    seen: dict[str, int] = {}
    for out in tx["vout"]:
        script = out["scriptPubKey"]["hex"]
        seen[script] = seen.get(script, 0) + 1
        value = to_litoshis(out["value"])
        if script == recipient_script:
            paid = value
        elif script == custody.script_pubkey.hex():
            change = value
        elif script != tag_script or value != 0:
            raise _bad(f"output {out['n']} pays neither the recipient, the payout tag nor custody")
    if any(n > 1 for n in seen.values()):
        raise _bad("an output is repeated")
    if seen.get(recipient_script) != 1 or seen.get(tag_script) != 1:
        raise _bad("the payment to the recipient or the payout tag of the leaf is missing")
    if total_in - change != withdrawal.amount:
        raise _bad(f"custody would give {total_in - change} litoshis, the withdrawal is "
                   f"{withdrawal.amount}")
    fee = total_in - change - paid
    outputs = [len(script) // 2 for script in seen]
    limit = custody.estimate_vsize(len(previous), outputs) * max_fee_rate
    if paid < DUST_LIMIT or fee > limit:
        raise _bad(f"the payment of {paid} litoshis leaves a fee of {fee} (at most {limit})")
    return str(tx["txid"]), Spend(custody, raw, tuple(previous), False)


def _bad(message: str) -> PayoutRefused:
    return PayoutRefused(f"the payout transaction is refused: {message}",
                         reason="bad payout transaction")
