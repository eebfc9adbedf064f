"""Expiry is judged where an order arrived, not where the matcher happened to reach it (a reviewer's
find): a good-till-date buy that crossed a resting ask when it arrived, with a second to live, was
filled when the matcher ran at once and expired unfilled when its wake-up came a second or two late.
The same requests must give the same trades whatever the lag; a resting GTD order is live for every
order that arrived before its expiry, and only for those."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from mercato.models.ids import order_id_at
from tests.integration.pipelines import Engine, PipelineApi, pipeline_on

T = datetime(2026, 6, 18, 15, 0, tzinfo=UTC)
T_MS = int(T.timestamp() * 1000)


class Lagging:
    """A pipeline whose intake's clock (and so its order ids) is set by the test, and whose matcher
    runs ``lag_ms`` after it."""

    def __init__(self, engine: Engine, lag_ms: int) -> None:
        self.engine, self.lag_ms, self.ms = engine, lag_ms, T_MS
        self._n = count()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, tz=UTC)

    def matcher(self) -> int:
        return self.ms + self.lag_ms

    def new_id(self) -> str:
        return order_id_at(self.ms, "test", str(next(self._n)))

    @contextmanager
    def run(self) -> Iterator[PipelineApi]:
        with pipeline_on(
            self.engine, intake_clock=self.now, new_id=self.new_id, matcher_clock=self.matcher
        ) as pipeline:
            api = PipelineApi(pipeline)
            assert api.list_market("wheat").status == 201
            assert api.deposit("alice", "coins", 10_000).status in (200, 201)
            assert api.deposit("bob", "wheat", 10).status in (200, 201)
            yield api


def _expiring(seconds: float) -> str:
    return (T + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _trades(api: PipelineApi) -> list[tuple[int, int]]:
    return [(t["price"], t["quantity"]) for t in api.call("GET", "/markets/wheat/trades").body["trades"]]


@pytest.mark.parametrize("engine", ["memory", "moto"])
@pytest.mark.parametrize("lag_ms", [0, 1_000, 2_000])
def test_a_gtd_order_that_crossed_on_arrival_trades_however_late_the_matcher(
    engine: Engine, lag_ms: int
) -> None:
    with Lagging(engine, lag_ms).run() as api:
        assert api.order("bob", "Sell", 5, 100).status == 202
        taker = api.order("alice", "Buy", 5, 100, expiresAt=_expiring(1)).body["orderId"]
        api.drain()

        assert api.call("GET", f"/orders/{taker}", player="alice").body["status"] == "filled"
        assert _trades(api) == [(100, 5)]


@pytest.mark.parametrize("engine", ["memory", "moto"])
@pytest.mark.parametrize(("arrives_after_ms", "trades"), [(500, [(100, 5)]), (1_500, [])])
def test_a_resting_gtd_order_is_live_for_the_orders_that_arrived_before_its_expiry(
    engine: Engine, arrives_after_ms: int, trades: list[tuple[int, int]]
) -> None:
    clock = Lagging(engine, 0)
    with clock.run() as api:
        maker = api.order("bob", "Sell", 5, 100, expiresAt=_expiring(1)).body["orderId"]
        clock.ms = T_MS + arrives_after_ms  # alice's buy arrives; its wake-up, and the maker's, wait
        assert api.order("alice", "Buy", 5, 100).status == 202
        clock.lag_ms = 2_000 - arrives_after_ms  # the matcher reaches both at T + 2 s
        api.drain()

        assert _trades(api) == trades
        assert api.call("GET", f"/orders/{maker}", player="bob").body["status"] == (
            "filled" if trades else "expired"
        )
