"""Tables kept by ``mercato up --data`` before the fills table existed are brought to this version
at start: the fills table is created and the players' fill records move into it from the accounts."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.intake.dynamo import DynamoIntakeStore
from mercato.local.cli import main
from mercato.resources import FILLS
from mercato.storage.items import FILL_COUNTER_KEY, fill_key
from mercato.storage.names import TableNames
from mercato.storage.tables import create_table_request, create_tables
from mercato.storage.upgrade import UpgradeRefused, upgrade
from mercato.testing.invariants import scan, violations
from tests.integration.pipelines import pipeline_on
from tests.integration.test_pipeline import Exchange, stocked

PREFIX = "kept"


def fill(seq: int) -> dict[str, Any]:
    return {
        "playerId": "alice",
        "sk": fill_key(seq),
        "seq": seq,
        "fillId": f"trade-{seq}-b",
        "tradeId": f"trade-{seq}",
        "orderId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "material": "wheat",
        "side": "Buy",
        "price": 10,
        "quantity": seq,
        "fee": 0,
        "executedAt": 1_781_200_800_000 + seq,
    }


@pytest.fixture
def old_layout() -> Iterator[tuple[Any, TableNames]]:
    """The tables as the earlier version left them: no fills table, alice's two fills and her
    fill counter in the accounts table beside her balance."""
    with mock_aws():
        client = boto3.resource("dynamodb", region_name="us-east-1").meta.client
        tables = create_tables(client, PREFIX)
        client.delete_table(TableName=tables.fills)
        balance: dict[str, Any] = {"playerId": "alice", "sk": "ASSET#coins", "available": 80, "reserved": 0}
        counter: dict[str, Any] = {"playerId": "alice", "sk": FILL_COUNTER_KEY, "fillSeq": 2}
        for item in (balance, fill(1), fill(2), counter):
            client.put_item(TableName=tables.accounts, Item=item)
        yield client, tables


def test_the_fills_move_to_their_own_table_and_the_feed_reads_them(
    old_layout: tuple[Any, TableNames],
) -> None:
    client, tables = old_layout

    done = upgrade(client, PREFIX, create=True)  # what mercato up --data does at start

    assert (done.tables_created, done.fills_moved) == ((tables.fills,), 3)
    assert [item["sk"] for item in scan(client, tables.accounts)] == ["ASSET#coins"]
    assert sorted(item["sk"] for item in scan(client, tables.fills)) == [
        fill_key(1),
        fill_key(2),
        FILL_COUNTER_KEY,
    ]
    store = DynamoIntakeStore(client, tables)
    assert [f.quantity for f in store.fills_after("alice", 0, 10)] == [1, 2]
    assert store.fill_sequence("alice") == 2
    assert upgrade(client, PREFIX).fills_moved == 0  # done: a second run moves nothing


def test_a_stage_without_the_fills_table_is_refused_and_nothing_changes(
    old_layout: tuple[Any, TableNames],
) -> None:
    """On a stage CloudFormation owns the tables: a wrong prefix or region, or an upgrade run before
    the deploy, creates nothing."""
    client, tables = old_layout
    before = scan(client, tables.accounts)

    with pytest.raises(UpgradeRefused, match=f"no table {tables.fills} here: deploy this version first"):
        upgrade(client, PREFIX)
    with pytest.raises(UpgradeRefused, match="no table mercato-prd-book, "):
        upgrade(client, "mercato-prd")

    assert scan(client, tables.accounts) == before
    assert tables.fills not in client.list_tables()["TableNames"]


def test_fills_the_matcher_numbered_before_the_upgrade_are_never_overwritten(
    old_layout: tuple[Any, TableNames],
) -> None:
    """This version's matcher settled first (numbering alice's fills from 1 in the fills table):
    the old records that collide stay where they are and the upgrade says so, naming her, after
    writing the markets' hours (they do not wait for the person who merges)."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))
    new_first = fill(1) | {"tradeId": "trade-settled-by-the-new-matcher"}
    client.put_item(TableName=tables.fills, Item=new_first)
    at = 1_781_200_800_000
    market = {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 0, "lastPrice": 20}
    client.put_item(TableName=tables.markets, Item=market)
    trade = {"material": "wheat", "sk": "t1", "tradeId": "t1", "price": 20, "quantity": 2}
    client.put_item(TableName=tables.trades, Item=trade | _trade_fields(at))

    with pytest.raises(UpgradeRefused, match=r"1 fill records could not move \(players alice\)"):
        upgrade(client, PREFIX)

    fills = {item["sk"]: item for item in scan(client, tables.fills)}
    assert fills[fill_key(1)]["tradeId"] == "trade-settled-by-the-new-matcher"
    assert set(fills) == {fill_key(1), fill_key(2), FILL_COUNTER_KEY}
    assert [item["sk"] for item in scan(client, tables.accounts)] == ["ASSET#coins", fill_key(1)]
    hours = client.get_item(TableName=tables.markets, Key={"material": "wheat"})["Item"]["hours"]
    assert hours == [[at, 20, 20, 20, 20, 2, at, at]]


