"""Footballer stocks through the whole pipeline: the house's ladder, goals applied exactly once,
trades against the house, and a goal landing in a rush of buy orders (DESIGN §6). The house's
rules run on the in-memory exchange; a goal redelivered by Kinesis, and the biggest rush, on moto."""

import random
from collections.abc import Iterator
from typing import Any

import pytest

from mercato.matcher.handler import handle_batch
from mercato.matcher.house import house_player
from mercato.matcher.ports import PendingGoal
from mercato.storage.items import EVENT_PREFIX
from tests.integration.pipelines import Engine, PipelineApi, pipeline_on

MESSI = "lionel-messi"
HOUSE = house_player(MESSI)


class Exchange(PipelineApi):
    def market(self) -> dict[str, Any]:
        body: dict[str, Any] = self.call("GET", f"/markets/{MESSI}").body
        return body

    def house_quotes(self) -> list[tuple[str, int, int]]:
        return sorted(
            (i["side"], int(i["price"]), int(i["remaining"]))
            for i in self.read(self.tables.book)
            if i["material"] == MESSI and i.get("kind") == "order" and i["playerId"] == HOUSE
        )

    def goal(self, event_id: str, minute: int = 23) -> int:
        body = {"eventId": event_id, "material": MESSI, "matchId": "final", "minute": minute}
        return self.call("POST", "/events/goals", body, admin=True).status


@pytest.fixture
def exchange(request: pytest.FixtureRequest) -> Iterator[Exchange]:
    engine: Engine = getattr(request, "param", "memory")
    with pipeline_on(engine) as pipeline:
        exchange = Exchange(pipeline)
        assert exchange.list_footballer(MESSI).status == 201  # base 1000, 100 a goal
        exchange.drain()
        yield exchange


def test_listing_a_footballer_makes_the_house_quote_around_its_fundamental_value(exchange: Exchange) -> None:
    quotes = exchange.house_quotes()
    market = exchange.market()

    assert market["fundamentalValue"] == 1_000
    assert quotes == [
        ("Buy", 980, 10),
        ("Buy", 985, 10),
        ("Buy", 990, 10),
        ("Sell", 1_010, 10),
        ("Sell", 1_015, 10),
        ("Sell", 1_020, 10),
    ]
    assert (market["bestBid"], market["bestAsk"]) == (990, 1_010)
    refused = exchange.call("GET", "/accounts/me", player=HOUSE)
    assert (refused.status, refused.code) == (403, "reserved_player"), "nobody can sign in as the house"
    house = {i["sk"]: i for i in exchange.read(exchange.tables.accounts) if i["playerId"] == HOUSE}
    assert house["ASSET#lionel-messi"]["reserved"] == 30
    assert house["ASSET#coins"]["reserved"] == 10 * (980 + 985 + 990)
    assert {k for k in house if k.startswith("DEPOSIT#")} == {
        "DEPOSIT#house-endowment-lionel-messi",
        "DEPOSIT#house-endowment-coins",
    }


def test_a_goal_raises_f_once_and_replaces_the_ladder_above_the_old_one(exchange: Exchange) -> None:
    old = exchange.house_quotes()

    assert exchange.goal("wc:44:1") == 202
    exchange.drain()

    market = exchange.market()
    new = exchange.house_quotes()
    assert (market["goals"], market["fundamentalValue"]) == (1, 1_100)
    assert min(price for side, price, _ in new if side == "Buy") > max(price for _, price, _ in old)
    assert all(price >= 1_100 for side, price, _ in new if side == "Sell")
    assert all(price <= 1_100 for side, price, _ in new if side == "Buy")
    records = [
        r for r in exchange.read(exchange.tables.orders) if r.get("playerId") == HOUSE and "status" in r
    ]
    assert sorted(r["status"] for r in records) == ["cancelled"] * 6 + ["open"] * 6
    (event,) = [i for i in exchange.read(exchange.tables.book) if i["sk"] == EVENT_PREFIX + "wc:44:1"]
    assert (event["material"], event["applied"]) == (MESSI, True)


