"""The matcher's settlement port (``MatcherStore.commit``) held to one contract on every backend.

A :class:`~mercato.matcher.transactions.Settlement` applies whole or not at all. For every
expectation the DynamoDB adapter renders as a condition there is a case here in which that one
expectation does not hold: the commit must raise :class:`StateMoved` and leave every piece of state
the ports can read exactly as it was. State is set up and observed through the ports only (intake's
writes, the matcher's and intake's reads), so the same cases run on every backend.
"""

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from mercato.intake.ports import IntakeStore
from mercato.matcher.house import house_player
from mercato.matcher.ports import MatcherStore, StateMoved
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
from mercato.models.accounts import Deposit
from mercato.models.events import GoalEvent
from mercato.models.ids import trade_id
from mercato.models.markets import CommodityListing, FootballerListing, market_from
from mercato.models.money import COINS
from mercato.models.orders import Order, OrderStatus, Side, TimeInForce, escrow

AT = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)
WHEAT = "wheat"
MESSI = "lionel-messi"
HOUSE = house_player(MESSI)
FEE = 1
"""The seller's fee on the happy path's fill (any value the planner could charge)."""
BUY_ID = "01900000-0000-7000-8000-000000000001"
SELL_ID = "01900000-0000-7000-8000-000000000002"
GONE_ID = "01900000-0000-7000-8000-000000000003"
NEVER_ID = "01900000-0000-7000-8000-000000000004"
HOUSE_BID_ID = "01900000-0000-7000-8000-000000000005"


# -- a world set up through the ports ---------------------------------------------------------------


@dataclass
class World:
    """Bob rests a sell of 5 at 10 and alice a buy of 3 at 10 on wheat; a footballer is listed."""

    matcher: MatcherStore
    intake: IntakeStore
    buy: Order
    sell: Order

    def observe(self) -> dict[str, Any]:
        """Everything the ports can read of the world (what a refused commit must leave as it was)."""
        state: dict[str, Any] = {}
        for material in (WHEAT, MESSI, "ghost"):
            state[f"market {material}"] = self.matcher.market(material)
            state[f"listing {material}"] = self.intake.get_market(material)
            book = self.matcher.read_book(material)
            state[f"book {material}"] = sorted(book.orders, key=lambda o: o.order_id)
            state[f"trades {material}"] = self.intake.recent_trades(material, 100)
            state[f"goals {material}"] = self.intake.goals(material)
        for player in ("alice", "bob", HOUSE):
            state[f"balances {player}"] = self.intake.balances(player)
            state[f"fills {player}"] = self.intake.fills_after(player, 0, 100)
        state["fill sequences"] = self.matcher.fill_sequences(["alice", "bob"])
        state["orders"] = [
            self.intake.get_order(player, order_id)
            for player, order_id in (("alice", self.buy.order_id), ("bob", self.sell.order_id))
        ]
        return state

    def refuses(self, settlement: Settlement) -> None:
        """Commit ``settlement``: it must raise :class:`StateMoved` and change nothing."""
        before = self.observe()
        with pytest.raises(StateMoved):
            self.matcher.commit(settlement)
        assert self.observe() == before


def _order(order_id: str, player: str, side: Side, quantity: int, price: int, material: str = WHEAT) -> Order:
    return Order(
        order_id=order_id,
        player_id=player,
        side=side,
        material=material,
        quantity=quantity,
        price=price,
        time_in_force=TimeInForce.GTC,
        created_at=AT,
    )


def _deposit(intake: IntakeStore, player: str, asset: str, quantity: int) -> None:
    deposit = Deposit.model_validate(
        {"depositId": f"d-{player}-{asset}", "asset": asset, "quantity": quantity}
    )
    assert intake.deposit(player, deposit, at=AT)


def _place(intake: IntakeStore, order: Order) -> None:
    asset, amount = escrow(order.side, order.material, order.price, order.quantity)
    intake.place_order(order, asset=asset, amount=amount, fingerprint=None)