@pytest.mark.parametrize("kept", ["none", "six numbers an hour"])
def test_a_market_traded_before_hours_existed_gets_the_hours_of_its_trades(kept: str) -> None:
    """Trades settled by the earlier version left no ``hours`` on the market item, or the first
    version's six numbers an hour (no first and last trade's time): the upgrade rebuilds them from
    the trades, equal to what the matcher wrote, and every invariant holds."""
    clock = {"ms": 1_781_200_800_000}
    with pipeline_on("moto", matcher_clock=lambda: clock["ms"]) as pipeline:
        exchange = stocked(Exchange(pipeline))
        for minutes, price in ((0, 20), (30, 22), (95, 19)):
            clock["ms"] = 1_781_200_800_000 + minutes * 60_000
            exchange.order("bob", "Sell", 2, price)
            exchange.order("alice", "Buy", 2, price)
            exchange.drain()
        client, tables = exchange.client, exchange.tables
        wheat = {"material": "wheat"}
        written = client.get_item(TableName=tables.markets, Key=wheat)["Item"]["hours"]
        if kept == "none":
            client.update_item(TableName=tables.markets, Key=wheat, UpdateExpression="REMOVE hours")
        else:
            six = [figures[:6] for figures in written]
            client.update_item(
                TableName=tables.markets,
                Key=wheat,
                UpdateExpression="SET hours = :six",
                ExpressionAttributeValues={":six": six},
            )

        done = upgrade(client, "test")  # the prefix of pipeline_on's tables

        assert done.markets_with_hours == ("wheat",)
        assert client.get_item(TableName=tables.markets, Key=wheat)["Item"]["hours"] == written
        assert violations(client, tables) == []
        assert upgrade(client, "test").markets_with_hours == ()  # already there: left alone


def test_mercato_upgrade_moves_a_stage_s_fills_or_says_why_not(
    old_layout: tuple[Any, TableNames], capsys: pytest.CaptureFixture[str]
) -> None:
    client, tables = old_layout

    assert main(["upgrade", "--prefix", PREFIX]) == 1
    assert capsys.readouterr().err.startswith(f"mercato upgrade: no table {tables.fills} here")
    client.create_table(**create_table_request(FILLS, PREFIX))  # what cdk deploy creates

    assert main(["upgrade", "--prefix", PREFIX]) == 0

    said = capsys.readouterr().out
    assert said.splitlines()[-1] == f"upgraded {PREFIX}: 3 fill records moved, hourly figures for 0 markets"
    assert len(scan(client, tables.fills)) == 3


class RaisedBetween:
    """A client on which, just before the upgrade's first write, ``meanwhile`` runs: a settlement of
    the earlier version's matcher (still running) landing between the upgrade's read and its write."""

    def __init__(self, client: Any, write: str, meanwhile: Callable[[], None]) -> None:
        self.client, self.write = client, write
        self.meanwhile: Callable[[], None] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != self.write or self.meanwhile is None:
            return attribute
        meanwhile, self.meanwhile = self.meanwhile, None
        meanwhile()
        return attribute


def test_a_counter_raised_while_it_moves_is_not_moved_stale(old_layout: tuple[Any, TableNames]) -> None:
    """The old matcher records alice's third fill after the upgrade read her counter at 2: the move
    of the stale counter is refused, and the next run moves the counter at 3."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))

    def third_fill() -> None:
        client.put_item(TableName=tables.accounts, Item=fill(3))
        counter = {"playerId": "alice", "sk": FILL_COUNTER_KEY, "fillSeq": 3}
        client.put_item(TableName=tables.accounts, Item=counter)

    with pytest.raises(UpgradeRefused, match="could not move"):
        upgrade(RaisedBetween(client, "transact_write_items", third_fill), PREFIX)
    assert [item["sk"] for item in scan(client, tables.accounts)] == [
        "ASSET#coins",
        fill_key(3),
        FILL_COUNTER_KEY,
    ]

    assert upgrade(client, PREFIX).fills_moved == 2
    assert DynamoIntakeStore(client, tables).fill_sequence("alice") == 3


def test_hours_rebuilt_from_a_market_a_settlement_moved_meanwhile_are_not_written(
    old_layout: tuple[Any, TableNames],
) -> None:
    """The matcher settles (and writes the market's hours, raising its version) between the
    upgrade's read of the market and its write: the matcher's hours stay."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))
    market = {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 0, "lastPrice": 20}
    client.put_item(TableName=tables.markets, Item=market | {"version": 1})
    trade = {"material": "wheat", "sk": "t1", "tradeId": "t1", "price": 20, "quantity": 2}
    at = 1_781_200_800_000
    client.put_item(TableName=tables.trades, Item=trade | _trade_fields(at))
    matchers = [[at, 20, 20, 20, 20, 2, at, at], [at + 60_000, 21, 21, 21, 21, 1, at + 60_000, at + 60_000]]

    def settles() -> None:
        client.update_item(
            TableName=tables.markets,
            Key={"material": "wheat"},
            UpdateExpression="SET hours = :hours, version = :two",
            ExpressionAttributeValues={":hours": matchers, ":two": 2},
        )

    done = upgrade(RaisedBetween(client, "update_item", settles), PREFIX)

    assert done.markets_with_hours == ()
    assert client.get_item(TableName=tables.markets, Key={"material": "wheat"})["Item"]["hours"] == matchers


def _trade_fields(at: int) -> dict[str, Any]:
    return {
        "executedAt": at,
        "timeKey": f"{at:013d}#t1",
        "takerSide": "Buy",
        "buyOrderId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "sellOrderId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
        "buyerId": "alice",
        "sellerId": "bob",
        "fee": 0,
    }
