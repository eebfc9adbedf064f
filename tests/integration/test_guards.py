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
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.ports import BoardPointer
from mercato.leaderboard.ranking import Window
from mercato.local.faults import StorageCalls
from mercato.matcher.book import BookOrder, Fill
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.house import house_player
from mercato.matcher.ports import StateMoved
from mercato.matcher.service import Matcher
from mercato.matcher.settlement import GoalApplied, Planner, Post
from mercato.matcher.transactions import Ticker
from mercato.models.orders import Side
from mercato.storage.items import FILL_COUNTER_KEY, FILL_PREFIX
from mercato.storage.names import TableNames
from mercato.storage.tables import create_support_tables
from mercato.testing.invariants import scan, violations
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


def test_a_footballer_listed_under_a_commodity_s_name_is_refused_and_changes_nothing(wheat: Api) -> None:
    # Given wheat, a commodity market; when the game server lists a footballer named wheat
    before = wheat.snapshot()
    reply = wheat.list_footballer("wheat")
    # Then it is refused whole: no footballer over the commodity, no house endowed, no listing event
    assert reply.status == 409
    assert reply.code == "market_exists"
    assert wheat.snapshot() == before


def test_listing_a_footballer_again_changes_nothing(api: Api) -> None:
    assert api.list_footballer("lionel-messi").status == 201
    before = api.snapshot()
    assert api.list_footballer("lionel-messi").status == 200
    assert api.snapshot() == before


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


def _fill_records(api: Api, player: str) -> list[tuple[int, str, int]]:
    """The player's fill records: (sequence, material, quantity)."""
    items = scan(api.client, api.tables.fills)
    return sorted(
        (int(i["seq"]), i["material"], int(i["quantity"]))
        for i in items
        if i["playerId"] == player and i["sk"].startswith(FILL_PREFIX)
    )


@pytest.mark.parametrize("earlier", [0, 1], ids=["first-fills", "after-one-fill"])
def test_two_matchers_filling_one_player_in_two_markets_keep_each_fill_record(
    wheat: Api, earlier: int
) -> None:
    # Given alice (and bob, with ``earlier`` fills already) buys wheat and iron from bob, and the
    # wheat matcher has read their fill counters
    assert wheat.list_market("iron").status == 201
    wheat.deposit("bob", "iron", 100)
    for _ in range(earlier):
        wheat.order("bob", "Sell", 1, 10)
        wheat.order("alice", "Buy", 1, 10)
        _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("bob", "Sell", 4, 20)
    wheat.order("bob", "Sell", 3, 15, material="iron")
    wheat.order("alice", "Buy", 4, 20)
    wheat.order("alice", "Buy", 3, 15, material="iron")

    def iron_matcher() -> None:  # the iron matcher numbers their iron fill first
        _matcher(wheat.client, wheat.tables).settle("iron")

    # When the wheat matcher commits after the iron one (the two markets' versions never meet)
    _matcher(wheat.client, wheat.tables, _once("transact_write_items", iron_matcher)).settle("wheat")
    # Then each fill has its own number and the counter is at the last one
    numbered = [(n + 1, "wheat", 1) for n in range(earlier)]
    numbered += [(earlier + 1, "iron", 3), (earlier + 2, "wheat", 4)]
    assert _fill_records(wheat, "alice") == numbered
    assert _fill_records(wheat, "bob") == numbered
    counter = wheat.client.get_item(
        TableName=wheat.tables.fills, Key={"playerId": "alice", "sk": FILL_COUNTER_KEY}
    )["Item"]
    assert counter["fillSeq"] == earlier + 2
    assert violations(wheat.client, wheat.tables) == []


def _orders(api: Api) -> dict[str, BookOrder]:
    """The book's orders as read now, by (player, side, price)."""
    return {
        f"{i['playerId']} {i['side']} {i['price']}": BookOrder(
            i["orderId"], i["playerId"], Side(i["side"]), int(i["price"]), int(i["remaining"])
        )
        for i in scan(api.client, api.tables.book)
        if i.get("kind") == "order"
    }


