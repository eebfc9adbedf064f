"""The matching rules of DESIGN §3, one example each, against the pure crossing engine."""

from collections.abc import Iterator
from itertools import count

import pytest

from mercato.matcher.book import BookOrder, Cancel, Fill, OrderBook, uncross
from mercato.models.orders import CancelReason, Side, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


class Orders:
    """Makes orders with ids that sort by creation, as UUIDv7s do."""

    def __init__(self) -> None:
        self._ids: Iterator[int] = count(1)

    def __call__(
        self,
        player: str,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce = GTC,
        expires_at: int | None = None,
    ) -> BookOrder:
        return BookOrder(f"order-{next(self._ids):04d}", player, side, price, quantity, tif, expires_at)


@pytest.fixture
def order() -> Orders:
    return Orders()


@pytest.fixture
def book() -> OrderBook:
    return OrderBook(fee_bps=0)


def fills(events: list[Fill | Cancel]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def cancels(events: list[Fill | Cancel]) -> list[Cancel]:
    return [e for e in events if isinstance(e, Cancel)]


def test_crossing_orders_fill_the_smaller_remaining_quantity(book: OrderBook, order: Orders) -> None:
    ask = order("alice", SELL, 100, 30)
    bid = order("bob", BUY, 100, 50)
    book.submit(ask)

    (fill,) = book.submit(bid)

    assert isinstance(fill, Fill)
    assert (fill.quantity, fill.price) == (30, 100)
    assert book.remaining(bid.order_id) == 20
    assert ask.order_id not in book


def test_trade_executes_at_the_price_of_the_order_that_rested_first(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 10))

    (fill,) = book.submit(order("bob", BUY, 105, 10))

    assert isinstance(fill, Fill)
    assert fill.price == 100
    assert fill.taker_side is BUY


def test_resting_bid_sets_the_price_for_an_incoming_sell(book: OrderBook, order: Orders) -> None:
    book.submit(order("bob", BUY, 105, 10))

    (fill,) = book.submit(order("alice", SELL, 100, 10))

    assert isinstance(fill, Fill)
    assert (fill.price, fill.taker_side, fill.buyer_refund) == (105, SELL, 0)


def test_buyer_who_reserved_a_higher_limit_gets_the_difference_back(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 10))

    (fill,) = book.submit(order("bob", BUY, 105, 4))

    assert isinstance(fill, Fill)
    assert fill.buyer_refund == (105 - 100) * 4


def test_a_house_quote_that_crosses_on_arrival_trades_at_its_own_price(
    book: OrderBook, order: Orders
) -> None:
    # A bid resting far above where the house quotes (it outlived the house's asks)
    bid = order("bob", BUY, 105, 10)
    book.submit(bid)

    # The house's new ask crosses it on arrival: it sells at its quote, not at bob's limit
    (fill,) = book.submit(order("house#m", SELL, 100, 4)._replace(quote=True))

    assert isinstance(fill, Fill)
    assert (fill.price, fill.taker_side, fill.buyer_refund) == (100, SELL, (105 - 100) * 4)


def test_a_house_bid_that_crosses_on_arrival_pays_its_own_price(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 95, 10))

    (fill,) = book.submit(order("house#m", BUY, 100, 4)._replace(quote=True))

    assert isinstance(fill, Fill)
    assert (fill.price, fill.taker_side, fill.buyer_refund) == (100, BUY, 0)


def test_best_price_trades_first(book: OrderBook, order: Orders) -> None:
    dear = order("alice", SELL, 102, 10)
    cheap = order("carol", SELL, 101, 10)
    book.submit(dear)
    book.submit(cheap)

    (fill,) = book.submit(order("bob", BUY, 110, 10))

    assert isinstance(fill, Fill)
    assert (fill.sell_order_id, fill.price) == (cheap.order_id, 101)


