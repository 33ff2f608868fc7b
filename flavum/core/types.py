"""Domain types of the rollup core: addresses, hashes, ids and amounts.

NewTypes cost nothing at run time and let mypy keep a hash from being passed as an address.
"""

from enum import IntEnum
from typing import NewType

Address = NewType("Address", bytes)  # 20 bytes, Ethereum-style
Hash32 = NewType("Hash32", bytes)  # 32 bytes
ObjectId = NewType("ObjectId", bytes)  # 32 bytes
AssetId = NewType("AssetId", bytes)  # 32 bytes
Amount = NewType("Amount", int)  # uint256
Nonce = NewType("Nonce", int)  # uint64
ChainId = NewType("ChainId", int)  # uint256
Signature = NewType("Signature", bytes)  # 65 bytes: r || s || v (v in {0, 1})

ZERO_HASH = Hash32(b"\x00" * 32)
ZERO_ADDRESS = Address(b"\x00" * 20)
NO_OBJECT = ObjectId(ZERO_HASH)  # "no object": a balance withdrawal, a non-RESULT lineage
MAX_UINT256 = 2**256 - 1


class ObjectKind(IntEnum):
    """What an owned object is."""

    MODEL = 1
    DATA = 2
    RESULT = 3


class Access(IntEnum):
    """Who may use an object: its owner and grantees, or anyone."""

    OWNED = 0
    COMMON = 1
