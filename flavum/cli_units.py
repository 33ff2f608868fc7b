"""Amounts as people read them: base units turned into ETH, LTC or dev with the asset's name.

The rollup counts integers of an asset id; the CLI's text output names the asset (the dev
asset, or a ledger's native coin, as the node's `/v1/assets` lists them) and places the decimal
point (18 decimals for ETH and dev, 8 for LTC's litoshis). `--json` keeps the raw integers.
"""

from decimal import Decimal
from typing import Any


class Units:
    """Names and decimals of the assets a node knows (its `/v1/assets`): asset id (hex) ->
    (unit, decimals, the ledger whose coin it is)."""

    def __init__(self, assets: list[dict[str, Any]]) -> None:
        self.assets = {a["asset"]: (a["unit"], a["decimals"], a["ledger"] or "") for a in assets}

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
