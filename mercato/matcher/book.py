"""The pure crossing engine: one material's order book in price-time priority.

The book does no I/O. It takes orders and cancels and returns what happened as values
(:class:`Fill` and :class:`Cancel`); settlement turns those into conditional DynamoDB writes.

Rules (DESIGN §3):

- Orders are submitted in arrival order, which is order-id order (UUIDv7). A new order trades with
  the best-priced, oldest resting order on the other side while the prices cross.
- A trade executes at the resting (older) order's price. A buyer whose limit was higher gets the
  difference on the filled quantity back at once (``Fill.buyer_refund``). A house quote that crosses
  on arrival (a re-quote meeting an order that outlived the old ladder) trades at its own price
  instead (:attr:`BookOrder.quote`): the house trades only where it quotes.
- Self-trade prevention: when the best opposite order belongs to the same player, the newer of the
  two, which is always the incoming order, is cancelled; its fills so far stand.
- ``GTC`` rests what it cannot fill. ``IOC`` trades what it can and the rest is cancelled. ``FOK``
  trades only if it can fill completely against other players' orders; otherwise nothing trades.
- ``expires_at`` (milliseconds): at every step at time ``now``, each resting order with
  ``expires_at <= now`` expires first, in (expiry, order id) order, before anything trades; an
  incoming order that is already due expires without trading.
- The fee is ``price × quantity × fee_bps // 10_000``, taken from the seller's proceeds.

Each side keeps a ``SortedList`` of signed prices (asks ``+p``, bids ``-p``, so index 0 is the best)
and a dict from signed price to a FIFO level. Cancelled orders are removed lazily from their level's
queue, which keeps a cancel O(1) apart from an emptied level.
"""

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from typing import NamedTuple

from sortedcontainers import SortedList

from mercato.models.ids import UUID7_PATTERN, order_id_millis
from mercato.models.money import BPS_DENOMINATOR
from mercato.models.orders import CancelReason, Side, TimeInForce

BUY = Side.BUY
SELL = Side.SELL
GTC = TimeInForce.GTC
FOK = TimeInForce.FOK


_UUID7 = re.compile(UUID7_PATTERN)


class BookOrder(NamedTuple):
    """An order as the engine sees it: ``quantity`` is what can still trade."""

    order_id: str
    player_id: str
    side: Side
    price: int
    quantity: int
    time_in_force: TimeInForce = GTC
    expires_at: int | None = None
    """Unix milliseconds; the order stops trading at this instant."""
    quote: bool = False
    """A house quote (DESIGN §6): when it crosses resting orders on arrival it trades at its own price,
    as if it had rested first, so the house only ever trades at the prices it quotes around F and the
    resting order gets the improvement (a buyer the difference back)."""


class Maker(NamedTuple):
    """A resting order a FOK order would meet."""

    order_id: str
    player_id: str


FokFits = Callable[[BookOrder, list[Maker]], bool]


class Fill(NamedTuple):
    """A trade between an incoming (taker) order and a resting (maker) order."""

    buy_order_id: str
    sell_order_id: str
    buyer_id: str
    seller_id: str
    price: int
    quantity: int
    taker_side: Side
    fee: int
    """Taken from the seller's proceeds: ``price × quantity × fee_bps // 10_000``."""
    buyer_refund: int
    """Reserved coins returned to the buyer: ``(buy limit − price) × quantity``."""

    @property
    def notional(self) -> int:
        return self.price * self.quantity


class Cancel(NamedTuple):
    """An order (or its remainder) leaving the book without trading."""

    order_id: str
    player_id: str
    side: Side
    price: int
    quantity: int
    """The quantity cancelled: what the order still had."""
    reason: CancelReason

    @property
    def released(self) -> int:
        """What goes back from reserved to available: coins for a buy, items for a sell."""
        return self.price * self.quantity if self.side is BUY else self.quantity


Event = Fill | Cancel


class _Resting:
    __slots__ = ("expires_at", "order_id", "player_id", "price", "remaining", "side")

    def __init__(self, order: BookOrder, remaining: int) -> None:
        self.order_id = order.order_id
        self.player_id = order.player_id
        self.side = order.side
        self.price = order.price
        self.remaining = remaining
        self.expires_at = order.expires_at


