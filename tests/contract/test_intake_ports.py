"""Intake's ports, one section per aggregate, on every lane: each write that must refuse does so with
the domain's error and leaves the stored state exactly as it was."""

import threading
from datetime import datetime, timedelta

import pytest

from mercato.intake.ports import (
    AccountStore,
    ClientOrderIdTaken,
    ClientOrderMarker,
    GoalEventStore,
    HouseOpening,
    MarketDataStore,
    MarketStore,
    Movement,
    OrderStore,
    TooManyTrades,
)
from mercato.matcher.house import house_player
from mercato.matcher.ports import PendingGoal
from mercato.matcher.transactions import FillRecord, FillSequence, MarketDelta, Settlement, TradeRecord
from mercato.models.accounts import Balance
from mercato.models.errors import InsufficientBalance, StateMoved
from mercato.models.ids import trade_id
from mercato.models.keys import encode_book_key
from mercato.models.markets import CommodityMarket, FootballerMarket, HouseParams, Market
from mercato.models.orders import ANNOUNCED_ORDER_DUE_MS, Order, OrderStatus, Side, TimeInForce
from mercato.models.times import to_millis
from mercato.models.views import Level
from tests.contract.conftest import Backend
from tests.contract.values import AT, AT_MS, a_deposit, a_goal, a_withdrawal
from tests.sim.crash import uuid7


def wheat(fee_bps: int = 10) -> CommodityMarket:
    return CommodityMarket(material="wheat", kind="commodity", name="Wheat", fee_bps=fee_bps)


def messi() -> FootballerMarket:
    return FootballerMarket(
        material="lionel-messi",
        kind="footballer",
        name="Lionel Messi",
        team="Argentina",
        base_value=1000,
        goal_value=100,
        house=HouseParams(inventory=40, budget=5_000),
    )


def order(
    player: str,
    side: Side,
    quantity: int,
    price: int,
    n: int = 1,
    *,
    client_order_id: str | None = None,
    expires_at: datetime | None = None,
) -> Order:
    return Order(
        order_id=uuid7(AT_MS, n),
        player_id=player,
        client_order_id=client_order_id,
        side=side,
        material="wheat",
        quantity=quantity,
        price=price,
        expires_at=expires_at,
        created_at=AT + timedelta(microseconds=n),
    )


def fund(accounts: AccountStore, player: str, asset: str, quantity: int) -> None:
    assert accounts.deposit(
        player,
        a_deposit(f"d-{asset}", asset, quantity),
        at=AT,
    )


def place(orders: OrderStore, placed: Order, fingerprint: str | None = None) -> None:
    asset, amount = (
        ("coins", placed.price * placed.quantity) if placed.side is Side.BUY else ("wheat", placed.quantity)
    )
    orders.place_order(placed, asset=asset, amount=amount, fingerprint=fingerprint)


# -- markets ----------------------------------------------------------------------------------------


def test_a_listed_market_reads_back_and_lists_in_material_order(backend: Backend) -> None:
    markets: MarketStore = backend.intake
    copper = CommodityMarket(material="copper", kind="commodity", name="Copper")
    assert markets.create_market(wheat())
    assert markets.create_market(copper)
    assert markets.get_market("wheat") == wheat()
    assert markets.get_market("gold") is None
    assert [m.material for m in markets.list_markets()] == ["copper", "wheat"]
    assert backend.matcher.materials() == ["copper", "wheat"]  # what the sweep looks through


def test_listing_a_material_twice_is_refused_and_changes_nothing(backend: Backend) -> None:
    markets: MarketStore = backend.intake
    assert markets.create_market(wheat(fee_bps=10))
    before = backend.snapshot()
    assert not markets.create_market(wheat(fee_bps=99))
    assert backend.snapshot() == before
    market: Market | None = markets.get_market("wheat")
    assert market is not None
    assert market.fee_bps == 10


def _opening() -> HouseOpening:
    house = house_player("lionel-messi")
    return HouseOpening(
        player_id=house,
        endowments=(
            a_deposit("house-coins", "coins", 5_000),
            a_deposit("house-shares", "lionel-messi", 40),
        ),
        at=AT,
    )