def make_world(matcher: MatcherStore, intake: IntakeStore) -> World:
    wheat = CommodityListing.model_validate(
        {"material": WHEAT, "kind": "commodity", "name": "Wheat", "feeBps": 100}
    )
    messi = FootballerListing.model_validate(
        {
            "material": MESSI,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1000,
            "goalValue": 100,
        }
    )
    assert intake.create_market(market_from(wheat))
    assert intake.create_market(market_from(messi))
    for player in ("alice", "bob"):
        _deposit(intake, player, COINS, 1_000)
        _deposit(intake, player, WHEAT, 100)
    _deposit(intake, HOUSE, COINS, 10_000)
    sell = _order(SELL_ID, "bob", Side.SELL, 5, 10)
    buy = _order(BUY_ID, "alice", Side.BUY, 3, 10)
    _place(intake, sell)
    _place(intake, buy)
    return World(matcher, intake, buy, sell)


# -- settlement values ------------------------------------------------------------------------------


def _market(version: int = 0, **changes: Any) -> MarketDelta:
    delta = MarketDelta(
        fees=0,
        volume=0,
        last_price=None,
        goals_applied=(),
        quotes_added=(),
        quotes_removed=(),
        ticker=None,
        expected_version=version,
    )
    return dataclasses.replace(delta, **changes)


def _settlement(material: str = WHEAT, version: int = 0, **parts: Any) -> Settlement:
    """A settlement of only ``parts`` (the rest empty), the market at ``version``."""
    empty = Settlement(
        material=material,
        at_ms=AT_MS,
        book=(),
        new_orders=(),
        orders=(),
        balances=(),
        trades=(),
        fill_sequences=(),
        fills=(),
        market=_market(version),
    )
    return dataclasses.replace(empty, **parts)


TRADE_ID = trade_id(BUY_ID, SELL_ID)
TRADE = TradeRecord(
    trade_id=TRADE_ID,
    taker_order_id=BUY_ID,
    maker_order_id=SELL_ID,
    maker_side=Side.SELL,
    maker_price=10,
    price=10,
    quantity=3,
    taker_side=Side.BUY,
    buy_order_id=BUY_ID,
    sell_order_id=SELL_ID,
    buyer_id="alice",
    seller_id="bob",
    fee=FEE,
)
ALICE_FILL = FillRecord("alice", 1, f"{TRADE_ID}-b", TRADE_ID, BUY_ID, Side.BUY, 10, 3, 0)
BOB_FILL = FillRecord("bob", 1, f"{TRADE_ID}-s", TRADE_ID, SELL_ID, Side.SELL, 10, 3, FEE)


def fill_of_three() -> Settlement:
    """Alice's buy of 3 takes 3 of bob's 5 at 10: everything a fill writes."""
    return _settlement(
        book=(
            BookChange(BUY_ID, Side.BUY, 10, expected=3, left=0),
            BookChange(SELL_ID, Side.SELL, 10, expected=5, left=2),
        ),
        orders=(
            OrderChange("alice", BUY_ID, 3, 30, OrderStatus.FILLED),
            OrderChange("bob", SELL_ID, 3, 30),
        ),
        balances=(
            BalanceDelta("alice", COINS, 0, -30),
            BalanceDelta("alice", WHEAT, 3, 0),
            BalanceDelta("bob", WHEAT, 0, -3),
            BalanceDelta("bob", COINS, 30 - FEE, 0),
        ),
        trades=(TRADE,),
        fill_sequences=(FillSequence("alice", 0, 1), FillSequence("bob", 0, 1)),
        fills=(ALICE_FILL, BOB_FILL),
        market=_market(0, fees=FEE, volume=3, last_price=10, ticker=Ticker(None, 10)),
    )


def house_bid(order_id: str, filled: int = 0) -> NewOrder:
    """A house bid of 2 at 900 on the footballer, ``filled`` of it already filled as posted."""
    order = _order(order_id, HOUSE, Side.BUY, 2, 900, MESSI)
    status = OrderStatus.FILLED if filled == 2 else OrderStatus.OPEN
    return NewOrder(order.model_copy(update={"filled_quantity": filled, "status": status}))


def post_house_bid(order_id: str, version: int = 0) -> Settlement:
    return _settlement(
        MESSI,
        version,
        new_orders=(house_bid(order_id),),
        balances=(BalanceDelta(HOUSE, COINS, -1_800, 1_800),),
        market=_market(version, quotes_added=(HouseQuote(order_id, Side.BUY, 900),)),
    )


@pytest.fixture
def world(backend: Any) -> World:
    return make_world(backend.matcher, backend.intake)


# -- the happy path ---------------------------------------------------------------------------------