def test_at_one_price_the_oldest_order_trades_first(book: OrderBook, order: Orders) -> None:
    first = order("alice", SELL, 100, 10)
    second = order("carol", SELL, 100, 10)
    book.submit(first)
    book.submit(second)

    (fill,) = book.submit(order("bob", BUY, 100, 10))

    assert isinstance(fill, Fill)
    assert fill.sell_order_id == first.order_id
    assert book.remaining(second.order_id) == 10


def test_an_order_sweeps_levels_until_prices_stop_crossing(book: OrderBook, order: Orders) -> None:
    for price in (100, 101, 102, 103):
        book.submit(order("alice", SELL, price, 5))

    events = book.submit(order("bob", BUY, 102, 20))

    assert [(f.price, f.quantity) for f in fills(events)] == [(100, 5), (101, 5), (102, 5)]
    assert (book.best_bid(), book.best_ask()) == (102, 103)
    book.check_invariants()


def test_at_rest_the_book_is_never_crossed(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 5))
    book.submit(order("bob", BUY, 120, 50))
    book.submit(order("carol", SELL, 90, 100))

    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask
    book.check_invariants()


def test_self_trade_cancels_the_newer_order_and_releases_its_rest(book: OrderBook, order: Orders) -> None:
    resting = order("alice", SELL, 100, 10)
    book.submit(resting)
    newer = order("alice", BUY, 100, 10)

    (cancel,) = book.submit(newer)

    assert cancel == Cancel(newer.order_id, "alice", BUY, 100, 10, CancelReason.SELF_TRADE)
    assert cancel.released == 1_000
    assert book.remaining(resting.order_id) == 10


def test_self_trade_prevention_keeps_the_fills_made_before_it(book: OrderBook, order: Orders) -> None:
    book.submit(order("carol", SELL, 99, 4))
    book.submit(order("alice", SELL, 100, 10))
    taker = order("alice", BUY, 100, 10)

    events = book.submit(taker)

    assert [(f.price, f.quantity) for f in fills(events)] == [(99, 4)]
    assert cancels(events) == [Cancel(taker.order_id, "alice", BUY, 100, 6, CancelReason.SELF_TRADE)]
    assert taker.order_id not in book


def test_gtc_rests_what_it_cannot_fill(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 3))
    bid = order("bob", BUY, 100, 10, GTC)

    events = book.submit(bid)

    assert cancels(events) == []
    assert book.remaining(bid.order_id) == 7
    assert book.best_bid() == 100


def test_ioc_trades_what_it_can_and_the_rest_is_cancelled(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 3))
    bid = order("bob", BUY, 100, 10, IOC)

    events = book.submit(bid)

    assert [f.quantity for f in fills(events)] == [3]
    assert cancels(events) == [Cancel(bid.order_id, "bob", BUY, 100, 7, CancelReason.IOC_REMAINDER)]
    assert bid.order_id not in book


def test_ioc_that_crosses_nothing_is_cancelled_whole(book: OrderBook, order: Orders) -> None:
    bid = order("bob", BUY, 100, 10, IOC)

    events = book.submit(bid)

    assert events == [Cancel(bid.order_id, "bob", BUY, 100, 10, CancelReason.IOC_REMAINDER)]
    assert len(book) == 0


def test_fok_fills_completely_at_once(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 6))
    book.submit(order("carol", SELL, 101, 6))

    events = book.submit(order("bob", BUY, 101, 10, FOK))

    assert [(f.price, f.quantity) for f in fills(events)] == [(100, 6), (101, 4)]
    assert cancels(events) == []


def test_fok_that_cannot_fill_completely_is_cancelled_completely(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 6))
    book.submit(order("carol", SELL, 102, 6))
    bid = order("bob", BUY, 101, 10, FOK)

    events = book.submit(bid)

    assert events == [Cancel(bid.order_id, "bob", BUY, 101, 10, CancelReason.FOK_UNFILLED)]
    assert book.remaining("order-0001") == 6, "nothing traded"