def test_a_footballer_opens_with_the_house_endowed_all_at_once(backend: Backend) -> None:
    assert backend.intake.create_market(messi(), _opening())
    house = house_player("lionel-messi")
    assert backend.intake.balances(house) == {
        "coins": Balance(available=5_000, reserved=0),
        "lionel-messi": Balance(available=40, reserved=0),
    }
    assert backend.intake.get_deposit(house, "house-shares") == Movement("lionel-messi", 40)
    state = backend.matcher.market("lionel-messi")
    assert state is not None
    assert state.footballer is not None
    assert (state.footballer.fundamental(), state.footballer.house_quotes, state.version) == (1000, {}, 0)


def test_listing_a_footballer_twice_endows_the_house_once(backend: Backend) -> None:
    assert backend.intake.create_market(messi(), _opening())
    before = backend.snapshot()
    assert not backend.intake.create_market(messi(), _opening())
    assert backend.snapshot() == before


# -- orders and book --------------------------------------------------------------------------------


def test_placing_reserves_the_escrow_and_rests_the_order(backend: Backend) -> None:
    orders: OrderStore = backend.intake
    fund(backend.intake, "alice", "coins", 1_000)
    buy = order("alice", Side.BUY, 10, 30, client_order_id="c-1")
    place(orders, buy, fingerprint="print-1")

    assert backend.intake.balances("alice") == {"coins": Balance(available=700, reserved=300)}
    stored = orders.get_order("alice", buy.order_id)
    assert stored is not None
    assert stored.created_at == AT.replace(microsecond=123_000)
    assert stored.model_copy(update={"created_at": buy.created_at}) == buy
    assert orders.get_client_order("alice", "c-1") == ClientOrderMarker(buy.order_id, "print-1")
    assert orders.resting_quantity(buy) == 10
    read = backend.matcher.read_book("wheat")
    assert [(o.order_id, o.quantity, o.price) for o in read.orders] == [(buy.order_id, 10, 30)]


def test_an_order_beyond_the_available_balance_is_refused_and_changes_nothing(backend: Backend) -> None:
    fund(backend.intake, "alice", "coins", 299)
    before = backend.snapshot()
    with pytest.raises(InsufficientBalance):
        place(backend.intake, order("alice", Side.BUY, 10, 30))
    assert backend.snapshot() == before


def test_an_order_in_an_asset_never_held_is_refused(backend: Backend) -> None:
    fund(backend.intake, "alice", "coins", 1_000)
    before = backend.snapshot()
    with pytest.raises(InsufficientBalance):
        place(backend.intake, order("alice", Side.SELL, 1, 30))
    assert backend.snapshot() == before


def test_the_reserved_part_of_a_balance_cannot_be_reserved_again(backend: Backend) -> None:
    fund(backend.intake, "alice", "coins", 500)
    place(backend.intake, order("alice", Side.BUY, 10, 30, n=1))
    before = backend.snapshot()
    with pytest.raises(InsufficientBalance):
        place(backend.intake, order("alice", Side.BUY, 7, 30, n=2))  # 210 > 200 available
    assert backend.snapshot() == before


def test_a_reused_client_order_id_names_the_first_order_and_changes_nothing(backend: Backend) -> None:
    fund(backend.intake, "alice", "coins", 1_000)
    first = order("alice", Side.BUY, 1, 30, n=1, client_order_id="c-1")
    place(backend.intake, first, fingerprint="print-1")
    before = backend.snapshot()
    with pytest.raises(ClientOrderIdTaken) as taken:
        place(
            backend.intake, order("alice", Side.BUY, 2, 31, n=2, client_order_id="c-1"), fingerprint="print-2"
        )
    assert taken.value.marker == ClientOrderMarker(first.order_id, "print-1")
    assert backend.snapshot() == before


def test_a_reused_client_order_id_is_refused_even_when_the_balance_is_short(backend: Backend) -> None:
    """The marker is checked before the balance, so a resend is recognised whatever it would cost."""
    fund(backend.intake, "alice", "coins", 30)
    place(backend.intake, order("alice", Side.BUY, 1, 30, n=1, client_order_id="c-1"), fingerprint="p")
    before = backend.snapshot()
    with pytest.raises(ClientOrderIdTaken):
        place(backend.intake, order("alice", Side.BUY, 1, 30, n=2, client_order_id="c-1"), fingerprint="p")
    assert backend.snapshot() == before