class _Level:
    __slots__ = ("entries", "quantity")

    def __init__(self) -> None:
        self.entries: deque[_Resting] = deque()
        self.quantity = 0


class OrderBook:
    """One material's book. Not thread-safe: a material has one writer (DESIGN §1)."""

    __slots__ = (
        "_ask_prices",
        "_asks",
        "_bid_prices",
        "_bids",
        "_expiries",
        "_last_id",
        "_orders",
        "fee_bps",
        "fok_fits",
    )

    def __init__(self, fee_bps: int = 0, fok_fits: FokFits | None = None) -> None:
        self.fee_bps = fee_bps
        self.fok_fits = fok_fits
        """Whether a FOK order's fills, against these makers, can settle together (the matcher's
        transaction limit); one that cannot is cancelled as unfilled, in its turn. None: no limit."""
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_prices: SortedList[int] = SortedList()  # -price: best (highest) bid first
        self._ask_prices: SortedList[int] = SortedList()  # +price: best (lowest) ask first
        self._orders: dict[str, _Resting] = {}
        self._expiries: list[tuple[int, str, _Resting]] = []
        self._last_id = ""

    # -- commands ------------------------------------------------------------------------------

    def submit(self, order: BookOrder, now: int = 0) -> list[Event]:
        """Match ``order`` against the book, rest or cancel what is left, and say what happened."""
        order_id = order.order_id
        if order_id <= self._last_id:
            raise ValueError(f"order {order_id} arrived after {self._last_id}: submit in order-id order")
        self._last_id = order_id
        events: list[Event] = []
        if self._expiries and self._expiries[0][0] <= now:
            self._expire_due(now, events)
        expires_at = order.expires_at
        if expires_at is not None and expires_at <= now:
            events.append(
                Cancel(
                    order_id, order.player_id, order.side, order.price, order.quantity, CancelReason.EXPIRED
                )
            )
            return events

        price = order.price
        if order.side is BUY:
            prices, levels, sign = self._ask_prices, self._asks, 1
            crosses = bool(prices) and prices[0] <= price
        else:
            prices, levels, sign = self._bid_prices, self._bids, -1
            crosses = bool(prices) and -prices[0] >= price

        remaining = order.quantity
        if crosses:
            tif = order.time_in_force
            if tif is FOK:
                makers = self._fok_makers(order, prices, levels, sign)
                if makers is None or (self.fok_fits is not None and not self.fok_fits(order, makers)):
                    events.append(
                        Cancel(
                            order_id, order.player_id, order.side, price, remaining, CancelReason.FOK_UNFILLED
                        )
                    )
                    return events
            remaining, blocked = self._take(order, prices, levels, sign, events)
            if blocked:
                events.append(
                    Cancel(order_id, order.player_id, order.side, price, remaining, CancelReason.SELF_TRADE)
                )
                return events
        if remaining:
            if order.time_in_force is GTC:
                self._rest(order, remaining)
            else:
                reason = (
                    CancelReason.FOK_UNFILLED if order.time_in_force is FOK else CancelReason.IOC_REMAINDER
                )
                events.append(Cancel(order_id, order.player_id, order.side, price, remaining, reason))
        return events

    def cancel(self, order_id: str, reason: CancelReason = CancelReason.USER) -> Cancel | None:
        """Take a resting order off the book; ``None`` if it is not resting (filled, gone, unknown)."""
        entry = self._orders.get(order_id)
        if entry is None:
            return None
        cancelled = Cancel(entry.order_id, entry.player_id, entry.side, entry.price, entry.remaining, reason)
        self._remove(entry)
        return cancelled

    def expire(self, now: int) -> list[Cancel]:
        """Expire every resting order due at ``now``, in (expiry, order id) order."""
        events: list[Event] = []
        self._expire_due(now, events)
        return [event for event in events if isinstance(event, Cancel)]

    # -- queries -------------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return -self._bid_prices[0] if self._bid_prices else None

    def best_ask(self) -> int | None:
        return self._ask_prices[0] if self._ask_prices else None

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def remaining(self, order_id: str) -> int:
        entry = self._orders.get(order_id)
        return 0 if entry is None else entry.remaining

    def resting(self) -> Iterator[BookOrder]:
        """Every resting order, bids best first then asks best first, each level oldest first."""
        for prices, levels in ((self._bid_prices, self._bids), (self._ask_prices, self._asks)):
            for key in prices:
                for entry in levels[key].entries:
                    if entry.remaining:
                        yield BookOrder(
                            entry.order_id,
                            entry.player_id,
                            entry.side,
                            entry.price,
                            entry.remaining,
                            GTC,
                            entry.expires_at,
                        )

    def depth(self, side: Side, levels: int) -> list[tuple[int, int]]:
        """The best ``levels`` price levels of one side as ``(price, quantity)``."""
        prices, book, sign = (
            (self._bid_prices, self._bids, -1) if side is BUY else (self._ask_prices, self._asks, 1)
        )
        return [(sign * key, book[key].quantity) for key in prices.islice(0, levels)]

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the book's own bookkeeping is inconsistent or it is crossed."""
        seen = 0
        for prices, levels, sign, side in (
            (self._bid_prices, self._bids, -1, BUY),
            (self._ask_prices, self._asks, 1, SELL),
        ):
            assert list(prices) == sorted(levels), "price index and levels disagree"
            for key, level in levels.items():
                live = [entry for entry in level.entries if entry.remaining]
                assert live, f"empty level {sign * key} kept"
                assert level.quantity == sum(entry.remaining for entry in live), "level quantity drifted"
                ids = [entry.order_id for entry in live]
                assert ids == sorted(ids), "time priority broken within a level"
                for entry in live:
                    assert entry.remaining > 0
                    assert entry.side is side
                    assert entry.price == sign * key
                    assert self._orders.get(entry.order_id) is entry, "order index out of step"
                seen += len(live)
        assert seen == len(self._orders), "order index holds orders that are not on the book"
        bid, ask = self.best_bid(), self.best_ask()
        assert bid is None or ask is None or bid < ask, f"book crossed at rest: bid {bid} >= ask {ask}"

    # -- internals -----------------------------------------------------------------------------

    def _take(
        self,
        order: BookOrder,
        prices: SortedList[int],
        levels: dict[int, _Level],
        sign: int,
        events: list[Event],
    ) -> tuple[int, bool]:
        """Fill ``order`` against crossing resting orders until it is done, the prices stop crossing
        or its own order is next; return what is left and whether its own order stopped it."""
        remaining = order.quantity
        limit = order.price
        at_own_price = order.quote
        taker = order.player_id
        fee_bps = self.fee_bps
        is_buy = order.side is BUY
        orders = self._orders
        while remaining and prices:
            key = prices[0]
            level_price = sign * key
            if (level_price > limit) if is_buy else (level_price < limit):
                break
            level = levels[key]
            entries = level.entries
            while entries:
                maker = entries[0]
                if not maker.remaining:
                    entries.popleft()
                    continue
                if maker.player_id == taker:
                    return remaining, True
                quantity = remaining if remaining < maker.remaining else maker.remaining
                price = limit if at_own_price else level_price
                notional = price * quantity
                fee = notional * fee_bps // BPS_DENOMINATOR
                if is_buy:
                    events.append(
                        Fill(
                            order.order_id,
                            maker.order_id,
                            taker,
                            maker.player_id,
                            price,
                            quantity,
                            BUY,
                            fee,
                            (limit - price) * quantity,
                        )
                    )
                else:
                    events.append(
                        Fill(
                            maker.order_id,
                            order.order_id,
                            maker.player_id,
                            taker,
                            price,
                            quantity,
                            SELL,
                            fee,
                            (level_price - price) * quantity,
                        )
                    )
                remaining -= quantity
                maker.remaining -= quantity
                level.quantity -= quantity
                if not maker.remaining:
                    entries.popleft()
                    del orders[maker.order_id]
                if not remaining:
                    break
            if not level.quantity:
                del levels[key]
                del prices[0]
        return remaining, False

    @staticmethod
    def _fok_makers(
        order: BookOrder, prices: SortedList[int], levels: dict[int, _Level], sign: int
    ) -> list[Maker] | None:
        """The resting orders that would fill all of ``order``, in the order it would meet them;
        ``None`` when other players' orders cannot fill it before prices stop crossing or the
        player's own order comes first (and self-trade prevention would stop it)."""
        wanted = order.quantity
        found = 0
        makers: list[Maker] = []
        for key in prices:
            level_price = sign * key
            if (level_price > order.price) if order.side is BUY else (level_price < order.price):
                break
            for entry in levels[key].entries:
                if not entry.remaining:
                    continue
                if entry.player_id == order.player_id:
                    return None
                makers.append(Maker(entry.order_id, entry.player_id))
                found += entry.remaining
                if found >= wanted:
                    return makers
        return None

    def _rest(self, order: BookOrder, remaining: int) -> None:
        entry = _Resting(order, remaining)
        if order.side is BUY:
            key, levels, prices = -order.price, self._bids, self._bid_prices
        else:
            key, levels, prices = order.price, self._asks, self._ask_prices
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level()
            prices.add(key)
        level.entries.append(entry)
        level.quantity += remaining
        self._orders[order.order_id] = entry
        if order.expires_at is not None:
            heappush(self._expiries, (order.expires_at, order.order_id, entry))

    def _remove(self, entry: _Resting) -> None:
        """Take a live entry off the book (lazily: its queue drops it when it reaches the front)."""
        if entry.side is BUY:
            key, levels, prices = -entry.price, self._bids, self._bid_prices
        else:
            key, levels, prices = entry.price, self._asks, self._ask_prices
        level = levels[key]
        level.quantity -= entry.remaining
        entry.remaining = 0
        del self._orders[entry.order_id]
        if not level.quantity:
            del levels[key]
            prices.remove(key)

    def _expire_due(self, now: int, events: list[Event]) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, _, entry = heappop(expiries)
            if entry.remaining:
                events.append(
                    Cancel(
                        entry.order_id,
                        entry.player_id,
                        entry.side,
                        entry.price,
                        entry.remaining,
                        CancelReason.EXPIRED,
                    )
                )
                self._remove(entry)


