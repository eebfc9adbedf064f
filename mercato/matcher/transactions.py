"""Settlement transactions as values: what one all-or-nothing settlement write changes, in the
domain's words (pure; no tables, attribute names or expressions).

The planner (:mod:`mercato.matcher.settlement`) produces a list of :class:`Settlement` values; a
store's ``commit`` applies one of them whole or not at all. Every part carries what it expects to find,
and a store must refuse the whole transaction (:class:`~mercato.models.errors.StateMoved`) when any
expectation does not hold:

- a :class:`BookChange` expects the order to rest with exactly ``expected`` remaining;
- a :class:`NewOrder` expects neither its book entry nor its order record to exist;
- an :class:`OrderChange` expects the order record to be open;
- a :class:`BalanceDelta` expects the balance not to go negative where it decreases (it creates the
  balance at zero when it only increases);
- a :class:`TradeRecord` and a :class:`FillRecord` expect not to exist yet;
- a :class:`FillSequence` expects the player's fill sequence to be ``expected`` (0: none yet);
- each goal of :attr:`MarketDelta.goals_applied` expects its goal event not to be applied yet;
- the :class:`MarketDelta` expects the market to exist at ``expected_version`` (a market without a
  version counts as version 0) and leaves it at ``expected_version + 1``.
"""

from dataclasses import dataclass

from mercato.models.history import HourFigures
from mercato.models.orders import Order, OrderStatus, Side


@dataclass(frozen=True)
class Ticker:
    """The top of the book after a settlement."""

    best_bid: int | None
    best_ask: int | None
    bid_known: bool = True
    ask_known: bool = True
    """A side the matcher could not see to its end is written after the commit, from a fresh read."""


@dataclass(frozen=True)
class BookChange:
    """A resting order's remaining goes from ``expected`` to ``left`` (0: it leaves the book)."""

    order_id: str
    side: Side
    price: int
    expected: int
    left: int


@dataclass(frozen=True)
class NewOrder:
    """An order the house posts in this transaction, as it stands at its end: its book entry is
    written only if some of it still rests (``order.quantity - order.filled_quantity``)."""

    order: Order
    house: bool = True

    @property
    def remaining(self) -> int:
        return self.order.quantity - self.order.filled_quantity


@dataclass(frozen=True)
class OrderChange:
    """An open order's record gains fills and, when ``status`` is given, closes with it."""

    player_id: str
    order_id: str
    filled_quantity: int
    filled_notional: int
    status: OrderStatus | None = None


@dataclass(frozen=True)
class BalanceDelta:
    """A player's ``available`` and ``reserved`` of one asset move by these amounts."""

    player_id: str
    asset: str
    available: int
    reserved: int


@dataclass(frozen=True)
class TradeRecord:
    """One fill between a taker and a resting maker, recorded once."""

    trade_id: str
    taker_order_id: str
    maker_order_id: str
    maker_side: Side
    maker_price: int
    price: int
    quantity: int
    taker_side: Side
    buy_order_id: str
    sell_order_id: str
    buyer_id: str
    seller_id: str
    fee: int


@dataclass(frozen=True)
class FillRecord:
    """A player's own record of one of their fills, numbered by their fill sequence."""

    player_id: str
    seq: int
    fill_id: str
    trade_id: str
    order_id: str
    side: Side
    price: int
    quantity: int
    fee: int


@dataclass(frozen=True)
class FillSequence:
    """A player's fill sequence goes from ``expected`` (0: none recorded yet) to ``last``."""

    player_id: str
    expected: int
    last: int


@dataclass(frozen=True)
class HouseQuote:
    """A house quote the market item lists: order id and where it rests."""

    order_id: str
    side: Side
    price: int


@dataclass(frozen=True)
class MarketDelta:
    fees: int
    volume: int
    last_price: int | None
    goals_applied: tuple[str, ...]
    """Goal event ids applied in this transaction; the market's goal count rises by as many."""
    quotes_added: tuple[HouseQuote, ...]
    quotes_removed: tuple[str, ...]
    """Order ids of house quotes the market item no longer lists."""
    ticker: Ticker | None
    """Set by the last transaction of a plan only."""
    expected_version: int
    hours: tuple[HourFigures, ...] | None = None
    """The market's hourly figures with this transaction's trades in them; ``None``: no trades, no
    change."""


@dataclass(frozen=True)
class Settlement:
    """One all-or-nothing settlement write for one material."""

    material: str
    at_ms: int
    """When it was planned: the time of its trades, fills, posted orders and closed records."""
    book: tuple[BookChange, ...]
    new_orders: tuple[NewOrder, ...]
    orders: tuple[OrderChange, ...]
    balances: tuple[BalanceDelta, ...]
    trades: tuple[TradeRecord, ...]
    fill_sequences: tuple[FillSequence, ...]
    fills: tuple[FillRecord, ...]
    market: MarketDelta

    def writes(self) -> int:
        """How many items it writes (a posted order writes its record, and its book entry if it
        rests)."""
        return (
            len(self.book)
            + len(self.new_orders)
            + sum(1 for new in self.new_orders if new.remaining > 0)
            + len(self.orders)
            + len(self.balances)
            + len(self.trades)
            + len(self.fill_sequences)
            + len(self.fills)
            + len(self.market.goals_applied)
            + 1
        )
