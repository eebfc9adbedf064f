"""Intake's domain functions: stage 1 of DESIGN §1 and the reads. No HTTP and no boto3 here.

Every write goes through the store as one all-or-nothing unit, so a rejected request changes nothing.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mercato.intake.ports import ClientOrderIdTaken, HouseOpening, IntakeStore, Movement, StateMoved
from mercato.leaderboard.ports import LeaderboardReader
from mercato.leaderboard.ranking import WINDOWS, Standing, Window
from mercato.matcher.house import house_player, is_house
from mercato.models.accounts import Deposit, Withdrawal
from mercato.models.errors import Conflict, Forbidden, Invalid, NotFound
from mercato.models.events import GoalEvent
from mercato.models.ids import new_order_id
from mercato.models.markets import CommodityListing, FootballerListing, FootballerMarket, Market, market_from
from mercato.models.money import COINS
from mercato.models.orders import MAX_EXPIRY_AHEAD, Order, OrderRequest, OrderStatus, Side
from mercato.models.views import (
    AccountView,
    BookView,
    LeaderboardView,
    MyAccountView,
    OrderPage,
    StandingView,
    TradesView,
)
from mercato.storage.items import from_millis

CANCEL_ATTEMPTS = 5


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

    # -- markets -----------------------------------------------------------------------------

    def market(self, material: str) -> Market:
        market = self.store.get_market(material)
        if market is None:
            raise NotFound(f"no market lists '{material}'", code="unknown_material")
        return market

    def markets(self) -> list[Market]:
        return self.store.list_markets()

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

    def trades(self, material: str, limit: int) -> TradesView:
        self.market(material)
        return TradesView(trades=self.store.recent_trades(material, limit))

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
            if order.cancelled_by_owner:
                return order  # a retry whose first attempt succeeded: answer as it did
            if order.status.is_final:
                raise Conflict(f"order {order_id} is already {order.status}", code="order_not_open")
            remaining = self.store.resting_quantity(order)
            if remaining is None:
                continue  # the matcher finished it between the two reads: read the record again
            try:
                self.store.cancel_order(order, remaining, at=self.clock())
            except StateMoved:
                continue
            return self.order(player_id, order_id)  # as cancelled, with any fill that came first
        raise Conflict(f"order {order_id} kept changing; try again", code="order_busy")

    # -- accounts ----------------------------------------------------------------------------

    def account(self, player_id: str) -> AccountView:
        return AccountView(player_id=player_id, balances=self.store.balances(player_id))

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
        if is_house(player_id):
            raise Forbidden("the house's accounts are the exchange's own", code="reserved_player")
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


def _standing_view(standing: Standing) -> StandingView:
    return StandingView(
        rank=standing.rank, player_id=standing.player_id, score=standing.score, value=standing.value
    )


def _same_movement(existing: Movement | None, asset: str, quantity: int) -> None:
    if existing is None or (existing.asset, existing.quantity) != (asset, quantity):
        raise Conflict("this id was used for a different movement", code="movement_id_reused")
