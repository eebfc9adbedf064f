"""Intake's domain functions: stage 1 of DESIGN §1 and the reads. No HTTP and no boto3 here.

Every write goes through the store as one all-or-nothing unit, so a rejected request changes nothing.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mercato import observability
from mercato.intake.ports import (
    ClientOrderIdTaken,
    HouseOpening,
    IntakeStore,
    Movement,
    TooManyTrades,
)
from mercato.leaderboard.ports import LeaderboardReader
from mercato.leaderboard.ranking import WINDOWS, Standing, Window
from mercato.matcher.house import house_player, is_house
from mercato.models.accounts import Deposit, Withdrawal
from mercato.models.errors import Conflict, Forbidden, Invalid, NotFound, StateMoved
from mercato.models.events import GoalEvent
from mercato.models.history import (
    HOUR_MS,
    KEPT_HOURS,
    CandlesView,
    FillsPage,
    Interval,
    PlayerFill,
    candles_from,
    day_figures_of,
    day_window,
)
from mercato.models.ids import new_order_id, reserved
from mercato.models.markets import CommodityListing, FootballerListing, FootballerMarket, Market, market_from
from mercato.models.money import COINS
from mercato.models.orders import MAX_EXPIRY_AHEAD, Order, OrderRequest, OrderStatus, Side
from mercato.models.times import from_millis, to_millis
from mercato.models.trades import Trade
from mercato.models.views import (
    AccountView,
    BookView,
    GoalsView,
    LeaderboardView,
    MyAccountView,
    OrderPage,
    StandingView,
    TradesView,
)

CANCEL_ATTEMPTS = 5
MAX_CANDLES = 1500
"""The most buckets one candles request may span."""
DEFAULT_CANDLES = 720
"""Without ``from``, the candles request spans this many buckets back from ``to``."""
MAX_CANDLE_TRADES = 100_000
"""The most trades one candles request aggregates; a busier range is refused, to be asked in parts."""
MAX_FILL_SEQ = 10**12 - 2
LAST_MILLIS = 10**13 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


logger = observability.logger("intake")


def _now() -> datetime:
    """Now, to the millisecond: the precision the tables keep."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def fingerprint(request: OrderRequest) -> str:
    """The identity of a request body, for ``clientOrderId`` replays."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


@dataclass
class Intake:
    store: IntakeStore
    clock: Callable[[], datetime] = field(default=_now)
    new_id: Callable[[], str] = field(default=new_order_id)
    leaderboard: LeaderboardReader | None = None
    """The rollup's boards; ``None`` where the deployment has no leaderboard."""
    wake: Callable[[str], None] | None = None
    """Wakes the matcher for a material (a record on the stream, :mod:`mercato.pipes.wake`): after a
    cancel, whose book change the pipe does not forward, so the market's ticker stops naming the
    order. ``None``: a cancel waits for the market's next order or goal to refresh it."""

    # -- markets -----------------------------------------------------------------------------

    def market(self, material: str) -> Market:
        market = self.store.get_market(material)
        if market is None:
            raise NotFound(f"no market lists '{material}'", code="unknown_material")
        return market

    def markets(self) -> list[Market]:
        return self.store.list_markets()

    def market_view(self, material: str) -> Market:
        """The market with its last 24 hours' figures."""
        return self._with_day(self.market(material))

    def market_views(self) -> list[Market]:
        return [self._with_day(market) for market in self.markets()]

    def _with_day(self, market: Market) -> Market:
        """The figures come from the hours the matcher keeps on the market item; only the trades of
        the hour the window starts in are read one by one, and only when that hour has trades."""
        if market.last_price is None:
            return market  # never traded: nothing to read
        now = to_millis(self.clock())
        start, edge = day_window(now)
        edge_trades: list[Trade] = []
        latest = max((figures.hour_ms for figures in market.hours), default=edge)
        kept_from = latest - (KEPT_HOURS - 1) * HOUR_MS
        if kept_from > edge:
            # a settlement stamped in an hour after this clock's pushed the window's first hours out
            # of the kept ones: their trades are read one by one (only while that clock is ahead)
            edge_trades = self.store.trades_between(market.material, start, kept_from, None)
        elif any(figures.hour_ms == edge for figures in market.hours):
            edge_trades = self.store.trades_between(market.material, start, edge + HOUR_MS, None)
        figures = day_figures_of(market.hours, edge_trades, now)
        if figures is None:
            return market
        return market.model_copy(
            update={
                "change24h": figures.change,
                "high24h": figures.high,
                "low24h": figures.low,
                "volume24h": figures.volume,
            }
        )

    def list_market(self, listing: CommodityListing | FootballerListing) -> tuple[Market, bool]:
        """List a material; listing the same thing again is a no-op, listing it differently a 409.

        A footballer's house is endowed with its shares and coin budget (recorded as deposits, so
        conservation holds), and a listing event in the book partition wakes the matcher, which
        posts the house's first ladder; all of it is written with the market, in one transaction."""
        market = market_from(listing)
        opening = self._house_opening(listing) if isinstance(listing, FootballerListing) else None
        created = self.store.create_market(market, opening)
        if not created:
            market = self.market(listing.material)
            asked, kept = listing.model_dump(), market.model_dump()
            if any(kept.get(name) != value for name, value in asked.items()):
                raise Conflict(f"'{listing.material}' is already listed differently", code="market_exists")
            market = self._with_day(market)  # the answer GET /markets/{material} gives
        return market, created

    def _house_opening(self, listing: FootballerListing) -> HouseOpening:
        endowments = tuple(
            Deposit.model_validate(
                {"depositId": f"house-endowment-{asset}", "asset": asset, "quantity": quantity}
            )
            for asset, quantity in (
                (listing.material, listing.house.inventory),
                (COINS, listing.house.budget),
            )
            if quantity > 0
        )
        return HouseOpening(house_player(listing.material), endowments, self.clock())

    def book(self, material: str, depth: int) -> BookView:
        self.market(material)
        return BookView(
            material=material,
            bids=self.store.book_levels(material, Side.BUY, depth),
            asks=self.store.book_levels(material, Side.SELL, depth),
        )

    def trades(
        self,
        material: str,
        limit: int,
        cursor: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> TradesView:
        """Trades executed in ``[start, end)`` (default: all of them), newest first, a page at a time."""
        self.market(material)
        low, high = _range(start, end)
        if low >= high:
            return TradesView(trades=[], next_cursor=None)
        try:
            trades, next_cursor = self.store.trades_page(material, limit, cursor, low, high)
        except (ValueError, UnicodeDecodeError) as error:
            raise Invalid(
                "the cursor is not one this API returned for this range", code="bad_cursor"
            ) from error
        return TradesView(trades=trades, next_cursor=next_cursor)

    def candles(
        self, material: str, interval: Interval, start: datetime | None, end: datetime | None
    ) -> CandlesView:
        """OHLCV per ``interval`` bucket of the trades executed in ``[start, end)``, oldest first.

        ``end`` defaults to now and ``start`` to :data:`DEFAULT_CANDLES` buckets before it, rounded
        down to a bucket's start (an explicit ``start`` is taken as it is: trades from then on); a range
        wider than :data:`MAX_CANDLES` buckets, or holding more than :data:`MAX_CANDLE_TRADES` trades,
        is refused (ask for it in parts)."""
        self.market(material)
        width = int(interval.width.total_seconds() * 1000)
        until = end or self.clock()
        if start is not None and start >= until:
            said = "to" if end is not None else "now (to's default)"
            raise Invalid(f"from must be before {said}", code="invalid_range")
        high = _millis(until)
        # the default range starts on a candle's boundary, so its first candle is a whole one
        low = max(0, (high - width * DEFAULT_CANDLES) // width * width) if start is None else _millis(start)
        if low >= high:
            return CandlesView(material=material, interval=interval, candles=[])
        if (high - 1) // width - low // width + 1 > MAX_CANDLES:  # buckets touched, not the width
            raise Invalid(
                f"the range spans more than {MAX_CANDLES} {interval} candles", code="range_too_large"
            )
        try:
            trades = self.store.trades_between(material, low, high, MAX_CANDLE_TRADES)
        except TooManyTrades:
            raise Invalid(
                f"the range holds more than {MAX_CANDLE_TRADES} trades; ask for it in parts",
                code="range_too_large",
            ) from None
        return CandlesView(material=material, interval=interval, candles=candles_from(trades, interval))

    # -- a player's fills --------------------------------------------------------------------

    def fills(self, player_id: str, after: str, limit: int) -> FillsPage:
        """The player's fills after the cursor ``after``, oldest first. The cursor is the number of the
        last fill seen: fills are numbered 1, 2, 3, … per player as they settle, so paging by it never
        skips or repeats one. A page ends before the first number missing from what was read: where
        reads may see a later fill before an earlier one (a read region's replica applies a
        transaction's items one by one), the missing fill comes in a later page instead of never."""
        if not re.fullmatch(r"[0-9]{1,12}", after) or int(after) > MAX_FILL_SEQ:
            raise Invalid("after is not a cursor this API returned", code="bad_cursor")
        seen = int(after)
        fills = self.store.fills_after(player_id, seen, limit)
        if not fills and seen > self.store.fill_sequence(player_id) and not self._has_fill(player_id, seen):
            raise Invalid("after is beyond this player's fills", code="bad_cursor")
        shown: list[PlayerFill] = []
        for fill in fills:
            if fill.seq != seen + len(shown) + 1:
                break
            shown.append(fill)
        return FillsPage(fills=shown, cursor=str(shown[-1].seq if shown else seen))

    def _has_fill(self, player_id: str, seq: int) -> bool:
        """Whether fill ``seq`` is readable: a cursor the API returned names one, even where the fill
        counter written with it is not readable yet (a read region's replica applies a transaction's
        items one at a time), so such a cursor is never refused."""
        return any(fill.seq == seq for fill in self.store.fills_after(player_id, seq - 1, 1))

    def goals(self, material: str) -> GoalsView:
        """A footballer's goal timeline; 422 for a commodity, which has none."""
        if not isinstance(self.market(material), FootballerMarket):
            raise Invalid(f"'{material}' is not a footballer", code="not_a_footballer")
        return GoalsView(material=material, goals=self.store.goals(material))

    # -- orders ------------------------------------------------------------------------------

    def place_order(self, player_id: str, request: OrderRequest) -> tuple[Order, bool]:
        """Reserve and accept ``request`` (stage 1). Returns the order and whether it is new: a
        resend with the same ``clientOrderId`` and body returns the original order instead."""
        self.market(request.material)
        print_ = fingerprint(request) if request.client_order_id is not None else None
        if request.client_order_id is not None:
            replay = self._replayed(player_id, request.client_order_id, print_)
            if replay is not None:
                return replay, False
        now = self.clock()
        if request.expires_at is not None and request.expires_at <= now:
            raise Invalid("expiresAt is already in the past", code="expiry_in_past")
        if request.expires_at is not None and request.expires_at > now + MAX_EXPIRY_AHEAD:
            raise Invalid(f"expiresAt is at most {MAX_EXPIRY_AHEAD.days} days ahead", code="expiry_too_far")
        order = Order.accept(request, order_id=self.new_id(), player_id=player_id, created_at=now)
        asset, amount = request.reservation()
        try:
            self.store.place_order(order, asset=asset, amount=amount, fingerprint=print_)
        except ClientOrderIdTaken as taken:
            return self._same_request(
                player_id, taken.marker.order_id, taken.marker.fingerprint, print_
            ), False
        return order, True

    def _replayed(self, player_id: str, client_order_id: str, print_: str | None) -> Order | None:
        marker = self.store.get_client_order(player_id, client_order_id)
        if marker is None:
            return None
        return self._same_request(player_id, marker.order_id, marker.fingerprint, print_)

    def _same_request(self, player_id: str, order_id: str, stored: str, print_: str | None) -> Order:
        if stored != print_:
            raise Conflict("this clientOrderId was used for a different order", code="client_order_id_reused")
        order = self.store.get_order(player_id, order_id)
        if order is None:  # pragma: no cover - the marker and the order are written together
            raise NotFound(f"order {order_id} not found", code="order_not_found")
        return order

    def order(self, player_id: str, order_id: str) -> Order:
        """The player's own order; another player's order id is indistinguishable from an unknown one."""
        order = self.store.get_order(player_id, order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found", code="order_not_found")
        return order

    def orders(self, player_id: str, status: OrderStatus | None, limit: int, cursor: str | None) -> OrderPage:
        try:
            orders, next_cursor = self.store.list_orders(player_id, status, limit, cursor)
        except (ValueError, UnicodeDecodeError) as error:
            raise Invalid("the cursor is not one this API returned", code="bad_cursor") from error
        return OrderPage(orders=orders, next_cursor=next_cursor)

    def cancel(self, player_id: str, order_id: str) -> Order:
        """Cancel what is left of an order and release exactly its remaining reservation.

        The cancel is conditional on the book still holding what was read; if a fill or another
        cancel got there first, it reads again, and answers 409 once the order is finished."""
        for _ in range(CANCEL_ATTEMPTS):
            order = self.order(player_id, order_id)
            if order.cancelled_by_owner:  # a retry whose first attempt succeeded: answer as it did,
                self._wake_after_cancel(order.material)  # and wake, in case it crashed before waking
                return order
            if order.status.is_final:
                raise Conflict(f"order {order_id} is already {order.status}", code="order_not_open")
            remaining = self.store.resting_quantity(order)
            if remaining is None:
                continue  # the matcher finished it between the two reads: read the record again
            try:
                self.store.cancel_order(order, remaining, at=self.clock())
            except StateMoved:
                continue
            self._wake_after_cancel(order.material)
            return self.order(player_id, order_id)  # as cancelled, with any fill that came first
        raise Conflict(f"order {order_id} kept changing; try again", code="order_busy")

    def _wake_after_cancel(self, material: str) -> None:
        """The cancel is done whatever happens here: a wake-up that fails leaves the ticker to the
        market's next settlement, and is logged."""
        if self.wake is None:
            return
        try:
            self.wake(material)
        except Exception:
            logger.exception("the wake-up after a cancel failed", material=material)

    # -- accounts ----------------------------------------------------------------------------

    def account(self, player_id: str) -> AccountView:
        return AccountView(player_id=player_id, balances=self.store.balances(player_id))

    def player_account(self, player_id: str) -> AccountView:
        """A player's account as the game server reads it: what ``/accounts/me`` shows that player,
        ranks included. The house's accounts can be read; ``me`` and dot segments name nobody."""
        _addressable(player_id)
        return self.my_account(player_id)

    def player_orders(
        self, player_id: str, status: OrderStatus | None, limit: int, cursor: str | None
    ) -> OrderPage:
        """A player's orders as the game server reads them: what ``/orders`` shows that player."""
        _addressable(player_id)
        return self.orders(player_id, status, limit, cursor)

    def my_account(self, player_id: str) -> AccountView:
        """The caller's balances and, with a leaderboard, their standing on each window's board."""
        account = self.account(player_id)
        if self.leaderboard is None:
            return account  # no leaderboard in this deployment
        ranks = {}
        for window in WINDOWS:
            pointer = self.leaderboard.pointer(window)
            standing = pointer and self.leaderboard.standing_of(window, pointer.version, player_id)
            if standing:
                ranks[str(window)] = _standing_view(standing)
        if not ranks:
            return account  # no rollup has ranked the player yet
        return MyAccountView(player_id=player_id, balances=account.balances, ranks=ranks)

    # -- leaderboard -------------------------------------------------------------------------

    def board(self, window: Window, limit: int) -> LeaderboardView:
        if self.leaderboard is None:
            raise NotFound("this deployment has no leaderboard", code="no_leaderboard")
        pointer = self.leaderboard.pointer(window)
        if pointer is None:
            return LeaderboardView(window=str(window), generated_at=None, since=None, standings=[])
        standings = self.leaderboard.standings(window, pointer.version, limit)
        return LeaderboardView(
            window=str(window),
            generated_at=from_millis(pointer.generated_ms),
            since=None if pointer.since_ms is None else from_millis(pointer.since_ms),
            standings=[_standing_view(standing) for standing in standings],
        )

    def _asset(self, player_id: str, asset: str) -> None:
        if (why := reserved(player_id)) is not None:
            raise Forbidden(why, code="reserved_player")
        if asset != COINS:
            self.market(asset)

    def deposit(self, player_id: str, deposit: Deposit) -> tuple[AccountView, bool]:
        self._asset(player_id, deposit.asset)
        created = self.store.deposit(player_id, deposit, at=self.clock())
        if not created:
            _same_movement(
                self.store.get_deposit(player_id, deposit.deposit_id), deposit.asset, deposit.quantity
            )
        return self.account(player_id), created

    def withdraw(self, player_id: str, withdrawal: Withdrawal) -> tuple[AccountView, bool]:
        self._asset(player_id, withdrawal.asset)
        created = self.store.withdraw(player_id, withdrawal, at=self.clock())
        if not created:
            _same_movement(
                self.store.get_withdrawal(player_id, withdrawal.withdrawal_id),
                withdrawal.asset,
                withdrawal.quantity,
            )
        return self.account(player_id), created

    # -- market events -----------------------------------------------------------------------

    def post_goal(self, event: GoalEvent) -> tuple[GoalEvent, bool]:
        """Write a goal into the footballer's book partition, once per event id."""
        market = self.market(event.material)
        if not isinstance(market, FootballerMarket):
            raise Invalid(f"'{event.material}' is not a footballer", code="not_a_footballer")
        if self.store.put_goal_event(event, at=self.clock()):
            return event, True
        if self.store.get_goal_event(event.material, event.event_id) != event:
            raise Conflict("this eventId was used for a different goal", code="event_id_reused")
        return event, False


def _millis(moment: datetime) -> int:
    """The first whole Unix millisecond at or after ``moment``, within what the trades index can hold
    (0 to 13 digits). Trades are stamped in whole milliseconds, so a trade at ``t`` is at or after
    ``moment`` exactly when ``t >= _millis(moment)``, and before it when ``t < _millis(moment)``."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return min(max(-(-micros // 1000), 0), LAST_MILLIS)


def _range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    """``[start, end)`` in milliseconds; open ends reach the first and the last possible instant. A
    range that is well formed but holds no millisecond the index can hold (all before 1970 or after
    2286, or inside one millisecond) comes back empty (``low >= high``), not refused."""
    if start is not None and end is not None and start >= end:
        raise Invalid("from must be before to", code="invalid_range")
    low = 0 if start is None else _millis(start)
    high = LAST_MILLIS if end is None else _millis(end)
    return low, high


def _addressable(player_id: str) -> None:
    """Refuse an id no player can have and no account is kept under: ``me`` (any case), the dot
    segments and a house id in another case (``House.lionel-messi``; the house's own, lower-case,
    can be read). An admin's ``GET /accounts/me/orders`` answered an empty page for a player "me"."""
    why = reserved(player_id)
    if why is not None and not is_house(player_id):
        raise Forbidden(why, code="reserved_player")


def _standing_view(standing: Standing) -> StandingView:
    return StandingView(
        rank=standing.rank, player_id=standing.player_id, score=standing.score, value=standing.value
    )


def _same_movement(existing: Movement | None, asset: str, quantity: int) -> None:
    if existing is None or (existing.asset, existing.quantity) != (asset, quantity):
        raise Conflict("this id was used for a different movement", code="movement_id_reused")