def _stale_fill_is_refused(api: Api, buy: BookOrder, sell: BookOrder, quantity: int) -> None:
    """A writer holding the market's current version and the players' current fill counters, but
    these (stale) orders, plans ``buy`` taking ``quantity`` from ``sell``: refused whole."""
    store = DynamoMatcherStore(api.client, api.tables)
    market = store.market("wheat")
    assert market is not None
    players = sorted({buy.player_id, sell.player_id})
    planner = Planner(
        "wheat",
        {buy.order_id: buy, sell.order_id: sell},
        NOW_MS,
        version=market.version,
        fill_seq=store.fill_sequences(players),
    )
    fill = Fill(
        buy.order_id, sell.order_id, buy.player_id, sell.player_id, sell.price, quantity, Side.BUY, 0, 0
    )
    plan = planner.plan([fill], Ticker(market.best_bid, market.best_ask))
    before = api.snapshot()
    with pytest.raises(StateMoved):
        store.commit(plan[0])
    assert api.snapshot() == before


def test_a_fill_from_the_current_version_for_more_than_the_maker_has_left_is_refused(wheat: Api) -> None:
    # Given bob's sell of 10, 4 of it taken by carol, and alice's buy of 3
    wheat.order("bob", "Sell", 10, 20)
    wheat.order("carol", "Buy", 4, 20)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 3, 20)
    book = _orders(wheat)
    # When a writer that still sees bob's 10 (and nothing else stale) fills alice's 3 from it
    _stale_fill_is_refused(wheat, book["alice Buy 20"], book["bob Sell 20"]._replace(quantity=10), 3)


def test_a_fill_from_the_current_version_taking_a_maker_whole_that_has_less_left_is_refused(
    wheat: Api,
) -> None:
    # Given bob's sell of 4 (and another of 10 at 30), 2 of it taken by carol, and alice's buy of 4
    wheat.order("bob", "Sell", 4, 20)
    wheat.order("bob", "Sell", 10, 30)
    wheat.order("carol", "Buy", 2, 20)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 4, 20)
    book = _orders(wheat)
    # When a writer that still sees bob's 4 fills alice's 4 from it (deleting it from the book)
    _stale_fill_is_refused(wheat, book["alice Buy 20"], book["bob Sell 20"]._replace(quantity=4), 4)


@pytest.mark.parametrize("other_sell", [True, False], ids=["bob-reserves-more", "bob-reserves-only-this"])
def test_a_fill_from_the_current_version_of_a_maker_already_filled_is_refused(
    wheat: Api, other_sell: bool
) -> None:
    # Given bob's sell of 4 (and maybe another of 10 at 30), all taken by carol, and alice's buy of 4
    wheat.order("bob", "Sell", 4, 20)
    if other_sell:
        wheat.order("bob", "Sell", 10, 30)
    wheat.order("carol", "Buy", 4, 20)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    gone = BookOrder(_order_id(wheat, "bob", "Sell", 20), "bob", Side.SELL, 20, 4)
    wheat.order("alice", "Buy", 4, 20)
    # When a writer that still sees bob's sell fills alice's buy from it
    _stale_fill_is_refused(wheat, _orders(wheat)["alice Buy 20"], gone, 4)


def test_a_fill_already_settled_is_refused_to_a_writer_with_the_current_version(wheat: Api) -> None:
    # Given bob's sell of 10, alice's resting buy of 10 at 10, and her buy of 4 at 20 filled from it
    wheat.order("bob", "Sell", 10, 20)
    wheat.order("alice", "Buy", 10, 10)
    _matcher(wheat.client, wheat.tables).settle("wheat")
    wheat.order("alice", "Buy", 4, 20)
    book = _orders(wheat)
    buy, sell = book["alice Buy 20"], book["bob Sell 20"]
    _matcher(wheat.client, wheat.tables).settle("wheat")
    # When a writer that read the book before that fill settles it again
    _stale_fill_is_refused(wheat, buy, sell, 4)
    assert len(scan(wheat.client, wheat.tables.trades)) == 1


