"""``mercato bench moto``: one 4-action settlement-shaped transaction on tables of growing size,
through moto's own ``TransactWriteItems`` and through Mercato's, side by side in one process."""

import statistics
import time
from typing import Any

import boto3
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from mercato.emulators import moto_atomic
from mercato.storage.tables import create_tables


def _transaction(tables: Any, n: int) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": tables.accounts,
                "Key": {"playerId": f"p{n % 50}", "sk": "ASSET#coins"},
                "UpdateExpression": "SET available = available + :one",
                "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeValues": {":one": 1},
            }
        },
        {"Put": {"TableName": tables.trades, "Item": {"material": "wheat", "sk": f"t{n:08d}", "price": 1}}},
        {
            "Put": {
                "TableName": tables.book,
                "Item": {"material": "wheat", "sk": f"SELL#{n:08d}", "kind": "x"},
            }
        },
        {
            "Update": {
                "TableName": tables.markets,
                "Key": {"material": "wheat"},
                "UpdateExpression": "SET volume = volume + :one",
                "ExpressionAttributeValues": {":one": 1},
            }
        },
    ]


def measure(implementation: Any, sizes: list[int], samples: int = 15) -> dict[int, float]:
    """Median milliseconds per transaction when each table already holds ``size`` items."""
    DynamoDBBackend.transact_write_items = implementation  # type: ignore[method-assign]
    results: dict[int, float] = {}
    with mock_aws():
        client: Any = boto3.resource("dynamodb", region_name="us-east-1").meta.client
        tables = create_tables(client, "bench")
        client.put_item(TableName=tables.markets, Item={"material": "wheat", "volume": 0})
        for p in range(50):
            client.put_item(
                TableName=tables.accounts, Item={"playerId": f"p{p}", "sk": "ASSET#coins", "available": 0}
            )
        written = 0
        for size in sizes:
            while written < size:
                for action in _transaction(tables, written)[1:3]:
                    client.put_item(TableName=action["Put"]["TableName"], Item=action["Put"]["Item"])
                written += 1
            timings = []
            for _ in range(samples):
                started = time.perf_counter()
                client.transact_write_items(TransactItems=_transaction(tables, written))
                timings.append((time.perf_counter() - started) * 1000)
                written += 1
            results[size] = statistics.median(timings)
    return results


def bench_moto(sizes: list[int] | None = None) -> dict[str, Any]:
    sizes = sizes or [0, 1_000, 5_000]
    moto_atomic.install()
    try:
        theirs = measure(moto_atomic.MOTO_TRANSACT_WRITE_ITEMS, sizes)
        ours = measure(moto_atomic.transact_write_items, sizes)
    finally:
        moto_atomic.install()
    return {
        "sizes": sizes,
        "moto_ms": [round(theirs[s], 2) for s in sizes],
        "mercato_ms": [round(ours[s], 2) for s in sizes],
        "ratio": [round(theirs[s] / ours[s], 1) for s in sizes],
    }
