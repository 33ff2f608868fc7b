"""The Litecoin ledger: batch headers anchored in OP_RETURN outputs, deposits to a federation.

Litecoin cannot run a verifier, so this ledger anchors and custodies; it checks nothing:
`capabilities.anchors_only` is True and `verifies_proofs` is False. A batch is final for this
ledger once its header is anchored (with the confirmations the caller asks for); whether the
batch is valid is decided by the independent verifiers (`flavum verify`), not by Litecoin.

Everything is read back from the chain, so a restarted node (or one that lost its local state)
sees what is anchored, deposited and paid:

- Anchor: a transaction spent by the anchor key (a 1-of-1 P2WSH multisig) with one OP_RETURN of
  76 bytes: b"FLA1" | batch number (8 bytes, big-endian) | state root (32) | batch hash (32).
  The first anchor of each number, in chain order, counts; batch n counts once 0..n-1 do.
- Deposit: a transaction paying the custody address (a k-of-n P2WSH multisig of the federation
  keys) with one OP_RETURN of 24 bytes: b"FLV1" | L2 recipient (20 bytes). The amount is the
  sum of its custody outputs, in litoshis. Any other payment to custody (no tag, a malformed
  tag, several OP_RETURNs, the zero recipient) is parked: never credited, listed by
  `parked_deposits` with its reason, left in custody for the federation to refund by hand.
- Payout: a transaction spent by the custody multisig with one OP_RETURN of 36 bytes:
  b"FLW1" | withdrawal leaf (32). Before paying, the federation looks for a payout of that
  leaf in the chain, the mempool and its watch-only wallet (which keeps the transactions it
  sent, and sends them again), so a withdrawal is paid once, also across restarts.

Who signed a transaction is read from its witnesses: an input whose witness is
["", k signatures, witness script] was spent by that multisig, as only P2WSH (native or
P2SH-wrapped) runs the last witness item as a script, and its program is the script's hash.
A multisig script of n < 15 keys can not be a Taproot control block (33 + 32m bytes), which is
why at most 14 keys are accepted. Anyone can write an OP_RETURN; nobody else can spend these
scripts.

Withdrawal recipients are the 20-byte witness program of a P2WPKH address (hash160 of the
recipient's compressed public key, see `compute_recipient`). The network fee of a payout is
taken from the paid amount, so custody decreases by exactly the withdrawn amount.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import coincurve
import requests

from flavum.core.assets import compute_asset_id, compute_ledger_id
from flavum.core.batch import BatchHeader, Withdrawal, compute_batch_hash, compute_withdrawal_leaf
from flavum.core.encoding import compute_tag, hash_tagged
from flavum.core.merkle import compute_tree_proof, compute_tree_root, verify_tree_proof
from flavum.core.types import ZERO_ADDRESS, ZERO_HASH, Address, Amount, Hash32
from flavum.l1.interface import (
    BatchStatus,
    Capabilities,
    DepositEvent,
    ForcedInclusion,
    ForcedRequest,
    Ledger,
    LedgerAddresses,
    LedgerError,
    LedgerUnreachable,
    LedgerUnsupported,
    PostedBatch,
    ProvenInference,
    WithdrawalRefused,
)

LITOSHIS_PER_LTC = 10**8
ANCHOR_MAGIC = b"FLA1"
DEPOSIT_MAGIC = b"FLV1"
PAYOUT_MAGIC = b"FLW1"
ANCHOR_SIZE = len(ANCHOR_MAGIC) + 8 + 32 + 32  # 76
DEPOSIT_TAG_SIZE = len(DEPOSIT_MAGIC) + 20  # 24
PAYOUT_SIZE = len(PAYOUT_MAGIC) + 32  # 36
MAX_OP_RETURN = 80  # policy limit of Litecoin Core 0.21 (81 is not relayed)
DUST_LIMIT = 1_000  # litoshis: a smaller change goes to the fee, a smaller payout is refused
MAX_KEYS = 14  # see the module docstring: n = 15 keys would make a Taproot-sized script
DEPOSIT_EVENT_TAG = compute_tag("l1.litecoin.deposit")
SEGWIT_HRP = {"main": "ltc", "test": "tltc", "signet": "tltc", "regtest": "rltc"}
WIF_PREFIX_MAIN, WIF_PREFIX_TEST = 0xB0, 0xEF
RPC_IN_WARMUP = -28
RPC_WALLET_NOT_FOUND = -18
RPC_WALLET_NOT_SPECIFIED = -19
RPC_WALLET_ALREADY_LOADED = -35
RPC_INVALID_PARAMETER = -8


# --- errors -----------------------------------------------------------------------------------


class RpcError(LedgerError):
    """Litecoin Core answered a call with an error."""

    code = "ledger_rpc_error"

    def __init__(self, message: str, *, rpc_code: int) -> None:
        super().__init__(message, reason=message)
        self.rpc_code = rpc_code


class CustodyUnderfunded(LedgerError):
    """Custody holds less than a withdrawal: nothing was sent, the withdrawal stays pending."""

    code = "custody_underfunded"


class AnchorUnderfunded(LedgerError):
    """The anchor key cannot pay the fee of an anchor: nothing was sent."""

    code = "anchor_underfunded"


class BatchNotFinal(LedgerError):
    """The batch is not anchored, or not under enough confirmations, to pay from it."""

    code = "batch_not_final"


# --- encodings: base58check, bech32, keys -------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def encode_base58check(payload: bytes) -> str:
    data = payload + _sha256d(payload)[:4]
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + text


def decode_base58check(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _B58.find(char)
        if digit < 0:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    data = b"\x00" * zeros + body
    if len(data) < 5 or _sha256d(data[:-4])[:4] != data[-4:]:
        raise ValueError("bad base58check checksum")
    return data[:-4]


def _bech32_polymod(values: Sequence[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GEN):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_5bit(data: bytes) -> list[int]:
    accumulator, bits, out = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((accumulator >> bits) & 31)
    if bits:
        out.append((accumulator << (5 - bits)) & 31)
    return out


def encode_segwit_v0_address(hrp: str, program: bytes) -> str:
    """BIP173 bech32 address of a witness v0 program (20 bytes: P2WPKH, 32 bytes: P2WSH)."""
    if len(program) not in (20, 32):
        raise ValueError("a witness v0 program has 20 or 32 bytes")
    data = [0] + _to_5bit(program)
    polymod = _bech32_polymod(_bech32_hrp_expand(hrp) + data + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


def parse_private_key(text: str | bytes) -> bytes:
    """A secp256k1 private key from 32 raw bytes, 64 hex digits (0x optional) or WIF."""
    if isinstance(text, bytes):
        key = text
    else:
        stripped = text.strip().removeprefix("0x")
        if len(stripped) == 64 and all(c in "0123456789abcdefABCDEF" for c in stripped):
            key = bytes.fromhex(stripped)
        else:
            try:
                raw = decode_base58check(stripped)
            except ValueError as exc:
                raise LedgerError(f"not a private key (hex or WIF): {exc}") from exc
            if raw[0] not in (WIF_PREFIX_MAIN, WIF_PREFIX_TEST, 0x80) or len(raw) not in (33, 34):
                raise LedgerError("not a WIF private key")
            key = raw[1:33]
    if len(key) != 32 or not 0 < int.from_bytes(key, "big") < _SECP256K1_ORDER:
        raise LedgerError("a private key is 32 bytes in 1..n-1")
    return key


def compute_public_key(private_key: bytes) -> bytes:
    """The compressed (33-byte) public key."""
    return bytes(coincurve.PrivateKey(private_key).public_key.format(compressed=True))


def encode_wif(private_key: bytes, chain: str) -> str:
    prefix = WIF_PREFIX_MAIN if chain == "main" else WIF_PREFIX_TEST
    return encode_base58check(bytes([prefix]) + private_key + b"\x01")


def encode_op_return(data: bytes) -> bytes:
    """OP_RETURN followed by one push of `data` (at most 80 bytes)."""
    if len(data) > MAX_OP_RETURN:
        raise LedgerError(f"OP_RETURN data of {len(data)} bytes exceeds {MAX_OP_RETURN}")
    push = bytes([len(data)]) if len(data) <= 75 else b"\x4c" + bytes([len(data)])
    return b"\x6a" + push + data


def decode_op_return(script: bytes) -> bytes | None:
    """The data of an OP_RETURN with exactly one push; None for any other script."""
    if len(script) < 2 or script[0] != 0x6A:
        return None
    if script[1] <= 75:
        start, size = 2, script[1]
    elif script[1] == 0x4C and len(script) >= 3:
        start, size = 3, script[2]
    else:
        return None
    if len(script) != start + size:
        return None
    return script[start:]


def encode_anchor(header: BatchHeader) -> bytes:
    return (ANCHOR_MAGIC + header.number.to_bytes(8, "big") + header.data_pointer
            + compute_batch_hash(header))


def encode_deposit_tag(recipient: Address) -> bytes:
    if len(recipient) != 20:
        raise LedgerError("an L2 recipient is 20 bytes")
    return DEPOSIT_MAGIC + recipient


def encode_payout_tag(withdrawal: Withdrawal) -> bytes:
    return PAYOUT_MAGIC + compute_withdrawal_leaf(withdrawal)


def compute_litecoin_deposit_event_id(ledger_id: Hash32, txid: Hash32) -> Hash32:
    """Id of a deposit: keccak256(abi.encode(TAG, ledger, txid)). A transaction can be in the
    chain only once, so a deposit re-mined in another block by a reorg keeps its id and the
    rollup state refuses to credit it again (DepositAlreadyApplied)."""
    return hash_tagged(DEPOSIT_EVENT_TAG, ("bytes32", "bytes32"), (ledger_id, txid))


def _litoshis(value: Decimal | int | float | str) -> int:
    amount = Decimal(str(value)) * LITOSHIS_PER_LTC
    if amount != amount.to_integral_value():
        raise LedgerError(f"{value} LTC is not a whole number of litoshis")
    return int(amount)


def _ltc(litoshis: int) -> str:
    """Litoshis as the decimal LTC string Litecoin Core's RPC takes."""
    return f"{Decimal(litoshis) / LITOSHIS_PER_LTC:.8f}"