def _order_id(api: Api, player: str, side: str, price: int) -> str:
    return str(
        next(
            r["orderId"]
            for r in scan(api.client, api.tables.orders)
            if r["playerId"] == player and r.get("side") == side and r.get("price") == price
        )
    )


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
        DynamoMatcherStore(dynamodb, tables).set_ticker("ghost", 10, 12, 1)
    assert scan(dynamodb, tables.markets) == []


def test_a_ticker_read_before_a_later_settlement_is_never_written_over_its_ticker(api: Api) -> None:
    """Two writers on one market (a stuck invocation, a shard split): the later settlement read the
    top of book after the earlier one and wrote it; the earlier one's ticker, read before, must not
    overwrite it (it was written unconditionally: a reviewer's note)."""
    api.list_market("wheat")
    api.deposit("alice", "coins", 1_000)
    api.order("alice", "Buy", 1, 10)
    matcher = Matcher(DynamoMatcherStore(api.client, api.tables))
    matcher.settle("wheat")
    market = matcher.store.market("wheat")
    assert market is not None
    before = scan(api.client, api.tables.markets)

    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        matcher.store.set_ticker("wheat", 9, None, market.version - 1)

    assert scan(api.client, api.tables.markets) == before
    matcher.store.set_ticker("wheat", 9, None, market.version)
    assert matcher.store.market("wheat").best_bid == 9  # type: ignore[union-attr]


MESSI = "lionel-messi"
HOUSE = house_player(MESSI)


def _house_post_is_refused(api: Api, quote: BookOrder) -> None:
    """A plan posting ``quote`` for the house, from the market's current version, is refused whole."""
    matcher = _matcher(api.client, api.tables)
    market = matcher.store.market(MESSI)
    assert market is not None
    before = api.snapshot()
    plan = Planner(MESSI, {}, NOW_MS, version=market.version).plan(
        [Post(quote)], Ticker(market.best_bid, market.best_ask)
    )
    with pytest.raises(StateMoved):
        matcher.store.commit(plan[0])
    assert api.snapshot() == before


def test_a_house_quote_whose_book_key_is_taken_is_refused(api: Api) -> None:
    # Given bob's bid of 1 at 500, whose id the house's id source draws again (same side and price)
    from mercato.intake.app import build_handler
    from tests.integration.conftest import SECRET

    assert api.list_footballer(MESSI).status == 201
    api.deposit("bob", "coins", 1_000)
    same = "0190a000-0000-7000-8000-000000000001"
    intake = Intake(DynamoIntakeStore(api.client, api.tables), new_id=lambda: same)
    bob = Api(build_handler(intake, lambda: SECRET), api.client, api.tables)
    assert bob.order("bob", "Buy", 1, 500, MESSI).status == 202
    # Then the house's bid under the same book key is refused, and bob's bid is left as it was
    _house_post_is_refused(api, BookOrder(same, HOUSE, Side.BUY, 500, 1))


def test_a_house_quote_whose_order_record_exists_is_refused(api: Api) -> None:
    # Given the house's ladder, and a new quote drawn the id of one of its quotes (another price)
    assert api.list_footballer(MESSI).status == 201
    _matcher(api.client, api.tables).settle(MESSI)
    quoted = next(i["orderId"] for i in scan(api.client, api.tables.book) if i.get("playerId") == HOUSE)
    _house_post_is_refused(api, BookOrder(quoted, HOUSE, Side.BUY, 500, 1))


