"""Bring tables written by an earlier version of Mercato to this one: ``mercato up --data DIR`` runs it
at start, ``mercato upgrade --prefix P`` runs it on a deployed stage (with the matcher's event source
mapping disabled: see the README's deploy section).

Two changes need it. The players' fill records (``FILL#{seq}``, ``FILLSEQ``) moved from the accounts
table to a table of their own; and each market item keeps its hourly figures (``hours``), from which
the 24-hour figures are read. Every step is idempotent, so an upgrade cut short is finished by
running it again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mercato.models.history import HOUR_MS, KEPT_HOURS, HourFigures, roll_hours
from mercato.resources import TABLES, TRADES
from mercato.storage.items import FILL_PREFIX, trade_from_item
from mercato.storage.names import TableNames
from mercato.storage.pages import items
from mercato.storage.tables import create_table_request, table_names

BATCH: Final = 25
"""Items per ``BatchWriteItem``, DynamoDB's limit."""
ATTEMPTS: Final = 8


@dataclass(frozen=True)
class Upgraded:
    tables_created: tuple[str, ...]
    fills_moved: int
    markets_with_hours: tuple[str, ...]


def upgrade(client: Any, prefix: str, say: Callable[[str], None] = lambda line: None) -> Upgraded:
    """Create the exchange tables ``prefix`` lacks, move the fill records out of the accounts table,
    and give each traded market without hourly figures the figures of its trades. ``client`` is a
    resource's client (plain values); ``say`` hears progress."""
    pages = client.get_paginator("list_tables").paginate()
    existing = {name for page in pages for name in page["TableNames"]}
    created = []
    for spec in TABLES:
        if spec.name(prefix) not in existing:
            client.create_table(**create_table_request(spec, prefix))
            client.get_waiter("table_exists").wait(TableName=spec.name(prefix))
            created.append(spec.name(prefix))
            say(f"created {spec.name(prefix)}")
    tables = table_names(prefix)
    moved = move_fills(client, tables, say)
    return Upgraded(tuple(created), moved, rebuild_hours(client, tables, say))


def move_fills(client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None) -> int:
    """Copy each ``FILL#``/``FILLSEQ`` item from the accounts table to the fills table, then delete it
    there, 25 at a time (a chunk is deleted only once written, so nothing is lost if this stops)."""
    moved = 0
    found = items(
        client.scan,
        TableName=tables.accounts,
        ConsistentRead=True,
        FilterExpression="begins_with(sk, :fill)",
        ExpressionAttributeValues={":fill": FILL_PREFIX.removesuffix("#")},
    )
    chunk: list[dict[str, Any]] = []
    for item in found:
        chunk.append(item)
        if len(chunk) == BATCH:
            moved += _move(client, tables, chunk)
            chunk = []
            if moved % 10_000 == 0:
                say(f"moved {moved:,} fill records to {tables.fills}")
    moved += _move(client, tables, chunk)
    if moved:
        say(f"moved {moved:,} fill records to {tables.fills}")
    return moved


def _move(client: Any, tables: TableNames, chunk: list[dict[str, Any]]) -> int:
    if not chunk:
        return 0
    _write(client, tables.fills, [{"PutRequest": {"Item": item}} for item in chunk])
    keys = [{"playerId": item["playerId"], "sk": item["sk"]} for item in chunk]
    _write(client, tables.accounts, [{"DeleteRequest": {"Key": key}} for key in keys])
    return len(chunk)


def _write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table: requests}
    for _ in range(ATTEMPTS):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return
    raise RuntimeError(f"DynamoDB kept leaving writes to {table} unprocessed; run the upgrade again")


def rebuild_hours(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> tuple[str, ...]:
    """For each market with trades and no ``hours``: the hours of its trades in the 25 hours ending
    with its latest one, written only if the market still has none (a matcher's write wins)."""
    rebuilt = []
    for market in items(client.scan, TableName=tables.markets, ConsistentRead=True):
        if "hours" in market or "lastPrice" not in market:
            continue
        material = market["material"]
        latest = client.query(**_by_time(tables, material, 0, newest_first=True), Limit=1).get("Items", [])
        if not latest:
            continue
        last_ms = int(latest[0]["executedAt"])
        since = last_ms - last_ms % HOUR_MS - (KEPT_HOURS - 1) * HOUR_MS
        hours: tuple[HourFigures, ...] = ()
        for item in items(client.query, **_by_time(tables, material, since, newest_first=False)):
            trade = trade_from_item(item)
            hours = roll_hours(hours, int(item["executedAt"]), [(trade.price, trade.quantity)])
        try:
            client.update_item(
                TableName=tables.markets,
                Key={"material": material},
                UpdateExpression="SET hours = :hours",
                ConditionExpression="attribute_not_exists(hours)",
                ExpressionAttributeValues={":hours": [list(figures) for figures in hours]},
            )
        except client.exceptions.ConditionalCheckFailedException:
            continue
        rebuilt.append(material)
        say(f"{material}: hourly figures of {sum(h.volume for h in hours):,} traded since {since} ms")
    return tuple(rebuilt)


def _by_time(tables: TableNames, material: str, since_ms: int, *, newest_first: bool) -> dict[str, Any]:
    return {
        "TableName": tables.trades,
        "IndexName": TRADES.indexes[0].name,
        "KeyConditionExpression": "material = :material AND timeKey >= :since",
        "ExpressionAttributeValues": {":material": material, ":since": f"{since_ms:013d}"},
        "ScanIndexForward": not newest_first,
    }
