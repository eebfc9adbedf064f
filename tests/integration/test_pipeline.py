"""intake -> stream -> pipe -> Kinesis -> event source mapping -> matcher, drained deterministically:
every matching rule of DESIGN §3 settled on the in-memory exchange, what the moto pipeline adds
(redelivery in any shape, late records, the pipe's filter) on moto, and the invariants of §8 after
each drain."""

import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercato.local.pipeline import LocalPipeline
from mercato.matcher.handler import handle_batch
from mercato.storage.items import FILL_PREFIX
from mercato.testing.invariants import problems
from tests.integration.pipelines import Engine, PipelineApi, pipeline_on

START = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)

on_moto = pytest.mark.parametrize("exchange", ["moto"], indirect=True)
"""The test needs what only the moto pipeline has (the stream, the pipe, Kinesis lanes)."""


class Exchange(PipelineApi):
    """The API plus the pipeline behind it."""

    def order_status(self, player: str, order_id: str) -> tuple[str, int, int]:
        body = self.call("GET", f"/orders/{order_id}", player=player).body
        return body["status"], body["filledQuantity"], body["filledNotional"]

    def trades(self, material: str = "wheat") -> list[tuple[int, int, str]]:
        body = self.call("GET", f"/markets/{material}/trades", query={"limit": "200"}).body
        return [(t["price"], t["quantity"], t["takerSide"]) for t in reversed(body["trades"])]


def deterministic_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=(1_780_000_000_000 << 80) | (0x7 << 76) | (0b10 << 62) | next(counter)))


def stocked(exchange: Exchange) -> Exchange:
    exchange.list_market("wheat")
    exchange.list_market("copper", feeBps=0)
    for player in ("alice", "bob", "carol", "dave"):
        exchange.deposit(player, "coins", 100_000)
        exchange.deposit(player, "wheat", 1_000)
        exchange.deposit(player, "copper", 1_000)
    return exchange


@pytest.fixture
def exchange(request: pytest.FixtureRequest) -> Iterator[Exchange]:
    engine: Engine = getattr(request, "param", "memory")
    with pipeline_on(engine) as pipeline:
        yield stocked(Exchange(pipeline))


# -- the rules, end to end --------------------------------------------------------------------


def test_a_trade_settles_at_the_resting_price_and_refunds_the_buyer(exchange: Exchange) -> None:
    sell = exchange.order("bob", "Sell", 10, 20).body["orderId"]
    buy = exchange.order("alice", "Buy", 10, 25).body["orderId"]

    exchange.drain()

    assert exchange.trades() == [(20, 10, "Buy")]
    assert exchange.order_status("alice", buy) == ("filled", 10, 200)
    assert exchange.order_status("bob", sell) == ("filled", 10, 200)
    assert exchange.balances("alice")["coins"] == {"available": 100_000 - 200, "reserved": 0}
    assert exchange.balances("alice")["wheat"] == {"available": 1_010, "reserved": 0}
    assert exchange.balances("bob")["coins"] == {"available": 100_000 + 200 - 4, "reserved": 0}
    market = exchange.call("GET", "/markets/wheat").body
    assert (market["lastPrice"], market["volume"], market["bestBid"], market["bestAsk"]) == (
        20,
        10,
        None,
        None,
    )


def test_fills_take_the_best_price_then_the_oldest_order(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 5, 21)
    first = exchange.order("carol", "Sell", 5, 20).body["orderId"]
    second = exchange.order("dave", "Sell", 5, 20).body["orderId"]
    exchange.drain()

    exchange.order("alice", "Buy", 7, 30)
    exchange.drain()

    assert exchange.trades() == [(20, 5, "Buy"), (20, 2, "Buy")]
    assert exchange.order_status("carol", first) == ("filled", 5, 100)
    assert exchange.order_status("dave", second) == ("open", 2, 40)


def test_self_trade_prevention_cancels_the_newer_order(exchange: Exchange) -> None:
    resting = exchange.order("alice", "Sell", 5, 20).body["orderId"]
    newer = exchange.order("alice", "Buy", 5, 20).body["orderId"]

    exchange.drain()

    assert exchange.trades() == []
    assert exchange.order_status("alice", newer) == ("cancelled", 0, 0)
    assert exchange.order_status("alice", resting) == ("open", 0, 0)
    assert exchange.balances("alice")["coins"] == {"available": 100_000, "reserved": 0}


def test_ioc_trades_what_it_can_and_releases_the_rest(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 3, 20)
    ioc = exchange.order("alice", "Buy", 10, 20, timeInForce="IOC").body["orderId"]

    exchange.drain()

    assert exchange.order_status("alice", ioc) == ("cancelled", 3, 60)
    assert exchange.balances("alice")["coins"] == {"available": 100_000 - 60, "reserved": 0}


