"""The market catalog: commodities and World Cup footballers, and each market's ticker."""

from typing import Annotated, Literal

from pydantic import Discriminator, Field, StringConstraints, TypeAdapter, computed_field, field_validator

from mercato.models.base import WireModel
from mercato.models.money import (
    COINS,
    DEFAULT_FEE_BPS,
    MAX_PRICE,
    FeeBps,
    MaterialId,
    NonNegative,
    Price,
)

DisplayName = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80)
]
PersonId = Annotated[int, Field(strict=True, ge=1)]
"""A football-data.org person id."""


class _Listing(WireModel):
    material: MaterialId
    name: DisplayName
    fee_bps: FeeBps = DEFAULT_FEE_BPS

    @field_validator("material")
    @classmethod
    def _coins_is_the_currency(cls, material: str) -> str:
        if material == COINS:
            raise ValueError(f"'{COINS}' is the currency and cannot be listed as a material")
        return material


class CommodityListing(_Listing):
    """``POST /markets`` for a material such as wheat or copper."""

    kind: Literal["commodity"]


class FootballerListing(_Listing):
    """``POST /markets`` for a footballer: a stock whose fundamental value rises with each goal."""

    kind: Literal["footballer"]
    team: DisplayName
    person_id: PersonId
    base_value: Price
    goal_value: Price


class FootballerMarket(FootballerListing):
    """A listed footballer with the goals it has scored so far."""

    goals: NonNegative = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fundamental_value(self) -> int:
        """F = base + goalValue × goals, capped at the highest price an order may carry (the house
        quotes around F, and a quote must be a valid price)."""
        return min(self.base_value + self.goal_value * self.goals, MAX_PRICE)


Listing = Annotated[CommodityListing | FootballerListing, Discriminator("kind")]
LISTING: TypeAdapter[CommodityListing | FootballerListing] = TypeAdapter(Listing)


def parse_listing(body: str | bytes) -> CommodityListing | FootballerListing:
    """Validate a ``POST /markets`` body; ``kind`` picks the shape."""
    return LISTING.validate_json(body, by_alias=True, by_name=False)


class Ticker(WireModel):
    """A market's top of book and trading so far; ``None`` where nothing has happened yet."""

    best_bid: Price | None = None
    best_ask: Price | None = None
    last_price: Price | None = None
    volume: NonNegative = 0
