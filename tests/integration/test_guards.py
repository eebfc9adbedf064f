"""Each condition the storage adapters write, held to its own rule (``make mutants`` removes them one at
a time and needs a test here, or elsewhere, to fail).

Most are races: a second request or a second matcher landing between a writer's read and its
write, placed there deterministically with the client wrapper's ``before`` hook. The rest are
contract tests of one adapter call: a writer holding a stale or impossible view must be refused and
change nothing.
"""

from collections.abc import Callable
from typing import Any

import pytest

from mercato.feed.dynamo import DynamoFeedStore
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.local.faults import StorageCalls
from mercato.local.invariants import scan, violations
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.ports import StateMoved
from mercato.matcher.service import Matcher
from mercato.matcher.settlement import GoalApplied, Planner
from mercato.matcher.transactions import Ticker
from mercato.storage.names import TableNames
from tests.integration.conftest import Api

NOW_MS = 1_780_000_000_000


def _matcher(client: Any, tables: TableNames, before: Callable[[int, str], None] | None = None) -> Matcher:
    calls = StorageCalls(client, before=before)
    return Matcher(DynamoMatcherStore(calls, tables), clock=lambda: NOW_MS, sleep=lambda s: None)


def _once(operation: str, action: Callable[[], None]) -> Callable[[int, str], None]:
    """A ``before`` hook that runs ``action`` just before the first call of ``operation``."""
    done: list[bool] = []

    def before(call: int, name: str) -> None:
        if name == operation and not done:
            done.append(True)
            action()

    return before


def _settler(matcher: Matcher) -> Callable[[], None]:
    def settle() -> None:
        matcher.settle("wheat")

    return settle


def _reserved(api: Api, player: str, asset: str) -> int:
    return api.balances(player)[asset]["reserved"]


@pytest.fixture
def wheat(api: Api) -> Api:
    assert api.list_market("wheat", feeBps=100).status == 201
    for player in ("alice", "bob", "carol"):
        api.deposit(player, "coins", 10_000)
        api.deposit(player, "wheat", 100)
    return api


def _intake(api: Api, before: Callable[[int, str], None]) -> Any:
    from mercato.intake.app import build_handler
    from tests.integration.conftest import SECRET

    calls = StorageCalls(api.client, before=before)
    return build_handler(Intake(DynamoIntakeStore(calls, api.tables)), lambda: SECRET)


# -- intake ------------------------------------------------------------------------------------


def test_a_fill_landing_inside_a_cancel_releases_only_what_is_left(wheat: Api) -> None:
    # Given bob sells 5 at 20 and 10 at 30, and alice's buy of 3 at 20 is waiting to be matched
    sell = wheat.order("bob", "Sell", 5, 20).body["orderId"]
    wheat.order("bob", "Sell", 10, 30)
    matcher = _matcher(wheat.client, wheat.tables)
    matcher.settle("wheat")
    wheat.order("alice", "Buy", 3, 20)
    # When bob cancels, and the fill lands between the cancel's read and its write
    racing = Api(
        _intake(wheat, _once("transact_write_items", _settler(matcher))),
        wheat.client,
        wheat.tables,
    )
    reply = racing.call("DELETE", f"/orders/{sell}", player="bob")
    # Then the cancel read again and released the 2 left, not the 5 it first saw
    assert reply.status == 200
    assert reply.body["filledQuantity"] == 3
    assert _reserved(wheat, "bob", "wheat") == 10
    assert violations(wheat.client, wheat.tables) == []


def test_a_fill_landing_inside_a_cancel_of_the_only_order_releases_only_what_is_left(wheat: Api) -> None:
    # The same race with nothing else reserved: the release can never exceed the reservation
    sell = wheat.order("bob", "Sell", 5, 20).body["orderId"]
    matcher = _matcher(wheat.client, wheat.tables)
    wheat.order("alice", "Buy", 3, 20)
    racing = Api(
        _intake(wheat, _once("transact_write_items", _settler(matcher))),
        wheat.client,
        wheat.tables,
    )
    assert racing.call("DELETE", f"/orders/{sell}", player="bob").status == 200
    assert _reserved(wheat, "bob", "wheat") == 0
    assert wheat.balances("bob")["wheat"]["available"] == 97
    assert violations(wheat.client, wheat.tables) == []


