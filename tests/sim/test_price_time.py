"""Invariant 6 in ``mercato sim``: a matcher that keeps the books balanced but breaks price-time
priority (each buyer pays its own limit, not the resting ask) is found by the reference book's
check between drains, and by the tables' own pricing check (each trade at its resting order's
price); conservation and escrow still hold. Each check finds it without the other."""

import pytest

from mercato.local.sim import kind_of, simulate
from mercato.matcher import service
from mercato.matcher.book import BookOrder, Fill, FokFits, Uncrossed, uncross
from mercato.matcher.handler import logger as matcher_logger
from mercato.models.money import fee_for
from mercato.testing import invariants
from mercato.testing.price_time import PriceTime


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
    monkeypatch.setattr(invariants, "_pricing_problems", lambda *tables: [])

    figures = simulate(1, store="memory")

    assert figures.failure is not None, "the default simulation finds it"
    assert figures.problem is not None
    assert kind_of(figures.problem) == "price-time", figures.failure


def test_a_matcher_whose_buyers_pay_their_limit_is_found_in_the_tables_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reviewer's find: the invariant checker (what ``make demo`` and every test use) passed this
    matcher, and one charging twice the fee; a trade is now checked against its orders and market."""
    monkeypatch.setattr(service, "uncross", buyers_pay_their_limit)
    monkeypatch.setattr(PriceTime, "check", lambda self, *args: [])

    figures = simulate(1, store="memory")

    assert figures.failure is not None, "the default simulation finds it"
    assert figures.problem is not None
    assert kind_of(figures.problem) == "pricing", figures.failure