def test_a_fill_commits_every_part_at_once(world: World) -> None:
    world.matcher.commit(fill_of_three())

    book = world.matcher.read_book(WHEAT)
    assert [(o.order_id, o.quantity) for o in book.orders] == [(SELL_ID, 2)]
    buy = world.intake.get_order("alice", BUY_ID)
    sell = world.intake.get_order("bob", SELL_ID)
    assert buy is not None
    assert sell is not None
    assert (buy.status, buy.filled_quantity, buy.filled_notional) == (OrderStatus.FILLED, 3, 30)
    assert (sell.status, sell.filled_quantity, sell.filled_notional) == (OrderStatus.OPEN, 3, 30)
    alice, bob = world.intake.balances("alice"), world.intake.balances("bob")
    assert (alice[COINS].available, alice[COINS].reserved) == (970, 0)
    assert (alice[WHEAT].available, alice[WHEAT].reserved) == (103, 0)
    assert (bob[COINS].available, bob[COINS].reserved) == (1_000 + 30 - FEE, 0)
    assert (bob[WHEAT].available, bob[WHEAT].reserved) == (95, 2)
    trades = world.intake.recent_trades(WHEAT, 10)
    assert [(t.trade_id, t.price, t.quantity, t.buyer_id, t.seller_id, t.fee) for t in trades] == [
        (TRADE_ID, 10, 3, "alice", "bob", FEE)
    ]
    assert world.matcher.fill_sequences(["alice", "bob"]) == {"alice": 1, "bob": 1}
    assert [(f.seq, f.trade_id, f.quantity, f.fee) for f in world.intake.fills_after("bob", 0, 10)] == [
        (1, TRADE_ID, 3, FEE)
    ]
    market = world.matcher.market(WHEAT)
    assert market is not None
    assert (market.version, market.best_bid, market.best_ask) == (1, None, 10)
    listing = world.intake.get_market(WHEAT)
    assert listing is not None
    assert (listing.volume, listing.last_price) == (3, 10)


def test_a_posted_house_quote_rests_and_is_listed_on_the_market(world: World) -> None:
    world.matcher.commit(post_house_bid(HOUSE_BID_ID))

    book = world.matcher.read_book(MESSI)
    assert [(o.order_id, o.side, o.price, o.quantity) for o in book.orders] == [
        (HOUSE_BID_ID, Side.BUY, 900, 2)
    ]
    market = world.matcher.market(MESSI)
    assert market is not None
    assert market.footballer is not None
    assert set(market.footballer.house_quotes) == {HOUSE_BID_ID}
    assert world.intake.balances(HOUSE)[COINS].reserved == 1_800


# -- every expectation refused on its own -----------------------------------------------------------


def test_a_book_change_expecting_a_stale_remaining_is_refused(world: World) -> None:
    stale = dataclasses.replace(
        fill_of_three(),
        book=(
            BookChange(BUY_ID, Side.BUY, 10, expected=3, left=0),
            BookChange(SELL_ID, Side.SELL, 10, expected=4, left=1),  # bob rests 5, not 4
        ),
    )
    world.refuses(stale)


def test_taking_an_order_off_the_book_expecting_a_stale_remaining_is_refused(world: World) -> None:
    stale = dataclasses.replace(
        fill_of_three(),
        book=(
            BookChange(BUY_ID, Side.BUY, 10, expected=2, left=0),  # alice rests 3, not 2
            BookChange(SELL_ID, Side.SELL, 10, expected=5, left=2),
        ),
    )
    world.refuses(stale)


def test_a_book_change_of_an_order_no_longer_on_the_book_is_refused(world: World) -> None:
    gone = _settlement(book=(BookChange(GONE_ID, Side.SELL, 12, expected=1, left=0),))
    world.refuses(gone)


def test_the_same_trade_settled_a_second_time_is_refused(world: World) -> None:
    world.matcher.commit(fill_of_three())
    world.refuses(_settlement(version=1, trades=(TRADE,)))


def test_a_fill_record_already_written_is_refused(world: World) -> None:
    world.matcher.commit(fill_of_three())
    world.refuses(_settlement(version=1, fills=(BOB_FILL,)))


def test_a_fill_sequence_that_moved_since_it_was_read_is_refused(world: World) -> None:
    world.matcher.commit(fill_of_three())
    # Read as 0 (none yet) when it is 1
    world.refuses(_settlement(version=1, fill_sequences=(FillSequence("alice", 0, 1),)))
    # Read as 2 when it is 1
    world.refuses(_settlement(version=1, fill_sequences=(FillSequence("alice", 2, 3),)))