def test_a_client_order_id_is_per_player(backend: Backend) -> None:
    for player in ("alice", "bob"):
        fund(backend.intake, player, "coins", 100)
    place(backend.intake, order("alice", Side.BUY, 1, 30, n=1, client_order_id="c-1"), fingerprint="p")
    place(backend.intake, order("bob", Side.BUY, 1, 30, n=2, client_order_id="c-1"), fingerprint="p")
    assert backend.intake.get_client_order("bob", "c-1") == ClientOrderMarker(uuid7(AT_MS, 2), "p")


@pytest.mark.parametrize(
    ("second_player", "second_side"),
    [("carol", Side.BUY), ("alice", Side.SELL)],
    ids=["same-book-key", "same-record"],
)
def test_an_order_id_drawn_twice_is_refused_whole(
    backend: Backend, second_player: str, second_side: Side
) -> None:
    """A broken id source: the book key (another player) or the order record (the other side) exists."""
    for player in ("alice", "carol"):
        fund(backend.intake, player, "coins", 1_000)
        fund(backend.intake, player, "wheat", 10)
    place(backend.intake, order("alice", Side.BUY, 2, 10, n=1))
    before = backend.snapshot()
    with pytest.raises(StateMoved):
        place(backend.intake, order(second_player, second_side, 3, 10, n=1))
    assert backend.snapshot() == before


def test_orders_list_newest_first_by_status_a_page_at_a_time(backend: Backend) -> None:
    orders: OrderStore = backend.intake
    fund(backend.intake, "alice", "coins", 10_000)
    placed = [order("alice", Side.BUY, 1, 10 + n, n=n) for n in range(1, 6)]
    for each in placed:
        place(orders, each)
    orders.cancel_order(placed[1], 1, at=AT)
    newest_first = [o.order_id for o in reversed(placed)]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        page, cursor = orders.list_orders("alice", None, 2, cursor)
        seen += [o.order_id for o in page]
        if cursor is None:
            break
    assert seen == newest_first
    open_orders, _ = orders.list_orders("alice", OrderStatus.OPEN, 10, None)
    assert [o.order_id for o in open_orders] == [i for i in newest_first if i != placed[1].order_id]
    cancelled, _ = orders.list_orders("alice", OrderStatus.CANCELLED, 10, None)
    assert [o.order_id for o in cancelled] == [placed[1].order_id]
    assert orders.list_orders("bob", None, 10, None) == ([], None)


@pytest.mark.parametrize("status", [None, OrderStatus.OPEN])
def test_a_page_of_exactly_what_is_left_has_no_cursor(backend: Backend, status: OrderStatus | None) -> None:
    orders: OrderStore = backend.intake
    fund(backend.intake, "alice", "coins", 10_000)
    for n in range(1, 5):
        place(orders, order("alice", Side.BUY, 1, 10 + n, n=n))
    # Four orders: a page of four, or two pages of two, and then no cursor to an empty page
    whole, cursor = orders.list_orders("alice", status, 4, None)
    assert (len(whole), cursor) == (4, None)
    first, cursor = orders.list_orders("alice", status, 2, None)
    assert cursor is not None
    second, last = orders.list_orders("alice", status, 2, cursor)
    assert (len(first), len(second), last) == (2, 2, None)
    assert orders.list_orders("alice", status, 5, None)[1] is None


def test_an_order_cursor_of_another_player_or_listing_is_refused(backend: Backend) -> None:
    orders: OrderStore = backend.intake
    fund(backend.intake, "alice", "coins", 10_000)
    for n in range(1, 4):
        place(orders, order("alice", Side.BUY, 1, 10, n=n))
    _, cursor = orders.list_orders("alice", None, 1, None)
    assert cursor is not None
    for player, status, foreign in [
        ("bob", None, cursor),
        ("alice", OrderStatus.OPEN, cursor),
        ("alice", None, "bm90LWEtY3Vyc29y"),
    ]:
        with pytest.raises(ValueError, match="not a cursor"):
            orders.list_orders(player, status, 1, foreign)


def test_cancelling_releases_the_escrow_and_closes_the_order(backend: Backend) -> None:
    orders: OrderStore = backend.intake
    fund(backend.intake, "alice", "wheat", 10)
    sell = order("alice", Side.SELL, 4, 30)
    place(orders, sell)
    orders.cancel_order(sell, 4, at=AT)
    assert backend.intake.balances("alice") == {"wheat": Balance(available=10, reserved=0)}
    assert orders.resting_quantity(sell) is None
    closed = orders.get_order("alice", sell.order_id)
    assert closed is not None
    assert closed.status is OrderStatus.CANCELLED
    assert closed.cancelled_by_owner
    assert backend.matcher.read_book("wheat").orders == []


