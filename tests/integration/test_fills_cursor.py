"""``GET /fills?after=CURSOR`` never skips or repeats a fill, also while several materials settle fills
of the same player at once.

The race a time-ordered key would lose: wheat's matcher reads, plans and stamps its fills; copper's
matcher commits a fill of the same player; a game polls and moves its cursor past copper's fill;
then wheat's transaction commits with an earlier key, behind the cursor. Here each settlement
transaction raises the player's fill sequence conditionally on the number it read, so wheat's
transaction fails, re-reads and numbers its fills after copper's. The tests run the two matchers
interleaved at every commit, as hypothesis chooses, with a game polling in between.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.ports import StateMoved
from mercato.matcher.service import Matcher
from mercato.matcher.transactions import Settlement
from mercato.models.accounts import Deposit
from mercato.models.history import PlayerFill
from mercato.models.markets import CommodityListing
from mercato.models.orders import OrderRequest
from mercato.storage.items import FILL_PREFIX, plain
from mercato.storage.names import TableNames
from mercato.storage.tables import create_tables

MATERIALS = ("wheat", "copper")
SELLERS = ("bob", "carol")
POLL_LIMIT = 2


class Interleaved(DynamoMatcherStore):
    """Runs ``before_commit`` between a settlement's read and its commit: what another material's
    matcher, or a polling game, may do in that gap."""

    def __init__(self, client: Any, tables: TableNames, before_commit: Callable[[], None]) -> None:
        super().__init__(client, tables)
        self.before_commit = before_commit
        self.conflicts = 0

    def commit(self, settlement: Settlement) -> None:
        self.before_commit()
        try:
            super().commit(settlement)
        except StateMoved:
            self.conflicts += 1
            raise


@dataclass
class World:
    client: Any
    tables: TableNames
    intake: Intake
    steps: Iterator[str]
    seen: list[PlayerFill] = field(default_factory=list)
    cursor: str = "0"
    matchers: dict[str, Matcher] = field(default_factory=dict)
    stores: list[Interleaved] = field(default_factory=list)
    nested: bool = False

    def poll(self) -> int:
        page = self.intake.fills("alice", self.cursor, POLL_LIMIT)
        self.seen += page.fills
        self.cursor = page.cursor
        return len(page.fills)

    def between(self, material: str) -> None:
        """One step chosen by the test, run just before ``material``'s matcher commits."""
        step = next(self.steps, "none")
        if step == "poll":
            self.poll()
        elif step == "other" and not self.nested:
            self.nested = True
            other = next(m for m in MATERIALS if m != material)
            self.matchers[other].settle(other)
            self.poll()  # the game's cursor moves past what the other material just settled
            self.nested = False

    def recorded(self) -> list[dict[str, Any]]:
        page = self.client.query(
            TableName=self.tables.fills,
            KeyConditionExpression="playerId = :p AND begins_with(sk, :f)",
            ExpressionAttributeValues={":p": "alice", ":f": FILL_PREFIX},
            ConsistentRead=True,
        )
        return [plain(item) for item in page["Items"]]

    def alices_trades(self) -> set[str]:
        trades = self.client.scan(TableName=self.tables.trades)["Items"]
        return {t["tradeId"] for t in trades if "alice" in (t["buyerId"], t["sellerId"])}


def run(orders: list[tuple[str, int, int]], steps: list[str]) -> World:
    """Place ``orders`` (material, seller index, quantity: the seller sells, Alice buys at once),
    settle the materials in order with ``steps`` run at every commit, then poll to the end."""
    client = boto3.resource("dynamodb").meta.client
    tables = create_tables(client, "fills")
    intake = Intake(DynamoIntakeStore(client, tables))
    world = World(client, tables, intake, iter(steps))
    for material in MATERIALS:
        listing = {"material": material, "kind": "commodity", "name": material.title()}
        intake.list_market(CommodityListing.model_validate(listing))
    for n, player in enumerate(("alice", *SELLERS)):
        for asset in ("coins", *MATERIALS):
            deposit = {"depositId": f"d{n}-{asset}", "asset": asset, "quantity": 100_000}
            intake.deposit(player, Deposit.model_validate(deposit))
    for material, seller, quantity in orders:
        for player, side in ((SELLERS[seller], "Sell"), ("alice", "Buy")):
            request = {"type": side, "material": material, "quantity": quantity, "pricePerUnit": 10}
            intake.place_order(player, OrderRequest.model_validate(request))
    for material in MATERIALS:
        store = Interleaved(client, tables, lambda m=material: world.between(m))  # type: ignore[misc]
        world.stores.append(store)
        world.matchers[material] = Matcher(store)
    for material, _, _ in orders:
        world.matchers[material].settle(material)
    for material in MATERIALS:
        world.matchers[material].settle(material)
    while world.poll():
        pass
    return world


def assert_every_fill_seen_once_in_order(world: World) -> None:
    recorded = sorted(world.recorded(), key=lambda item: item["seq"])
    seen = [fill.fill_id for fill in world.seen]
    assert [item["seq"] for item in recorded] == list(range(1, len(recorded) + 1)), "numbered without a gap"
    assert seen == [item["fillId"] for item in recorded], "every fill once, oldest first"
    assert {fill.trade_id for fill in world.seen} == world.alices_trades()
    assert world.cursor == str(len(recorded))


@settings(max_examples=10, deadline=None)
@given(
    wheat=st.lists(st.tuples(st.just("wheat"), st.integers(0, 1), st.integers(1, 9)), min_size=1, max_size=3),
    copper=st.lists(
        st.tuples(st.just("copper"), st.integers(0, 1), st.integers(1, 9)), min_size=1, max_size=3
    ),
    order=st.randoms(use_true_random=False),
    steps=st.lists(st.sampled_from(["none", "poll", "other", "other"]), max_size=24),
)
def test_the_fills_cursor_never_skips_or_repeats_under_concurrent_fills(
    wheat: list[tuple[str, int, int]], copper: list[tuple[str, int, int]], order: Any, steps: list[str]
) -> None:
    orders = wheat + copper
    order.shuffle(orders)
    moto_atomic.install()
    with mock_aws():
        world = run(orders, steps)
        assert_every_fill_seen_once_in_order(world)


def test_a_settlement_that_lost_the_race_renumbers_its_fills_after_the_winner() -> None:
    """Wheat's matcher plans; copper's settles and the game polls past copper's fill; wheat's commit
    then fails its fill-sequence condition, re-reads and numbers its fill after copper's."""
    moto_atomic.install()
    with mock_aws():
        world = run([("wheat", 0, 5), ("copper", 1, 3)], ["other", "poll", "poll"])

        assert sum(store.conflicts for store in world.stores) >= 1, "the race happened"
        assert [(fill.material, fill.quantity) for fill in world.seen] == [("copper", 3), ("wheat", 5)]
        assert_every_fill_seen_once_in_order(world)
