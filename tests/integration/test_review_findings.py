"""Review findings on the settlement path (DESIGN §1, §3, §6, §8), pinned on moto.

Each finding was first pinned by a failing test and then fixed. The other tests cover boundaries of
the settlement that turned out correct: a transaction of exactly 100 actions, a house quote posted
and filled in one transaction, a burst of goals applied across several transactions."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.dynamo_settlement import transact_items
from mercato.matcher.house import house_player
from mercato.matcher.service import Matcher
from mercato.matcher.settlement import MAX_WRITES
from mercato.matcher.transactions import Settlement
from mercato.resources import TABLES
from mercato.testing.invariants import scan, violations
from tests.integration.conftest import SECRET, Api

START = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)
MESSI = "lionel-messi"
HOUSE = house_player(MESSI)
Actions = list[dict[str, Any]]


class Exchange(Api):
    """The API plus the pipeline behind it, and a spy on every settlement transaction."""

    def __init__(self, pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(pipeline.intake, pipeline.dynamodb, pipeline.tables)
        self.pipeline = pipeline
        self.committed: list[Actions] = []
        self.before_commit: Callable[[Actions], None] | None = None
        """Runs just before a settlement transaction: stands for a request racing the matcher."""
        self.hook_errors: list[Exception] = []
        store = pipeline.matcher.store
        original = store.commit

        def commit(settlement: Settlement) -> None:
            actions = transact_items(settlement, pipeline.tables)
            if self.before_commit is not None:
                try:
                    self.before_commit(actions)
                except Exception as error:  # the handler would swallow it as a settlement failure
                    self.hook_errors.append(error)
                    raise
            original(settlement)
            self.committed.append(actions)

        monkeypatch.setattr(store, "commit", commit)

    def drain(self) -> None:
        self.pipeline.drain()

    def problems(self) -> list[str]:
        return violations(self.client, self.tables)

    def status(self, player: str, order_id: str) -> tuple[str, int]:
        body = self.call("GET", f"/orders/{order_id}", player=player).body
        return str(body["status"]), int(body["filledQuantity"])

    def market(self, material: str) -> dict[str, Any]:
        body: dict[str, Any] = self.call("GET", f"/markets/{material}").body
        return body

    def book_items(self, material: str) -> list[dict[str, Any]]:
        return [
            item
            for item in scan(self.client, self.tables.book)
            if item["material"] == material and item.get("kind") == "order"
        ]

    def list_messi(self, **house: int) -> None:
        body = {
            "material": MESSI,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1_000,
            "goalValue": 100,
            "house": house,
        }
        assert self.call("POST", "/markets", body, admin=True).status == 201
        self.drain()

    def goal(self, event_id: str) -> None:
        body = {"eventId": event_id, "material": MESSI, "matchId": "final", "minute": 23}
        assert self.call("POST", "/events/goals", body, admin=True).status == 202

    def replay_changes_nothing(self, material: str) -> bool:
        """A duplicated or replayed record: the matcher settles the material again."""
        before = self.snapshot()
        self.pipeline.matcher.settle(material)
        return self.snapshot() == before


def item_identity(action: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The table and key one transaction action writes."""
    ((kind, op),) = action.items()
    table = op["TableName"]
    spec = next(spec for spec in TABLES if table.endswith("-" + spec.logical_name))
    names = [spec.partition_key] + ([spec.sort_key] if spec.sort_key else [])
    source = op["Item"] if kind == "Put" else op["Key"]
    return table, tuple((name, source[name]) for name in names)


def clocked_exchange(monkeypatch: pytest.MonkeyPatch, now: list[datetime]) -> Exchange:
    pipeline = LocalPipeline.create(
        boto3.Session(),
        "test",
        SECRET,
        intake_clock=lambda: now[0],
        matcher_clock=lambda: int(now[0].timestamp() * 1000),
    )
    return Exchange(pipeline, monkeypatch)


@pytest.fixture
def exchange(monkeypatch: pytest.MonkeyPatch) -> Iterator[Exchange]:
    moto_atomic.install()
    with mock_aws():
        yield Exchange(LocalPipeline.create(boto3.Session(), "test", SECRET), monkeypatch)


# -- findings ------------------------------------------------------------------------------------


def test_a_goal_whose_new_house_bids_cross_asks_beyond_the_read_window_fills_them(
    exchange: Exchange,
) -> None:
    # Given a house quoting 10 levels: its ten asks 1010..1055 fill the matcher's first page
    exchange.list_messi(levels=10)
    exchange.deposit("bob", MESSI, 5)
    bobs = [exchange.order("bob", "Sell", 1, 1_060 + n, MESSI).body["orderId"] for n in range(5)]
    exchange.drain()
    assert exchange.problems() == []

    # When a goal raises F to 1100: the old ladder is cancelled and bids up to 1089 are posted
    exchange.goal("wc:44:1")
    exchange.drain()

    # Then bob's asks at 1060..1064, which the new bids cross, are filled at bob's prices
    assert exchange.market(MESSI)["fundamentalValue"] == 1_100
    assert exchange.problems() == []  # today: "lionel-messi is crossed: bid 1089 >= ask 1060"
    assert [exchange.status("bob", order_id) for order_id in bobs] == [("filled", 1)] * 5


