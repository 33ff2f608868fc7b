"""Litecoin keys, addresses and scripts: what the rollup's accounts are made of.

Base58check (WIF private keys), bech32 (BIP173 witness v0 addresses), secp256k1 keys, OP_RETURN
outputs with one push, and `MultisigAccount`: a k-of-n P2WSH multisig, the federation's custody
or the anchor key (1-of-1).

Who signed a transaction is read from its witnesses: an input whose witness is
["", k signatures, witness script] was spent by that multisig, as only P2WSH (native or
P2SH-wrapped) runs the last witness item as a script, and its program is the script's hash.
A multisig script of n < 15 keys can not be a Taproot control block (33 + 32m bytes), which is
why at most 14 keys are accepted. Anyone can write an OP_RETURN; nobody else can spend these
scripts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import coincurve

from flavum.l1.errors import LedgerError

MAX_OP_RETURN = 80  # policy limit of Litecoin Core 0.21 (81 is not relayed)
MAX_KEYS = 14  # see the module docstring: n = 15 keys would make a Taproot-sized script
SEGWIT_HRP = {"main": "ltc", "test": "tltc", "signet": "tltc", "regtest": "rltc"}
WIF_PREFIX_MAIN, WIF_PREFIX_TEST = 0xB0, 0xEF
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


def segwit_hrp(chain: str) -> str:
    """The bech32 prefix of addresses on a chain ("main", "test", "signet", "regtest")."""
    return SEGWIT_HRP.get(chain, "rltc")


def _varint_size(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5

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
