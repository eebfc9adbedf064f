"""Invariant 6 in ``mercato sim``: a matcher that keeps the books balanced but breaks price-time
priority (each buyer pays its own limit, not the resting ask) is found by the reference book's
check between drains, and by nothing else: conservation and escrow still hold."""

import pytest

from mercato.local.sim import kind_of, simulate
from mercato.matcher import service
from mercato.matcher.book import BookOrder, Fill, FokFits, Uncrossed, uncross
from mercato.matcher.handler import logger as matcher_logger
from mercato.models.money import fee_for


def buyers_pay_their_limit(
    orders: list[BookOrder], *, fee_bps: int, now: int, fok_fits: FokFits | None = None
) -> Uncrossed:
    result = uncross(orders, fee_bps=fee_bps, now=now, fok_fits=fok_fits)
    limit = {order.order_id: order.price for order in orders}
    events = [
        event._replace(
            price=limit[event.buy_order_id],
            buyer_refund=0,
            fee=fee_for(limit[event.buy_order_id] * event.quantity, fee_bps),
        )
        if isinstance(event, Fill)
        else event
        for event in result.events
    ]
    return Uncrossed(events, result.book)


@pytest.fixture(autouse=True)
def _quiet_matcher() -> None:
    matcher_logger.setLevel("CRITICAL")


def test_the_default_simulation_compares_trades_with_the_reference_book_and_they_agree() -> None:
    figures = simulate(1, store="memory")

    assert figures.failure is None
    assert figures.price_time_compared > 10, "intervals were compared, not only followed"


def test_a_matcher_whose_buyers_pay_their_limit_is_found_by_the_price_time_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "uncross", buyers_pay_their_limit)

    figures = simulate(1, store="memory")

    assert figures.failure is not None, "the default simulation finds it"
    assert kind_of(figures.failure.split(": ", 1)[1]) == "price-time", figures.failure