def _varint_size(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


# --- multisig accounts --------------------------------------------------------------------------


@dataclass(frozen=True)
class MultisigAccount:
    """A k-of-n P2WSH multisig: the custody (the federation) or the anchor key (1-of-1)."""

    threshold: int
    public_keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.public_keys) <= MAX_KEYS:
            raise LedgerError(f"a multisig has 1..{MAX_KEYS} keys")
        if not 1 <= self.threshold <= len(self.public_keys):
            raise LedgerError("the threshold must be in 1..number of keys")
        if len(set(self.public_keys)) != len(self.public_keys):
            raise LedgerError("the multisig keys must be distinct")
        for key in self.public_keys:
            if len(key) != 33 or key[0] not in (2, 3):
                raise LedgerError("multisig keys are compressed public keys (33 bytes)")

    @property
    def witness_script(self) -> bytes:
        pushes = b"".join(b"\x21" + key for key in self.public_keys)
        # OP_k <keys> OP_n OP_CHECKMULTISIG
        return (bytes([0x50 + self.threshold]) + pushes + bytes([0x50 + len(self.public_keys)])
                + b"\xae")

    @property
    def program(self) -> bytes:
        return hashlib.sha256(self.witness_script).digest()

    @property
    def script_pubkey(self) -> bytes:
        return b"\x00\x20" + self.program

    @property
    def descriptor(self) -> str:
        keys = ",".join(key.hex() for key in self.public_keys)
        return f"wsh(multi({self.threshold},{keys}))"

    def address(self, hrp: str) -> str:
        return encode_segwit_v0_address(hrp, self.program)

    def is_spender_of(self, vin: dict[str, Any]) -> bool:
        """Whether this input was spent by the multisig: witness ["", k sigs, our script]."""
        witness = vin.get("txinwitness") or []
        return (len(witness) == self.threshold + 2 and witness[0] == ""
                and witness[-1] == self.witness_script.hex())

    def estimate_vsize(self, inputs: int, output_scripts: Sequence[int]) -> int:
        """An upper bound of the virtual size of a transaction spending `inputs` of our
        outputs (signatures counted at 73 bytes) to outputs of these script sizes."""
        script = len(self.witness_script)
        witness = 1 + 1 + self.threshold * (1 + 73) + _varint_size(script) + script
        base = (4 + _varint_size(inputs) + inputs * 41 + _varint_size(len(output_scripts))
                + sum(8 + _varint_size(n) + n for n in output_scripts) + 4)
        weight = base * 4 + 2 + inputs * witness
        return (weight + 3) // 4