def test_a_complete_fill_landing_inside_a_cancel_leaves_the_order_filled(wheat: Api) -> None:
    sell = wheat.order("bob", "Sell", 5, 20).body["orderId"]
    wheat.order("bob", "Sell", 10, 30)
    matcher = _matcher(wheat.client, wheat.tables)
    wheat.order("alice", "Buy", 5, 20)
    racing = Api(
        _intake(wheat, _once("transact_write_items", _settler(matcher))),
        wheat.client,
        wheat.tables,
    )
    reply = racing.call("DELETE", f"/orders/{sell}", player="bob")
    assert (reply.status, reply.code) == (409, "order_not_open")
    assert wheat.call("GET", f"/orders/{sell}", player="bob").body["status"] == "filled"
    assert _reserved(wheat, "bob", "wheat") == 10
    assert violations(wheat.client, wheat.tables) == []


def _resend_race(wheat: Api) -> int:
    """The game resends an order while its first send is between its read and its write; the
    first send's status."""
    body = {"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 10, "clientOrderId": "c-1"}

    def resend() -> None:
        assert wheat.call("POST", "/orders", body, player="alice").status == 202

    racing = Api(_intake(wheat, _once("transact_write_items", resend)), wheat.client, wheat.tables)
    return racing.call("POST", "/orders", body, player="alice").status


def test_a_resend_racing_the_first_send_of_a_client_order_id_stores_one_order(wheat: Api) -> None:
    _resend_race(wheat)
    records = [r for r in scan(wheat.client, wheat.tables.orders) if r["sk"].startswith("ORDER#")]
    assert len(records) == 1
    assert _reserved(wheat, "alice", "coins") == 20
    assert violations(wheat.client, wheat.tables, drained=False) == []


def test_a_resend_racing_the_first_send_answers_the_first_with_the_order(wheat: Api) -> None:
    assert _resend_race(wheat) == 200


def _late_order(api: Api, player: str, side: str, quantity: int, price: int) -> None:
    """An order whose id was drawn a second ago, by an intake call that reaches the book only now."""
    from mercato.intake.app import build_handler
    from mercato.models.ids import order_id_millis
    from tests.integration.conftest import SECRET
    from tests.sim.crash import uuid7

    oldest = min(
        int(order_id_millis(i["orderId"])) for i in scan(api.client, api.tables.book) if "orderId" in i
    )
    intake = Intake(DynamoIntakeStore(api.client, api.tables), new_id=lambda: uuid7(oldest - 1_000, 1))
    late = Api(build_handler(intake, lambda: SECRET), api.client, api.tables)
    assert late.order(player, side, quantity, price).status == 202


def _twice(wheat: Api, first: tuple[str, str], second: tuple[str, str]) -> None:
    """Two orders drawn the same id (a broken id source): the second must be refused, whole."""
    from mercato.intake.app import build_handler
    from tests.integration.conftest import SECRET

    same = "0190a000-0000-7000-8000-000000000001"
    handler = build_handler(
        Intake(DynamoIntakeStore(wheat.client, wheat.tables), new_id=lambda: same), lambda: SECRET
    )
    api = Api(handler, wheat.client, wheat.tables)
    assert api.order(first[0], first[1], 2, 10).status == 202
    before = api.snapshot()
    assert api.order(second[0], second[1], 3, 10).status == 500  # it cannot happen: an internal error
    assert api.snapshot() == before


def test_an_order_id_drawn_twice_for_another_player_is_refused_by_the_book(wheat: Api) -> None:
    _twice(wheat, ("alice", "Buy"), ("carol", "Buy"))  # same book key, another player's record


def test_an_order_id_drawn_twice_for_the_other_side_is_refused_by_the_record(wheat: Api) -> None:
    _twice(wheat, ("alice", "Buy"), ("alice", "Sell"))  # another book key, the same record


# -- the matcher -------------------------------------------------------------------------------


def test_a_second_matcher_settling_between_the_first_ones_read_and_commit_overfills_nothing(
    wheat: Api,
) -> None:
    # Given bob's resting sell of 10 and alice's buy of 4, which matcher A has read
    wheat.order("bob", "Sell", 10, 20)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 4, 20)

    def second_matcher() -> None:
        # carol's buy arrives and a second matcher (a stuck Lambda's) fills it from bob's sell
        wheat.order("carol", "Buy", 4, 20)
        _matcher(wheat.client, wheat.tables).settle("wheat")

    # When A commits after B
    _matcher(wheat.client, wheat.tables, _once("transact_write_items", second_matcher)).settle("wheat")
    # Then both fills stand and bob's sell has exactly 2 left
    book = [i for i in scan(wheat.client, wheat.tables.book) if i.get("kind") == "order"]
    assert [(i["playerId"], i["remaining"]) for i in book] == [("bob", 2)]
    assert _reserved(wheat, "bob", "wheat") == 2
    assert violations(wheat.client, wheat.tables) == []