def test_an_ioc_that_crosses_nothing_is_cancelled_not_left_resting(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 3, 50)
    ioc = exchange.order("alice", "Buy", 10, 20, timeInForce="IOC").body["orderId"]

    exchange.drain()

    assert exchange.order_status("alice", ioc) == ("cancelled", 0, 0)
    assert exchange.call("GET", "/markets/wheat/book").body["bids"] == []


def test_fok_fills_completely_or_not_at_all(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 6, 20)
    killed = exchange.order("alice", "Buy", 10, 20, timeInForce="FOK").body["orderId"]
    exchange.drain()
    filled = exchange.order("carol", "Buy", 6, 20, timeInForce="FOK").body["orderId"]
    exchange.drain()

    assert exchange.order_status("alice", killed) == ("cancelled", 0, 0)
    assert exchange.order_status("carol", filled) == ("filled", 6, 120)


def test_an_expired_order_never_trades_and_its_reservation_is_released() -> None:
    now = [START]
    clocks = {"intake_clock": lambda: now[0], "matcher_clock": lambda: int(now[0].timestamp() * 1000)}
    with pipeline_on("memory", **clocks) as pipeline:
        exchange = stocked(Exchange(pipeline))
        stale = exchange.order(
            "bob", "Sell", 5, 20, expiresAt=(START + timedelta(minutes=1)).isoformat()
        ).body["orderId"]
        exchange.drain()
        now[0] = START + timedelta(minutes=2)

        exchange.order("alice", "Buy", 5, 20)
        exchange.drain()

        assert exchange.trades() == []
        assert exchange.order_status("bob", stale) == ("expired", 0, 0)
        assert exchange.balances("bob")["wheat"] == {"available": 1_000, "reserved": 0}


def test_the_fee_is_rounded_down_and_accrues_to_the_market(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 3, 33)
    exchange.order("alice", "Buy", 3, 33)

    exchange.drain()

    market = next(m for m in exchange.read(exchange.tables.markets) if m["material"] == "wheat")
    assert market["feesAccrued"] == 1  # 99 x 2 % = 1.98
    assert exchange.balances("bob")["coins"]["available"] == 100_000 + 98


def test_a_sweep_through_forty_makers_fills_each_at_its_own_price(exchange: Exchange) -> None:
    """On the in-memory exchange a commit has no size limit; that the planner cuts a sweep into
    transactions of at most 100 actions is pinned on moto by test_review_findings'
    test_a_sweep_fills_one_transaction_to_exactly_the_100_action_limit."""
    for n in range(40):
        exchange.order(("bob", "carol", "dave")[n % 3], "Sell", 1, 100 + n)
    exchange.drain()

    exchange.order("alice", "Buy", 40, 200)
    exchange.drain()

    assert [price for price, _, _ in exchange.trades()] == [100 + n for n in range(40)]
    assert exchange.balances("alice")["wheat"]["available"] == 1_040


# -- exactly once under at-least-once delivery --------------------------------------------------