def test_a_cancel_with_a_stale_remaining_is_refused_and_changes_nothing(backend: Backend) -> None:
    fund(backend.intake, "alice", "wheat", 10)
    sell = order("alice", Side.SELL, 4, 30)
    place(backend.intake, sell)
    before = backend.snapshot()
    for stale in (3, 5):
        with pytest.raises(StateMoved):
            backend.intake.cancel_order(sell, stale, at=AT)
    assert backend.snapshot() == before


def test_a_cancel_of_an_order_no_longer_open_is_refused_and_changes_nothing(backend: Backend) -> None:
    fund(backend.intake, "alice", "wheat", 10)
    sell = order("alice", Side.SELL, 4, 30)
    place(backend.intake, sell)
    backend.intake.cancel_order(sell, 4, at=AT)
    before = backend.snapshot()
    with pytest.raises(StateMoved):
        backend.intake.cancel_order(sell, 4, at=AT)
    assert backend.snapshot() == before


def test_a_cancel_of_an_order_never_placed_is_refused(backend: Backend) -> None:
    fund(backend.intake, "alice", "wheat", 10)
    before = backend.snapshot()
    with pytest.raises(StateMoved):
        backend.intake.cancel_order(order("alice", Side.SELL, 4, 30), 4, at=AT)
    assert backend.snapshot() == before


# -- accounts ---------------------------------------------------------------------------------------


def test_a_deposit_credits_once_per_id(backend: Backend) -> None:
    accounts: AccountStore = backend.intake
    assert accounts.deposit("alice", a_deposit("d-1", "coins", 50), at=AT)
    before = backend.snapshot()
    assert not accounts.deposit("alice", a_deposit("d-1", "coins", 70), at=AT)
    assert backend.snapshot() == before
    assert accounts.get_deposit("alice", "d-1") == Movement("coins", 50)
    assert accounts.get_deposit("alice", "d-2") is None
    assert accounts.deposit("bob", a_deposit("d-1", "coins", 70), at=AT)
    assert accounts.balances("alice") == {"coins": Balance(available=50, reserved=0)}
    assert backend.matcher.holdings("bob", ("coins", "wheat")) == (70, 0)


def test_a_withdrawal_debits_the_available_amount_once_per_id(backend: Backend) -> None:
    accounts: AccountStore = backend.intake
    fund(accounts, "alice", "coins", 100)
    assert accounts.withdraw("alice", a_withdrawal("w-1", "coins", 40), at=AT)
    before = backend.snapshot()
    assert not accounts.withdraw("alice", a_withdrawal("w-1", "coins", 10), at=AT)
    assert backend.snapshot() == before
    assert accounts.get_withdrawal("alice", "w-1") == Movement("coins", 40)
    assert accounts.get_withdrawal("alice", "w-2") is None
    assert accounts.balances("alice") == {"coins": Balance(available=60, reserved=0)}


def test_a_withdrawal_over_the_available_amount_is_refused_and_changes_nothing(backend: Backend) -> None:
    accounts: AccountStore = backend.intake
    fund(accounts, "alice", "coins", 100)
    place(backend.intake, order("alice", Side.BUY, 2, 30))  # 60 reserved, 40 available
    before = backend.snapshot()
    for quantity, asset in ((41, "coins"), (1, "wheat")):
        with pytest.raises(InsufficientBalance):
            accounts.withdraw(
                "alice",
                a_withdrawal("w-1", asset, quantity),
                at=AT,
            )
    assert backend.snapshot() == before
    assert accounts.withdraw("alice", a_withdrawal("w-1", "coins", 40), at=AT)


def test_a_player_without_fills_reads_none(backend: Backend) -> None:
    assert backend.intake.fill_sequence("alice") == 0
    assert backend.intake.fills_after("alice", 0, 10) == []
    assert backend.matcher.fill_sequences(["alice"]) == {"alice": 0}


# -- market data ------------------------------------------------------------------------------------


