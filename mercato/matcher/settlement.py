"""Stage 2: turn the engine's fills and cancels into settlement transactions (pure).

Each transaction (a :class:`~mercato.matcher.transactions.Settlement` value) is self-contained: a
fill's trade, both orders, all four balance moves and the market's fee accrue together, so every
committed prefix of a batch conserves value. Every book change expects the ``remaining`` the matcher
read (or left in the previous transaction); each trade expects not to exist yet. A replayed batch
therefore either finds its fills already settled (the book no longer crosses) or fails a condition and
re-reads: never a double fill.

Changes to one order, balance or record are merged into one part of a transaction, and transactions
are cut at ``max_writes`` items only between events. How a transaction is written is the store's
business (:mod:`mercato.matcher.dynamo` renders it to ``TransactWriteItems``).
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from mercato.matcher.book import BookOrder, Cancel, Event, Fill, Maker
from mercato.matcher.house import is_house
from mercato.matcher.transactions import (
    BalanceDelta,
    BookChange,
    FillRecord,
    FillSequence,
    HouseQuote,
    MarketDelta,
    NewOrder,
    OrderChange,
    Settlement,
    Ticker,
    TradeRecord,
)
from mercato.models.history import HourFigures, roll_hours
from mercato.models.ids import trade_id
from mercato.models.money import COINS
from mercato.models.orders import Order, OrderStatus, Side, TimeInForce, escrow
from mercato.models.times import from_millis

MAX_WRITES: Final = 100
"""Items one transaction may write: DynamoDB's ``TransactWriteItems`` limit."""


class Post(NamedTuple):
    """The house posts a quote: a new resting order, reserved from its account."""

    order: BookOrder


class GoalApplied(NamedTuple):
    """A goal event is applied to its footballer: F rises by the goal value, once."""

    event_id: str


PlanEvent = Event | Post | GoalApplied


@dataclass
class _Pending:
    """One transaction being assembled."""

    book: dict[str, int] = field(default_factory=dict)
    """order id -> remaining after this transaction."""
    start: dict[str, int] = field(default_factory=dict)
    """order id -> remaining before it (the condition)."""
    filled: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """order id -> [quantity, notional] filled in this transaction."""
    finished: dict[str, OrderStatus] = field(default_factory=dict)
    balances: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """(player, asset) -> [available delta, reserved delta]."""
    trades: list[TradeRecord] = field(default_factory=list)
    fees: int = 0
    volume: int = 0
    last_price: int | None = None
    new: set[str] = field(default_factory=set)
    """Orders posted in this transaction: their book item and record are written whole."""
    goals: list[str] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    """Each player's record of a fill, numbered by the player's fill sequence."""
    fill_seq: dict[str, int] = field(default_factory=dict)
    """player -> the last fill sequence number this transaction assigns."""

    def size(self) -> int:
        records = len(set(self.filled) | set(self.finished) | self.new)
        fills = len(self.fills) + len(self.fill_seq)
        return len(self.book) + records + len(self.balances) + len(self.trades) + len(self.goals) + fills + 1


def fok_writes(taker: BookOrder, makers: list[Maker]) -> int:
    """The items a FOK order's fills against ``makers`` write in a transaction of their own, as the
    planner folds them (:meth:`Planner.plan` cuts transactions between units, never inside one):
    each order's book item and record, two balances per player, a trade per fill, each player's fill
    record per fill and fill sequence (the house's are not kept), and the market item. The matcher
    hands it to the engine, so a FOK that could not settle in one transaction is cancelled in its
    turn, as one that cannot fill is."""
    players = {taker.player_id} | {maker.player_id for maker in makers}
    kept = [player for player in players if not is_house(player)]
    fill_records = sum((not is_house(taker.player_id)) + (not is_house(maker.player_id)) for maker in makers)
    orders = 1 + len({maker.order_id for maker in makers})
    return 2 * orders + 2 * len(players) + len(makers) + fill_records + len(kept) + 1


