"""A good-till-date order in a market where nothing else happens is expired, and its reservation
released, by the scheduled sweep (DESIGN §3: expiry "releases its reservation, wherever the order
rests"). Before, only the market's next order or goal woke the matcher, so a reviewer's GTD sell
stayed open and reserved, and listed on the book, indefinitely.

On AWS the sweep is a scheduled invocation of the matcher function that puts a wake-up on the
stream for each market with an order due, keyed by the material, so the settlement is made by the
stream's one reader of that material, as every other (``mercato.matcher.sweep``)."""

import importlib
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import pytest

from mercato.local.state import Redrive, settle_everything
from mercato.matcher.ports import DUE_PAGE
from mercato.matcher.service import Settled, SettlementFailed
from mercato.matcher.settings import STREAM_NAME_ENV
from mercato.matcher.sweep import SWEEP_EVENT, SWEEP_THREADS, due_markets, is_sweep, wake_due_markets
from mercato.resources import TABLES
from mercato.testing.invariants import problems
from tests.integration.pipelines import Engine, PipelineApi, pipeline_on


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
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]).woken == []

        # After it, with nothing else happening in wheat, the sweep's wake-up settles wheat
        clock.ahead_ms = 3_000
        invocations = moto.mapping.invocations
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]).woken == ["wheat"]
        moto.mapping.drain()

        assert moto.mapping.invocations == invocations + 1, "the wake-up came through Kinesis"
        order = api.call("GET", f"/orders/{order_id}", player="bob").body
        assert (order["status"], order["filledQuantity"]) == ("expired", 0)
        assert api.balances("bob")["wheat"] == {"available": 10, "reserved": 0}
        assert api.call("GET", "/markets/wheat/book").body["asks"] == []
        assert problems(api.read, moto.tables) == []
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]).woken == [], "nothing is due any more"


def test_the_schedule_s_event_is_told_from_a_batch() -> None:
    assert is_sweep(dict(SWEEP_EVENT))
    assert not is_sweep({"Records": []})
    assert not is_sweep({**SWEEP_EVENT, "Records": []}), "a batch is settled, never taken for a sweep"
    odd: list[object] = [[], None, "sweep"]
    assert [is_sweep(event) for event in odd] == [False, False, False]


@pytest.mark.parametrize("engine", ["memory", "moto"])
def test_one_wake_up_releases_every_expired_order_of_a_quiet_market_and_its_ticker_skips_them(
    engine: Engine,
) -> None:
    """A reviewer's find: the matcher released at most one page (``DUE_PAGE``, 50) of due orders per
    wake-up, and when every bid it read had expired it refreshed the ticker from the top of the book,
    another expired bid: after one sweep of 120 expired bids 7,000 coins stayed reserved and
    ``bestBid`` named the expired 100, for an hour at 3,000 orders on AWS. The memory engine reads the
    whole book, so only the DynamoDB adapter showed it. Now one wake-up settles page after page."""
    clock = Clock()
    with pipeline_on(engine, matcher_clock=clock) as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.deposit("ann", "coins", 1_000)
        api.deposit("bob", "coins", 1_000_000)
        api.order("ann", "Buy", 1, 50)  # a GTC bid that stays
        expires = (datetime.now(UTC) + timedelta(seconds=60)).isoformat().replace("+00:00", "Z")
        for _ in range(2 * DUE_PAGE + 20):  # every GTD bid set to end at the final whistle
            assert api.order("bob", "Buy", 1, 100, expiresAt=expires).status == 202
        api.drain()
        assert api.call("GET", "/markets/wheat").body["bestBid"] == 100
        clock.ahead_ms = 120_000

        store = pipeline.matcher.store
        woken = due_markets(store.materials(), store.due, clock())
        assert woken == ["wheat"]
        settle_everything(pipeline.matcher, Redrive(woken, {}))  # what one sweep's wake-up does

        assert api.balances("bob")["coins"] == {"available": 1_000_000, "reserved": 0}
        assert api.call("GET", "/markets/wheat").body["bestBid"] == 50
        assert store.due("wheat", clock()) == []
        assert problems(api.read, pipeline.tables) == []