@pytest.mark.parametrize("exchange", ["moto"], indirect=True)
def test_a_goal_posted_again_redelivered_or_replayed_counts_once(exchange: Exchange) -> None:
    pipeline = exchange.moto
    assert exchange.goal("wc:44:1") == 202
    pipeline.pipe.drain()
    pipeline.mapping.fetch()
    records = [r for lane in pipeline.mapping._lanes.values() for r in lane.records]
    pipeline.drain()
    settled = exchange.snapshot()

    assert exchange.goal("wc:44:1") == 200, "posted again: the same event"
    handle_batch(pipeline.matcher, {"Records": records})  # delivered twice
    handle_batch(pipeline.matcher, {"Records": records + records})  # replayed
    exchange.drain()

    assert exchange.market()["goals"] == 1
    assert exchange.snapshot() == settled


def test_a_trade_against_the_house_settles_with_escrow_and_conservation(exchange: Exchange) -> None:
    exchange.deposit("alice", "coins", 100_000)
    exchange.deposit("bob", MESSI, 5)

    buy = exchange.order("alice", "Buy", 15, 1_030, MESSI).body["orderId"]
    sell = exchange.order("bob", "Sell", 5, 900, MESSI).body["orderId"]
    exchange.drain()

    trades = {
        (t["price"], t["quantity"]) for t in exchange.call("GET", f"/markets/{MESSI}/trades").body["trades"]
    }
    assert {(1_010, 10), (1_015, 5)} <= trades, "alice bought the house's two best asks"
    assert exchange.call("GET", f"/orders/{buy}", player="alice").body["status"] == "filled"
    assert exchange.call("GET", f"/orders/{sell}", player="bob").body["status"] == "filled"
    assert exchange.balances("alice")[MESSI]["available"] == 15
    ladder = exchange.house_quotes()
    assert len(ladder) == 6, "the house re-quoted what was consumed"


@pytest.mark.parametrize("side", ["Buy", "Sell"])
def test_an_order_beyond_the_ladder_trades_at_the_house_s_prices_not_at_its_own_limit(
    exchange: Exchange, side: str
) -> None:
    # Given the house quoting 30 a side around F = 1,000, and alice ready to trade far more
    exchange.deposit("alice", "coins", 10_000_000)
    exchange.deposit("alice", MESSI, 60)
    exchange.drain()
    limit = 100_000 if side == "Buy" else 1

    # When she buys 60 at 100,000 (or sells 60 at 1), more than the ladder shows at once
    placed = exchange.order("alice", side, 60, limit, MESSI).body["orderId"]
    exchange.drain()

    # Then every share trades at a price the house quoted, around F: each re-quote that met the rest
    # of her order sold (or bought) at its own price, and she got the difference back
    trades = [
        t for t in exchange.read(exchange.tables.trades) if placed in (t["buyOrderId"], t["sellOrderId"])
    ]
    assert sum(t["quantity"] for t in trades) > 30, "the house re-quoted and met the rest"
    assert all(900 <= t["price"] <= 1_100 for t in trades), sorted(t["price"] for t in trades)
    order = exchange.call("GET", f"/orders/{placed}", player="alice").body
    notional = sum(t["price"] * t["quantity"] for t in trades)
    assert order["filledNotional"] == notional
    coins = exchange.balances("alice")["coins"]
    fees = sum(t["fee"] for t in trades)
    spent = notional if side == "Buy" else fees - notional
    reserved = (60 - order["filledQuantity"]) * limit if side == "Buy" and order["status"] == "open" else 0
    assert coins["available"] + coins["reserved"] == 10_000_000 - spent
    assert coins["reserved"] == reserved


