"""The storage port the matcher settles through."""

from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from mercato.matcher.book import BookOrder
from mercato.matcher.transactions import Settlement
from mercato.models.errors import Busy, StateMoved
from mercato.models.history import HourFigures
from mercato.models.markets import HouseParams
from mercato.models.money import MAX_PRICE

__all__ = ["DUE_PAGE", "BookRead", "Busy", "FootballerState", "MarketState", "MatcherStore", "StateMoved"]

DUE_PAGE: Final = 50
"""Due orders :meth:`MatcherStore.due` returns at most: one settlement round releases them; a full
page makes the matcher settle another round (:data:`mercato.matcher.service.MAX_DUE_ROUNDS`)."""


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
    version: int = 0
    """Bumped by every settlement transaction and required by the next: a second writer on the same
    market can only fail its condition (DESIGN §1 principle 2)."""
    hours: tuple[HourFigures, ...] | None = ()
    """The hourly figures of its trades, as the last settlement left them; ``None`` when the market
    traded under a version that kept none (or kept six numbers an hour): settlement then leaves them
    alone, and ``mercato upgrade`` builds them from all its trades."""


@dataclass(frozen=True)
class BookRead:
    """What the matcher read of one material's book: the top of each side, deep enough to hold every
    order that crosses, and whether each side was read to its end."""

    orders: list[BookOrder]
    bids_complete: bool
    asks_complete: bool
    lowest_bid_read: int | None = None
    """On a side not read to its end, every unread order is at or beyond the last price read."""
    highest_ask_read: int | None = None

    def knows_best_bid(self, bid: int | None) -> bool:
        """Whether ``bid``, the engine's best bid over what was read, is the book's best bid."""
        return self.bids_complete or (
            bid is not None and self.lowest_bid_read is not None and bid >= self.lowest_bid_read
        )

    def knows_best_ask(self, ask: int | None) -> bool:
        return self.asks_complete or (
            ask is not None and self.highest_ask_read is not None and ask <= self.highest_ask_read
        )


class PendingGoal(NamedTuple):
    """A goal event not applied yet: its id, and when intake accepted it (its ladder's instant)."""

    event_id: str
    posted_ms: int


class MatcherStore(Protocol):
    """Every method may raise :class:`Busy` (throttled: retry after a pause); the writes raise
    :class:`StateMoved` when a condition fails."""

    def market(self, material: str) -> MarketState | None: ...
    def materials(self) -> list[str]:
        """Every listed material, in order (what the sweep checks for orders come due)."""
        ...

    def read_book(
        self, material: str, *, bid_floor: int | None = None, ask_ceiling: int | None = None
    ) -> BookRead:
        """Each side from its best price down to where it can no longer cross the other side, or the
        ``bid_floor`` / ``ask_ceiling`` of quotes about to be posted."""
        ...

    def read_orders(self, material: str, keys: list[str]) -> list[BookOrder]:
        """The orders still in the book under these sort keys (consistent reads)."""
        ...

    def best_price(self, material: str, buy: bool) -> int | None: ...
    def due(self, material: str, now: int) -> list[str]:
        """Book keys of orders due at or before ``now`` (good-till-date orders past their expiry, IOC
        and FOK orders a minute after they arrived), earliest first, at most :data:`DUE_PAGE`."""
        ...

    def due_materials(self, now: int) -> list[str]:
        """The materials with an order due at or before ``now``, sorted: one look at the whole
        ``by-expiry`` index (a sparse one: only orders with an expiry), for the embedded stack's
        frequent sweep; the deployed sweep asks each market (:meth:`due`), which reads no more than
        the due orders of a catalog however many good-till-date orders rest."""
        ...

    def pending_goals(self, material: str) -> list[PendingGoal]:
        """The goal events in the material's partition not applied yet, oldest first."""
        ...

    def holdings(self, player_id: str, assets: tuple[str, str]) -> tuple[int, int]:
        """Available plus reserved of each asset (consistent reads)."""
        ...

    def fill_sequences(self, players: list[str]) -> dict[str, int]:
        """Each player's fill sequence: the number of their last recorded fill, 0 for none (consistent
        reads)."""
        ...

    def set_ticker(self, material: str, best_bid: int | None, best_ask: int | None, version: int) -> None:
        """Record the top of book read after a settlement (not a settlement write), if the market's
        version is still ``version`` (the one that settlement left); :class:`StateMoved` if not: a
        later settlement read the book after this one, and its ticker stands."""
        ...

    def commit(self, settlement: Settlement) -> None:
        """Apply one settlement transaction whole, or raise :class:`StateMoved` (an expectation of
        it does not hold; nothing changed) or :class:`Busy` (nothing changed; retry)."""
        ...