def test_fok_does_not_count_liquidity_behind_the_players_own_order(book: OrderBook, order: Orders) -> None:
    book.submit(order("carol", SELL, 100, 5))
    book.submit(order("bob", SELL, 100, 5))
    book.submit(order("dave", SELL, 100, 5))
    bid = order("bob", BUY, 100, 10, FOK)

    events = book.submit(bid)

    assert events == [Cancel(bid.order_id, "bob", BUY, 100, 10, CancelReason.FOK_UNFILLED)]


def test_an_order_past_its_expiry_does_not_trade(book: OrderBook, order: Orders) -> None:
    book.submit(order("alice", SELL, 100, 10))
    late = order("bob", BUY, 100, 10, GTC, expires_at=1_000)

    events = book.submit(late, now=1_000)

    assert events == [Cancel(late.order_id, "bob", BUY, 100, 10, CancelReason.EXPIRED)]


def test_a_resting_order_expires_before_anything_trades_against_it(book: OrderBook, order: Orders) -> None:
    stale = order("alice", SELL, 100, 10, GTC, expires_at=1_000)
    fresh = order("carol", SELL, 101, 10)
    book.submit(stale, now=0)
    book.submit(fresh, now=0)

    events = book.submit(order("bob", BUY, 101, 10), now=1_000)

    assert events[0] == Cancel(stale.order_id, "alice", SELL, 100, 10, CancelReason.EXPIRED)
    assert [(f.sell_order_id, f.price) for f in fills(events)] == [(fresh.order_id, 101)]


def test_expiry_releases_exactly_what_is_still_reserved(book: OrderBook, order: Orders) -> None:
    bid = order("bob", BUY, 50, 10, GTC, expires_at=5_000)
    book.submit(bid, now=0)
    book.submit(order("alice", SELL, 50, 4), now=1)

    (expired,) = book.expire(now=5_000)

    assert (expired.quantity, expired.released, expired.reason) == (6, 6 * 50, CancelReason.EXPIRED)
    assert len(book) == 0


def test_the_fee_is_taken_from_the_seller_and_rounded_down(order: Orders) -> None:
    book = OrderBook(fee_bps=200)
    book.submit(order("alice", SELL, 33, 3))

    (fill,) = book.submit(order("bob", BUY, 33, 3))

    assert isinstance(fill, Fill)
    assert fill.notional == 99
    assert fill.fee == 1  # 99 × 2 % = 1.98, rounded down


def test_a_cancel_releases_the_remaining_reservation(book: OrderBook, order: Orders) -> None:
    bid = order("bob", BUY, 20, 10)
    book.submit(bid)
    book.submit(order("alice", SELL, 20, 3))

    cancel = book.cancel(bid.order_id)

    assert cancel == Cancel(bid.order_id, "bob", BUY, 20, 7, CancelReason.USER)
    assert cancel.released == 140
    assert book.cancel(bid.order_id) is None, "a second cancel finds nothing"
    assert book.best_bid() is None


def test_orders_must_arrive_in_order_id_order(book: OrderBook, order: Orders) -> None:
    first, second = order("alice", SELL, 100, 1), order("bob", SELL, 100, 1)
    book.submit(second)

    with pytest.raises(ValueError, match="order-id order"):
        book.submit(first)


def test_uncross_gives_the_older_order_its_price_whatever_the_input_order(order: Orders) -> None:
    older = order("alice", SELL, 100, 10)
    newer = order("bob", BUY, 110, 10)

    result = uncross([newer, older], fee_bps=0, now=0)

    assert [(f.price, f.buyer_refund) for f in result.fills] == [(100, 100)]


def test_uncrossing_a_book_at_rest_changes_nothing(order: Orders) -> None:
    arrivals = [
        order("alice", SELL, 100, 10),
        order("bob", BUY, 99, 5),
        order("carol", BUY, 101, 4, IOC),
        order("dave", SELL, 98, 20),
    ]
    first = uncross(arrivals, fee_bps=0, now=0)

    again = uncross(list(first.book.resting()), fee_bps=0, now=0)

    assert first.events, "the arrivals did trade"
    assert again.events == []
    assert list(again.book.resting()) == list(first.book.resting())
