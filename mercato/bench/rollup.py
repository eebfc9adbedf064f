"""``mercato bench rollup``: what one leaderboard rollup costs on DynamoDB Local as the fill history
grows, with the players' fill records in their own table (this layout) and, side by side in the same
run on the same data, in the accounts table (the layout before, whose consistent scan for balances
read every fill ever recorded).

Each layout gets its own tables in one DynamoDB Local: ``players`` players with a coin balance, a
wheat holding and a deposit, a traded wheat market, and ``fills`` fill records spread over the
players. The rollup is the deployed one (:class:`~mercato.leaderboard.rollup.Rollup` over
:class:`~mercato.leaderboard.dynamo.DynamoLeaderboardStore`); its scan of the balances (``ledger``)
and its whole run are timed, ``runs`` times each, layouts taking turns.
"""

import statistics
import time
from typing import Any

import boto3

from mercato.emulators.dynamodb_local import DynamoDBLocal
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.rollup import Rollup
from mercato.models.markets import market_from, parse_listing
from mercato.resources import LEADERBOARD
from mercato.storage.items import ASSET_PREFIX, DEPOSIT_PREFIX, FILL_COUNTER_KEY, fill_key, market_item
from mercato.storage.names import TableNames
from mercato.storage.tables import create_support_tables, create_tables

LAYOUTS = {"fills_table": "own", "fills_in_accounts": "inline"}
"""Figure suffix -> table prefix."""


def _seed(resource: Any, tables: TableNames, players: int, fills: int, fills_in: str) -> None:
    market = market_from(parse_listing('{"material": "wheat", "kind": "commodity", "name": "Wheat"}'))
    traded = market_item(market) | {"lastPrice": 12, "volume": fills}
    resource.Table(tables.markets).put_item(Item=traded)
    with resource.Table(tables.accounts).batch_writer() as accounts:
        for n in range(players):
            player = f"player-{n:06d}"
            accounts.put_item(
                Item={"playerId": player, "sk": ASSET_PREFIX + "coins", "available": 1_000 + n, "reserved": 0}
            )
            accounts.put_item(
                Item={"playerId": player, "sk": ASSET_PREFIX + "wheat", "available": n % 50, "reserved": 0}
            )
            accounts.put_item(
                Item={
                    "playerId": player,
                    "sk": DEPOSIT_PREFIX + "grant",
                    "asset": "coins",
                    "quantity": 1_000,
                    "at": 0,
                }
            )
    with resource.Table(fills_in).batch_writer() as records:
        for n in range(fills):
            player, seq = f"player-{n % players:06d}", n // players + 1
            records.put_item(
                Item={
                    "playerId": player,
                    "sk": fill_key(seq),
                    "seq": seq,
                    "fillId": f"fill-{n}",
                    "tradeId": f"trade-{n}",
                    "orderId": f"order-{n}",
                    "material": "wheat",
                    "side": "Buy",
                    "price": 12,
                    "quantity": 1,
                    "fee": 0,
                    "executedAt": 1_781_200_800_000 + n,
                }
            )
        for n in range(min(players, fills)):
            records.put_item(
                Item={
                    "playerId": f"player-{n:06d}",
                    "sk": FILL_COUNTER_KEY,
                    "fillSeq": (fills - n - 1) // players + 1,
                }
            )


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_rollup(*, players: int = 1_000, fills: int = 50_000, runs: int = 3) -> dict[str, Any]:
    """Medians over ``runs`` of the ledger scan and the whole rollup, per layout, in seconds, and the
    items each layout's scan reads."""
    local = DynamoDBLocal().start()
    try:
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=local.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        client = resource.meta.client
        rollups: dict[str, tuple[DynamoLeaderboardStore, Rollup]] = {}
        for suffix, prefix in LAYOUTS.items():
            tables = create_tables(client, prefix)
            board = create_support_tables(client, prefix)[LEADERBOARD.logical_name]
            fills_in = tables.fills if suffix == "fills_table" else tables.accounts
            _seed(resource, tables, players, fills, fills_in)
            store = DynamoLeaderboardStore(client, board, tables)
            rollups[suffix] = (store, Rollup(store, store, clock_ms=lambda: time.time_ns() // 1_000_000))
        samples: dict[str, list[float]] = {
            f"{kind}_s_{suffix}": [] for suffix in LAYOUTS for kind in ("ledger", "rollup")
        }
        for _ in range(runs):
            for suffix, (store, rollup) in rollups.items():
                samples[f"ledger_s_{suffix}"].append(_timed(store.ledger))
                samples[f"rollup_s_{suffix}"].append(_timed(rollup.run))
        scanned = {
            f"accounts_items_{suffix}": client.describe_table(TableName=f"{prefix}-accounts")["Table"][
                "ItemCount"
            ]
            for suffix, prefix in LAYOUTS.items()
        }
    finally:
        local.stop()
    figures: dict[str, Any] = {"players": players, "fills": fills, "runs": runs}
    figures |= {name: round(statistics.median(values), 3) for name, values in samples.items()}
    figures["rollup_ratio"] = round(
        figures["rollup_s_fills_in_accounts"] / figures["rollup_s_fills_table"], 2
    )
    return (
        figures
        | scanned
        | {"samples": {name: [round(v, 3) for v in values] for name, values in samples.items()}}
    )