def test_the_ticker_never_shows_an_order_the_same_step_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_atomic.install()
    now = [START]
    with mock_aws():
        exchange = clocked_exchange(monkeypatch, now)
        exchange.list_market("wheat")
        exchange.deposit("alice", "coins", 100_000)
        exchange.deposit("bob", "wheat", 100)
        # Given ten good-till-date bids at the top (one full first page) and a lasting bid below
        expiry = (START + timedelta(minutes=1)).isoformat()
        for n in range(10):
            assert exchange.order("alice", "Buy", 1, 100 - n, expiresAt=expiry).status == 202
        assert exchange.order("alice", "Buy", 1, 50).status == 202
        exchange.drain()
        assert exchange.market("wheat")["bestBid"] == 100

        # When the ten expire and an ask that crosses nothing wakes the matcher
        now[0] = START + timedelta(minutes=2)
        assert exchange.order("bob", "Sell", 1, 500).status == 202
        exchange.drain()

        # Then the ten are gone, and the ticker shows the bid that is left
        assert exchange.problems() == []
        assert sorted(i["price"] for i in exchange.book_items("wheat") if i["side"] == "Buy") == [50]
        assert (exchange.market("wheat")["bestBid"], exchange.market("wheat")["bestAsk"]) == (50, 500)
        assert exchange.replay_changes_nothing("wheat")


def test_a_fok_whose_fills_span_two_transactions_is_never_left_partly_filled(exchange: Exchange) -> None:
    exchange.list_market("wheat")
    exchange.deposit("alice", "coins", 100_000)
    exchange.deposit("bob", "wheat", 100)
    for _ in range(40):
        assert exchange.order("bob", "Sell", 1, 10).status == 202
    exchange.drain()
    fok = exchange.order("alice", "Buy", 40, 10, timeInForce="FOK").body["orderId"]
    fok_key = next(i["sk"] for i in exchange.book_items("wheat") if i["orderId"] == fok)

    def bob_cancels_between_the_two_transactions(actions: Actions) -> None:
        # Once a committed transaction left the FOK partly filled, bob cancels (DELETE
        # /orders/{id}, concurrently on AWS) one of the asks the next transaction fills.
        partly = any(
            a.get("Update", {}).get("Key", {}).get("sk") == fok_key
            for done in exchange.committed
            for a in done
        )
        doomed = [a["Delete"]["Key"]["sk"] for a in actions if "Delete" in a]
        victims = [key for key in doomed if key.startswith("SELL#")]
        if partly and victims:
            exchange.before_commit = None
            order_id = victims[0].rsplit("#", 1)[1]
            assert exchange.call("DELETE", f"/orders/{order_id}", player="bob").status == 200

    exchange.before_commit = bob_cancels_between_the_two_transactions
    exchange.drain()

    assert exchange.hook_errors == []
    assert exchange.problems() == []
    # DESIGN §3: a FOK fills completely at once or is cancelled completely. Today: cancelled, 31 filled.
    assert exchange.status("alice", fok) in {("filled", 40), ("cancelled", 0)}


def test_a_second_writer_cannot_post_a_second_house_ladder(exchange: Exchange) -> None:
    listing = {
        "material": MESSI,
        "kind": "footballer",
        "name": "Lionel Messi",
        "team": "Argentina",
        "baseValue": 1_000,
        "goalValue": 100,
    }
    assert exchange.call("POST", "/markets", listing, admin=True).status == 201
    second = Matcher(DynamoMatcherStore(exchange.client, exchange.tables))

    def a_second_writer_settles_first(actions: Actions) -> None:
        # DESIGN §1 principle 2: "every write is still conditional on what was read, so a second
        # writer can only fail and retry, never corrupt". Both read the house with no quotes.
        exchange.before_commit = None
        second.settle(MESSI)

    exchange.before_commit = a_second_writer_settles_first
    exchange.drain()

    assert exchange.hook_errors == []
    assert exchange.problems() == []  # escrow still matches: the house reserved both ladders
    house = sorted((i["side"], i["price"]) for i in exchange.book_items(MESSI) if i["playerId"] == HOUSE)
    # today each of the six quotes is on the book twice
    assert house == [
        ("Buy", 980),
        ("Buy", 985),
        ("Buy", 990),
        ("Sell", 1_010),
        ("Sell", 1_015),
        ("Sell", 1_020),
    ]


