"""The catalog the embedded stack starts with."""

from typing import Final

from mercato.models.markets import CommodityListing, FootballerListing


def _commodity(material: str, name: str, fee_bps: int = 200) -> CommodityListing:
    return CommodityListing.model_validate(
        {"material": material, "kind": "commodity", "name": name, "feeBps": fee_bps}
    )


DEFAULT_CATALOG: Final[tuple[CommodityListing | FootballerListing, ...]] = (
    _commodity("wheat", "Wheat"),
    _commodity("copper", "Copper"),
    _commodity("iron", "Iron ore"),
    _commodity("wood", "Wood"),
    _commodity("stone", "Stone"),
    _commodity("wool", "Wool", fee_bps=100),
)
"""Commodities only for now: the footballers of the 2022 final need their football-data.org person
ids, which come with the goal feed (issue 7)."""