def captured_batches(exchange: Exchange) -> list[dict[str, Any]]:
    """Run the pipe and the mapping, keeping every event the matcher was handed."""
    mapping = exchange.moto.mapping
    original = mapping.handler
    batches: list[dict[str, Any]] = []

    def keep(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
        batches.append(event)
        return original(event, context)

    mapping.handler = keep
    exchange.moto.drain()
    mapping.handler = original
    return batches


def place_a_busy_book(exchange: Exchange) -> None:
    rng = random.Random(5)
    for _ in range(30):
        material = rng.choice(["wheat", "copper"])
        player = rng.choice(["alice", "bob", "carol", "dave"])
        side = rng.choice(["Buy", "Sell"])
        tif = rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"])
        assert (
            exchange.order(
                player, side, rng.randint(1, 9), rng.randint(18, 22), material, timeInForce=tif
            ).status
            == 202
        )


@on_moto
def test_redelivering_batches_twice_shuffled_or_split_changes_nothing(exchange: Exchange) -> None:
    place_a_busy_book(exchange)
    batches = captured_batches(exchange)
    settled = exchange.snapshot()
    assert problems(exchange.read, exchange.tables) == []
    records = [record for batch in batches for record in batch["Records"]]
    assert {r["kinesis"]["partitionKey"] for r in records} == {"wheat", "copper"}, "two materials interleaved"

    matcher = exchange.moto.matcher
    for batch in batches:
        handle_batch(matcher, batch)
    handle_batch(matcher, {"Records": list(reversed(records))})
    for half in (records[: len(records) // 2], records[len(records) // 2 :]):
        handle_batch(matcher, {"Records": half})

    assert exchange.snapshot() == settled


def run_with_delivery(deliver: Callable[[LocalPipeline, list[dict[str, Any]]], None]) -> dict[str, Any]:
    """One reproducible session (fixed ids and clocks) whose Kinesis records the matcher receives as
    ``deliver`` decides; return the final state of every table."""
    clocks = {"intake_clock": lambda: START, "matcher_clock": lambda: 1_781_200_000_000}
    with pipeline_on("moto", new_id=deterministic_ids(), **clocks) as moto_pipeline:
        exchange = stocked(Exchange(moto_pipeline))
        place_a_busy_book(exchange)
        pipeline = exchange.moto
        pipeline.pipe.drain()
        mapping = pipeline.mapping
        mapping.fetch()
        records = [record for lane in mapping._lanes.values() for record in lane.records]
        deliver(pipeline, records)
        for lane in mapping._lanes.values():
            lane.records.clear()
        exchange.drain()
        state = {name.removeprefix("test-"): items for name, items in exchange.snapshot().items()}
        state["fills"] = without_fill_numbers(state["fills"])
        return state


def without_fill_numbers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A player's fills are numbered in the order their settlements commit, and materials settle in
    the order their records arrive: the numbers may differ between deliveries, the fills may not. So
    check each player's numbers run 1..n without a gap, then compare the fills without them."""
    fills = [item for item in records if item["sk"].startswith(FILL_PREFIX)]
    for player in {item["playerId"] for item in fills}:
        numbers = sorted(int(item["seq"]) for item in fills if item["playerId"] == player)
        assert numbers == list(range(1, len(numbers) + 1))
    kept = [item for item in records if not item["sk"].startswith(FILL_PREFIX)]
    unnumbered = [{k: v for k, v in item.items() if k not in ("sk", "seq")} for item in fills]
    return kept + sorted(unnumbered, key=lambda item: str(item["fillId"]))


def test_the_same_records_delivered_in_any_shape_settle_to_the_same_state() -> None:
    def once(pipeline: LocalPipeline, records: list[dict[str, Any]]) -> None:
        handle_batch(pipeline.matcher, {"Records": records})

    def twice_shuffled(pipeline: LocalPipeline, records: list[dict[str, Any]]) -> None:
        shuffled = list(records)
        random.Random(3).shuffle(shuffled)
        handle_batch(pipeline.matcher, {"Records": shuffled})
        handle_batch(pipeline.matcher, {"Records": records})

    def one_by_one_backwards(pipeline: LocalPipeline, records: list[dict[str, Any]]) -> None:
        for record in reversed(records):
            handle_batch(pipeline.matcher, {"Records": [record]})

    states = [run_with_delivery(deliver) for deliver in (once, twice_shuffled, one_by_one_backwards)]

    assert states[0]["trades"], "the session did trade"
    assert states[1] == states[0]
    assert states[2] == states[0]


@on_moto
def test_a_record_that_arrives_after_its_order_was_matched_is_harmless(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 5, 20)
    exchange.order("alice", "Buy", 5, 20)
    pipeline = exchange.moto
    pipeline.pipe.drain()
    pipeline.mapping.fetch()
    lanes = [lane for lane in pipeline.mapping._lanes.values() if lane.records]
    records = [record for lane in lanes for record in lane.records]
    for lane in lanes:
        lane.records.clear()

    handle_batch(pipeline.matcher, {"Records": records[1:]})  # the buy's wake-up matches both
    matched = exchange.snapshot()
    handle_batch(pipeline.matcher, {"Records": records[:1]})  # the sell's wake-up, late

    assert exchange.trades() == [(20, 5, "Buy")]
    assert exchange.snapshot() == matched
    assert problems(exchange.read, exchange.tables) == []


@on_moto
def test_the_pipe_forwards_only_new_orders_keyed_by_material(exchange: Exchange) -> None:
    exchange.order("bob", "Sell", 5, 20)
    exchange.order("alice", "Buy", 5, 20)
    exchange.order("carol", "Buy", 5, 20, "copper")
    pipeline = exchange.moto

    pipeline.pipe.drain()
    forwarded = pipeline.pipe.forwarded
    pipeline.mapping.fetch()
    keys = sorted(
        r["kinesis"]["partitionKey"] for lane in pipeline.mapping._lanes.values() for r in lane.records
    )
    exchange.drain()  # settlement deletes both wheat orders: two REMOVE records on the stream

    assert (forwarded, keys) == (3, ["copper", "wheat", "wheat"])
    assert pipeline.pipe.forwarded == 3, "settlement never wakes the matcher"
    assert pipeline.pipe.filtered_out == 2
