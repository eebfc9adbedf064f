"""Market history and a player's fills: candles, 24-hour figures and the fill feed (DESIGN §5)."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import Field

from mercato.models.base import Timestamp, WireModel
from mercato.models.ids import OrderId
from mercato.models.money import MaterialId, NonNegative, Price, Quantity
from mercato.models.orders import Side
from mercato.models.trades import Trade


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
    volume: NonNegative


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


class DayFigures(NamedTuple):
    """A market's last 24 hours: ``change`` is the last trade's price minus the first's."""

    change: int
    high: int
    low: int
    volume: int


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """The start of the UTC-aligned bucket holding ``moment`` (days start at midnight UTC)."""
    width = int(interval.width.total_seconds() * 1000)
    millis = int(moment.timestamp() * 1000)
    return datetime.fromtimestamp(millis // width * width / 1000, tz=UTC)


def candles_from(trades: Iterable[Trade], interval: Interval) -> list[Candle]:
    """Aggregate trades, oldest first, into one candle per bucket that has trades."""
    candles: list[Candle] = []
    for trade in trades:
        start = bucket_start(trade.executed_at, interval)
        last = candles[-1] if candles else None
        if last is None or last.start != start:
            candles.append(
                Candle(
                    start=start,
                    open=trade.price,
                    high=trade.price,
                    low=trade.price,
                    close=trade.price,
                    volume=trade.quantity,
                )
            )
            continue
        candles[-1] = last.model_copy(
            update={
                "high": max(last.high, trade.price),
                "low": min(last.low, trade.price),
                "close": trade.price,
                "volume": last.volume + trade.quantity,
            }
        )
    return candles


def day_figures(trades: list[Trade]) -> DayFigures | None:
    """The figures of trades oldest first; ``None`` when there are none."""
    if not trades:
        return None
    prices = [trade.price for trade in trades]
    return DayFigures(
        change=prices[-1] - prices[0],
        high=max(prices),
        low=min(prices),
        volume=sum(trade.quantity for trade in trades),
    )