def test_a_market_that_fails_to_settle_does_not_stop_the_stack_s_sweep_of_the_others() -> None:
    """A reviewer's find: the embedded stack settled the woken markets in one loop, so the first that
    raised ended the sweep, and (in sorted order) ended it every period: wheat's expired order stayed
    open and reserved. On AWS each market is its own record; now it is its own settlement here."""
    from mercato.local.stack import EmbeddedStack

    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, sweep_seconds=0) as stack:
        admin = stack.client("game-server", admin=True)
        for material in ("barley", "wheat"):
            admin.list_market({"material": material, "kind": "commodity", "name": material.title()})
            admin.deposit("bob", material, 10, f"g-{material}")
        expires = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        wheat = stack.client("bob").place("Sell", "wheat", 1, 20, expiresAt=expires)["orderId"]
        stack.client("bob").place("Sell", "barley", 1, 20, expiresAt=expires)
        stack.drain()
        time.sleep(1.1)
        matcher = stack._lane.matcher
        settle = matcher.settle

        def barley_fails(material: str, hints: Iterable[str] = ()) -> Settled:
            if material == "barley":
                raise SettlementFailed("barley: the book kept changing")
            return settle(material, hints)

        matcher.settle = barley_fails  # type: ignore[method-assign]
        assert stack.sweep() == ["barley", "wheat"]  # barley's failure is logged; wheat settles
        assert stack.client("bob").order(wheat)["status"] == "expired"
        assert stack.client("bob").balances()["balances"]["wheat"] == {"available": 10, "reserved": 0}


def test_the_deployed_sweep_looks_at_many_markets_at_once_and_finds_the_same() -> None:
    """A reviewer's find: the deployed sweep queried its markets one after another, so thousands of
    markets would outrun the function's 30 s timeout before a single wake-up was put. It looks at
    ``SWEEP_THREADS`` at once, and finds what the one-by-one look finds, in the catalog's order."""
    materials = [f"m{n:04d}" for n in range(200)]
    lock, running, most = threading.Lock(), [0], [0]

    def due(material: str, now: int) -> list[str]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return ["key"] if int(material[1:]) % 7 == 0 else []

    one_by_one = due_markets(materials, due, 0)
    at_once = due_markets(materials, due, 0, threads=SWEEP_THREADS)
    assert at_once == one_by_one == [m for m in materials if int(m[1:]) % 7 == 0]
    assert most[0] > 1


