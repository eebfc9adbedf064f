"""Bring tables written by an earlier version of Mercato to this one: ``mercato up --data DIR`` runs it
at start, ``mercato upgrade --prefix P`` runs it on a deployed stage (with the matcher's event source
mapping disabled: see the README's deploy section).

Two changes need it. The players' fill records (``FILL#{seq}``, ``FILLSEQ``) moved from the accounts
table to a table of their own; and each market item keeps its hourly figures (``hours``), from which
the 24-hour figures are read. Every step is idempotent, so an upgrade cut short is finished by
running it again.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mercato.models.errors import Busy, StateMoved
from mercato.models.history import HOUR_MS, KEPT_HOURS, HourFigures, roll_hours
from mercato.resources import TABLES
from mercato.storage.errors import Classified
from mercato.storage.items import FILL_PREFIX, trade_from_item, trades_by_time
from mercato.storage.names import TableNames
from mercato.storage.pages import items
from mercato.storage.tables import create_table_request, table_names

MOVE: Final = 50
"""Fill records moved per transaction: a put and a delete each, DynamoDB's 100 actions."""
ATTEMPTS: Final = 8


class UpgradeRefused(RuntimeError):
    """The upgrade stopped with nothing left half-done: the message says why and what to do."""


@dataclass(frozen=True)
class Upgraded:
    tables_created: tuple[str, ...]
    fills_moved: int
    markets_with_hours: tuple[str, ...]


def upgrade(
    client: Any, prefix: str, *, create: bool = False, say: Callable[[str], None] = lambda line: None
) -> Upgraded:
    """Move the fill records out of the accounts table and give each traded market without hourly
    figures (or with the six-number hours of the first version that kept them) the figures of its
    trades. With ``create`` (``mercato up --data``) the exchange tables ``prefix`` lacks are created
    first; without it (a deployed stage, whose tables CloudFormation owns) a missing table refuses
    the upgrade. ``client`` is a resource's client (plain values); ``say`` hears progress."""
    pages = client.get_paginator("list_tables").paginate()
    existing = {name for page in pages for name in page["TableNames"]}
    missing = [spec.name(prefix) for spec in TABLES if spec.name(prefix) not in existing]
    if missing and not create:
        raise UpgradeRefused(
            f"no table {', '.join(missing)} here: deploy this version first (it creates the fills "
            "table), and check the prefix and the region"
        )
    for name, spec in ((spec.name(prefix), spec) for spec in TABLES):
        if name in missing:
            client.create_table(**create_table_request(spec, prefix))
            client.get_waiter("table_exists").wait(TableName=name)
            say(f"created {name}")
    tables = table_names(prefix)
    moved, stuck = move_fills(client, tables, say)
    rebuilt = rebuild_hours(client, tables, say)  # the markets' hours do not wait for a person
    if stuck:
        players = sorted({player for player, _ in stuck})
        raise UpgradeRefused(
            f"{len(stuck)} fill records could not move (players {', '.join(players[:10])}"
            f"{', …' if len(players) > 10 else ''}): run the upgrade again; a record that is in both "
            "the accounts and the fills table was numbered by the matcher before the upgrade ran, "
            "and is left in the accounts table for a person to merge"
        )
    return Upgraded(tuple(missing), moved, rebuilt)


def move_fills(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> tuple[int, list[tuple[str, str]]]:
    """Move each ``FILL#``/``FILLSEQ`` item from the accounts table to the fills table, 50 to a
    transaction (each put conditional on the fills table not having the item, a counter's delete on
    the counter being as read), so a move is whole or not at all and never overwrites a fill. A
    record that cannot move (the fills table has it: this version's matcher numbered fills before
    the upgrade ran; or a counter raised while it moved) stays, and is returned (player, key); the
    rest move."""
    moved, conflicts = 0, list[tuple[str, str]]()
    store = Classified(client)
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
        if len(chunk) == MOVE:
            moved += _move(store, tables, chunk, conflicts)
            chunk = []
            if moved % 10_000 < MOVE:
                say(f"moved {moved:,} fill records to {tables.fills}")
    moved += _move(store, tables, chunk, conflicts)
    if moved:
        say(f"moved {moved:,} fill records to {tables.fills}")
    return moved, conflicts


def _move(
    store: Any, tables: TableNames, chunk: list[dict[str, Any]], conflicts: list[tuple[str, str]]
) -> int:
    if not chunk:
        return 0
    actions: list[dict[str, Any]] = []
    for item in chunk:
        key = {"playerId": item["playerId"], "sk": item["sk"]}
        delete: dict[str, Any] = {"TableName": tables.accounts, "Key": key}
        if "fillSeq" in item:  # the counter: moved only if no settlement raised it meanwhile
            delete |= {
                "ConditionExpression": "fillSeq = :seq",
                "ExpressionAttributeValues": {":seq": item["fillSeq"]},
            }
        actions += [
            {
                "Put": {
                    "TableName": tables.fills,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {"Delete": delete},
        ]
    for attempt in range(ATTEMPTS):
        try:
            store.transact_write_items(TransactItems=actions)
            return len(chunk)
        except Busy:
            time.sleep(min(1.0, 0.05 * 2**attempt))
        except StateMoved:
            if len(chunk) == 1:
                conflicts.append((chunk[0]["playerId"], chunk[0]["sk"]))
                return 0
            return sum(_move(store, tables, [item], conflicts) for item in chunk)
    raise UpgradeRefused("DynamoDB stayed busy moving fill records; run the upgrade again (it resumes)")


def rebuild_hours(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> tuple[str, ...]:
    """For each market with trades and no ``hours`` (or hours of six numbers, without their first and
    last trade's time, from the first version that kept them): the hours of its trades in the 25
    hours ending with its latest one, written only if no settlement changed the market since it was
    read (its version)."""
    rebuilt = []
    for market in items(client.scan, TableName=tables.markets, ConsistentRead=True):
        whole = all(len(figures) == len(HourFigures._fields) for figures in market.get("hours", []))
        if ("hours" in market and whole) or "lastPrice" not in market:
            continue
        material = market["material"]
        newest = trades_by_time(tables.trades, material, 0, newest_first=True)
        latest = client.query(**newest, Limit=1).get("Items", [])
        if not latest:
            continue
        last_ms = int(latest[0]["executedAt"])
        since = last_ms - last_ms % HOUR_MS - (KEPT_HOURS - 1) * HOUR_MS
        hours: tuple[HourFigures, ...] = ()
        for item in items(client.query, **trades_by_time(tables.trades, material, since, newest_first=False)):
            trade = trade_from_item(item)
            hours = roll_hours(hours, int(item["executedAt"]), [(trade.price, trade.quantity)])
        try:
            client.update_item(
                TableName=tables.markets,
                Key={"material": material},
                UpdateExpression="SET hours = :hours",
                ConditionExpression="(attribute_not_exists(version) AND :version = :zero) "
                "OR version = :version",
                ExpressionAttributeValues={
                    ":hours": [list(figures) for figures in hours],
                    ":version": market.get("version", 0),
                    ":zero": 0,
                },
            )
        except client.exceptions.ConditionalCheckFailedException:
            continue
        rebuilt.append(material)
        say(f"{material}: hourly figures of {sum(h.volume for h in hours):,} traded since {since} ms")
    return tuple(rebuilt)