@pytest.mark.parametrize("other_sell", [True, False], ids=["bob-reserves-more", "bob-reserves-only-this"])
def test_a_second_matcher_filling_the_whole_maker_first_leaves_the_first_nothing_to_fill(
    wheat: Api, other_sell: bool
) -> None:
    # Given bob's resting sell of 4 (and maybe another of 10 at 30) and alice's buy of 4, read by A
    wheat.order("bob", "Sell", 4, 20)
    if other_sell:
        wheat.order("bob", "Sell", 10, 30)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 4, 20)

    def second_matcher() -> None:  # carol's buy, drawn its id before alice's, lands late; a second
        _late_order(wheat, "carol", "Buy", 4, 20)  # matcher gives it all of bob's sell
        _matcher(wheat.client, wheat.tables).settle("wheat")

    _matcher(wheat.client, wheat.tables, _once("transact_write_items", second_matcher)).settle("wheat")
    # Then carol has bob's 4 and alice's buy rests, unfilled
    trades = scan(wheat.client, wheat.tables.trades)
    assert [(t["buyerId"], t["quantity"]) for t in trades] == [("carol", 4)]
    assert _reserved(wheat, "alice", "coins") == 80
    assert violations(wheat.client, wheat.tables) == []


def test_a_second_matcher_settling_the_same_fill_first_leaves_it_settled_once(wheat: Api) -> None:
    # Given bob's sell of 10, alice's buy of 4 read by A, and alice's other resting buy of 5 at 10
    wheat.order("bob", "Sell", 10, 20)
    wheat.order("alice", "Buy", 5, 10)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 4, 20)
    # When a second matcher settles the same fill before A commits it
    second = _once("transact_write_items", _settler(_matcher(wheat.client, wheat.tables)))
    _matcher(wheat.client, wheat.tables, second).settle("wheat")
    # Then the fill exists once
    assert len(scan(wheat.client, wheat.tables.trades)) == 1
    assert _reserved(wheat, "bob", "wheat") == 6
    assert violations(wheat.client, wheat.tables) == []


def test_a_plan_for_a_market_that_does_not_exist_is_refused_and_creates_nothing(
    dynamodb: Any, tables: TableNames
) -> None:
    store = DynamoMatcherStore(dynamodb, tables)
    plan = Planner("ghost", {}, NOW_MS).plan([], Ticker(None, None))
    with pytest.raises(StateMoved):
        store.commit(plan[0])
    assert scan(dynamodb, tables.markets) == []


def test_the_ticker_is_never_written_for_a_market_that_does_not_exist(
    dynamodb: Any, tables: TableNames
) -> None:
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        DynamoMatcherStore(dynamodb, tables).set_ticker("ghost", 10, 12)
    assert scan(dynamodb, tables.markets) == []


def test_a_goal_already_applied_is_refused_even_to_a_writer_with_the_current_version(api: Api) -> None:
    assert api.list_footballer("lionel-messi").status == 201
    matcher = _matcher(api.client, api.tables)
    goal = {"eventId": "wc:44:1", "material": "lionel-messi", "matchId": "final", "minute": 9}
    assert api.call("POST", "/events/goals", goal, admin=True).status == 202
    matcher.settle("lionel-messi")
    market = matcher.store.market("lionel-messi")
    assert market is not None
    assert market.footballer is not None
    assert market.footballer.goals == 1
    # When a writer holding the current version applies the same goal again
    plan = Planner("lionel-messi", {}, NOW_MS, version=market.version).plan(
        [GoalApplied("wc:44:1")], Ticker(market.best_bid, market.best_ask)
    )
    with pytest.raises(StateMoved):
        matcher.store.commit(plan[0])
    again = matcher.store.market("lionel-messi")
    assert again is not None
    assert again.footballer is not None
    assert again.footballer.goals == 1


# -- the feed ----------------------------------------------------------------------------------


def test_a_stale_feed_count_is_refused_and_the_newer_count_kept(api: Api) -> None:
    assert api.list_footballer("lionel-messi").status == 201
    feed = DynamoFeedStore(api.client, api.tables)
    assert feed.save("lionel-messi", was=0, now=2)
    # When a feed run that read 0 (before the other stored 2) stores its 1
    assert not feed.save("lionel-messi", was=0, now=1)
    assert [f.feed_goals for f in feed.followed()] == [2]


def test_the_feed_never_stores_a_count_for_a_market_that_does_not_exist(api: Api) -> None:
    assert not DynamoFeedStore(api.client, api.tables).save("ghost", was=0, now=1)
    assert scan(api.client, api.tables.markets) == []
