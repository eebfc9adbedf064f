"""The storage port the matcher settles through."""

from dataclasses import dataclass
from typing import Any, Protocol

from mercato.matcher.book import BookOrder


class StateMoved(Exception):
    """A settlement transaction's condition failed: the book changed since it was read."""


class Busy(Exception):
    """Throttled or in conflict with another transaction: retry the same plan after a pause."""


@dataclass(frozen=True)
class MarketState:
    fee_bps: int
    best_bid: int | None
    best_ask: int | None


@dataclass(frozen=True)
class BookRead:
    """What the matcher read of one material's book: the top of each side, deep enough to hold every
    order that crosses, and whether each side was read to its end."""

    orders: list[BookOrder]
    bids_complete: bool
    asks_complete: bool


class MatcherStore(Protocol):
    def market(self, material: str) -> MarketState | None: ...
    def read_book(self, material: str) -> BookRead: ...
    def read_orders(self, material: str, keys: list[str]) -> list[BookOrder]:
        """The orders still in the book under these sort keys (consistent reads)."""
        ...

    def best_price(self, material: str, buy: bool) -> int | None: ...
    def commit(self, actions: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems``; :class:`StateMoved` or :class:`Busy` when it is cancelled."""
        ...
