"""Tables kept by ``mercato up --data`` before the fills table existed are brought to this version
at start: the fills table is created and the players' fill records move into it from the accounts."""

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.local.cli import main
from mercato.local.pipeline import LocalPipeline
from mercato.resources import FILLS
from mercato.storage.items import FILL_COUNTER_KEY, fill_key
from mercato.storage.names import TableNames
from mercato.storage.tables import create_table_request, create_tables, support_table_names
from mercato.storage.upgrade import UpgradeRefused, upgrade
from mercato.testing.invariants import scan, violations
from tests.integration.conftest import SECRET, Api
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
    """This version's matcher settled first (numbering alice's fills from 1 in the fills table, her
    counter at 1): none of her old records moves (one moved in above the matcher's counter would
    refuse her next fill for good), the upgrade says so, naming her, after moving bob's and writing
    the markets' hours (they do not wait for the person who merges)."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))
    new_first = fill(1) | {"tradeId": "trade-settled-by-the-new-matcher"}
    client.put_item(TableName=tables.fills, Item=new_first)
    client.put_item(TableName=tables.fills, Item={"playerId": "alice", "sk": FILL_COUNTER_KEY, "fillSeq": 1})
    bobs = [fill(1) | {"playerId": "bob"}, {"playerId": "bob", "sk": FILL_COUNTER_KEY, "fillSeq": 1}]
    for item in bobs:
        client.put_item(TableName=tables.accounts, Item=item)
    at = 1_781_200_800_000
    market = {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 0, "lastPrice": 20}
    client.put_item(TableName=tables.markets, Item=market)
    trade = {"material": "wheat", "sk": "t1", "tradeId": "t1", "price": 20, "quantity": 2}
    client.put_item(TableName=tables.trades, Item=trade | _trade_fields(at))

    with pytest.raises(UpgradeRefused, match=r"^3 fill records could not move \(players alice\)"):
        upgrade(client, PREFIX)

    fills = {(item["playerId"], item["sk"]): item for item in scan(client, tables.fills)}
    assert fills[("alice", fill_key(1))]["tradeId"] == "trade-settled-by-the-new-matcher"
    assert fills[("alice", FILL_COUNTER_KEY)]["fillSeq"] == 1
    assert set(fills) == {
        ("alice", fill_key(1)),
        ("alice", FILL_COUNTER_KEY),
        ("bob", fill_key(1)),
        ("bob", FILL_COUNTER_KEY),
    }
    assert [item["sk"] for item in scan(client, tables.accounts) if item["playerId"] == "alice"] == [
        "ASSET#coins",
        fill_key(1),
        fill_key(2),
        FILL_COUNTER_KEY,
    ]
    hours = client.get_item(TableName=tables.markets, Key={"material": "wheat"})["Item"]["hours"]
    assert hours == [[at, 20, 20, 20, 20, 2, at, at]]


def test_a_player_the_new_matcher_numbered_before_the_upgrade_keeps_trading_after_it() -> None:
    """The whole pipeline: the matcher numbers alice's first fill in the fills table while her old
    records (fills 1 to 3, counter 3) are still in the accounts table; the upgrade leaves them all
    there, and her next fill settles as her second (a reviewer found her old fills 2 and 3 moved in
    above the matcher's counter, and every later fill of hers refused, the market left crossed)."""
    with pipeline_on("moto") as pipeline:
        exchange = stocked(Exchange(pipeline))
        client, tables = exchange.client, exchange.tables
        old = [fill(1), fill(2), fill(3), {"playerId": "alice", "sk": FILL_COUNTER_KEY, "fillSeq": 3}]
        for item in old:
            client.put_item(TableName=tables.accounts, Item=item)
        exchange.order("bob", "Sell", 1, 20)
        exchange.order("alice", "Buy", 1, 20)
        exchange.drain()

        with pytest.raises(UpgradeRefused, match=r"^4 fill records could not move \(players alice\)"):
            upgrade(client, "test")
        exchange.order("carol", "Sell", 1, 21)
        buy = exchange.order("alice", "Buy", 1, 21).body["orderId"]
        exchange.drain()

        assert exchange.order_status("alice", buy)[0] == "filled"
        assert [f.seq for f in DynamoIntakeStore(client, tables).fills_after("alice", 0, 10)] == [1, 2]
        assert [item["sk"] for item in scan(client, tables.accounts) if item["sk"].startswith("FILL")] == [
            item["sk"] for item in old
        ]
        assert violations(client, tables) == []


def trade_wheat(exchange: Exchange, clock: dict[str, int], trades: tuple[tuple[int, int], ...]) -> None:
    """Bob sells alice 2 wheat at each (minutes after 18:00 on 2026-06-11, price), settled then."""
    for minutes, price in trades:
        clock["ms"] = 1_781_200_800_000 + minutes * 60_000
        exchange.order("bob", "Sell", 2, price)
        exchange.order("alice", "Buy", 2, price)
        exchange.drain()


@pytest.mark.parametrize("kept", ["none", "six numbers an hour"])
def test_a_market_traded_before_hours_existed_gets_the_hours_of_its_trades(kept: str) -> None:
    """Trades settled by the earlier version left no ``hours`` on the market item, or the first
    version's six numbers an hour (no first and last trade's time): the upgrade rebuilds them from
    the trades, equal to what the matcher wrote, and every invariant holds."""
    clock = {"ms": 1_781_200_800_000}
    with pipeline_on("moto", matcher_clock=lambda: clock["ms"]) as pipeline:
        exchange = stocked(Exchange(pipeline))
        trade_wheat(exchange, clock, ((0, 20), (30, 22), (95, 19)))
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
    assert said.splitlines()[-1] == (
        f"upgraded {PREFIX}: 3 fill records moved, hourly figures for 0 markets, "
        "0 resting IOC/FOK orders given due keys"
    )
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
    of her records with the stale counter is refused (a player's records move together), and the
    next run moves them all, the counter at 3."""
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
        fill_key(1),
        fill_key(2),
        fill_key(3),
        FILL_COUNTER_KEY,
    ]

    assert upgrade(client, PREFIX).fills_moved == 4
    assert DynamoIntakeStore(client, tables).fill_sequence("alice") == 3


@pytest.mark.parametrize("settles", ["before the upgrade", "between its read and its write"])
def test_a_market_this_version_settles_before_its_hours_are_rebuilt_gets_the_hours_of_all_its_trades(
    settles: str,
) -> None:
    """Wheat traded under the earlier version (no hours); this version's matcher settles it again
    before the upgrade, or between the upgrade's read of the market and its write. The matcher
    leaves the hours of such a market unwritten, and the upgrade (read again after its condition
    failed) writes the hours of all three trades (a reviewer found the matcher's hours of its one
    trade kept for good, and the upgrade reporting success)."""
    clock = {"ms": 1_781_200_800_000}
    with pipeline_on("moto", matcher_clock=lambda: clock["ms"]) as pipeline:
        exchange = stocked(Exchange(pipeline))
        trade_wheat(exchange, clock, ((0, 20), (10, 22)))
        client, tables = exchange.client, exchange.tables
        wheat = {"material": "wheat"}
        client.update_item(TableName=tables.markets, Key=wheat, UpdateExpression="REMOVE hours")

        def this_version_settles() -> None:
            clock["ms"] = 1_781_200_800_000 + 30 * 60_000
            exchange.order("bob", "Sell", 1, 25)
            exchange.order("alice", "Buy", 1, 25)
            exchange.pipeline.drain()  # (the invariants hold again once the upgrade has run)

        if settles == "before the upgrade":
            this_version_settles()
            assert "hours" not in client.get_item(TableName=tables.markets, Key=wheat)["Item"]
            done = upgrade(client, "test")
        else:
            done = upgrade(RaisedBetween(client, "update_item", this_version_settles), "test")

        at = 1_781_200_800_000
        assert done.markets_with_hours == ("wheat",)
        assert client.get_item(TableName=tables.markets, Key=wheat)["Item"]["hours"] == [
            [at, 20, 25, 20, 25, 5, at, at + 30 * 60_000]
        ]
        assert violations(client, tables) == []


class LostAnswer:
    """A client whose first ``transact_write_items`` commits and then fails as if its answer was lost
    (the caller, told it did not, tries again)."""

    def __init__(self, client: Any) -> None:
        self.client, self.lost = client, False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != "transact_write_items" or self.lost:
            return attribute

        def committed_then_lost(**request: Any) -> Any:
            self.lost = True
            attribute(**request)
            error: Any = {"Error": {"Code": "TransactionInProgressException", "Message": "answer lost"}}
            raise ClientError(error, "TransactWriteItems")

        return committed_then_lost


def test_a_move_that_committed_though_its_answer_was_lost_counts_as_moved(
    old_layout: tuple[Any, TableNames],
) -> None:
    """The retry of a committed move fails its own conditions (moto, like a retry after DynamoDB's
    idempotency window, does not know the request token): the records, found in the fills table as
    read and gone from the accounts table, count as moved, not as records left for a person."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))

    done = upgrade(LostAnswer(client), PREFIX)

    assert done.fills_moved == 3
    assert [item["sk"] for item in scan(client, tables.accounts)] == ["ASSET#coins"]
    assert len(scan(client, tables.fills)) == 3


def test_a_long_history_moves_in_pieces_each_checking_the_counter_is_not_there_yet(
    old_layout: tuple[Any, TableNames],
) -> None:
    """120 fills of carol's (three pieces, her counter in the last) and alice's: all move, each once."""
    client, tables = old_layout
    client.create_table(**create_table_request(FILLS, PREFIX))
    carol = [fill(seq) | {"playerId": "carol"} for seq in range(1, 121)]
    for item in [*carol, {"playerId": "carol", "sk": FILL_COUNTER_KEY, "fillSeq": 120}]:
        client.put_item(TableName=tables.accounts, Item=item)

    assert upgrade(client, PREFIX).fills_moved == 3 + 121
    assert DynamoIntakeStore(client, tables).fill_sequence("carol") == 120
    assert [f.seq for f in DynamoIntakeStore(client, tables).fills_after("carol", 0, 200)] == list(
        range(1, 121)
    )
    assert [item["sk"] for item in scan(client, tables.accounts)] == ["ASSET#coins"]


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


def test_a_kept_directory_whose_first_start_stopped_after_the_exchange_tables_gets_the_rest() -> None:
    """A first ``mercato up --data`` stopped after creating the exchange tables: the next start
    keeps them and creates the leaderboard and rate-limit tables it lacks (a reviewer found every
    ``GET /accounts/me`` and ``GET /leaderboard`` of such a directory a 500, for good)."""
    moto_atomic.install()
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        client = session.resource("dynamodb").meta.client
        create_tables(client, PREFIX)  # the first start got this far

        pipeline = LocalPipeline.create(session, PREFIX, SECRET, existing_tables=True)

        assert set(support_table_names(PREFIX).values()) <= set(client.list_tables()["TableNames"])
        api = Api(pipeline.intake, client, pipeline.tables)
        assert api.call("GET", "/accounts/me", player="alice").status == 200
        pipeline.rollup.run()
        assert api.call("GET", "/leaderboard").status == 200
