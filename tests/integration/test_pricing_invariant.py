"""The invariant checker's pricing check: each trade at its resting order's price, within both
orders' limits, paying its market's fee. A reviewer's find: a matcher that charged twice the fee,
or filled a buyer at its own limit above the resting ask, passed every invariant the demo and the
tests check (conservation counts fees as whatever the trades say)."""

from typing import Any

import pytest

from mercato.matcher import book, service
from mercato.models.money import fee_for
from mercato.testing.invariants import problems
from tests.integration.pipelines import PipelineApi, pipeline_on


def _pricing(api: PipelineApi) -> list[str]:
    return [problem for problem in problems(api.read, api.tables) if problem.startswith("pricing:")]


def test_a_fee_twice_the_market_s_rate_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book, "BPS_DENOMINATOR", 5_000)  # an engine that takes twice the listed fee
    with pipeline_on("memory") as pipeline:
        api = PipelineApi(pipeline)
        assert api.list_market("wheat", feeBps=200).status == 201
        api.deposit("bob", "wheat", 10)
        api.deposit("alice", "coins", 1_000)
        api.order("bob", "Sell", 10, 50)
        api.order("alice", "Buy", 10, 50)
        pipeline.drain()
        (trade,) = api.read(api.tables.trades)
        assert trade["fee"] == 2 * fee_for(500, 200)
        assert _pricing(api) == [f"pricing: trade {trade['tradeId']} paid 20 in fees, not 10"]


def test_a_trade_at_the_taker_s_limit_above_the_resting_ask_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def at_taker_limit(*args: Any, **kwargs: Any) -> book.Uncrossed:
        result = book.uncross(*args, **kwargs)
        events = [
            e._replace(price=e.price + e.buyer_refund // e.quantity, buyer_refund=0)
            if isinstance(e, book.Fill) and e.buyer_refund
            else e
            for e in result.events
        ]
        return book.Uncrossed(events, result.book)

    monkeypatch.setattr(service, "uncross", at_taker_limit)
    with pipeline_on("memory") as pipeline:
        api = PipelineApi(pipeline)
        assert api.list_market("wheat", feeBps=0).status == 201
        api.deposit("bob", "wheat", 10)
        api.deposit("alice", "coins", 1_000)
        api.order("bob", "Sell", 10, 15)
        pipeline.drain()
        api.order("alice", "Buy", 10, 20)
        pipeline.drain()
        (trade,) = api.read(api.tables.trades)
        assert trade["price"] == 20
        assert _pricing(api) == [f"pricing: trade {trade['tradeId']} at 20, not its resting order's price 15"]


def test_a_house_re_quote_that_took_a_resting_order_s_limit_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def quotes_at_resting_prices(orders: Any, **kwargs: Any) -> book.Uncrossed:
        return book.uncross([order._replace(quote=False) for order in orders], **kwargs)

    monkeypatch.setattr(service, "uncross", quotes_at_resting_prices)  # the engine before the house rule
    with pipeline_on("memory") as pipeline:
        api = PipelineApi(pipeline)
        assert api.list_footballer("lionel-messi").status == 201  # asks 10 each at 1,010, 1,015, 1,020
        api.deposit("alice", "coins", 10_000_000)
        pipeline.drain()
        api.order("alice", "Buy", 40, 100_000, material="lionel-messi")
        pipeline.drain()
        requoted = [t for t in api.read(api.tables.trades) if t["takerSide"] == "Sell"]
        assert requoted
        assert all(t["price"] == 100_000 for t in requoted), "the re-quote took alice's limit"
        quoted = {r["orderId"]: r["price"] for r in api.read(api.tables.orders) if "orderId" in r}
        assert sorted(_pricing(api)) == sorted(
            f"pricing: trade {t['tradeId']} at 100000, not its house quote's price {quoted[t['sellOrderId']]}"
            for t in requoted
        )


def test_fair_trades_at_several_fee_rates_pass() -> None:
    with pipeline_on("memory") as pipeline:
        api = PipelineApi(pipeline)
        for material, fee_bps in (("wheat", 0), ("copper", 200), ("iron", 10_000)):
            assert api.list_market(material, feeBps=fee_bps).status == 201
            api.deposit("bob", material, 10)
            api.order("bob", "Sell", 7, 33, material=material)
        api.deposit("alice", "coins", 10_000)
        for material in ("wheat", "copper", "iron"):
            api.order("alice", "Buy", 10, 40, material=material)
        pipeline.drain()
        assert len(api.read(api.tables.trades)) == 3
        assert problems(api.read, api.tables) == []
