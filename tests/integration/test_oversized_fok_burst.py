"""FOK orders too large for one transaction arriving together (a reviewer's find): the matcher found
them one per round, so eleven in one batch used up every round, nothing was committed, and every
later settlement of their market failed the same way: the book stayed crossed, the FOKs open with
their coins reserved. On the memory engine, whose wake-up queue holds every material, the stuck
records at its head then starved every other market."""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from mercato.local.memory_lane import MemoryPipeline
from mercato.matcher.settlement import Planner
from mercato.testing.invariants import problems
from tests.integration.conftest import SECRET
from tests.integration.pipelines import PipelineApi

FOKS = 11  # one more than the rounds left after the first: the smallest burst that froze the market


def _oversized_foks(api: PipelineApi) -> list[str]:
    """Forty one-unit asks of wheat resting, then ``FOKS`` FOK bids for 40 each (each would sweep
    forty makers: more than one transaction's 100 writes hold), all in one batch."""
    api.list_market("wheat")
    api.list_market("iron")
    api.deposit("alice", "coins", 10_000_000)
    api.deposit("bob", "wheat", 1_000)
    for _ in range(40):
        assert api.order("bob", "Sell", 1, 10).status == 202
    api.pipeline.drain()
    return [api.order("alice", "Buy", 40, 10, timeInForce="FOK").body["orderId"] for _ in range(FOKS)]


def test_every_oversized_fok_of_a_burst_is_cancelled_and_the_market_trades_on() -> None:
    api = PipelineApi(MemoryPipeline.create(SECRET))
    foks = _oversized_foks(api)

    api.deposit("carol", "coins", 1_000)
    ioc = api.order("carol", "Buy", 1, 10, timeInForce="IOC").body["orderId"]
    api.pipeline.drain()

    answers = [api.call("GET", f"/orders/{order_id}", player="alice").body for order_id in foks]
    assert {(a["status"], a["filledQuantity"]) for a in answers} == {("cancelled", 0)}
    assert api.call("GET", f"/orders/{ioc}", player="carol").body["status"] == "filled"
    assert api.call("GET", "/accounts/me", player="alice").body["balances"]["coins"]["reserved"] == 0
    assert problems(api.read, api.tables, drained=True) == []


def test_a_market_whose_settlement_keeps_failing_does_not_hold_up_the_others() -> None:
    # Given wheat's settlement failing every time (its wake-ups first in the queue, a hundred of them)
    api = PipelineApi(MemoryPipeline.create(SECRET))
    _oversized_foks(api)
    matcher = api.pipeline.matcher
    settle = matcher.settle

    def wheat_fails(material: str, hints: object = ()) -> object:
        if material == "wheat":
            raise RuntimeError("an injected failure: wheat cannot settle")
        return settle(material, hints)  # type: ignore[arg-type]

    matcher.settle = wheat_fails  # type: ignore[assignment,method-assign]
    for n in range(100):
        assert api.order("bob", "Sell", 1, 1_000 + n).status == 202

    # When iron's orders cross behind them
    api.deposit("dave", "iron", 5)
    api.deposit("erin", "coins", 1_000)
    assert api.order("dave", "Sell", 1, 6, material="iron").status == 202
    ioc = api.order("erin", "Buy", 1, 6, material="iron", timeInForce="IOC").body["orderId"]
    for _ in range(3):  # as the stack's pump does: each failed hand-over is tried again later
        with pytest.raises(BatchProcessingError):  # wheat's records never settle
            api.pipeline.drain()

    # Then iron settled all the same
    assert api.call("GET", f"/orders/{ioc}", player="erin").body["status"] == "filled"


def test_a_burst_of_oversized_foks_costs_a_bounded_number_of_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine cancels a FOK too large for one transaction in its turn: one found per plan made a
    burst of K cost K + 1 uncrossings, plans and fill-sequence reads (a reviewer measured 9.2 s for
    1,000 here, a Lambda timeout away from freezing the market again)."""
    api = PipelineApi(MemoryPipeline.create(SECRET))
    _oversized_foks(api)
    for _ in range(60 - FOKS):
        api.order("alice", "Buy", 40, 10, timeInForce="FOK")
    plans = 0
    plan = Planner.plan

    def counted(self: Planner, *args: Any, **kwargs: Any) -> Any:
        nonlocal plans
        plans += 1
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(Planner, "plan", counted)

    settled = api.pipeline.matcher.settle("wheat")

    assert plans == 1  # the engine cancelled all sixty in their turns: the plan fits
    assert settled.cancels == 60  # the FOKs it cancelled are counted (logs, trace spans)


MESSI = "lionel-messi"


class _FokDuringRead:
    """The matcher's store, with a FOK arriving between the house step (which took the new quotes'
    ids) and the book read: the FOK's UUIDv7 is newer than the quotes, so it meets them."""

    def __init__(self, store: Any, place: Any) -> None:
        self._store, self._place = store, place

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def read_book(self, *args: Any, **kwargs: Any) -> Any:
        if self._place is not None:
            place, self._place = self._place, None
            place()
        return self._store.read_book(*args, **kwargs)


def test_a_fok_arriving_during_a_requote_settles() -> None:
    """A FOK accepted while the matcher reads the book after a goal is newer than the house's new
    quotes and fills against them (a reviewer found the settlement failing with KeyError)."""
    api = PipelineApi(MemoryPipeline.create(SECRET))
    assert api.list_footballer(MESSI).status == 201
    api.drain()
    api.deposit("bob", MESSI, 5)
    api.deposit("fan", "coins", 1_000_000)
    assert api.order("bob", "Sell", 1, 1_105, material=MESSI).status == 202
    api.drain()
    body = {"eventId": "g1", "material": MESSI, "matchId": "final", "minute": 3}
    assert api.call("POST", "/events/goals", body, admin=True).status == 202  # F 1000 -> 1100
    fok: list[str] = []

    def place() -> None:  # a FOK for bob's ask and 10 of the new ladder's first ask (1111)
        reply = api.order("fan", "Buy", 11, 1_111, material=MESSI, timeInForce="FOK")
        fok.append(reply.body["orderId"])

    matcher = api.pipeline.matcher
    matcher.store = _FokDuringRead(matcher.store, place)
    matcher.settle(MESSI)
    matcher.store = matcher.store._store
    api.drain()

    assert api.call("GET", f"/orders/{fok[0]}", player="fan").body["status"] == "filled"
