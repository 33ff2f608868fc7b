"""The one hex codec: what it writes it reads back, and every other text is a MalformedHex."""

import pytest

from flavum.core.codec import from_hex, parse_address, to_hex
from flavum.core.errors import MalformedHex


def test_round_trip():
    for value in (b"", b"\x00", bytes(range(256))):
        assert from_hex(to_hex(value)) == value
    assert to_hex(b"\xab\x01") == "0xab01"
    assert from_hex("0xAB01", 2) == b"\xab\x01"


@pytest.mark.parametrize("text,size,prefix_optional,message", [
    ("ab", None, False, "must start with 0x"),
    ("0xabc", None, False, "not hex"),
    ("0xzz", None, False, "not hex"),
    ("0x00 11", None, False, "not hex"),
    ("0x0011", 3, False, "must be 3 bytes, got 2"),
    (5, None, False, "must be a 0x-prefixed hex string"),
    (None, 32, True, "must be a 0x-prefixed hex string"),
])
def test_refusals_name_what_was_wrong(text, size, prefix_optional, message):
    with pytest.raises(MalformedHex, match=message):
        from_hex(text, size, "tx_hash", prefix_optional=prefix_optional)


def test_bare_hex_only_when_the_prefix_is_optional():
    assert from_hex("ab", prefix_optional=True) == b"\xab"


def test_parse_address():
    address = bytes(range(20))
    assert parse_address(to_hex(address)) == address
    assert parse_address(address.hex()) == address
    with pytest.raises(MalformedHex, match="address must be 20 bytes, got 2"):
        parse_address("0x1234")
    with pytest.raises(MalformedHex, match="address is not hex"):
        parse_address("nothex")


def test_a_long_refused_text_is_shortened():
    with pytest.raises(MalformedHex) as refused:
        from_hex("0x" + "z" * 1000)
    assert len(str(refused.value)) < 120