class Uncrossed(NamedTuple):
    """What uncrossing a material's orders produced, and the book left at rest."""

    events: list[Event]
    book: OrderBook

    @property
    def fills(self) -> list[Fill]:
        return [event for event in self.events if isinstance(event, Fill)]

    @property
    def cancels(self) -> list[Cancel]:
        return [event for event in self.events if isinstance(event, Cancel)]


def uncross(
    orders: Iterable[BookOrder], *, fee_bps: int, now: int, fok_fits: FokFits | None = None
) -> Uncrossed:
    """Replay a material's open orders in order-id order and return what happened.

    This is the matcher's view of a book read from DynamoDB: the orders that already rested do not
    cross one another, so they replay without trading, and the new arrivals trade in arrival order.
    Running it again on its own result produces nothing: uncrossing is idempotent.

    Each order is submitted at its arrival, the millisecond its UUIDv7 id carries (never later than
    ``now``, never before the order replayed before it), so expiry is judged where the order
    arrived, not where the matcher happened to reach it: a good-till-date order that crossed when it
    arrived trades however late its settlement runs, and a resting one is live for every order that
    arrived before its expiry (a reviewer's find: a settlement 1 s late expired a crossing GTD order
    unfilled). What is still due at ``now`` is released at the end.
    """
    book = OrderBook(fee_bps, fok_fits)
    events: list[Event] = []
    at = 0
    for order in sorted(orders, key=lambda o: o.order_id):
        arrived = arrival_ms(order.order_id)
        at = now if arrived is None else min(now, max(at, arrived))
        events.extend(book.submit(order, at))
    events.extend(book.expire(now))
    return Uncrossed(events, book)


def arrival_ms(order_id: str) -> int | None:
    """When an order arrived: the milliseconds of its UUIDv7 id; ``None`` for an id that is not one
    (a test's hand-written id), which is then judged at ``now``."""
    if not _UUID7.fullmatch(order_id):
        return None
    return order_id_millis(order_id)
