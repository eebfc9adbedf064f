"""The market catalog: commodities and World Cup footballers, and each market's ticker."""

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    TypeAdapter,
    computed_field,
    field_validator,
)

from mercato.models.base import RequestModel
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


class _Listing(RequestModel):
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


class TickerFields(BaseModel):
    """A market's top of book and trading so far, as the matcher last wrote them; ``None`` where
    nothing has happened yet."""

    best_bid: Price | None = None
    best_ask: Price | None = None
    last_price: Price | None = None
    volume: NonNegative = 0


class CommodityMarket(CommodityListing, TickerFields):
    """``GET /markets/{material}`` for a commodity."""

    model_config = ConfigDict(validate_by_name=True)


class FootballerMarket(FootballerListing, TickerFields):
    """``GET /markets/{material}`` for a footballer: the ticker, and the goals scored so far."""

    model_config = ConfigDict(validate_by_name=True)

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
    return LISTING.validate_json(body)


Market = CommodityMarket | FootballerMarket


def market_from(listing: CommodityListing | FootballerListing) -> Market:
    """The market a listing opens: no trades yet, no goals yet."""
    if isinstance(listing, FootballerListing):
        return FootballerMarket.model_validate(listing.model_dump())
    return CommodityMarket.model_validate(listing.model_dump())
