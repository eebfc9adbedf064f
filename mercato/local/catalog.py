"""The catalog the embedded stack starts with: six commodities, and the footballers who played the
2022 World Cup final (their goals are what the replay feed plays back)."""

from typing import Final

from mercato.feed.sources import final_data
from mercato.models.markets import CommodityListing, FootballerListing

DEFAULT_BASE_VALUE: Final = 1_000


def _commodity(material: str, name: str, fee_bps: int = 200) -> CommodityListing:
    return CommodityListing.model_validate(
        {"material": material, "kind": "commodity", "name": name, "feeBps": fee_bps}
    )


def _footballers() -> list[FootballerListing]:
    """Without football-data.org person ids: these follow the replay, not the live scorers feed."""
    listings = []
    for team, players in final_data()["squads"].items():
        for player in players:
            base = player.get("baseValue", DEFAULT_BASE_VALUE)
            listings.append(
                FootballerListing.model_validate(
                    {
                        "material": player["material"],
                        "kind": "footballer",
                        "name": player["name"],
                        "team": team,
                        "baseValue": base,
                        "goalValue": base // 10,
                    }
                )
            )
    return listings


DEFAULT_CATALOG: Final[tuple[CommodityListing | FootballerListing, ...]] = (
    _commodity("wheat", "Wheat"),
    _commodity("copper", "Copper"),
    _commodity("iron", "Iron ore"),
    _commodity("wood", "Wood"),
    _commodity("stone", "Stone"),
    _commodity("wool", "Wool", fee_bps=100),
    *_footballers(),
)
