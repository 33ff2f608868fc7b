"""Ledger, asset and deposit ids: a balance is always of an asset that lives on one ledger.

`compute_asset_id(ledger, token)` names a token of a ledger (the zero address is the ledger's
native coin, ETH or LTC), so deposits from two ledgers never mix in the rollup state, and a
bridge recomputes the id of what it pays from its own ledger id and token address.
`compute_deposit_id(ledger, index)` names deposit number `index` of a ledger's bridge inbox.
"""

from flavum.core.encoding import compute_tag, encode_address, hash_tagged, keccak256
from flavum.core.types import ZERO_ADDRESS, Address, AssetId, Hash32

ASSET_TAG = compute_tag("asset")
DEPOSIT_ID_TAG = compute_tag("deposit.id")


def compute_ledger_id(name: str) -> Hash32:
    """Id of a ledger from its configured name, e.g. "evm" or "litecoin"."""
    return compute_tag("ledger." + name)


def compute_asset_id(ledger: Hash32, token: Address = ZERO_ADDRESS) -> AssetId:
    """keccak256(abi.encode(ASSET_TAG, ledger, token)); token zero = the native coin."""
    return AssetId(keccak256(ASSET_TAG + ledger + encode_address(token)))


def compute_deposit_id(ledger: Hash32, index: int) -> Hash32:
    """keccak256(abi.encode(DEPOSIT_ID_TAG, ledger, uint256 index)), as the bridge computes it.

    A deposit is named by its number in the inbox, never by the block it is in: re-mined in
    another block by a reorg, it keeps its id, and the state applies it once."""
    return hash_tagged(DEPOSIT_ID_TAG, ("bytes32", "uint256"), (ledger, index))
