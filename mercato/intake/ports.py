"""The storage ports intake's domain functions work through, one per aggregate (STYLE rule 4).

Each method is one unit of work: a write either happens whole or not at
all, and a write conditioned on state that has moved reports it instead of applying.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mercato.models.accounts import Balance, Deposit, Withdrawal
from mercato.models.events import GoalEvent, GoalRecord
from mercato.models.history import PlayerFill
from mercato.models.markets import Market
from mercato.models.orders import Order, OrderStatus, Side
from mercato.models.trades import Trade
from mercato.models.views import Level


@dataclass(frozen=True)
class ClientOrderMarker:
    """Which order a player's ``clientOrderId`` already names, and a fingerprint of its request."""

    order_id: str
    fingerprint: str


@dataclass(frozen=True)
class Movement:
    """A recorded deposit or withdrawal."""

    asset: str
    quantity: int


@dataclass(frozen=True)
class HouseOpening:
    """What listing a footballer writes besides its market: the house's endowment and the listing
    event that wakes the matcher to post the house's first ladder."""

    player_id: str
    endowments: tuple[Deposit, ...]
    at: datetime


class ClientOrderIdTaken(Exception):
    def __init__(self, marker: ClientOrderMarker) -> None:
        super().__init__(marker.order_id)
        self.marker = marker


class TooManyTrades(Exception):
    """A history read would read more trades than it may."""


class MarketStore(Protocol):
    """The market catalog: one record per listed material."""

    def get_market(self, material: str) -> Market | None: ...
    def list_markets(self) -> list[Market]: ...
    def create_market(self, market: Market, opening: HouseOpening | None = None) -> bool:
        """Write a new market, with its house's opening if given, all or nothing; ``False`` if the
        material is already listed."""
        ...


class OrderStore(Protocol):
    """A player's orders and the book they rest in: placing reserves, cancelling releases."""

    def place_order(self, order: Order, *, asset: str, amount: int, fingerprint: str | None) -> None:
        """Reserve ``amount`` of ``asset`` and write the order, all or nothing.

        Raises :class:`~mercato.models.errors.InsufficientBalance` when the available amount is short
        and :class:`ClientOrderIdTaken` when the order's client order id is already in use."""
        ...

    def get_client_order(self, player_id: str, client_order_id: str) -> ClientOrderMarker | None: ...
    def get_order(self, player_id: str, order_id: str) -> Order | None: ...
    def list_orders(
        self, player_id: str, status: OrderStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        """The player's orders (of ``status``, if given), newest first, from ``cursor`` on; the cursor
        of the next page or ``None``. A cursor this store did not return raises ``ValueError``."""
        ...

    def resting_quantity(self, order: Order) -> int | None:
        """What the book still holds of ``order`` (a consistent read); ``None`` once it left the book."""
        ...

    def cancel_order(self, order: Order, remaining: int, *, at: datetime) -> None:
        """Take ``remaining`` off the book and release its reservation, conditional on the book still
        holding exactly ``remaining`` and the order still open; raise
        :class:`~mercato.models.errors.StateMoved` if not."""
        ...


class AccountStore(Protocol):
    """A player's account: balances per asset, deposits and withdrawals once per id, and fills."""

    def balances(self, player_id: str) -> dict[str, Balance]: ...
    def deposit(self, player_id: str, deposit: Deposit, *, at: datetime) -> bool:
        """Credit once; ``False`` if the deposit id was already used."""
        ...

    def get_deposit(self, player_id: str, deposit_id: str) -> Movement | None: ...
    def withdraw(self, player_id: str, withdrawal: Withdrawal, *, at: datetime) -> bool:
        """Debit the available amount once; ``False`` if the withdrawal id was already used.
        Raises :class:`~mercato.models.errors.InsufficientBalance` when it is short."""
        ...

    def get_withdrawal(self, player_id: str, withdrawal_id: str) -> Movement | None: ...

    def fills_after(self, player_id: str, after: int, limit: int) -> list[PlayerFill]:
        """The player's fills numbered after ``after``, in number order (consistent reads)."""
        ...

    def fill_sequence(self, player_id: str) -> int:
        """The number of the player's last fill (0 for none)."""
        ...


class MarketDataStore(Protocol):
    """What anyone may read of a market: its book's price levels and its trades."""

    def book_levels(self, material: str, side: Side, depth: int) -> list[Level]:
        """The best ``depth`` price levels of one side, best first."""
        ...

    def recent_trades(self, material: str, limit: int) -> list[Trade]: ...
    def trades_page(
        self, material: str, limit: int, cursor: str | None, start_ms: int, end_ms: int
    ) -> tuple[list[Trade], str | None]:
        """Trades executed in ``[start_ms, end_ms)``, newest first, from ``cursor`` on; the cursor of
        the next page or ``None``. A cursor this store did not return raises ``ValueError``."""
        ...

    def trades_between(self, material: str, start_ms: int, end_ms: int, at_most: int | None) -> list[Trade]:
        """Trades executed in ``[start_ms, end_ms)``, oldest first; more than ``at_most`` raises
        :class:`TooManyTrades`."""
        ...


class GoalEventStore(Protocol):
    """A footballer's goals: each posted once, in the book's partition, for the matcher to apply."""

    def put_goal_event(self, event: GoalEvent, *, at: datetime) -> bool:
        """Write the goal into the footballer's book partition; ``False`` if the event id exists."""
        ...

    def get_goal_event(self, material: str, event_id: str) -> GoalEvent | None: ...
    def goals(self, material: str) -> list[GoalRecord]:
        """The footballer's goal events, in the order they were posted."""
        ...


class IntakeStore(MarketStore, OrderStore, AccountStore, MarketDataStore, GoalEventStore, Protocol):
    """Every port intake works through, as one store implements them (DynamoDB, or in memory)."""