# --- what the chain says ------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    number: int
    data_pointer: Hash32  # where the batch's data is: what a verifier needs to check it
    batch_hash: Hash32
    txid: str
    height: int | None  # None while in the mempool
    confirmations: int


@dataclass(frozen=True)
class Payout:
    leaf: Hash32
    txid: str
    height: int | None
    confirmations: int


@dataclass(frozen=True)
class ParkedDeposit:
    """A payment to custody that is not a well-formed deposit: never credited."""

    txid: str
    block_number: int
    block_hash: Hash32
    amount: Amount
    reason: str
    data: bytes  # the OP_RETURN data, if there was exactly one


@dataclass(frozen=True)
class _TxFacts:
    """What one transaction means to the rollup."""

    txid: str
    coinbase: bool
    data: tuple[bytes | None, ...]  # every OP_RETURN output (None: not a single push)
    custody_amount: int  # litoshis paid to custody
    spent_by_custody: bool
    spent_by_anchor_key: bool

    @property
    def only_data(self) -> bytes | None:
        return self.data[0] if len(self.data) == 1 else None

    @property
    def anchor(self) -> tuple[int, Hash32, Hash32] | None:
        data = self.only_data
        if not self.spent_by_anchor_key or data is None or len(data) != ANCHOR_SIZE:
            return None
        if not data.startswith(ANCHOR_MAGIC):
            return None
        return (int.from_bytes(data[4:12], "big"), Hash32(data[12:44]), Hash32(data[44:76]))

    @property
    def payout_leaf(self) -> Hash32 | None:
        data = self.only_data
        if not self.spent_by_custody or data is None or len(data) != PAYOUT_SIZE:
            return None
        return Hash32(data[4:]) if data.startswith(PAYOUT_MAGIC) else None


@dataclass(frozen=True)
class _BlockFacts:
    height: int
    hash: Hash32
    txs: tuple[_TxFacts, ...]


def _classify_deposit(facts: _TxFacts) -> tuple[Address | None, str]:
    """The recipient of a payment to custody, or None and why it is parked."""
    if not facts.data:
        return None, "no OP_RETURN tag"
    if len(facts.data) > 1:
        return None, "several OP_RETURN outputs"
    data = facts.data[0]
    if data is None:
        return None, "the OP_RETURN is not a single push"
    if not data.startswith(DEPOSIT_MAGIC):
        return None, "the OP_RETURN is not a deposit tag"
    if len(data) != DEPOSIT_TAG_SIZE:
        return None, f"a deposit tag has {DEPOSIT_TAG_SIZE} bytes, not {len(data)}"
    recipient = Address(data[len(DEPOSIT_MAGIC):])
    if recipient == ZERO_ADDRESS:
        return None, "the recipient is the zero address"
    return recipient, ""


