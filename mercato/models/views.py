"""Response bodies of DESIGN §5 that are views over several records."""

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
