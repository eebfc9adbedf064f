"""Tables kept by ``mercato up --data`` before the fills table existed are brought to this version
at start: the fills table is created and the players' fill records move into it from the accounts."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.intake.dynamo import DynamoIntakeStore
from mercato.local.cli import main
from mercato.storage.items import FILL_COUNTER_KEY, fill_key
from mercato.storage.names import TableNames
from mercato.storage.tables import create_tables
from mercato.storage.upgrade import upgrade
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

    done = upgrade(client, PREFIX)

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


def test_a_move_cut_short_is_finished_by_the_next_start(old_layout: tuple[Any, TableNames]) -> None:
    client, tables = old_layout
    upgrade(client, PREFIX)
    client.put_item(TableName=tables.accounts, Item=fill(2))  # copied, killed before the delete

    upgrade(client, PREFIX)

    assert [item["sk"] for item in scan(client, tables.accounts)] == ["ASSET#coins"]
    assert len(scan(client, tables.fills)) == 3


def test_a_market_traded_before_hours_existed_gets_the_hours_of_its_trades() -> None:
    """Trades settled by the earlier version left no ``hours`` on the market item: the upgrade
    rebuilds them from the trades, equal to what the matcher wrote, and every invariant holds."""
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
        client.update_item(TableName=tables.markets, Key=wheat, UpdateExpression="REMOVE hours")

        done = upgrade(client, "test")  # the prefix of pipeline_on's tables

        assert done.markets_with_hours == ("wheat",)
        assert client.get_item(TableName=tables.markets, Key=wheat)["Item"]["hours"] == written
        assert violations(client, tables) == []
        assert upgrade(client, "test").markets_with_hours == ()  # already there: left alone


def test_mercato_upgrade_moves_a_stage_s_fills_and_says_what_it_did(
    old_layout: tuple[Any, TableNames], capsys: pytest.CaptureFixture[str]
) -> None:
    client, tables = old_layout

    assert main(["upgrade", "--prefix", PREFIX]) == 0

    said = capsys.readouterr().out
    assert said.splitlines()[-1] == (
        f"upgraded {PREFIX}: 1 tables created, 3 fill records moved, hourly figures for 0 markets"
    )
    assert len(scan(client, tables.fills)) == 3