# --- JSON-RPC -----------------------------------------------------------------------------------


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


# --- the ledger ---------------------------------------------------------------------------------


@dataclass
class _Cache:
    blocks: dict[str, _BlockFacts] = field(default_factory=dict)  # by block hash
    mempool: dict[str, _TxFacts] = field(default_factory=dict)  # by txid
    headers: dict[Hash32, BatchHeader] = field(default_factory=dict)  # by batch hash


class LitecoinLedger(Ledger):
    """A Litecoin Core node: anchors batch headers, holds deposits in federation custody,
    pays withdrawals from it. See the module docstring for what is written on chain."""

    capabilities = Capabilities(
        verifies_proofs=False, anchors_only=True, bridges_assets=True, bridges_objects=False,
        forced_inclusion=False, registers_models=False, pays_withdrawals=True,
        carries_batch_data=False,
    )

    def __init__(
        self, rpc_url: str, rpc_user: str, rpc_password: str, *,
        federation_keys: Sequence[str | bytes], threshold: int, anchor_key: str | bytes,
        federation_public_keys: Sequence[str | bytes] | None = None, name: str = "litecoin",
        watch_wallet: str = "flavum-watch", start_height: int = 0, fee_rate: int = 10,
        min_conf: int = 1, genesis_state_root: Hash32 | None = None, rescan_from: int = 0,
        timeout_s: float = 30.0,
    ) -> None:
        """`federation_keys` are the private keys this node signs with (hex or WIF), at least
        `threshold` of them; `federation_public_keys` names every member (default: the keys'
        own). `anchor_key` signs anchors and pays their fees (fund its `anchor_address`).
        `start_height` is where scans begin, `fee_rate` in litoshis per vbyte, `min_conf` the
        confirmations a custody coin needs before it is spent, `rescan_from` the block time
        from which the watch-only wallet looks for custody coins when first created."""
        self.name = name
        self.ledger_id = compute_ledger_id(name)
        self.asset = compute_asset_id(self.ledger_id)
        self.rpc = LitecoinRpc(rpc_url, rpc_user, rpc_password, timeout_s)
        self.signing_keys = tuple(parse_private_key(k) for k in federation_keys)
        if federation_public_keys is None:
            public = tuple(compute_public_key(k) for k in self.signing_keys)
        else:
            public = tuple(bytes.fromhex(k.removeprefix("0x")) if isinstance(k, str) else k
                           for k in federation_public_keys)
        self.custody = MultisigAccount(threshold, public)
        own = {compute_public_key(k) for k in self.signing_keys}
        if len(own & set(public)) < threshold:
            raise LedgerError(f"this node holds {len(own & set(public))} federation keys, "
                              f"the threshold is {threshold}")
        self.anchor_signing_key = parse_private_key(anchor_key)
        self.anchor_account = MultisigAccount(1, (compute_public_key(self.anchor_signing_key),))
        if self.anchor_account.public_keys[0] in public:
            raise LedgerError("the anchor key must not be a federation key")
        self.watch_wallet = watch_wallet
        self.start_height = start_height
        if fee_rate < 1:
            raise LedgerError("fee_rate is in litoshis per vbyte, at least 1")
        self.fee_rate = fee_rate
        self.min_conf = min_conf
        self.genesis_state_root = genesis_state_root
        self.rescan_from = rescan_from
        self._chain_name: str | None = None
        self._wallet_ready = False
        self._cache = _Cache()

    # --- node basics ---------------------------------------------------------------------------

    @property
    def chain(self) -> str:
        """"main", "test", "signet" or "regtest" (asked once)."""
        if self._chain_name is None:
            self._chain_name = str(self.rpc.call("getblockchaininfo")["chain"])
        return self._chain_name

    @property
    def hrp(self) -> str:
        return SEGWIT_HRP.get(self.chain, "rltc")

    @property
    def custody_address(self) -> str:
        return self.custody.address(self.hrp)

    @property
    def anchor_address(self) -> str:
        return self.anchor_account.address(self.hrp)

    def head(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def block_hash(self, number: int) -> Hash32 | None:
        if number < 0:
            return None
        try:
            return Hash32(bytes.fromhex(self.rpc.call("getblockhash", number)))
        except RpcError as exc:
            if exc.rpc_code == RPC_INVALID_PARAMETER:  # height out of range
                return None
            raise

    def compute_recipient(self, address: str) -> Address:
        """The withdrawal recipient for a P2WPKH address of this chain (its 20-byte program)."""
        info = self.rpc.call("validateaddress", address)
        program = info.get("witness_program", "")
        if not info.get("isvalid") or info.get("witness_version") != 0 or len(program) != 40:
            raise WithdrawalRefused(f"{address} is not a P2WPKH address of this chain",
                                    reason="recipient is not P2WPKH")
        return Address(bytes.fromhex(program))

    def addresses(self) -> LedgerAddresses:
        return LedgerAddresses(custody_address=self.custody_address,
                               anchor_address=self.anchor_address)

    def payout_address(self, recipient: Address) -> str:
        return encode_segwit_v0_address(self.hrp, recipient)

    # --- the watch-only wallet (custody and anchor coins, and the journal of what we sent) -------

    def _wallet(self, method: str, *params: Any) -> Any:
        if not self._wallet_ready:
            self._ensure_wallet()
        try:
            return self.rpc.call(method, *params, wallet=self.watch_wallet)
        except RpcError as exc:
            # After a restart of litecoind the wallet is no longer loaded.
            if exc.rpc_code not in (RPC_WALLET_NOT_FOUND, RPC_WALLET_NOT_SPECIFIED):
                raise
        self._ensure_wallet()
        return self.rpc.call(method, *params, wallet=self.watch_wallet)

    def _ensure_wallet(self) -> None:
        """Load (or create) the watch-only wallet and import the custody and anchor scripts."""
        if self.watch_wallet not in self.rpc.call("listwallets"):
            try:
                self.rpc.call("loadwallet", self.watch_wallet)
            except RpcError as exc:
                if exc.rpc_code == RPC_WALLET_NOT_FOUND:
                    self.rpc.call("createwallet", self.watch_wallet, True, True)
                elif exc.rpc_code != RPC_WALLET_ALREADY_LOADED:
                    raise
        for account in (self.custody, self.anchor_account):
            info = self.rpc.call("getaddressinfo", account.address(self.hrp),
                                 wallet=self.watch_wallet)
            if info.get("iswatchonly") or info.get("ismine"):
                continue
            checksum = self.rpc.call("getdescriptorinfo", account.descriptor)["checksum"]
            answer = self.rpc.call(
                "importmulti",
                [{"desc": f"{account.descriptor}#{checksum}", "timestamp": self.rescan_from,
                  "watchonly": True}],
                wallet=self.watch_wallet)
            if not answer[0].get("success"):
                raise LedgerError(f"importing {account.descriptor} failed: {answer[0]}")
        self._wallet_ready = True

    def _resend_journal(self) -> None:
        """Send again every unconfirmed transaction of the watch-only wallet that is not in the
        mempool (a restarted litecoind may have lost it): a payout or anchor sent before a crash
        is then found, instead of being made a second time."""
        entries = self._wallet("listtransactions", "*", 100_000, 0, True)
        pending = {e["txid"] for e in entries if int(e.get("confirmations", 0)) == 0}
        if not pending:
            return
        in_mempool = set(self.rpc.call("getrawmempool"))
        for txid in sorted(pending - in_mempool):
            raw = self._wallet("gettransaction", txid, True)["hex"]
            try:
                self.rpc.call("sendrawtransaction", raw)
            except RpcError:
                pass  # conflicted or already mined: nothing to restore

    # --- reading the chain ---------------------------------------------------------------------

    def _facts(self, tx: dict[str, Any]) -> _TxFacts:
        data: list[bytes | None] = []
        custody_amount = 0
        custody_script = self.custody.script_pubkey.hex()
        for out in tx["vout"]:
            script = out["scriptPubKey"]
            if script.get("type") == "nulldata":
                data.append(decode_op_return(bytes.fromhex(script["hex"])))
            elif script.get("hex") == custody_script:
                custody_amount += _litoshis(out["value"])
        vins = tx["vin"]
        return _TxFacts(
            txid=tx["txid"], coinbase=any("coinbase" in vin for vin in vins),
            data=tuple(data), custody_amount=custody_amount,
            spent_by_custody=any(self.custody.is_spender_of(vin) for vin in vins),
            spent_by_anchor_key=any(self.anchor_account.is_spender_of(vin) for vin in vins),
        )

    def _blocks(self, start: int, end: int) -> list[_BlockFacts]:
        """The facts of blocks start..end of the current chain (cached by block hash)."""
        start, end = max(start, 0), min(end, self.head())
        if end < start:
            return []
        hashes = self.rpc.batch([("getblockhash", [n]) for n in range(start, end + 1)])
        missing = [h for h in hashes if h not in self._cache.blocks]
        for block_hash, block in zip(missing, self.rpc.batch(
                [("getblock", [h, 2]) for h in missing]), strict=True):
            self._cache.blocks[block_hash] = _BlockFacts(
                int(block["height"]), Hash32(bytes.fromhex(block_hash)),
                tuple(self._facts(tx) for tx in block["tx"]))
        return [self._cache.blocks[h] for h in hashes]

    def _mempool(self) -> list[_TxFacts]:
        txids = list(self.rpc.call("getrawmempool"))
        missing = [t for t in txids if t not in self._cache.mempool]
        answers = []
        for txid in missing:
            try:
                answers.append(self.rpc.call("getrawtransaction", txid, True))
            except RpcError:
                continue  # mined or evicted since getrawmempool
        for tx in answers:
            self._cache.mempool[tx["txid"]] = self._facts(tx)
        current = set(txids)
        for txid in list(self._cache.mempool):
            if txid not in current:
                del self._cache.mempool[txid]
        return [self._cache.mempool[t] for t in txids if t in self._cache.mempool]

    def anchors(self, include_mempool: bool = False) -> dict[int, Anchor]:
        """Anchored batches 0..n-1 by number: the first anchor of each number in chain order
        (then mempool order), up to the first missing number."""
        head = self.head()
        first: dict[int, Anchor] = {}
        for block in self._blocks(self.start_height, head):
            for tx in block.txs:
                found = tx.anchor
                if found is not None and found[0] not in first:
                    first[found[0]] = Anchor(found[0], found[1], found[2], tx.txid, block.height,
                                             head - block.height + 1)
        if include_mempool:
            for tx in self._mempool():
                found = tx.anchor
                if found is not None and found[0] not in first:
                    first[found[0]] = Anchor(found[0], found[1], found[2], tx.txid, None, 0)
        anchored: dict[int, Anchor] = {}
        while len(anchored) in first:
            anchored[len(anchored)] = first[len(anchored)]
        return anchored

    def anchor(self, number: int, include_mempool: bool = False) -> Anchor | None:
        return self.anchors(include_mempool).get(number)

    def payouts(self, include_mempool: bool = True) -> dict[Hash32, Payout]:
        """Federation payouts by withdrawal leaf (the first of each leaf)."""
        head = self.head()
        found: dict[Hash32, Payout] = {}
        for block in self._blocks(self.start_height, head):
            for tx in block.txs:
                leaf = tx.payout_leaf
                if leaf is not None and leaf not in found:
                    found[leaf] = Payout(leaf, tx.txid, block.height, head - block.height + 1)
        if include_mempool:
            for tx in self._mempool():
                leaf = tx.payout_leaf
                if leaf is not None and leaf not in found:
                    found[leaf] = Payout(leaf, tx.txid, None, 0)
        return found

    def payout(self, withdrawal: Withdrawal) -> Payout | None:
        return self.payouts().get(compute_withdrawal_leaf(withdrawal))

    def _deposits_and_parked(self, from_block: int, to_block: int,
                             ) -> tuple[list[DepositEvent], list[ParkedDeposit]]:
        events: list[DepositEvent] = []
        parked: list[ParkedDeposit] = []
        for block in self._blocks(from_block, to_block):
            for index, tx in enumerate(block.txs):
                # Payout change returns to custody; coinbase outputs are not deposits.
                if tx.custody_amount == 0 or tx.spent_by_custody or tx.coinbase:
                    continue
                recipient, reason = _classify_deposit(tx)
                txid = Hash32(bytes.fromhex(tx.txid))
                if recipient is None:
                    parked.append(ParkedDeposit(tx.txid, block.height, block.hash,
                                                Amount(tx.custody_amount), reason,
                                                tx.only_data or b""))
                    continue
                events.append(DepositEvent(
                    event_id=compute_litecoin_deposit_event_id(self.ledger_id, txid),
                    block_number=block.height, block_hash=block.hash, log_index=index,
                    depositor=ZERO_ADDRESS, recipient=recipient, asset=self.asset,
                    token=ZERO_ADDRESS, amount=Amount(tx.custody_amount),
                    data_commitment=ZERO_HASH, metadata_hash=ZERO_HASH, payload=txid,
                ))
        return events, parked

    def deposits(self, from_block: int, to_block: int) -> list[DepositEvent]:
        """Well-tagged payments to custody in blocks from_block..to_block. `log_index` is the
        transaction's index in its block, `payload` its txid; the depositor is unknown (zero)."""
        return self._deposits_and_parked(from_block, to_block)[0]

    def parked_deposits(self, from_block: int, to_block: int) -> list[ParkedDeposit]:
        """Payments to custody that are not well-formed deposits: never credited."""
        return self._deposits_and_parked(from_block, to_block)[1]

    def custody_balance(self, min_conf: int = 1) -> Amount:
        coins = self._wallet("listunspent", min_conf, 9_999_999, [self.custody_address], True)
        return Amount(sum(_litoshis(c["amount"]) for c in coins))

    def anchor_balance(self, min_conf: int = 0) -> Amount:
        coins = self._wallet("listunspent", min_conf, 9_999_999, [self.anchor_address], True)
        return Amount(sum(_litoshis(c["amount"]) for c in coins))

    # --- batches -------------------------------------------------------------------------------

    def next_batch_number(self) -> int:
        return len(self.anchors())

    def batch_status(self, number: int) -> BatchStatus:
        """Accepted = anchored in a block (>= 1 confirmation); `anchor(number)` tells how deep.
        The withdrawal root is not on chain: it is known only for headers posted by this
        object (a payout takes the header and checks it against the anchor)."""
        found = self.anchor(number)
        if found is None:
            return BatchStatus(number, accepted=False)
        header = self._cache.headers.get(found.batch_hash)
        return BatchStatus(number, True, found.batch_hash,
                           header.withdrawal_root if header is not None else None,
                           Hash32(bytes.fromhex(found.txid)))

    def posted_batch(self, number: int) -> PostedBatch | None:
        """The anchor's batch hash and data pointer: the rest of the header is in the data."""
        found = self.anchor(number)
        if found is None:
            return None
        return PostedBatch(number, None, found.batch_hash, found.data_pointer)

    def batch_depth(self, number: int) -> int | None:
        found = self.anchor(number, include_mempool=True)
        return None if found is None else found.confirmations

    def post_batch(
        self, header: BatchHeader, inferences: Sequence[ProvenInference] = (),
        forced: Sequence[ForcedInclusion] = (),
    ) -> Hash32 | None:
        """Anchor the header (proofs are not sent: this ledger cannot check them). Idempotent:
        an anchor of this header in the chain or the mempool is returned, not made again."""
        if forced:
            raise LedgerUnsupported("Litecoin has no forced-inclusion queue",
                                    reason="no forced inclusion")
        batch_hash = compute_batch_hash(header)
        self._cache.headers[batch_hash] = header
        self._resend_journal()
        anchored = self.anchors(include_mempool=True)
        existing = anchored.get(header.number)
        if existing is not None:
            if existing.batch_hash != batch_hash:
                raise LedgerError(f"the ledger holds another batch {header.number}",
                                  reason="batch hash mismatch")
            return Hash32(bytes.fromhex(existing.txid))
        if header.number != len(anchored):
            raise LedgerError(f"batch {len(anchored)} must be anchored before batch "
                              f"{header.number}", reason="batch number out of order")
        previous = self.genesis_state_root
        if header.number:  # known when this adapter posted the previous header itself
            before = self._cache.headers.get(anchored[header.number - 1].batch_hash)
            previous = before.state_root if before is not None else None
        if previous is not None and header.prev_state_root != previous:
            raise LedgerError("previous state root mismatch", reason="previous state root mismatch")
        txid = self._spend(
            self.anchor_account, [self.anchor_signing_key], payment=None,
            data=encode_anchor(header), underfunded=AnchorUnderfunded,
            what=f"anchor of batch {header.number}")
        return Hash32(bytes.fromhex(txid))

    # --- withdrawals ---------------------------------------------------------------------------

    def pay_withdrawal(self, header: BatchHeader, withdrawal: Withdrawal, index: int,
                       proof: Sequence[Hash32], *, confirmations: int) -> str:
        """Pay one LTC withdrawal of an anchored batch from custody, signed by `threshold`
        federation keys; returns the payout txid. Paid once: a payout of this leaf already in
        the chain, the mempool or the federation's journal is returned instead. Refuses
        (typed error, nothing sent, still pending) when the batch is not anchored under
        `confirmations` blocks or custody cannot cover the amount."""
        self._check_payable(withdrawal)
        leaf = compute_withdrawal_leaf(withdrawal)
        anchored = self.anchor(header.number)
        if anchored is None or anchored.confirmations < confirmations:
            depth = 0 if anchored is None else anchored.confirmations
            raise BatchNotFinal(f"batch {header.number} has {depth} of {confirmations} "
                                "confirmations", reason="batch not final")
        if anchored.batch_hash != compute_batch_hash(header):
            raise WithdrawalRefused(f"the header is not the anchored batch {header.number}",
                                    reason="batch hash mismatch")
        if not verify_tree_proof(header.withdrawal_root, leaf, index, proof):
            raise WithdrawalRefused("the withdrawal is not in the batch's withdrawal root",
                                    reason="bad withdrawal proof")
        self._resend_journal()
        paid = self.payouts().get(leaf)
        if paid is not None:
            return paid.txid
        recipient = self.payout_address(withdrawal.recipient)
        return self._spend(
            self.custody, self.signing_keys, payment=(recipient, int(withdrawal.amount)),
            data=encode_payout_tag(withdrawal), underfunded=CustodyUnderfunded,
            what=f"payout of withdrawal 0x{withdrawal.withdrawal_id.hex()}")

    def pay_withdrawals(self, header: BatchHeader, withdrawals: Sequence[Withdrawal], *,
                        confirmations: int) -> list[str]:
        """Pay every withdrawal of this ledger in a batch. `withdrawals` is the batch's full
        list in tree order (other ledgers' are skipped); it must hash to the header's root.
        Stops at the first refusal (those paid before it stay paid, and are found again)."""
        leaves = [compute_withdrawal_leaf(w) for w in withdrawals]
        if compute_tree_root(leaves) != header.withdrawal_root:
            raise WithdrawalRefused("the withdrawals do not hash to the batch's withdrawal root",
                                    reason="withdrawal root mismatch")
        txids = []
        for index, withdrawal in enumerate(withdrawals):
            if withdrawal.ledger != self.ledger_id:
                continue
            txids.append(self.pay_withdrawal(header, withdrawal, index,
                                             compute_tree_proof(leaves, index),
                                             confirmations=confirmations))
        return txids

    def _check_payable(self, withdrawal: Withdrawal) -> None:
        if withdrawal.ledger != self.ledger_id:
            raise WithdrawalRefused("the withdrawal is for another ledger", reason="wrong ledger")
        if withdrawal.object_kind != 0:
            raise WithdrawalRefused("Litecoin pays coins, not objects", reason="object withdrawal")
        if withdrawal.asset != self.asset:
            raise WithdrawalRefused("Litecoin pays LTC only", reason="wrong asset")
        if withdrawal.amount <= DUST_LIMIT:
            raise WithdrawalRefused(f"{withdrawal.amount} litoshis is too small to pay",
                                    reason="below dust")

    def finalize_withdrawal(
        self, withdrawal: Withdrawal, batch_number: int, index: int, proof: Sequence[Hash32],
        sender_key: bytes,
    ) -> Hash32:
        raise LedgerUnsupported(
            "Litecoin cannot check a withdrawal proof: the federation pays LTC withdrawals "
            "(pay_withdrawal / pay_withdrawals)", reason="paid by the federation")

    def is_withdrawal_finalized(self, withdrawal: Withdrawal) -> bool:
        """Paid: a payout of the leaf is in a block."""
        return compute_withdrawal_leaf(withdrawal) in self.payouts(include_mempool=False)

    # --- forced inclusion: none on this ledger -------------------------------------------------

    def queue_forced_transaction(self, raw_tx: bytes, sender_key: bytes) -> int:
        raise LedgerUnsupported("Litecoin has no forced-inclusion queue",
                                reason="no forced inclusion")

    def forced_requests(self, only_pending: bool = True) -> list[ForcedRequest]:
        return []  # nothing can be queued here

    # --- building and signing ------------------------------------------------------------------

    def _spendable(self, account: MultisigAccount) -> list[dict[str, Any]]:
        """The account's coins: confirmed `min_conf` times, or unconfirmed change of our own
        transactions (spent by the account itself, so they cannot vanish unless it does)."""
        address = account.address(self.hrp)
        own = {tx.txid for tx in self._mempool() if any(
            (account is self.custody and tx.spent_by_custody,
             account is self.anchor_account and tx.spent_by_anchor_key))}
        coins = self._wallet("listunspent", 0, 9_999_999, [address], True)
        usable = [c for c in coins
                  if int(c["confirmations"]) >= max(self.min_conf, 1) or c["txid"] in own]
        return sorted(usable, key=lambda c: (-_litoshis(c["amount"]), c["txid"], c["vout"]))

    def _spend(self, account: MultisigAccount, keys: Sequence[bytes],
               payment: tuple[str, int] | None, data: bytes, underfunded: type[LedgerError],
               what: str) -> str:
        """Spend the account's coins to one OP_RETURN (and one payment, whose recipient bears
        the fee), change back to the account; sign key by key; send. Returns the txid."""
        data_script = len(encode_op_return(data))
        outputs = ([22] if payment is not None else []) + [data_script, 34]  # P2WPKH, change
        amount = payment[1] if payment is not None else 0
        coins = self._spendable(account)
        chosen: list[dict[str, Any]] = []
        total = fee = 0
        for coin in coins:
            chosen.append(coin)
            total += _litoshis(coin["amount"])
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
            tx_outputs.append({payment[0]: _ltc(net)})
            change = total - amount
        else:
            change = total - fee
        tx_outputs.append({"data": data.hex()})
        if change >= DUST_LIMIT:
            tx_outputs.append({account.address(self.hrp): _ltc(change)})
        raw = self.rpc.call("createrawtransaction",
                            [{"txid": c["txid"], "vout": c["vout"]} for c in chosen], tx_outputs)
        previous = [{"txid": c["txid"], "vout": c["vout"], "scriptPubKey": c["scriptPubKey"],
                     "witnessScript": account.witness_script.hex(), "amount": c["amount"]}
                    for c in chosen]
        signable = [k for k in keys if compute_public_key(k) in account.public_keys]
        complete = False
        for key in signable[:account.threshold]:
            # One key per call, as separate federation members would sign in turn.
            signed = self.rpc.call("signrawtransactionwithkey", raw,
                                   [encode_wif(key, self.chain)], previous)
            raw, complete = signed["hex"], bool(signed.get("complete"))
        if not complete:
            raise LedgerError(f"{what}: the signatures are incomplete", reason="unsigned")
        return str(self.rpc.call("sendrawtransaction", raw))

    # --- a user's side: deposits ---------------------------------------------------------------

    def deposit_from_wallet(self, wallet: str, recipient: Address, amount: int,
                            data: bytes | None = None) -> str:
        """Pay `amount` litoshis from a Litecoin Core wallet to custody, tagged for `recipient`
        (`data` replaces the tag: tests use it for malformed ones). Returns the txid."""
        tag = encode_deposit_tag(recipient) if data is None else data
        raw = self.rpc.call("createrawtransaction", [],
                            [{self.custody_address: _ltc(amount)}, {"data": tag.hex()}])
        funded = self.rpc.call("fundrawtransaction", raw, wallet=wallet)
        signed = self.rpc.call("signrawtransactionwithwallet", funded["hex"], wallet=wallet)
        if not signed.get("complete"):
            raise LedgerError("the depositor's wallet could not sign the deposit")
        return str(self.rpc.call("sendrawtransaction", signed["hex"]))
