"""The one codec for bytes written as text: "0x"-prefixed hex, and addresses in that form.

Every layer (store, witness, batch data, API, CLI) writes bytes with `to_hex` and reads them
back with `from_hex`. Reading is strict: only hex digits, an even number of them, and the size
the reader expects; anything else raises `MalformedHex` naming what was read. A caller that
reports input errors its own way catches `MalformedHex` and raises its own error.
"""

from flavum.core.errors import MalformedHex
from flavum.core.types import Address

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
ADDRESS_SIZE = 20
_SHOWN = 70  # characters of a refused text quoted in the error


def to_hex(value: bytes) -> str:
    """`value` as "0x" followed by two lowercase hex digits a byte."""
    return "0x" + value.hex()


def from_hex(
    text: object, size: int | None = None, what: str = "value", *, prefix_optional: bool = False
) -> bytes:
    """The bytes `text` spells in hex ("0x…"), of exactly `size` bytes when a size is given.

    `prefix_optional` also accepts bare hex digits (input typed by a person); the canonical
    forms the node writes and reads back always carry the prefix.
    """
    if not isinstance(text, str):
        raise MalformedHex(f"{what} must be a 0x-prefixed hex string, got {_shown(text)}")
    if text.startswith("0x"):
        digits = text[2:]
    elif prefix_optional:
        digits = text
    else:
        raise MalformedHex(f"{what} must start with 0x: {_shown(text)}")
    # bytes.fromhex would also skip spaces: one value, one spelling.
    if len(digits) % 2 != 0 or not HEX_DIGITS.issuperset(digits):
        raise MalformedHex(f"{what} is not hex: {_shown(text)}")
    value = bytes.fromhex(digits)
    if size is not None and len(value) != size:
        raise MalformedHex(f"{what} must be {size} bytes, got {len(value)}")
    return value


def parse_address(text: str) -> Address:
    """A 20-byte address typed as hex, with or without its 0x prefix."""
    return Address(from_hex(text, ADDRESS_SIZE, "address", prefix_optional=True))


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
