"""Market history and a player's fills: candles, 24-hour figures and the fill feed (DESIGN §5)."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple

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


HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
KEPT_HOURS: Final = 25
"""The hours a market keeps figures for: the latest with trades and the 24 before it, so the hour
holding the start of any 24-hour window that reaches the present is among them."""


class HourFigures(NamedTuple):
    """Open, high, low, close and volume of one market's trades in one UTC hour: open is a price of
    its earliest trade, close of its latest (by execution time; trades settled in one millisecond in
    the order they settled). The matcher keeps them on the market item (:func:`roll_hours`), so the
    24-hour figures are read without reading a day of trades."""

    hour_ms: int
    """The hour's start, in milliseconds since the epoch."""
    open: int
    high: int
    low: int
    close: int
    volume: int
    first_ms: int = 0
    """When its earliest trade executed (what a later settlement stamped earlier, by another
    instance's clock, is compared with)."""
    last_ms: int = 0
    """When its latest trade executed."""


def roll_hours(
    hours: Sequence[HourFigures], at_ms: int, trades: Iterable[tuple[int, int]]
) -> tuple[HourFigures, ...]:
    """``hours`` after ``trades`` (price, quantity, in the order they settled) executed at ``at_ms``:
    the hour holding ``at_ms`` gains them, and only the :data:`KEPT_HOURS` hours ending with the
    latest that has trades are kept, oldest first."""
    settled = list(trades)
    by_hour = {figures.hour_ms: figures for figures in hours}
    if settled:
        hour = at_ms - at_ms % HOUR_MS
        prices = [price for price, _ in settled]
        volume = sum(quantity for _, quantity in settled)
        was = by_hour.get(hour)
        if was is None:
            by_hour[hour] = HourFigures(
                hour, prices[0], max(prices), min(prices), prices[-1], volume, at_ms, at_ms
            )
        else:
            earlier, later = at_ms < was.first_ms, at_ms >= was.last_ms
            by_hour[hour] = HourFigures(
                hour,
                prices[0] if earlier else was.open,
                max(was.high, *prices),
                min(was.low, *prices),
                prices[-1] if later else was.close,
                was.volume + volume,
                at_ms if earlier else was.first_ms,
                at_ms if later else was.last_ms,
            )
    if not by_hour:
        return ()
    oldest = max(by_hour) - (KEPT_HOURS - 1) * HOUR_MS
    return tuple(by_hour[h] for h in sorted(by_hour) if h >= oldest)


def day_window(now_ms: int) -> tuple[int, int]:
    """The 24 hours up to ``now_ms`` (both ends included), and the start of the hour holding the
    window's start: the one hour whose trades are read one by one (the hours after it are whole)."""
    start = now_ms - DAY_MS
    return start, start - start % HOUR_MS


def day_figures_of(
    hours: Sequence[HourFigures], edge_trades: Sequence[Trade], now_ms: int
) -> DayFigures | None:
    """The 24-hour figures at ``now_ms`` from a market's kept hours and the trades of the window's
    first hour that fall inside it (oldest first; see :func:`day_window`), with no trade read from
    the hours after it."""
    start, edge = day_window(now_ms)
    pieces = [
        (trade.price, trade.price, trade.price, trade.price, trade.quantity)
        for trade in edge_trades
        if start <= int(trade.executed_at.timestamp() * 1000) <= now_ms
    ]
    pieces += [(h.open, h.high, h.low, h.close, h.volume) for h in hours if edge < h.hour_ms <= now_ms]
    if not pieces:
        return None
    return DayFigures(
        change=pieces[-1][3] - pieces[0][0],
        high=max(piece[1] for piece in pieces),
        low=min(piece[2] for piece in pieces),
        volume=sum(piece[4] for piece in pieces),
    )


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
