"""An order placed after a goal meets the goal's ladder however late the goal's record settles (a
reviewer's find). The house's new quotes took fresh ids at settlement, newer than every order, so when
the goal and a fan's order settled in one round the order replayed first: an IOC or FOK found no house
quote and was cancelled, and a GTC buy at 1,200 rested and the new ladder filled it at 1,200, its own
limit, instead of the house's ask of 1,111. The quotes now carry the goal's instant
(``Matcher._quote_id``). Each case ran red before the fix, on both lanes."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from mercato.matcher.house import house_player
from tests.integration.pipelines import PipelineApi, pipeline_on

MESSI = "lionel-messi"
HOUSE = house_player(MESSI)


class Exchange(PipelineApi):
    def goal(self, event_id: str) -> int:
        body = {"eventId": event_id, "material": MESSI, "matchId": "final", "minute": 23}
        return self.call("POST", "/events/goals", body, admin=True).status

    def trades(self) -> list[tuple[int, int]]:
        body = self.call("GET", f"/markets/{MESSI}/trades").body
        return sorted((int(t["price"]), int(t["quantity"])) for t in body["trades"])

    def status(self, player: str, order_id: str) -> Any:
        return self.call("GET", f"/orders/{order_id}", player=player).body


@pytest.fixture(params=["memory", "moto"])
def exchange(request: pytest.FixtureRequest) -> Iterator[Exchange]:
    with pipeline_on(request.param) as pipeline:
        ex = Exchange(pipeline)
        assert ex.list_footballer(MESSI).status == 201  # base 1000, 100 a goal
        ex.drain()
        assert ex.deposit("alice", "coins", 100_000).status in (200, 201)
        ex.drain()
        yield ex


def _goal_then_order(ex: Exchange, settle_goal_first: bool, **extra: Any) -> str:
    assert ex.goal("wc:44:1") == 202
    if settle_goal_first:
        ex.drain()  # the goal's wake-up settled promptly
    reply = ex.order("alice", "Buy", 5, 1_200, MESSI, **extra)
    assert reply.status == 202, reply.body
    ex.drain()
    return str(reply.body["orderId"])


@pytest.mark.parametrize("tif", ["IOC", "FOK"])
def test_an_ioc_or_fok_placed_after_a_goal_meets_the_goals_ladder_whatever_the_batching(
    exchange: Exchange, tif: str
) -> None:
    # reference: the goal settled on its own first; the order then buys the house's new asks
    with pipeline_on("memory") as pipeline:
        prompt = Exchange(pipeline)
        assert prompt.list_footballer(MESSI).status == 201
        prompt.drain()
        prompt.deposit("alice", "coins", 100_000)
        prompt.drain()
        _goal_then_order(prompt, settle_goal_first=True, timeInForce=tif)
        expected = prompt.trades()
    assert expected == [(1_111, 5)], "the house's best ask after the goal (F 1,100)"

    # the same two requests, the goal's record merely late (settled in the order's round)
    order_id = _goal_then_order(exchange, settle_goal_first=False, timeInForce=tif)

    assert exchange.trades() == expected, (
        f"a late goal record changed the outcome: {exchange.status('alice', order_id)['status']}"
    )


def test_a_gtc_buy_placed_after_a_goal_pays_the_houses_ask_not_its_own_limit(exchange: Exchange) -> None:
    order_id = _goal_then_order(exchange, settle_goal_first=False)

    order = exchange.status("alice", order_id)
    assert order["filledQuantity"] == 5
    assert exchange.trades() == [(1_111, 5)], (
        "alice's buy arrived after the goal, so the goal's ladder (ask 1,111) was there first; "
        "she paid her own limit of 1,200 to the house instead"
    )


# Two goals settled in one step (the matcher lagging through both): the quotes took the last goal's
# instant, so an order placed between the goals met no house quote (a reviewer's find, after the fix
# above); they now take the first goal's.


def _goal_order_goal(ex: Exchange, **extra: Any) -> str:
    assert ex.goal("wc:44:1") == 202
    time.sleep(0.005)  # distinct milliseconds: goal 1 < order < goal 2
    reply = ex.order("alice", "Buy", 5, 1_300, MESSI, **extra)
    assert reply.status == 202, reply.body
    time.sleep(0.005)
    assert ex.goal("wc:44:2") == 202
    ex.drain()  # both goals' records late: they settle in the order's round
    return str(reply.body["orderId"])


def test_an_ioc_placed_between_two_goals_meets_a_house_ladder(exchange: Exchange) -> None:
    order_id = _goal_order_goal(exchange, timeInForce="IOC")
    order = exchange.status("alice", order_id)
    # settled promptly, the IOC buys 5 at the one-goal ladder's ask (1,111); even the two-goal
    # ladder's ask (1,212) is under its limit of 1,300
    assert order["filledQuantity"] == 5, f"met no house quote: {order['status']}, {exchange.trades()}"


def test_a_gtc_buy_placed_between_two_goals_does_not_pay_its_own_limit(exchange: Exchange) -> None:
    _goal_order_goal(exchange)
    prices = [price for price, _ in exchange.trades()]
    assert prices
    assert 1_300 not in prices, f"the new ladder took alice's resting buy at her own limit: {prices}"
