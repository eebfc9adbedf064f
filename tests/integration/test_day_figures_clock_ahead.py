"""The 24-hour figures while a matcher's clock runs ahead of intake's (its own module: it builds its
own moto pipeline, which a module-scoped one would collide with)."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.pipelines import Engine, pipeline_on
from tests.integration.test_pipeline import Exchange, stocked

T0 = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["memory", "moto"])
@pytest.mark.parametrize("ahead", [timedelta(seconds=2), timedelta(minutes=61)], ids=["2 s", "61 min"])
def test_a_matcher_clock_ahead_of_intake_s_never_drops_the_window_s_first_hour(
    engine: Engine, ahead: timedelta
) -> None:
    """The matcher's clock runs ahead of intake's: its last settlement is stamped in the hour after
    intake's now, so the 25 hours the market keeps start an hour after the window's first hour. The
    figures read that hour's trades one by one and equal those worked out from the stored trades (a
    reviewer found the first trade left out: any stamp in the next hour did it)."""
    clock = {"now": T0}
    second = timedelta(seconds=1)
    with pipeline_on(
        engine,
        matcher_clock=lambda: int((clock["now"] + ahead).timestamp() * 1000),
        intake_clock=lambda: clock["now"],
    ) as pipeline:
        exchange = stocked(Exchange(pipeline))
        now = T0 + timedelta(hours=25) - second - second / 10  # 18:59:58.9 the next day, intake's clock
        first = now - timedelta(hours=24) + second / 10 - ahead  # stamped just inside the window
        for when, price in ((first, 10), (T0 + timedelta(hours=5), 12), (now - second / 2, 13)):
            clock["now"] = when
            exchange.order("bob", "Sell", 1, price)
            exchange.order("alice", "Buy", 1, price)
            exchange.drain()
        clock["now"] = now

        market = exchange.call("GET", "/markets/wheat").body
        stored = exchange.call("GET", "/markets/wheat/trades").body["trades"]

    window = [
        trade["price"]
        for trade in reversed(stored)
        if now - timedelta(days=1) <= datetime.fromisoformat(trade["executedAt"]) <= now
    ]
    figures = {key: market[key] for key in ("change24h", "high24h", "low24h", "volume24h")}
    assert window == [10, 12]  # the last trade is stamped after intake's now
    assert figures == {"change24h": 2, "high24h": 12, "low24h": 10, "volume24h": 2}
