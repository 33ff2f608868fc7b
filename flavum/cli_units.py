"""Amounts as people read them: base units turned into ETH, LTC or dev with the asset's name.

The rollup counts integers of an asset id; the CLI's text output names the asset (the dev
asset, or a ledger's native coin, found from the node's status) and places the decimal point
(18 decimals for ETH and dev, 8 for LTC's litoshis). `--json` keeps the raw integers.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

from flavum.core.assets import compute_asset_id
from flavum.core.codec import from_hex, to_hex
from flavum.core.errors import ConfigError
from flavum.core.genesis import DEV_ASSET
from flavum.core.types import Hash32
from flavum.node.config import COIN_UNITS, DEV_UNIT, load_config


class Units:
    """Names and decimals of the assets a node knows: asset id (hex) -> (unit, decimals, where)."""

    def __init__(self, status: dict[str, Any], home: Path | None = None) -> None:
        kinds = _ledger_kinds(home)
        self.assets: dict[str, tuple[str, int, str]] = {to_hex(DEV_ASSET): (*DEV_UNIT, "")}
        for ledger in status.get("ledgers", []):
            name = ledger["name"]
            kind = kinds.get(name, "litecoin" if "litecoin" in name or "ltc" in name else "evm")
            unit, decimals = COIN_UNITS.get(kind, COIN_UNITS["evm"])
            asset = compute_asset_id(Hash32(from_hex(ledger["ledger_id"], 32, "ledger_id")))
            self.assets[to_hex(asset)] = (unit, decimals, name)

    def show(self, amount: int | str, asset: str) -> str:
        """`1.001 ETH (evm)`, `20 dev`; an unknown asset (a token) as base units and its id."""
        if asset not in self.assets:
            return f"{amount} of asset {asset}"
        unit, decimals, where = self.assets[asset]
        text = f"{format_decimal(int(amount), decimals)} {unit}"
        return f"{text} ({where})" if where else text


def format_decimal(amount: int, decimals: int) -> str:
    """`amount` base units with the decimal point placed, without trailing zeros."""
    value = Decimal(amount).scaleb(-decimals)
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ledger_kinds(home: Path | None) -> dict[str, str]:
    if home is None:
        return {}
    try:
        return {spec.name: spec.kind for spec in load_config(home).ledgers}
    except (ConfigError, OSError):  # a remote node (--node) needs no home
        return {}