def test_a_good_till_date_order_below_the_top_of_the_book_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_atomic.install()
    now = [START]
    with mock_aws():
        exchange = clocked_exchange(monkeypatch, now)
        exchange.list_market("wheat")
        for player in ("alice", "carol"):
            exchange.deposit(player, "coins", 100_000)
        exchange.deposit("bob", "wheat", 100)
        for n in range(11):
            assert exchange.order("alice", "Buy", 1, 101 if n == 0 else 100).status == 202
        expiry = (START + timedelta(minutes=1)).isoformat()
        gtd = exchange.order("carol", "Buy", 1, 50, expiresAt=expiry).body["orderId"]
        exchange.drain()

        # When it is past carol's expiresAt and the market keeps trading above her bid
        now[0] = START + timedelta(minutes=2)
        assert exchange.order("bob", "Sell", 1, 101).status == 202
        exchange.drain()
        assert [t["price"] for t in scan(exchange.client, exchange.tables.trades)] == [101]

        # Then her order has expired and its reservation is back (DESIGN §3)
        assert exchange.problems() == []
        assert exchange.status("carol", gtd) == ("expired", 0)
        assert exchange.balances("carol")["coins"] == {"available": 100_000, "reserved": 0}


# -- boundaries that hold -------------------------------------------------------------------------


def test_a_sweep_fills_one_transaction_to_exactly_the_100_action_limit(exchange: Exchange) -> None:
    exchange.list_market("wheat")
    exchange.deposit("alice", "coins", 100_000)
    exchange.deposit("bob", "wheat", 100)
    sells = [exchange.order("bob", "Sell", 1, 10 + n // 10).body["orderId"] for n in range(40)]
    exchange.drain()
    exchange.committed.clear()

    buy = exchange.order("alice", "Buy", 40, 20).body["orderId"]
    exchange.drain()

    # 9 shared actions (taker's book item and record, 4 balances, the two players' fill sequences,
    # the market) + 5 per maker (its book item, its record, the trade, the two players' fill
    # records): 18 makers make 99 and a 19th would make 104, so 40 makers settle as 18, 18 and 4
    assert [len(actions) for actions in exchange.committed] == [99, 99, 29]
    assert max(len(actions) for actions in exchange.committed) <= MAX_WRITES
    for actions in exchange.committed:
        items = [item_identity(action) for action in actions]
        assert len(items) == len(set(items)), "one action per item"
    assert exchange.problems() == []
    assert exchange.status("alice", buy) == ("filled", 40)
    assert all(exchange.status("bob", order_id) == ("filled", 1) for order_id in sells)
    assert exchange.balances("alice")["coins"] == {
        "available": 100_000 - sum(10 + n // 10 for n in range(40)),
        "reserved": 0,
    }
    assert exchange.replay_changes_nothing("wheat")


def test_a_house_bid_posted_after_a_goal_is_filled_in_the_transaction_that_posts_it(
    exchange: Exchange,
) -> None:
    exchange.list_messi()  # bids 980, 985, 990; asks 1010, 1015, 1020
    exchange.deposit("bob", MESSI, 10)
    ask = exchange.order("bob", "Sell", 10, 1_050, MESSI).body["orderId"]
    exchange.drain()
    exchange.committed.clear()

    exchange.goal("wc:44:1")  # F = 1100: the house's new best bid, 1089 x 10, crosses bob's ask
    exchange.drain()

    assert exchange.problems() == []
    assert exchange.status("bob", ask) == ("filled", 10)
    trades = scan(exchange.client, exchange.tables.trades)
    # at the house's bid, its own price: the house trades only where it quotes (bob's ask rested first)
    assert [(t["price"], t["quantity"], t["buyerId"]) for t in trades] == [(1_089, 10, HOUSE)]
    bought = trades[0]["buyOrderId"]
    goal_step = next(
        actions
        for actions in exchange.committed
        if any(a.get("Update", {}).get("Key", {}).get("sk") == "EVENT#wc:44:1" for a in actions)
    )
    puts = [a["Put"] for a in goal_step if "Put" in a]
    record = next(p["Item"] for p in puts if p["TableName"] == exchange.tables.orders)
    assert (record["orderId"], record["status"], record["filledQuantity"]) == (bought, "filled", 10)
    assert not any(p["TableName"] == exchange.tables.book and p["Item"]["orderId"] == bought for p in puts)
    assert any(p["TableName"] == exchange.tables.trades for p in puts), "posted and filled at once"
    market = exchange.client.get_item(TableName=exchange.tables.markets, Key={"material": MESSI})["Item"]
    assert bought not in market["houseQuotes"]
    assert set(market["houseQuotes"]) == {i["orderId"] for i in exchange.book_items(MESSI)}
    assert exchange.replay_changes_nothing(MESSI)


def test_a_burst_of_goals_applied_across_transactions_counts_each_once(exchange: Exchange) -> None:
    exchange.list_messi()
    exchange.committed.clear()
    for n in range(1, 151):
        exchange.goal(f"wc:44:{n}")
    exchange.drain()

    market = exchange.market(MESSI)
    assert (market["goals"], market["fundamentalValue"]) == (150, 16_000)
    assert max(len(actions) for actions in exchange.committed) <= MAX_WRITES
    assert len(exchange.committed) >= 2, "150 goal updates cannot share one transaction"
    prices = {(i["side"], i["price"]) for i in exchange.book_items(MESSI)}
    assert all(price <= 16_000 for side, price in prices if side == "Buy")
    assert all(price >= 16_000 for side, price in prices if side == "Sell")
    assert exchange.problems() == []
    assert exchange.replay_changes_nothing(MESSI)
