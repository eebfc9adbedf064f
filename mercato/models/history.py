"""Market history and a player's fills: candles, 24-hour figures and the fill feed (DESIGN §5)."""

from datetime import timedelta
from enum import StrEnum

from pydantic import Field

from mercato.models.base import Timestamp, WireModel
from mercato.models.ids import OrderId
from mercato.models.money import MaterialId, NonNegative, Price, Quantity
from mercato.models.orders import Side


class Interval(StrEnum):
    """A candle's width."""

    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def width(self) -> timedelta:
        return {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}[self.value]


class Candle(WireModel):
    """Open, high, low, close and volume of the trades executed in ``[start, start + interval)``."""

    start: Timestamp
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Quantity


class CandlesView(WireModel):
    material: MaterialId
    interval: Interval
    candles: list[Candle]
    """Oldest first; only buckets that have trades."""


class PlayerFill(WireModel):
    """One side of a trade, as the player who traded sees it; ``fee`` is what the player paid."""

    seq: int = Field(exclude=True)
    """The player's fill sequence number: 1, 2, 3, … with no gaps."""
    fill_id: str
    trade_id: str
    order_id: OrderId
    material: MaterialId
    side: Side
    price: Price
    quantity: Quantity
    fee: NonNegative
    executed_at: Timestamp


class FillsPage(WireModel):
    fills: list[PlayerFill]
    """Oldest first."""
    cursor: str
    """Pass back as ``after`` for the fills that come after these (the same cursor when none came)."""