@pytest.mark.parametrize(
    ("exchange", "fans"),
    [
        pytest.param("memory", 1_000, id="memory-1,000 fans"),
        # a consistent Query on moto reads the whole table, so even 250 fans cost a minute: make soak
        pytest.param("moto", 250, id="moto-250 fans", marks=pytest.mark.slow),
        pytest.param("moto", 1_000, id="moto-1,000 fans", marks=pytest.mark.slow),
    ],
    indirect=["exchange"],
)
def test_a_goal_in_a_rush_of_fans_buy_orders_moves_f_once_and_nobody_meets_a_stale_quote(
    exchange: Exchange, fans: int
) -> None:
    rng = random.Random(11)
    players = [f"fan-{n:04d}" for n in range(fans)]
    for player in players:
        exchange.deposit(player, "coins", 10_000)
    exchange.drain()
    # Given the fans send buy orders as the goal goes in: all of them reach the book before
    # the matcher runs, together with the goal
    for player in players:
        assert (
            exchange.order(player, "Buy", rng.randint(1, 3), rng.randint(1_000, 1_150), MESSI).status == 202
        )
    assert exchange.goal("wc:44:1", minute=36) == 202

    exchange.drain()

    market = exchange.market()
    assert (market["goals"], market["fundamentalValue"]) == (1, 1_100)
    trades = exchange.read(exchange.tables.trades)
    assert trades, "fans bought from the house at its new prices"
    assert all(t["sellerId"] == HOUSE for t in trades), "only the house sells here"
    assert all(t["price"] >= 1_100 for t in trades), "no fill at a pre-goal price"
    assert market["bestBid"] is None or market["bestAsk"] is None or market["bestBid"] < market["bestAsk"]
    house_shares = next(
        i
        for i in exchange.read(exchange.tables.accounts)
        if i["playerId"] == HOUSE and i["sk"] == f"ASSET#{MESSI}"
    )
    assert house_shares["available"] + house_shares["reserved"] >= 0


@pytest.mark.parametrize("movement", ["deposits", "withdrawals"])
def test_the_game_server_cannot_credit_or_debit_a_house_account(exchange: Exchange, movement: str) -> None:
    before = exchange.snapshot()
    body = {
        ("depositId" if movement == "deposits" else "withdrawalId"): "x-1",
        "asset": "coins",
        "quantity": 5,
    }

    reply = exchange.call("POST", f"/accounts/{HOUSE}/{movement}", body, admin=True)

    assert (reply.status, reply.code) == (403, "reserved_player")
    assert exchange.snapshot() == before


class _GoalLandsMidSettlement:
    """The matcher's store, with a goal and then alice's buy landing just after the settlement of
    Messi has read the pending goals (and before it reads the book)."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._store = exchange.pipeline.matcher.store
        self.landed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def pending_goals(self, material: str) -> list[PendingGoal]:
        goals: list[PendingGoal] = self._store.pending_goals(material)
        if material == MESSI and not self.landed:
            self.landed = True
            assert self._exchange.goal("wc:44:1") == 202
            assert self._exchange.order("alice", "Buy", 10, 1_050, MESSI).status == 202
        return goals


@pytest.mark.parametrize("exchange", ["memory", "moto"], indirect=True)
def test_an_order_placed_after_a_goal_never_meets_the_house_s_pre_goal_quotes(exchange: Exchange) -> None:
    # Given the house quoting around F = 1,000 (asks from about 1,010), and alice's coins
    exchange.deposit("alice", "coins", 100_000)
    exchange.deposit("bob", "coins", 1_000)
    exchange.drain()
    # When a goal (F to 1,100) and then alice's buy at 1,050 land while a settlement of Messi, woken
    # by bob's bid, is between reading the pending goals and reading the book
    racing = _GoalLandsMidSettlement(exchange)
    real, exchange.pipeline.matcher.store = exchange.pipeline.matcher.store, racing
    assert exchange.order("bob", "Buy", 1, 1, MESSI).status == 202
    exchange.drain()
    exchange.pipeline.matcher.store = real
    exchange.drain()
    # Then the goal is applied and alice's buy, below every post-goal ask, has not traded
    assert racing.landed
    assert exchange.market()["fundamentalValue"] == 1_100
    bought = [t for t in exchange.read(exchange.tables.trades) if t.get("buyerId") == "alice"]
    assert bought == [], f"alice bought at the pre-goal quotes: {bought}"
