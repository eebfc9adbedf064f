"""The market catalog: commodities and World Cup footballers, and each market's ticker."""

import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    TypeAdapter,
    computed_field,
    field_validator,
)

from mercato.models.base import RequestModel, WireModel
from mercato.models.history import HourFigures
from mercato.models.money import (
    COINS,
    DEFAULT_FEE_BPS,
    MAX_PRICE,
    MAX_QUANTITY,
    FeeBps,
    MaterialId,
    NonNegative,
    Price,
)
from mercato.models.text import BLANKS, is_hidden

_CONTROLS = r"\x00-\x1f\x7f-\x9f"
"""C0 and C1 controls: an escape sequence in a name would retitle the terminal of whoever runs
``mercato markets``. The pattern says so to the OpenAPI document (for a generated client to check
before it sends); :func:`_visible` checks it, and the rest, with a message that names the
characters (a pattern's own message would quote the whole expression)."""


def _visible(name: str) -> str:
    """A name with no hidden character (:func:`~mercato.models.text.is_hidden`) and at least one
    character that draws something, so no listing can look like another, or like nothing."""
    hidden = sorted({f"U+{ord(c):04X}" for c in name if is_hidden(c)})
    if hidden:
        raise ValueError(f"a name may not contain control or invisible characters ({', '.join(hidden)})")
    if not any(unicodedata.category(c)[0] in "LNPS" and c not in BLANKS for c in name):
        raise ValueError("a name must show at least one letter, digit, punctuation mark or symbol")
    return name


DisplayName = Annotated[
    str,
    StringConstraints(
        strict=True,
        strip_whitespace=True,
        min_length=1,
        max_length=80,
    ),
    AfterValidator(_visible),
    Field(json_schema_extra={"pattern": rf"^[^{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*$"}),
]
"""A name a listing may give: something visible in it (stripped of whitespace at both ends), no
control, format or other invisible character (:func:`_visible`)."""
StoredName = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80, pattern=r"\S")
]
"""A name as a stored market has it: what listings accepted before :data:`DisplayName` refused the
hidden characters reads back as it was (a reviewer found such a market answered 500 to every read)."""
PersonId = Annotated[int, Field(strict=True, ge=1, le=2**53 - 1)]
"""A football-data.org person id a listing may give: a whole number any JSON client reads exactly
(DynamoDB refused one of 39 digits, which answered 500)."""
StoredPersonId = Annotated[int, Field(strict=True, ge=1)]
"""A person id as a stored market has it (listed before :data:`PersonId` was bounded)."""


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


class HouseParams(WireModel):
    """How the house makes a footballer's market (DESIGN §6). All quantities in shares, money in coins.

    The house quotes ``levels`` bids and asks of ``size`` shares each, ``spread`` coins either side of
    the fundamental value F (at least 1) and ``step`` coins apart, never selling below F nor buying
    above it. It starts with ``inventory`` shares and ``budget`` coins and never holds more than
    ``max_inventory`` shares. Since goals only raise F and the house never sells below F, its loss
    on a goal is at most the shares it could have sold at stale quotes, times the goal value:
    ``max_inventory × goalValue`` (the worst case per goal).
    """

    levels: Annotated[int, Field(strict=True, ge=1, le=10)] = 3
    size: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = 10
    spread_bps: Annotated[int, Field(strict=True, ge=0, le=5_000)] = 100
    step_bps: Annotated[int, Field(strict=True, ge=1, le=5_000)] = 50
    inventory: Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)] = 100
    max_inventory: Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)] = 200
    budget: Annotated[int, Field(strict=True, ge=0, le=10**15)] = 500_000

    def worst_case_loss(self, goal_value: int) -> int:
        return self.max_inventory * goal_value


class FootballerListing(_Listing):
    """``POST /markets`` for a footballer: a stock whose fundamental value rises with each goal.
    ``personId`` (football-data.org) lets the live scorers feed follow the player; without it only
    posted or replayed goals move the price."""

    kind: Literal["footballer"]
    team: DisplayName
    person_id: PersonId | None = None
    base_value: Price
    goal_value: Price
    house: HouseParams = Field(default_factory=HouseParams)

    @field_validator("house", mode="before")
    @classmethod
    def _house_by_wire_names(cls, house: object) -> object:
        """A request names the house's parameters as the wire does (``spreadBps``), as every other
        field: ``spread_bps`` is an unknown field, not a second spelling."""
        if isinstance(house, dict):
            wire = {field.alias for field in HouseParams.model_fields.values()}
            unknown = sorted(str(key) for key in house if key not in wire)
            if unknown:
                raise ValueError(f"unknown house parameters {unknown}; they are {sorted(map(str, wire))}")
        return house


class TickerFields(BaseModel):
    """A market's top of book and trading so far, as the matcher last wrote them; ``None`` where
    nothing has happened yet."""

    best_bid: Price | None = None
    best_ask: Price | None = None
    last_price: Price | None = None
    volume: NonNegative = 0
    change24h: int | None = Field(default=None, alias="change24h")
    """The last trade's price minus the first's over the last 24 hours; ``None`` without a trade in them."""
    high24h: Price | None = Field(default=None, alias="high24h")
    low24h: Price | None = Field(default=None, alias="low24h")
    volume24h: NonNegative | None = Field(default=None, alias="volume24h")
    hours: tuple[HourFigures, ...] = Field(default=(), exclude=True)
    """The hourly figures the matcher keeps (stored, never sent): what the 24-hour figures are made of."""


class CommodityMarket(CommodityListing, TickerFields):
    """``GET /markets/{material}`` for a commodity."""

    model_config = ConfigDict(validate_by_name=True)

    name: StoredName


class FootballerMarket(FootballerListing, TickerFields):
    """``GET /markets/{material}`` for a footballer: the ticker, and the goals scored so far."""

    model_config = ConfigDict(validate_by_name=True)

    name: StoredName
    team: StoredName
    person_id: StoredPersonId | None = None
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