class FokTooLarge(Exception):
    """A fill-or-kill order's fills cannot settle in one transaction, so they cannot be all or nothing.
    The engine cancels such an order in its turn (the matcher hands it :func:`fok_writes`), so this is
    the planner's last line, for an order ``fok_writes`` counted short."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


class Planner:
    """Plans the transactions for one material's uncrossing."""

    def __init__(
        self,
        material: str,
        orders: dict[str, BookOrder],
        now_ms: int,
        *,
        forget_quotes: frozenset[str] = frozenset(),
        version: int = 0,
        fill_seq: Mapping[str, int] | None = None,
        hours: tuple[HourFigures, ...] | None = (),
    ) -> None:
        self.material = material
        self.orders = dict(orders)
        """Every order the engine saw, as read: ``quantity`` is the remaining read from the book."""
        self.now_ms = now_ms
        self.remaining = {order_id: order.quantity for order_id, order in orders.items()}
        self.forget_quotes: set[str] = set(forget_quotes)
        """House quotes the market item lists that are no longer on the book."""
        self.version = version
        """The market item's version as read; each transaction requires it and bumps it."""
        self.fill_seq = dict(fill_seq or {})
        """Each filled player's fill sequence as read (0 for none yet); every transaction requires it
        and raises it by the fills it records, so a player's fills are numbered without gaps even
        while other materials settle fills of the same player."""
        self.hours = hours
        """The market's hourly figures as read; each transaction with trades writes them with its
        trades added, so every committed prefix of a plan leaves them equal to the trades stored.
        ``None`` (a market that traded before they were kept) leaves them unwritten."""

    def plan(
        self, events: list[PlanEvent], ticker: Ticker, *, max_writes: int = MAX_WRITES
    ) -> list[Settlement]:
        """The transactions, in order, each writing at most ``max_writes`` items; the last one also
        sets the ticker. A transaction is cut only between units: a fill-or-kill order's fills are one
        unit, every other event its own."""
        transactions: list[Settlement] = []
        pending = _Pending()
        self.orders |= {event.order.order_id: event.order for event in events if isinstance(event, Post)}
        for unit in self._units(events):
            trial = pending
            for event in unit:
                trial = self._with(trial, event)
            if trial.size() > max_writes:
                transactions.append(self._settlement(pending, None))
                trial = self._alone(unit)
                if trial.size() > max_writes:  # the engine cancels these first (``fok_writes``)
                    raise FokTooLarge(self._taker(unit[0]) if isinstance(unit[0], Fill) else "")
            pending = trial
        transactions.append(self._settlement(pending, ticker))
        return transactions

    def _alone(self, unit: list[PlanEvent]) -> _Pending:
        """The unit folded into an empty transaction."""
        trial = _Pending()
        for event in unit:
            trial = self._with(trial, event)
        return trial

    def _taker(self, fill: Fill) -> str:
        return fill.buy_order_id if fill.taker_side is Side.BUY else fill.sell_order_id

    def _units(self, events: list[PlanEvent]) -> list[list[PlanEvent]]:
        units: list[list[PlanEvent]] = []
        for event in events:
            if (
                isinstance(event, Fill)
                and units
                and isinstance(units[-1][0], Fill)
                and self._taker(units[-1][0]) == self._taker(event)
                and self.orders[self._taker(event)].time_in_force is TimeInForce.FOK
            ):
                units[-1].append(event)
            else:
                units.append([event])
        return units

    # -- folding events into a pending transaction -------------------------------------------

    def _with(self, pending: _Pending, event: PlanEvent) -> _Pending:
        trial = _Pending(
            book=dict(pending.book),
            start=dict(pending.start),
            filled=defaultdict(lambda: [0, 0], {k: list(v) for k, v in pending.filled.items()}),
            finished=dict(pending.finished),
            balances=defaultdict(lambda: [0, 0], {k: list(v) for k, v in pending.balances.items()}),
            trades=list(pending.trades),
            fees=pending.fees,
            volume=pending.volume,
            last_price=pending.last_price,
            new=set(pending.new),
            goals=list(pending.goals),
            fills=list(pending.fills),
            fill_seq=dict(pending.fill_seq),
        )
        if isinstance(event, Fill):
            self._fill(trial, event)
        elif isinstance(event, Cancel):
            self._cancel(trial, event)
        elif isinstance(event, Post):
            self._post(trial, event.order)
        else:
            trial.goals.append(event.event_id)
        return trial

    def _post(self, pending: _Pending, order: BookOrder) -> None:
        self.orders[order.order_id] = order
        self.remaining[order.order_id] = 0
        pending.new.add(order.order_id)
        pending.start[order.order_id] = 0
        pending.book[order.order_id] = order.quantity
        asset, amount = escrow(order.side, self.material, order.price, order.quantity)
        balance = pending.balances[(order.player_id, asset)]
        balance[0] -= amount
        balance[1] += amount

    def _take(self, pending: _Pending, order_id: str, quantity: int) -> int:
        if order_id not in pending.book:
            pending.start[order_id] = pending.book[order_id] = self.remaining[order_id]
        pending.book[order_id] -= quantity
        return pending.book[order_id]

    def _fill(self, pending: _Pending, fill: Fill) -> None:
        material = self.material
        notional = fill.notional
        for order_id in (fill.buy_order_id, fill.sell_order_id):
            left = self._take(pending, order_id, fill.quantity)
            pending.filled[order_id][0] += fill.quantity
            pending.filled[order_id][1] += notional
            if left == 0:
                pending.finished[order_id] = OrderStatus.FILLED
        buyer_coins = pending.balances[(fill.buyer_id, COINS)]
        buyer_coins[0] += fill.buyer_refund
        buyer_coins[1] -= notional + fill.buyer_refund
        pending.balances[(fill.buyer_id, material)][0] += fill.quantity
        pending.balances[(fill.seller_id, material)][1] -= fill.quantity
        pending.balances[(fill.seller_id, COINS)][0] += notional - fill.fee
        taker, maker = (
            (fill.buy_order_id, fill.sell_order_id)
            if fill.taker_side is Side.BUY
            else (fill.sell_order_id, fill.buy_order_id)
        )
        maker_order = self.orders[maker]
        traded = trade_id(fill.buy_order_id, fill.sell_order_id)
        pending.trades.append(
            TradeRecord(
                trade_id=traded,
                taker_order_id=taker,
                maker_order_id=maker,
                maker_side=maker_order.side,
                maker_price=maker_order.price,
                price=fill.price,
                quantity=fill.quantity,
                taker_side=fill.taker_side,
                buy_order_id=fill.buy_order_id,
                sell_order_id=fill.sell_order_id,
                buyer_id=fill.buyer_id,
                seller_id=fill.seller_id,
                fee=fill.fee,
            )
        )
        pending.fees += fill.fee
        pending.volume += fill.quantity
        pending.last_price = fill.price
        self._record_fill(pending, fill.buyer_id, traded, fill.buy_order_id, Side.BUY, fill, 0)
        self._record_fill(pending, fill.seller_id, traded, fill.sell_order_id, Side.SELL, fill, fill.fee)

    def _record_fill(
        self, pending: _Pending, player: str, traded: str, order_id: str, side: Side, fill: Fill, fee: int
    ) -> None:
        """The player's own record of the fill, under the next number of their fill sequence (the
        house's fills are not recorded: nobody can read them)."""
        if is_house(player):
            return
        seq = pending.fill_seq.get(player, self.fill_seq.get(player, 0)) + 1
        pending.fill_seq[player] = seq
        pending.fills.append(
            FillRecord(
                player_id=player,
                seq=seq,
                fill_id=f"{traded}-{side.value[0].lower()}",
                trade_id=traded,
                order_id=order_id,
                side=side,
                price=fill.price,
                quantity=fill.quantity,
                fee=fee,
            )
        )

    def _cancel(self, pending: _Pending, cancel: Cancel) -> None:
        self._take(pending, cancel.order_id, cancel.quantity)
        pending.finished[cancel.order_id] = cancel.reason.status
        asset, released = escrow(cancel.side, self.material, cancel.price, cancel.quantity)
        balance = pending.balances[(cancel.player_id, asset)]
        balance[0] += released
        balance[1] -= released

    # -- the transaction value ------------------------------------------------------------------

    def _settlement(self, pending: _Pending, ticker: Ticker | None) -> Settlement:
        for order_id, left in pending.book.items():
            self.remaining[order_id] = left
        book = tuple(
            BookChange(order_id, order.side, order.price, pending.start[order_id], left)
            for order_id, left in pending.book.items()
            if order_id not in pending.new
            for order in (self.orders[order_id],)
        )
        records = dict.fromkeys([*pending.filled, *pending.finished, *pending.new])
        new_orders = tuple(
            NewOrder(self._new_order(self.orders[order_id], pending))
            for order_id in records
            if order_id in pending.new
        )
        orders = tuple(
            self._order_change(order_id, pending) for order_id in records if order_id not in pending.new
        )
        balances = tuple(
            BalanceDelta(player, asset, available, reserved)
            for (player, asset), (available, reserved) in pending.balances.items()
        )
        sequences = tuple(
            FillSequence(player, self.fill_seq.get(player, 0), last)
            for player, last in pending.fill_seq.items()
        )
        for player, last in pending.fill_seq.items():
            self.fill_seq[player] = last
        return Settlement(
            material=self.material,
            at_ms=self.now_ms,
            book=book,
            new_orders=new_orders,
            orders=orders,
            balances=balances,
            trades=tuple(pending.trades),
            fill_sequences=sequences,
            fills=tuple(pending.fills),
            market=self._market_delta(pending, ticker),
        )

    def _new_order(self, order: BookOrder, pending: _Pending) -> Order:
        quantity, notional = pending.filled.get(order.order_id, [0, 0])
        status = pending.finished.get(order.order_id, OrderStatus.OPEN)
        return Order(
            order_id=order.order_id,
            player_id=order.player_id,
            side=order.side,
            material=self.material,
            quantity=order.quantity,
            price=order.price,
            time_in_force=order.time_in_force,
            status=status,
            filled_quantity=quantity,
            filled_notional=notional,
            created_at=from_millis(self.now_ms),
        )

    def _order_change(self, order_id: str, pending: _Pending) -> OrderChange:
        quantity, notional = pending.filled.get(order_id, [0, 0])
        return OrderChange(
            self.orders[order_id].player_id, order_id, quantity, notional, pending.finished.get(order_id)
        )

    def _market_delta(self, pending: _Pending, ticker: Ticker | None) -> MarketDelta:
        gone = {o for o, left in pending.book.items() if left == 0 and is_house(self.orders[o].player_id)}
        gone |= self.forget_quotes
        self.forget_quotes = set()
        added = tuple(
            HouseQuote(order_id, self.orders[order_id].side, self.orders[order_id].price)
            for order_id in sorted(o for o in pending.new if pending.book[o] > 0)
        )
        expected = self.version
        self.version += 1
        hours = None
        if pending.trades and self.hours is not None:
            hours = roll_hours(self.hours, self.now_ms, ((t.price, t.quantity) for t in pending.trades))
            self.hours = hours
        return MarketDelta(
            fees=pending.fees,
            volume=pending.volume,
            last_price=pending.last_price,
            goals_applied=tuple(pending.goals),
            quotes_added=added,
            quotes_removed=tuple(sorted(gone - pending.new)),
            ticker=ticker,
            expected_version=expected,
            hours=hours,
        )