def test_a_goal_applied_a_second_time_is_refused(world: World) -> None:
    goal = GoalEvent.model_validate(
        {"eventId": "wc:44:1", "material": MESSI, "matchId": "final", "minute": 9}
    )
    assert world.intake.put_goal_event(goal, at=AT)
    world.matcher.commit(_settlement(MESSI, market=_market(0, goals_applied=("wc:44:1",))))
    market = world.matcher.market(MESSI)
    assert market is not None
    assert market.footballer is not None
    assert market.footballer.goals == 1

    world.refuses(_settlement(MESSI, version=1, market=_market(1, goals_applied=("wc:44:1",))))


def test_a_goal_that_was_never_posted_is_refused(world: World) -> None:
    world.refuses(_settlement(MESSI, market=_market(0, goals_applied=("wc:44:9",))))


def test_a_settlement_planned_at_a_version_that_moved_is_refused(world: World) -> None:
    world.refuses(dataclasses.replace(fill_of_three(), market=_market(1, fees=FEE, volume=3, last_price=10)))


def test_a_settlement_of_a_market_that_does_not_exist_is_refused(world: World) -> None:
    world.refuses(_settlement("ghost", balances=(BalanceDelta("alice", COINS, 1, 0),)))


def test_a_balance_that_would_spend_more_than_is_available_is_refused(world: World) -> None:
    world.refuses(_settlement(balances=(BalanceDelta("alice", COINS, -971, 971),)))  # 970 available


def test_a_balance_that_would_release_more_than_is_reserved_is_refused(world: World) -> None:
    world.refuses(_settlement(balances=(BalanceDelta("bob", WHEAT, 6, -6),)))  # 5 reserved


def test_a_balance_that_does_not_exist_cannot_be_spent(world: World) -> None:
    world.refuses(_settlement(balances=(BalanceDelta("carol", COINS, -1, 0),)))


def test_an_order_record_that_is_no_longer_open_is_refused(world: World) -> None:
    world.intake.cancel_order(world.buy, 3, at=AT)  # alice cancels: off the book, record cancelled
    world.refuses(_settlement(orders=(OrderChange("alice", BUY_ID, 3, 30, OrderStatus.FILLED),)))


def test_an_order_record_that_does_not_exist_is_refused(world: World) -> None:
    world.refuses(_settlement(orders=(OrderChange("alice", NEVER_ID, 1, 10),)))


def test_a_house_quote_posted_twice_is_refused(world: World) -> None:
    world.matcher.commit(post_house_bid(HOUSE_BID_ID))
    world.refuses(post_house_bid(HOUSE_BID_ID, version=1))


def test_a_house_quote_whose_record_exists_is_refused_even_if_its_book_entry_does_not(world: World) -> None:
    # Posted and filled whole at once: a record, no book entry
    world.matcher.commit(_settlement(MESSI, new_orders=(house_bid(HOUSE_BID_ID, filled=2),)))
    world.refuses(post_house_bid(HOUSE_BID_ID, version=1))


def test_a_refused_part_refuses_the_parts_that_would_have_applied(world: World) -> None:
    """All or nothing: one failing expectation among many valid ones leaves every valid one unapplied."""
    one_bad = dataclasses.replace(
        fill_of_three(),
        balances=(*fill_of_three().balances, BalanceDelta("carol", COINS, -1, 0)),
    )
    world.refuses(one_bad)
    world.matcher.commit(fill_of_three())  # and the same settlement without it applies
    assert world.matcher.fill_sequences(["alice"]) == {"alice": 1}


def test_a_ticker_at_a_version_that_moved_is_refused_and_one_at_the_current_version_written(
    world: World,
) -> None:
    world.matcher.commit(fill_of_three())  # the market's version is now 1
    before = world.observe()

    with pytest.raises(StateMoved):
        world.matcher.set_ticker(WHEAT, 9, 10, 0)
    with pytest.raises(StateMoved):
        world.matcher.set_ticker("ghost", 9, 10, 1)
    assert world.observe() == before

    world.matcher.set_ticker(WHEAT, 9, None, 1)
    market = world.matcher.market(WHEAT)
    assert market is not None
    assert (market.best_bid, market.best_ask, market.version) == (9, None, 1)
