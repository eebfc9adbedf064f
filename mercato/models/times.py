"""Instants as Unix milliseconds, the exchange's one integer clock (storage keys and the matcher's
clock use it alike)."""

from datetime import UTC, datetime
from decimal import Decimal


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int | Decimal) -> datetime:
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
