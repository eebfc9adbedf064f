"""The storage port the matcher settles through."""

from dataclasses import dataclass
from typing import Any, Protocol

from mercato.matcher.book import BookOrder
from mercato.models.markets import HouseParams
from mercato.models.money import MAX_PRICE


class StateMoved(Exception):
    """A settlement transaction's condition failed: the book changed since it was read."""


class Busy(Exception):
    """Throttled or in conflict with another transaction: retry the same plan after a pause."""


@dataclass(frozen=True)
class FootballerState:
    base_value: int
    goal_value: int
    goals: int
    house: HouseParams
    house_quotes: dict[str, str]
    """The house's resting quotes as the market item records them: order id -> book key (some may
    have been filled away since; the matcher reads them to see)."""

    def fundamental(self, more_goals: int = 0) -> int:
        return min(self.base_value + self.goal_value * (self.goals + more_goals), MAX_PRICE)


@dataclass(frozen=True)
class MarketState:
    fee_bps: int
    best_bid: int | None
    best_ask: int | None
    footballer: FootballerState | None = None


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
    def pending_goals(self, material: str) -> list[str]:
        """The ids of goal events in the material's partition not applied yet, oldest first."""
        ...

    def holdings(self, player_id: str, assets: tuple[str, str]) -> tuple[int, int]:
        """Available plus reserved of each asset (consistent reads)."""
        ...

    def commit(self, actions: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems``; :class:`StateMoved` or :class:`Busy` when it is cancelled."""
        ...