def test_a_house_quote_the_house_cannot_pay_for_is_refused(api: Api) -> None:
    assert api.list_footballer(MESSI).status == 201
    _matcher(api.client, api.tables).settle(MESSI)
    _, coins = _matcher(api.client, api.tables).store.holdings(HOUSE, (MESSI, "coins"))
    fresh = "0190a000-0000-7000-8000-000000000002"
    _house_post_is_refused(api, BookOrder(fresh, HOUSE, Side.BUY, 1_000, coins // 1_000 + 1))


def test_a_goal_once_applied_is_no_longer_pending(api: Api) -> None:
    assert api.list_footballer(MESSI).status == 201
    goal = {"eventId": "wc:44:1", "material": MESSI, "matchId": "final", "minute": 9}
    assert api.call("POST", "/events/goals", goal, admin=True).status == 202
    matcher = _matcher(api.client, api.tables)
    assert [goal.event_id for goal in matcher.store.pending_goals(MESSI)] == ["wc:44:1"]
    matcher.settle(MESSI)
    assert matcher.store.pending_goals(MESSI) == []


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


SEASON = "WC-2026-scorers"


def test_a_stale_feed_count_is_refused_and_the_newer_count_kept(api: Api) -> None:
    assert api.list_footballer("lionel-messi").status == 201
    feed = DynamoFeedStore(api.client, api.tables)
    assert feed.save("lionel-messi", SEASON, was=0, now=2)
    # When a feed run that read 0 (before the other stored 2) stores its 1
    assert not feed.save("lionel-messi", SEASON, was=0, now=1)
    assert [f.feed_goals for f in feed.followed(SEASON)] == [2]


def _set_counts(api: Api, counts: dict[str, int]) -> None:
    """Counts written straight onto Messi's market item (as an older version, or a test, left them)."""
    names = {f"#n{n}": name for n, name in enumerate(counts)}
    api.client.update_item(
        TableName=api.tables.markets,
        Key={"material": "lionel-messi"},
        UpdateExpression="SET " + ", ".join(f"#n{n} = :v{n}" for n in range(len(counts))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":v{n}": value for n, value in enumerate(counts.values())},
    )


def test_a_stale_legacy_feed_count_is_refused(api: Api) -> None:
    # Given the one count an older version kept: 2
    assert api.list_footballer("lionel-messi").status == 201
    _set_counts(api, {"feedGoals": 2})
    feed = DynamoFeedStore(api.client, api.tables)
    # When a run that read 1 carries on from it, it is refused
    assert not feed.save("lionel-messi", SEASON, was=1, now=3, inherited=True)
    # Then only the run that read the legacy 2 stores, and the legacy count is gone
    assert feed.save("lionel-messi", SEASON, was=2, now=3, inherited=True)
    (market,) = scan(api.client, api.tables.markets)
    assert (market.get("feedGoals"), market[f"feedGoals:{SEASON}"]) == (None, 3)


def test_a_sources_own_count_outranks_a_legacy_one(api: Api) -> None:
    # Given this season's own count, 5, beside a legacy 0 (no version writes both; the guards hold anyway)
    assert api.list_footballer("lionel-messi").status == 201
    _set_counts(api, {"feedGoals": 0, f"feedGoals:{SEASON}": 5})
    feed = DynamoFeedStore(api.client, api.tables)
    # When a run that read nought stores, carrying on from the legacy count or not, it is refused
    assert not feed.save("lionel-messi", SEASON, was=0, now=1, inherited=True)
    assert not feed.save("lionel-messi", SEASON, was=0, now=1)
    assert [f.feed_goals for f in feed.followed(SEASON)] == [5]


def test_the_feed_never_stores_a_count_for_a_market_that_does_not_exist(api: Api) -> None:
    feed = DynamoFeedStore(api.client, api.tables)
    assert not feed.save("ghost", SEASON, was=0, now=1)
    assert not feed.save("ghost", SEASON, was=0, now=1, inherited=True)
    assert scan(api.client, api.tables.markets) == []


# -- the leaderboard ---------------------------------------------------------------------------


def test_a_board_pointer_never_flips_back_to_an_older_version(dynamodb: Any, tables: TableNames) -> None:
    store = DynamoLeaderboardStore(dynamodb, create_support_tables(dynamodb, "test")["leaderboard"], tables)
    older, newer = BoardPointer(1, NOW_MS, None), BoardPointer(2, NOW_MS + 1, None, previous=1)
    assert store.flip(Window.ALL, newer, None)
    # When a slower rollup run that computed version 1 flips after version 2 was served
    assert not store.flip(Window.ALL, older, None)
    assert store.pointer(Window.ALL) == newer
    assert not store.flip(Window.ALL, newer, newer)  # nor flips to the same version twice
