"""Bring tables written by an earlier version of Mercato to this one: ``mercato up --data DIR`` runs it
at start, ``mercato upgrade --prefix P`` runs it on a deployed stage (with the matcher's event source
mapping disabled: see the README's deploy section).

Three changes need it. The players' fill records (``FILL#{seq}``, ``FILLSEQ``) moved from the accounts
table to a table of their own; each market item keeps its hourly figures (``hours``), from which
the 24-hour figures are read; and an IOC or FOK order's book item carries the ``by-expiry`` key it
comes due under (a minute after it arrived), so one whose announcing record was lost is still ended.
Every step is idempotent, so an upgrade cut short is finished by running it again.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any, Final

from mercato.models.errors import Busy, StateMoved
from mercato.models.history import HOUR_MS, KEPT_HOURS, HourFigures, roll_hours
from mercato.models.orders import TimeInForce, due_at_ms
from mercato.resources import TABLES
from mercato.storage.errors import Classified
from mercato.storage.items import FILL_PREFIX, KIND_ORDER, expiry_key, trade_from_item, trades_by_time
from mercato.storage.names import TableNames
from mercato.storage.pages import items
from mercato.storage.tables import create_table_request, table_names

MOVE: Final = 50
"""Fill records moved per transaction at most: a put and a delete each, DynamoDB's 100 actions."""
ACTIONS: Final = 100
ATTEMPTS: Final = 8


class UpgradeRefused(RuntimeError):
    """The upgrade stopped with nothing left half-done: the message says why and what to do."""


@dataclass(frozen=True)
class Upgraded:
    tables_created: tuple[str, ...]
    fills_moved: int
    markets_with_hours: tuple[str, ...]
    orders_given_due_keys: int = 0


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
    due = index_announced_orders(client, tables, say)
    if stuck:
        players = sorted({player for player, _ in stuck})
        raise UpgradeRefused(
            f"{len(stuck)} fill records could not move (players {', '.join(players[:10])}"
            f"{', …' if len(players) > 10 else ''}): run the upgrade again; a record that is in both "
            "the accounts and the fills table was numbered by the matcher before the upgrade ran, "
            "and is left in the accounts table for a person to merge"
        )
    return Upgraded(tuple(missing), moved, rebuilt, due)


