"""Uncross one material's book and settle it: read, match with the pure engine, commit.

DynamoDB is the truth and a record is only a wake-up (DESIGN §1): the matcher never takes state from
a record. It reads the book (consistent), uncrosses it, and commits the plan transaction by
transaction. A condition failure means another writer moved the state: read again and uncross again.
Throttling and transaction conflicts (:class:`Busy`, on any storage call) retry the same call after a
jittered pause.
"""

import contextlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from mercato.matcher.book import BookOrder, Cancel, Fill, Maker, uncross
from mercato.matcher.house import Quote, house_player, is_house, ladder
from mercato.matcher.ports import DUE_PAGE, Busy, FootballerState, MatcherStore, PendingGoal, StateMoved
from mercato.matcher.settlement import (
    MAX_WRITES,
    FokTooLarge,
    GoalApplied,
    PlanEvent,
    Planner,
    Post,
    fok_writes,
)
from mercato.matcher.transactions import Settlement, Ticker
from mercato.models.ids import new_order_id, order_id_at
from mercato.models.money import COINS
from mercato.models.orders import CancelReason, Side, TimeInForce

P = ParamSpec("P")
T = TypeVar("T")

MAX_ROUNDS = 8
MAX_REQUOTES = 3
MAX_BUSY_RETRIES = 6
MAX_DUE_ROUNDS = 40
"""Further rounds one call settles while the due orders come a full page at a time (``DUE_PAGE``
each): 2,000 expired orders of one market released, and the ticker past them, in one wake-up."""


class SettlementFailed(Exception):
    """The book kept moving (or DynamoDB kept refusing) through every attempt."""


@dataclass(frozen=True)
class Settled:
    material: str
    fills: int
    cancels: int
    transactions: int
    rounds: int


def _fits(order: BookOrder, makers: list[Maker]) -> bool:
    """Whether a FOK order's fills settle in one transaction (else the engine cancels it, unfilled)."""
    return fok_writes(order, makers) <= MAX_WRITES


def _unfilled_fok(order: BookOrder) -> Cancel:
    """A FOK whose fills would not fit in one transaction: cancelled whole, as one that cannot fill."""
    return Cancel(
        order.order_id, order.player_id, order.side, order.price, order.quantity, CancelReason.FOK_UNFILLED
    )


