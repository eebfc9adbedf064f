"""A cancel wakes its market's matcher, so the market's ticker stops naming the cancelled order. The
pipe forwards only new orders, goals and listings, so before, ``GET /markets/{m}`` showed a cancelled
bid as the best bid until the market's next order or goal, while its book showed none (a reviewer's
find). Intake puts a wake-up on the stream after a cancel (``mercato.pipes.wake``)."""

from typing import Any

import pytest

from mercato.intake.service import Intake
from tests.integration.pipelines import Engine, PipelineApi, pipeline_on


def ticker(api: PipelineApi) -> tuple[Any, Any]:
    market = api.call("GET", "/markets/wheat").body
    return market.get("bestBid"), market.get("bestAsk")


@pytest.mark.parametrize("engine", ["memory", "moto"])
def test_cancelling_the_best_bid_or_ask_moves_the_markets_ticker(engine: Engine) -> None:
    with pipeline_on(engine) as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.deposit("alice", "coins", 1_000)
        api.deposit("bob", "wheat", 10)
        low = api.order("alice", "Buy", 1, 70).body["orderId"]
        top = api.order("alice", "Buy", 1, 77).body["orderId"]
        ask = api.order("bob", "Sell", 1, 90).body["orderId"]
        api.drain()
        assert ticker(api) == (77, 90)

        assert api.call("DELETE", f"/orders/{top}", player="alice").status == 200
        api.drain()
        assert ticker(api) == (70, 90)

        assert api.call("DELETE", f"/orders/{ask}", player="bob").status == 200
        assert api.call("DELETE", f"/orders/{low}", player="alice").status == 200
        api.drain()
        assert ticker(api) == (None, None)


def test_a_wake_up_that_fails_leaves_the_cancel_done() -> None:
    """The cancel has committed when the wake-up is put: a Kinesis error is logged, the player gets
    the cancelled order, and the ticker waits for the market's next settlement."""
    with pipeline_on("memory") as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.deposit("alice", "coins", 1_000)
        order_id = api.order("alice", "Buy", 1, 77).body["orderId"]
        api.drain()

        def fails(material: str) -> None:
            raise RuntimeError("Kinesis is down")

        service: Intake = pipeline.service
        service.wake = fails
        reply = api.call("DELETE", f"/orders/{order_id}", player="alice")

        assert (reply.status, reply.body["status"]) == (200, "cancelled")
        assert api.balances("alice")["coins"] == {"available": 1_000, "reserved": 0}