def index_announced_orders(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> int:
    """Give each resting IOC or FOK book item without a ``by-expiry`` key the key this version writes
    at intake (:func:`~mercato.models.orders.due_at_ms`), so a settlement ends it even if the record
    that announced it is never delivered. Each update requires the item to still be there: one the
    matcher settled since the scan read it is not written back (an update would create it). A second
    run finds none to index."""
    found = items(
        client.scan,
        TableName=tables.book,
        ConsistentRead=True,
        FilterExpression="kind = :order AND timeInForce IN (:ioc, :fok) AND attribute_not_exists(expiry)",
        ExpressionAttributeValues={
            ":order": KIND_ORDER,
            ":ioc": str(TimeInForce.IOC),
            ":fok": str(TimeInForce.FOK),
        },
    )
    indexed = 0
    for item in found:
        expires = None if item.get("expiresAt") is None else int(item["expiresAt"])
        due = due_at_ms(TimeInForce(item["timeInForce"]), expires, int(item["createdAt"]))
        if due is None:
            continue
        try:
            client.update_item(
                TableName=tables.book,
                Key={"material": item["material"], "sk": item["sk"]},
                UpdateExpression="SET expiry = :due",
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeValues={":due": expiry_key(due, item["orderId"])},
            )
        except client.exceptions.ConditionalCheckFailedException:
            continue  # settled since the scan read it: gone from the book
        indexed += 1
    if indexed:
        say(f"indexed {indexed:,} resting IOC and FOK orders by when they come due")
    return indexed


def move_fills(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> tuple[int, list[tuple[str, str]]]:
    """Move each ``FILL#``/``FILLSEQ`` item from the accounts table to the fills table, a player's
    records together (in pieces of at most :data:`MOVE`, their counter last, as the scan reads them).
    Every piece moves whole or not at all (each put conditional on the fills table not having the
    item, a counter's delete on the counter being as read), and once a piece of a player's cannot
    move, none after it does. So a player this version's matcher already numbered fills for (from 1,
    where the old records start too) keeps every old record where it is: none moves in above the
    matcher's numbering (which would refuse the player's next fill for good). Those records are
    returned (player, key) for a person to merge; the rest move."""
    mover = _Mover(Classified(client), client, tables, say)
    found = items(
        client.scan,
        TableName=tables.accounts,
        ConsistentRead=True,
        FilterExpression="begins_with(sk, :fill)",
        ExpressionAttributeValues={":fill": FILL_PREFIX.removesuffix("#")},
    )
    # a scan returns each player's items together, in key order: FILL#… first, then FILLSEQ
    for _, group in groupby(found, key=itemgetter("playerId")):
        records = list(group)
        for start in range(0, len(records), MOVE):
            mover.add(records[start : start + MOVE])
    mover.flush()
    if mover.moved:
        say(f"moved {mover.moved:,} fill records to {tables.fills}")
    return mover.moved, mover.conflicts


@dataclass
class _Mover:
    """Packs players' pieces into transactions of at most :data:`ACTIONS` actions, in scan order."""

    store: Any
    client: Any
    tables: TableNames
    say: Callable[[str], None]
    moved: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    stuck: set[str] = field(default_factory=set)
    pending: list[list[dict[str, Any]]] = field(default_factory=list)

    def add(self, piece: list[dict[str, Any]]) -> None:
        if 2 * (sum(len(p) for p in self.pending) + len(piece)) > ACTIONS:  # a put and a delete each
            self.flush()
        if piece[0]["playerId"] in self.stuck:  # an earlier piece of the player could not move
            self.conflicts += [(item["playerId"], item["sk"]) for item in piece]
        else:
            self.pending.append(piece)

    def flush(self) -> None:
        pieces, self.pending = self.pending, []
        if not pieces:
            return
        before = self.moved
        if self._commit(pieces):
            self.moved += sum(len(piece) for piece in pieces)
        else:  # one piece (or more) could not move: each on its own
            for piece in pieces:
                player = piece[0]["playerId"]
                if player not in self.stuck and (self._commit([piece]) or self._already_moved(piece)):
                    self.moved += len(piece)
                else:
                    self.stuck.add(player)
                    self.conflicts += [(item["playerId"], item["sk"]) for item in piece]
        if self.moved // 10_000 > before // 10_000:
            self.say(f"moved {self.moved:,} fill records to {self.tables.fills}")

    def _actions(self, piece: list[dict[str, Any]]) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for item in piece:
            key = {"playerId": item["playerId"], "sk": item["sk"]}
            delete: dict[str, Any] = {"TableName": self.tables.accounts, "Key": key}
            if "fillSeq" in item:  # the counter: moved only if no settlement raised it meanwhile
                delete |= {
                    "ConditionExpression": "fillSeq = :seq",
                    "ExpressionAttributeValues": {":seq": item["fillSeq"]},
                }
            put = {
                "TableName": self.tables.fills,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(sk)",
            }
            actions += [{"Put": put}, {"Delete": delete}]
        return actions

    def _commit(self, pieces: list[list[dict[str, Any]]]) -> bool:
        """True once committed, False if a condition refused it. The request token makes a retry of a
        transaction that committed but whose answer was lost succeed on AWS, not fail its conditions
        against its own writes (moto ignores tokens: :meth:`_already_moved` covers that case too)."""
        actions = [action for piece in pieces for action in self._actions(piece)]
        keys = sorted(
            f"{item['playerId']}\x00{item['sk']}\x00{item.get('fillSeq', '')}" for p in pieces for item in p
        )
        token = hashlib.sha256("\x01".join(keys).encode()).hexdigest()[:36]
        for attempt in range(ATTEMPTS):
            try:
                self.store.transact_write_items(TransactItems=actions, ClientRequestToken=token)
                return True
            except Busy:
                time.sleep(min(1.0, 0.05 * 2**attempt))
            except StateMoved:
                return False
        raise UpgradeRefused("DynamoDB stayed busy moving fill records; run the upgrade again (it resumes)")

    def _already_moved(self, piece: list[dict[str, Any]]) -> bool:
        """Whether the piece is in the fills table as it was read and gone from the accounts table: a
        move whose transaction committed though its caller was told otherwise."""
        for item in piece:
            key = {"playerId": item["playerId"], "sk": item["sk"]}
            kept = self.client.get_item(TableName=self.tables.fills, Key=key, ConsistentRead=True).get("Item")
            left = self.client.get_item(TableName=self.tables.accounts, Key=key, ConsistentRead=True).get(
                "Item"
            )
            if kept != item or left is not None:
                return False
        return True


def rebuild_hours(
    client: Any, tables: TableNames, say: Callable[[str], None] = lambda line: None
) -> tuple[str, ...]:
    """For each market with trades and no ``hours`` (or hours of six numbers, without their first and
    last trade's time, from the first version that kept them): the hours of its trades in the 25
    hours ending with its latest one, written only if no settlement changed the market since it was
    read (its version). This version's matcher leaves such a market's hours unwritten (figures
    rolled onto none would leave out the earlier trades), so a settlement landing in between only
    moves the version: the market is read again and its hours worked out again."""
    rebuilt = []
    for market in items(client.scan, TableName=tables.markets, ConsistentRead=True):
        for _ in range(ATTEMPTS):
            if market is None or not _needs_hours(market):
                break
            hours = _hours_of_trades(client, tables, market["material"])
            if hours is None:
                break
            try:
                client.update_item(
                    TableName=tables.markets,
                    Key={"material": market["material"]},
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
                key = {"material": market["material"]}
                market = client.get_item(TableName=tables.markets, Key=key, ConsistentRead=True).get("Item")
                continue
            rebuilt.append(market["material"])
            say(f"{market['material']}: hourly figures of {sum(h.volume for h in hours):,} traded")
            break
        else:
            raise UpgradeRefused(
                f"{market['material'] if market else 'a market'} kept settling while its hourly figures "
                "were worked out: disable the matcher's event source mapping and run the upgrade again"
            )
    return tuple(rebuilt)


def _needs_hours(market: dict[str, Any]) -> bool:
    whole = all(len(figures) == len(HourFigures._fields) for figures in market.get("hours", []))
    return "lastPrice" in market and not ("hours" in market and whole)


def _hours_of_trades(client: Any, tables: TableNames, material: str) -> tuple[HourFigures, ...] | None:
    """The hours of a market's trades in the 25 ending with its latest trade's; None without trades."""
    newest = trades_by_time(tables.trades, material, 0, newest_first=True)
    latest = client.query(**newest, Limit=1).get("Items", [])
    if not latest:
        return None
    last_ms = int(latest[0]["executedAt"])
    since = last_ms - last_ms % HOUR_MS - (KEPT_HOURS - 1) * HOUR_MS
    hours: tuple[HourFigures, ...] = ()
    for item in items(client.query, **trades_by_time(tables.trades, material, since, newest_first=False)):
        trade = trade_from_item(item)
        hours = roll_hours(hours, int(item["executedAt"]), [(trade.price, trade.quantity)])
    return hours
