"""Response bodies of DESIGN §5 that are views over several records."""

from datetime import datetime

from mercato.models.accounts import Balance
from mercato.models.base import WireModel
from mercato.models.events import GoalRecord
from mercato.models.money import MaterialId, NonNegative, Price
from mercato.models.orders import Order
from mercato.models.trades import Trade


class Level(WireModel):
    """One aggregated price level: total quantity and how many orders make it up."""

    price: Price
    quantity: NonNegative
    orders: NonNegative


class BookView(WireModel):
    material: MaterialId
    bids: list[Level]
    asks: list[Level]


class TradesView(WireModel):
    trades: list[Trade]
    next_cursor: str | None = None
    """Pass back as ``cursor`` for older trades; ``None`` on the last page."""


class GoalsView(WireModel):
    """``GET /markets/{material}/goals``: a footballer's goals, in the order they were posted."""

    material: MaterialId
    goals: list[GoalRecord]


class OrderPage(WireModel):
    orders: list[Order]
    next_cursor: str | None = None
    """Pass back as ``cursor`` for the next page; ``None`` on the last page."""


class AccountView(WireModel):
    player_id: str
    balances: dict[str, Balance]


class ErrorDetail(WireModel):
    code: str
    message: str


class ErrorBody(WireModel):
    error: ErrorDetail


class StandingView(WireModel):
    """A player's place on one window's board: ``score`` is what is ranked (the portfolio value for
    ``all``, its gain net of deposits and withdrawals for ``day`` and ``week``); ``value`` is the
    portfolio value in coins."""

    rank: int
    player_id: str
    score: int
    value: int


class LeaderboardView(WireModel):
    window: str
    generated_at: datetime | None
    """When the board served was computed (``None``: no rollup has run yet)."""
    since: datetime | None
    """The start of the gains ranked (``day`` and ``week``)."""
    standings: list[StandingView]


class MyAccountView(AccountView):
    """``GET /accounts/me``: balances, and the player's standing per leaderboard window."""

    ranks: dict[str, StandingView]
