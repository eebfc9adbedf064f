"""A good-till-date order in a market where nothing else happens is expired, and its reservation
released, by the scheduled sweep (DESIGN §3: expiry "releases its reservation, wherever the order
rests"). Before, only the market's next order or goal woke the matcher, so a reviewer's GTD sell
stayed open and reserved, and listed on the book, indefinitely.

On AWS the sweep is a scheduled invocation of the matcher function that puts a wake-up on the
stream for each market with an order due, keyed by the material, so the settlement is made by the
stream's one reader of that material, as every other (``mercato.matcher.sweep``)."""

import time
from datetime import UTC, datetime, timedelta

from mercato.matcher.sweep import SWEEP_EVENT, is_sweep, wake_due_markets
from mercato.testing.invariants import problems
from tests.integration.pipelines import PipelineApi, pipeline_on


class Clock:
    """The matcher's clock: the wall clock, ``ahead_ms`` ahead."""

    ahead_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.ahead_ms


def test_the_scheduled_sweep_wakes_a_quiet_market_through_the_stream() -> None:
    clock = Clock()
    with pipeline_on("moto", matcher_clock=clock) as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.list_market("copper")
        api.deposit("bob", "wheat", 10)
        expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
        order_id = api.order("bob", "Sell", 3, 20, expiresAt=expires).body["orderId"]
        api.drain()
        moto = api.moto
        sweep = [moto.matcher.store, moto.pipe.kinesis, moto.pipe.kinesis_stream]

        # Before its expiry, nothing is due: the sweep wakes no market
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]) == []

        # After it, with nothing else happening in wheat, the sweep's wake-up settles wheat
        clock.ahead_ms = 3_000
        invocations = moto.mapping.invocations
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]) == ["wheat"]
        moto.mapping.drain()

        assert moto.mapping.invocations == invocations + 1, "the wake-up came through Kinesis"
        order = api.call("GET", f"/orders/{order_id}", player="bob").body
        assert (order["status"], order["filledQuantity"]) == ("expired", 0)
        assert api.balances("bob")["wheat"] == {"available": 10, "reserved": 0}
        assert api.call("GET", "/markets/wheat/book").body["asks"] == []
        assert problems(api.read, moto.tables) == []
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]) == [], "nothing is due any more"


def test_the_schedule_s_event_is_told_from_a_batch() -> None:
    assert is_sweep(dict(SWEEP_EVENT))
    assert not is_sweep({"Records": []})