def test_book_levels_aggregate_each_side_best_first_to_the_depth_asked(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    fund(backend.intake, "alice", "coins", 10_000)
    fund(backend.intake, "bob", "wheat", 100)
    for n, (player, side, quantity, price) in enumerate(
        [
            ("alice", Side.BUY, 2, 20),
            ("alice", Side.BUY, 3, 22),
            ("alice", Side.BUY, 4, 20),
            ("alice", Side.BUY, 1, 18),
            ("bob", Side.SELL, 5, 25),
            ("bob", Side.SELL, 6, 24),
            ("bob", Side.SELL, 7, 25),
        ],
        start=1,
    ):
        place(backend.intake, order(player, side, quantity, price, n=n))
    assert data.book_levels("wheat", Side.BUY, 2) == [
        Level(price=22, quantity=3, orders=1),
        Level(price=20, quantity=6, orders=2),
    ]
    assert data.book_levels("wheat", Side.SELL, 10) == [
        Level(price=24, quantity=6, orders=1),
        Level(price=25, quantity=12, orders=2),
    ]
    assert data.book_levels("copper", Side.SELL, 10) == []
    assert (backend.matcher.best_price("wheat", True), backend.matcher.best_price("wheat", False)) == (22, 24)


def test_a_market_without_trades_reads_none(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    assert data.recent_trades("wheat", 10) == []
    assert data.trades_page("wheat", 10, None, 0, AT_MS) == ([], None)
    assert data.trades_between("wheat", 0, AT_MS, 5) == []


def test_ioc_and_fok_orders_come_due_a_minute_after_they_arrived(backend: Backend) -> None:
    """An IOC or FOK order comes due a minute after it arrived: a settlement from then on ends it even
    when the record announcing it never arrived (a batch given up after its retries left an IOC open
    with its coins reserved: a reviewer's find), and the IOCs of a rush, ended by their own batch's
    settlement, never crowd out the good-till-date orders due before them."""
    fund(backend.intake, "alice", "wheat", 10)
    gtd = order("alice", Side.SELL, 1, 30, n=1, expires_at=AT + timedelta(seconds=10))
    ioc = order("alice", Side.SELL, 1, 31, n=2).model_copy(update={"time_in_force": TimeInForce.IOC})
    fok = order("alice", Side.SELL, 1, 32, n=3).model_copy(update={"time_in_force": TimeInForce.FOK})
    for each in (gtd, ioc, fok, order("alice", Side.SELL, 1, 33, n=4)):
        place(backend.intake, each)
    keys = [encode_book_key(o.side, o.price, o.order_id) for o in (gtd, ioc, fok)]

    assert backend.matcher.due("wheat", AT_MS + ANNOUNCED_ORDER_DUE_MS - 1) == keys[:1]
    assert backend.matcher.due("wheat", AT_MS + ANNOUNCED_ORDER_DUE_MS) == keys


def test_good_till_date_orders_come_due_in_expiry_order(backend: Backend) -> None:
    fund(backend.intake, "alice", "wheat", 10)
    late = order("alice", Side.SELL, 1, 30, n=1, expires_at=AT + timedelta(seconds=20))
    early = order("alice", Side.SELL, 1, 31, n=2, expires_at=AT + timedelta(seconds=10))
    for each in (late, early, order("alice", Side.SELL, 1, 32, n=3)):
        place(backend.intake, each)
    keys = [encode_book_key(o.side, o.price, o.order_id) for o in (early, late)]
    assert backend.matcher.due("wheat", AT_MS) == []
    assert backend.matcher.due("wheat", AT_MS + 10_000) == keys[:1]
    assert backend.matcher.due("wheat", AT_MS + 60_000) == keys
    orders = backend.matcher.read_orders("wheat", [keys[1], keys[0], keys[1], "SELL#000000000099#gone"])
    assert [(o.order_id, o.time_in_force, o.expires_at) for o in orders] == [
        (late.order_id, TimeInForce.GTC, AT_MS + 20_000),
        (early.order_id, TimeInForce.GTC, AT_MS + 10_000),
    ]


def test_the_materials_with_an_order_due_are_found_in_one_look(backend: Backend) -> None:
    """The embedded stack's frequent sweep looks at the whole by-expiry index at once (a query a
    market every 5 s kept an idle ``mercato up --data`` busy); it finds what asking each market finds."""
    fund(backend.intake, "alice", "wheat", 10)
    fund(backend.intake, "alice", "coins", 1_000)
    wheat = order("alice", Side.SELL, 1, 30, n=1, expires_at=AT + timedelta(seconds=10))
    copper = order("alice", Side.BUY, 1, 20, n=2, expires_at=AT + timedelta(seconds=20))
    for each in (
        wheat,
        copper.model_copy(update={"material": "copper"}),
        order("alice", Side.SELL, 1, 31, n=3),
    ):
        place(backend.intake, each)

    assert backend.matcher.due_materials(AT_MS) == []
    assert backend.matcher.due_materials(AT_MS + 10_000) == ["wheat"]
    assert backend.matcher.due_materials(AT_MS + 20_000) == ["copper", "wheat"]
    asked = [
        material for material in ("copper", "stone", "wheat") if backend.matcher.due(material, AT_MS + 20_000)
    ]
    assert asked == ["copper", "wheat"]


# -- goal events ------------------------------------------------------------------------------------


def test_goals_are_posted_once_each_and_read_in_posting_order(backend: Backend) -> None:
    events: GoalEventStore = backend.intake
    assert events.put_goal_event(a_goal("g-2", 20), at=AT)
    assert events.put_goal_event(a_goal("g-1", 30), at=AT + timedelta(seconds=1))
    before = backend.snapshot()
    assert not events.put_goal_event(a_goal("g-2", 99), at=AT + timedelta(seconds=2))
    assert backend.snapshot() == before
    assert events.get_goal_event("lionel-messi", "g-2") == a_goal("g-2", 20)
    assert events.get_goal_event("lionel-messi", "g-3") is None
    records = events.goals("lionel-messi")
    assert [(g.event_id, g.minute, g.applied) for g in records] == [("g-2", 20, False), ("g-1", 30, False)]
    assert records[0].posted_at == AT.replace(microsecond=123_000)
    assert backend.matcher.pending_goals("lionel-messi") == [
        PendingGoal("g-2", to_millis(AT.replace(microsecond=123_000))),
        PendingGoal("g-1", to_millis(AT.replace(microsecond=123_000) + timedelta(seconds=1))),
    ]


# -- what settlement writes, as intake reads it -------------------------------------------------------


def _settle_trades(backend: Backend, version: int, at_ms: int, prices: list[int]) -> list[str]:
    """Commit one settlement recording a trade per price (alice buys from bob) and alice's fills;
    the trade ids, in the order the trades were recorded."""
    trades, fills = [], []
    first_seq = backend.intake.fill_sequence("alice")
    for n, price in enumerate(prices):
        buy, sell = uuid7(at_ms, 1_000 + n), uuid7(at_ms, n)
        traded = trade_id(buy, sell)
        trades.append(
            TradeRecord(traded, buy, sell, Side.SELL, price, price, 1, Side.BUY, buy, sell, "alice", "bob", 0)
        )
        fills.append(
            FillRecord("alice", first_seq + n + 1, f"{traded}-b", traded, buy, Side.BUY, price, 1, 0)
        )
    sequence = FillSequence("alice", first_seq, first_seq + len(prices))
    backend.matcher.commit(
        Settlement(
            material="wheat",
            at_ms=at_ms,
            book=(),
            new_orders=(),
            orders=(),
            balances=(),
            trades=tuple(trades),
            fill_sequences=(sequence,),
            fills=tuple(fills),
            market=MarketDelta(0, len(prices), prices[-1], (), (), (), None, version),
        )
    )
    return [trade.trade_id for trade in trades]


def _three_settlements(backend: Backend) -> list[str]:
    """Trades at AT_MS, AT_MS + 1000 and AT_MS + 2000 (two, one, two): their ids oldest first."""
    assert backend.intake.create_market(wheat())
    ids = _settle_trades(backend, 0, AT_MS, [30, 31])
    ids += _settle_trades(backend, 1, AT_MS + 1_000, [32])
    return ids + _settle_trades(backend, 2, AT_MS + 2_000, [33, 34])


def test_a_trades_page_of_exactly_what_is_left_has_no_cursor(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    _three_settlements(backend)  # five trades
    first, cursor = data.trades_page("wheat", 3, None, AT_MS, AT_MS + 3_000)
    assert cursor is not None
    second, last = data.trades_page("wheat", 2, cursor, AT_MS, AT_MS + 3_000)
    assert (len(first), len(second), last) == (3, 2, None)
    assert data.trades_page("wheat", 5, None, AT_MS, AT_MS + 3_000)[1] is None


def test_trades_read_newest_first_and_a_page_at_a_time(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    oldest_first = _three_settlements(backend)
    assert [t.trade_id for t in data.recent_trades("wheat", 3)] == oldest_first[:-4:-1]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(6):
        page, cursor = data.trades_page("wheat", 2, cursor, AT_MS, AT_MS + 3_000)
        assert len(page) <= 2
        seen += [t.trade_id for t in page]
        if cursor is None:
            break
    assert seen == oldest_first[::-1]
    in_range, _ = data.trades_page("wheat", 10, None, AT_MS + 1, AT_MS + 2_000)
    assert [t.trade_id for t in in_range] == [oldest_first[2]]
    market = data.recent_trades("wheat", 1)[0]
    assert (market.price, market.buyer_id, market.executed_at) == (
        34,
        "alice",
        AT.replace(microsecond=123_000) + timedelta(seconds=2),
    )


def test_a_trades_cursor_of_another_market_or_range_is_refused(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    _three_settlements(backend)
    _, cursor = data.trades_page("wheat", 2, None, AT_MS, AT_MS + 3_000)
    assert cursor is not None
    for material, start, end, foreign in [
        ("copper", AT_MS, AT_MS + 3_000, cursor),
        ("wheat", AT_MS + 2_500, AT_MS + 3_000, cursor),
        ("wheat", AT_MS, AT_MS + 3_000, "bm90LWEtY3Vyc29y"),
    ]:
        with pytest.raises(ValueError, match="not a cursor"):
            data.trades_page(material, 2, foreign, start, end)


def test_trades_between_reads_oldest_first_up_to_a_bound(backend: Backend) -> None:
    data: MarketDataStore = backend.intake
    oldest_first = _three_settlements(backend)
    assert [t.trade_id for t in data.trades_between("wheat", AT_MS, AT_MS + 3_000, 5)] == oldest_first
    assert [t.trade_id for t in data.trades_between("wheat", AT_MS + 1_000, AT_MS + 1_001, None)] == [
        oldest_first[2]
    ]
    with pytest.raises(TooManyTrades):
        data.trades_between("wheat", AT_MS, AT_MS + 3_000, 4)


def test_a_players_fills_read_in_number_order_after_a_cursor(backend: Backend) -> None:
    accounts: AccountStore = backend.intake
    oldest_first = _three_settlements(backend)
    assert accounts.fill_sequence("alice") == 5
    assert backend.matcher.fill_sequences(["alice", "bob"]) == {"alice": 5, "bob": 0}
    fills = accounts.fills_after("alice", 1, 3)
    assert [(f.seq, f.trade_id, f.price) for f in fills] == [
        (2, oldest_first[1], 31),
        (3, oldest_first[2], 32),
        (4, oldest_first[3], 33),
    ]
    assert accounts.fills_after("alice", 5, 10) == []
    market = backend.intake.get_market("wheat")
    assert market is not None
    assert (market.volume, market.last_price) == (5, 34)


# -- concurrency -------------------------------------------------------------------------------------


def test_concurrent_orders_never_reserve_more_than_the_balance(backend: Backend) -> None:
    """Eight threads each reserve 30 of 100 coins at once: exactly three succeed, whatever the order."""
    fund(backend.intake, "alice", "coins", 100)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        try:
            place(backend.intake, order("alice", Side.BUY, 1, 30, n=n))
            outcomes.append("placed")
        except InsufficientBalance:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["placed"] * 3 + ["refused"] * 5
    assert backend.intake.balances("alice") == {"coins": Balance(available=10, reserved=90)}
    assert len(backend.matcher.read_book("wheat").orders) == 3


# -- the feed's goal counts ------------------------------------------------------------------------


def test_the_feed_keeps_a_count_per_season_and_refuses_a_stale_one(backend: Backend) -> None:
    assert backend.intake.create_market(messi(), _opening())
    feed = backend.feed
    assert [f.feed_goals for f in feed.followed("WC-2022-scorers")] == [0]
    assert feed.save("lionel-messi", "WC-2022-scorers", was=0, now=8)
    assert feed.save("lionel-messi", "WC-2026-scorers", was=0, now=2), "another season starts at nought"
    before = backend.snapshot()
    assert not feed.save("lionel-messi", "WC-2022-scorers", was=0, now=1), "a stale count"
    assert not feed.save("ghost", "WC-2022-scorers", was=0, now=1), "no such market"
    assert backend.snapshot() == before
    assert [(f.material, f.person_id, f.feed_goals) for f in feed.followed("WC-2022-scorers")] == [
        ("lionel-messi", None, 8)
    ]
    assert [f.feed_goals for f in feed.followed("WC-2026-scorers")] == [2]