def _millis() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Matcher:
    store: MatcherStore
    clock: Callable[[], int] = field(default=_millis)
    sleep: Callable[[float], None] = field(default=time.sleep)
    new_id: Callable[[], str] = field(default=new_order_id)

    def settle(self, material: str, hints: Iterable[str] = ()) -> Settled:
        """Uncross ``material`` once. ``hints`` are book keys of orders the batch announced (IOC and
        FOK arrivals that may not cross): they are read too, so they are cancelled if they rest.

        For a footballer, the same step first applies any goal not yet applied and brings the
        house's quotes to the ladder its state calls for (cancelling the old, posting the new), so no
        order ever meets a stale house quote. When a fill empties a house quote, the round runs again
        so the house re-quotes (at most ``MAX_REQUOTES`` times per call)."""
        hinted = sorted(set(hints))
        fills = cancels = transactions = requotes = due_rounds = 0
        too_large: set[str] = set()
        rounds, round_ = MAX_ROUNDS + MAX_REQUOTES, 0
        while round_ < rounds:
            round_ += 1
            market = self._patiently(self.store.market, material)
            if market is None:
                return Settled(material, fills, cancels, transactions, round_)
            pre: list[PlanEvent] = []
            forget: frozenset[str] = frozenset()
            house_resting: list[BookOrder] = []
            if market.footballer is not None:
                house_resting = self._patiently(
                    self.store.read_orders, material, sorted(market.footballer.house_quotes.values())
                )
                pre, forget = self._house_step(material, market.footballer, house_resting)
            posted = [event.order for event in pre if isinstance(event, Post)]
            read = self._patiently(
                self.store.read_book,
                material,
                bid_floor=min((o.price for o in posted if o.side is Side.SELL), default=None),
                ask_ceiling=max((o.price for o in posted if o.side is Side.BUY), default=None),
            )
            seen = {order.order_id for order in read.orders}
            now = self.clock()
            due_page = self._patiently(self.store.due, material, now)
            due = [key for key in due_page if key not in hinted]
            extra = [
                o
                for o in self._patiently(self.store.read_orders, material, hinted + due)
                if o.order_id not in seen
            ]
            if market.footballer is not None:
                # A goal posted after the pending goals were read, and an order after it that the
                # book read saw: that order must meet the goal's ladder, not the old one (no
                # condition of the commit would notice: a goal's write does not touch the market
                # item). Goals, then the book, then the goals again, all consistent: every goal
                # before an order seen is applied in this round, or the round starts again.
                applied = [event.event_id for event in pre if isinstance(event, GoalApplied)]
                pending = self._patiently(self.store.pending_goals, material)
                if [goal.event_id for goal in pending] != applied:
                    continue
            orders = {order.order_id: order for order in [*read.orders, *extra, *house_resting]}
            removed = {event.order_id for event in pre if isinstance(event, Cancel)}
            # The engine cancels a FOK whose fills would not fit one transaction, in its turn
            # (``_fits``); one the planner still found too large would be cancelled next round.
            fok_cancels = [_unfilled_fok(orders[order_id]) for order_id in sorted(too_large & set(orders))]
            pre += fok_cancels
            removed |= {event.order_id for event in fok_cancels}
            book_orders = [
                # the house's orders trade at their own price when they cross on arrival, however they
                # came (posted now, or read back behind a player's order that settles late: the
                # simulation's find, a re-quote replayed after a delayed bid sold at the bid's price)
                order._replace(quote=True) if is_house(order.player_id) else order
                for order in [o for o in orders.values() if o.order_id not in removed] + posted
            ]
            result = uncross(book_orders, fee_bps=market.fee_bps, now=now, fok_fits=_fits)
            bid, ask = result.book.best_bid(), result.book.best_ask()
            ticker = Ticker(bid, ask, read.knows_best_bid(bid), read.knows_best_ask(ask))
            events: list[PlanEvent] = [*pre, *result.events]
            unchanged = (
                ticker.bid_known and ticker.ask_known and (bid, ask) == (market.best_bid, market.best_ask)
            )
            # a footballer's first settlement commits even with nothing to do (a house with nothing
            # to quote): its version leaves 0, which is how the sweep tells a listing never settled
            first = market.footballer is not None and market.version == 0
            if not events and not forget and unchanged and not first:
                return Settled(material, fills, cancels, transactions, round_)
            filled = sorted({p for f in result.fills for p in (f.buyer_id, f.seller_id) if not is_house(p)})
            planner = Planner(
                material,
                orders,
                now,
                forget_quotes=forget,
                version=market.version,
                hours=market.hours,
                fill_seq=self._patiently(self.store.fill_sequences, filled),
            )
            try:
                plan = planner.plan(events, ticker, max_writes=MAX_WRITES)
            except FokTooLarge as error:
                too_large.add(error.order_id)
                continue
            try:
                for settlement in plan:
                    self._commit(settlement)
            except StateMoved:
                continue
            # more may be due than one page: release them in this call, so the ticker it leaves never
            # names an expired order's price (a sweep wakes a quiet market once)
            more_due = len(due_page) == DUE_PAGE and due_rounds < MAX_DUE_ROUNDS
            if not more_due and not (ticker.bid_known and ticker.ask_known):
                self._refresh_ticker(material, ticker, market.version + len(plan))
            fills += len(result.fills)
            cancels += len(result.cancels) + len(fok_cancels)
            transactions += len(plan)
            if more_due:
                due_rounds += 1
                rounds += 1
                continue
            consumed = any(
                isinstance(f, Fill) and (is_house(f.buyer_id) or is_house(f.seller_id)) for f in result.fills
            )
            if market.footballer is None or not consumed or requotes == MAX_REQUOTES:
                return Settled(material, fills, cancels, transactions, round_)
            requotes += 1
        raise SettlementFailed(f"{material}: the book kept changing through {round_} rounds")

    def _refresh_ticker(self, material: str, ticker: Ticker, version: int) -> None:
        """A side the matcher did not see to its end: read its top now that the plan is committed,
        and write it if no settlement came after the plan's (``version``, the one the plan left).
        Unconditional, a second writer's later settlement could read and write its ticker between
        this one's reads and its write, and be overwritten with the older top (a reviewer's note)."""
        bid = (
            ticker.best_bid
            if ticker.bid_known
            else self._patiently(self.store.best_price, material, buy=True)
        )
        ask = (
            ticker.best_ask
            if ticker.ask_known
            else self._patiently(self.store.best_price, material, buy=False)
        )
        with contextlib.suppress(StateMoved):  # a later settlement's ticker stands
            self._patiently(self.store.set_ticker, material, bid, ask, version)

    def _house_step(
        self, material: str, footballer: FootballerState, resting: list[BookOrder]
    ) -> tuple[list[PlanEvent], frozenset[str]]:
        """Apply pending goals and diff the house's resting quotes against its ladder."""
        goals = self._patiently(self.store.pending_goals, material)
        fundamental = footballer.fundamental(len(goals))
        player = house_player(material)
        shares, coins = self._patiently(self.store.holdings, player, (material, COINS))
        wanted = ladder(fundamental, footballer.house, shares, coins)
        events: list[PlanEvent] = [GoalApplied(goal.event_id) for goal in goals]
        kept: list[Quote] = []
        for order in sorted(resting, key=lambda o: o.order_id):
            quote = Quote(order.side, order.price, order.quantity)
            if quote in wanted and quote not in kept:
                kept.append(quote)
            else:
                events.append(
                    Cancel(
                        order.order_id,
                        player,
                        order.side,
                        order.price,
                        order.quantity,
                        CancelReason.HOUSE_REQUOTE,
                    )
                )
        missing = list(wanted)
        for quote in kept:
            missing.remove(quote)
        events += [
            Post(
                BookOrder(
                    self._quote_id(material, goals, n),
                    player,
                    quote.side,
                    quote.price,
                    quote.quantity,
                    TimeInForce.GTC,
                )
            )
            for n, quote in enumerate(missing)
        ]
        forget = frozenset(footballer.house_quotes) - {o.order_id for o in resting}
        return events, forget

    def _quote_id(self, material: str, goals: list[PendingGoal], n: int) -> str:
        """The id of the ``n``-th quote this step posts. After goals, the first applied goal's
        instant (and bits from the goals), so the orders placed after the goal replay after its
        ladder and meet it as takers, at the house's prices, however late the goal's record
        settles; before, those orders replayed first, an IOC or FOK found no house quote and a GTC
        buy rested and was filled at its own limit (a reviewer's find). Otherwise a fresh id: a
        requote is an order arriving now."""
        if not goals:
            return self.new_id()
        # the first goal's instant: with several goals applied in one step (the old ladder cancelled,
        # one new ladder for them all), every order placed after any of them meets the new ladder;
        # at the last goal's, one placed between two goals met no quote at all (a reviewer's find)
        # in ladder order (asks then bids, each best first): an order resting across the new ladder meets
        # its best quote first, at the quote's price
        return order_id_at(
            goals[0].posted_ms, material, *(goal.event_id for goal in goals), str(n), counter=n
        )

    def _commit(self, settlement: Settlement) -> None:
        self._patiently(self.store.commit, settlement)

    def _patiently(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One storage call, made again after a jittered pause while the store reports it
        :class:`Busy` (reads and writes alike: a throttled read is as transient as a throttled
        transaction)."""
        for attempt in range(MAX_BUSY_RETRIES + 1):
            try:
                return call(*args, **kwargs)
            except Busy:
                if attempt == MAX_BUSY_RETRIES:
                    raise SettlementFailed("DynamoDB stayed busy") from None
                self.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")