def test_a_market_that_fails_to_settle_at_start_does_not_keep_the_stack_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reviewer's find: raising the first failure once every market had settled made one
    footballer whose first settlement failed stop the whole start (and, with ``--data``, every later
    start on the directory). It is logged; the stack serves, every other house quoting."""
    from mercato.local.stack import EmbeddedStack
    from mercato.matcher.service import Matcher

    settle = Matcher.settle
    failed: list[str] = []

    def mbappe_fails(self: Matcher, material: str, hints: Iterable[str] = ()) -> Settled:
        if material == "kylian-mbappe" and not failed:  # once: its listing's record settles it later
            failed.append(material)
            raise SettlementFailed("kylian-mbappe: the book kept changing")
        return settle(self, material, hints)

    monkeypatch.setattr(Matcher, "settle", mbappe_fails)
    with EmbeddedStack(engine="memory", leaderboard_seconds=0, sweep_seconds=0) as stack:
        messi = stack.client("anyone").book("lionel-messi", 10)
        assert messi["bids"]
        assert messi["asks"]
        assert failed == ["kylian-mbappe"]


def test_a_market_a_re_drive_failed_to_settle_is_settled_by_the_next_sweep() -> None:
    """A reviewer's find: a restart's re-drive is the only wake-up a market whose records were lost
    gets, and one that failed left its crossed book crossed for good (the sweep woke only markets with
    an order due). The sweep now settles every market a re-drive or a sweep failed on, until it
    succeeds."""
    from mercato.local.stack import EmbeddedStack

    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, sweep_seconds=0) as stack:
        stack.client("game-server", admin=True).list_market(
            {"material": "wheat", "kind": "commodity", "name": "W"}
        )
        stack._retry(Redrive(["wheat"], {}, failed=["wheat"]))
        assert stack.sweep() == ["wheat"]
        assert stack.sweep() == [], "settled: not retried again"


def _matcher_down(event: object, context: object) -> NoReturn:
    raise RuntimeError("the matcher is down")


def test_a_market_whose_wake_ups_were_discarded_is_woken_by_the_sweep() -> None:
    """A reviewer's find: the mapping discards a record after 10 retries or an hour (an outage, the
    mapping disabled for an upgrade), the on-failure queue keeps only where it was, and the sweep
    woke only markets with a due order: a crossed book stayed crossed, with the buyer's coins
    reserved, and a goal stayed unapplied, until the market's next order. The sweep now also wakes a
    crossed book and a pending goal."""
    clock = Clock()
    with pipeline_on("moto", matcher_clock=clock) as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.list_market("copper")
        api.list_footballer()
        api.deposit("alice", "coins", 1_000)
        api.deposit("bob", "wheat", 10)
        api.drain()
        moto = api.moto
        sweep = [moto.matcher.store, moto.pipe.kinesis, moto.pipe.kinesis_stream]
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]).woken == []

        settle, moto.mapping.handler = moto.mapping.handler, _matcher_down
        assert api.order("bob", "Sell", 10, 20).status == 202
        assert api.order("alice", "Buy", 10, 25).status == 202
        goal = {"eventId": "g1", "material": "lionel-messi", "matchId": "final", "minute": 23}
        assert api.call("POST", "/events/goals", goal, admin=True).status == 202
        moto.mapping.drain()  # every retry fails: the records go to the on-failure queue
        moto.mapping.handler = settle
        moto.mapping.drain()
        assert moto.mapping.pending() == 0, "the records are gone"
        book = api.call("GET", "/markets/wheat/book").body
        assert (book["bids"][0]["price"], book["asks"][0]["price"]) == (25, 20), "crossed, not settled"

        assert sorted(wake_due_markets(sweep[0], clock(), *sweep[1:]).woken) == ["lionel-messi", "wheat"]
        moto.mapping.drain()

        assert api.balances("alice")["coins"] == {"available": 800, "reserved": 0}
        assert api.call("GET", "/markets/lionel-messi").body["goals"] == 1
        assert problems(api.read, moto.tables) == []
        assert wake_due_markets(sweep[0], clock(), *sweep[1:]).woken == [], "nothing is left to settle"


class _ScheduleContext:
    function_name = "matcher"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:matcher"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(("remaining_ms", "looked_at"), [(25_000, 2), (1_000, 0)])
def test_the_deployed_sweep_reports_what_it_looked_at_in_the_time_it_had(
    monkeypatch: pytest.MonkeyPatch, remaining_ms: int, looked_at: int
) -> None:
    """The matcher function's sweep event, as the schedule invokes it: it hands the invocation's
    time left to the sweep, which starts no slice of the catalog when too little is left."""
    with pipeline_on("moto") as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.list_market("copper")
        api.deposit("alice", "coins", 1_000)
        api.deposit("bob", "wheat", 10)
        api.drain()
        moto = api.moto
        moto.mapping.handler = _matcher_down
        assert api.order("bob", "Sell", 10, 20).status == 202
        assert api.order("alice", "Buy", 10, 25).status == 202
        moto.mapping.drain()  # the records are discarded: wheat is crossed
        for spec in TABLES:
            monkeypatch.setenv(spec.env_var, getattr(moto.tables, spec.logical_name))
        monkeypatch.setenv(STREAM_NAME_ENV, moto.pipe.kinesis_stream)
        sys.modules.pop("mercato.matcher.entry", None)
        entry = importlib.import_module("mercato.matcher.entry")

        answer = entry.handler(SWEEP_EVENT, _ScheduleContext(remaining_ms))

        assert answer == {"woken": ["wheat"][:looked_at], "lookedAt": looked_at, "markets": 2}
