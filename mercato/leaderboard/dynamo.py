"""The leaderboard on DynamoDB: it reads the accounts and markets tables (scans, off the trading
path; the players' fill records live in a table of their own, so the scan of the accounts reads
balances and movements only) and owns the leaderboard table.

Items of the leaderboard table:

- ``POINTER`` / ``{window}``: the version served, when it was made, its baseline, the one before;
- ``BOARD#{window}#{version}`` / ``RANK#{rank:09d}#{player}``: the board in rank order;
- ``BOARD#{window}#{version}`` / ``PLAYER#{player}``: the same standing, found by player;
- ``SNAPSHOTS`` / ``{hour:013d}``: a complete hourly value snapshot (written after its values);
- ``VALUES#{hour:013d}`` / ``{player}``: one player's value in that snapshot.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from mercato.leaderboard.ports import BoardPointer, Ledger, Snapshot
from mercato.leaderboard.ranking import Movement, Standing, Window
from mercato.models.markets import Market
from mercato.storage.items import ASSET_PREFIX, DEPOSIT_PREFIX, WITHDRAWAL_PREFIX, market_from_item
from mercato.storage.names import TableNames
from mercato.storage.pages import items

POINTER: Final = "POINTER"
SNAPSHOTS: Final = "SNAPSHOTS"
RANK_PREFIX: Final = "RANK#"
PLAYER_PREFIX: Final = "PLAYER#"
BATCH: Final = 25
BATCH_ATTEMPTS: Final = 8
WRITERS: Final = 8
"""Batches written at once: a board of 10,000 players is 800 batches per window."""


def _board(window: Window, version: int) -> str:
    return f"BOARD#{window}#{version:013d}"


def _values(hour_ms: int) -> str:
    return f"VALUES#{hour_ms:013d}"


def _standing(item: dict[str, Any]) -> Standing:
    return Standing(
        rank=int(item["rank"]), player_id=item["playerId"], score=int(item["score"]), value=int(item["value"])
    )


class DynamoLeaderboardStore:
    """Through a boto3 *resource* client."""

    def __init__(self, client: Any, table: str, tables: TableNames) -> None:
        self._client = client
        self._table = table
        self._t = tables

    # -- the exchange's tables, read ---------------------------------------------------------

    def ledger(self) -> Ledger:
        holdings: dict[str, dict[str, int]] = {}
        movements: list[Movement] = []
        for item in items(self._client.scan, TableName=self._t.accounts, ConsistentRead=True):
            player, key = item["playerId"], item["sk"]
            if key.startswith(ASSET_PREFIX):
                total = int(item.get("available", 0)) + int(item.get("reserved", 0))
                holdings.setdefault(player, {})[key.removeprefix(ASSET_PREFIX)] = total
            elif key.startswith((DEPOSIT_PREFIX, WITHDRAWAL_PREFIX)):
                sign = 1 if key.startswith(DEPOSIT_PREFIX) else -1
                movements.append(
                    Movement(player, item["asset"], sign * int(item["quantity"]), int(item["at"]))
                )
        return Ledger(holdings=holdings, movements=movements)

    def markets(self) -> list[Market]:
        return [market_from_item(item) for item in items(self._client.scan, TableName=self._t.markets)]

    # -- boards ------------------------------------------------------------------------------

    def pointer(self, window: Window) -> BoardPointer | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": POINTER, "sk": str(window)}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return BoardPointer(
            version=int(item["version"]),
            generated_ms=int(item["generatedMs"]),
            since_ms=int(item["sinceMs"]) if "sinceMs" in item else None,
            previous=int(item["previous"]) if "previous" in item else None,
        )

    def standings(self, window: Window, version: int, limit: int) -> list[Standing]:
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :board AND begins_with(sk, :rank)",
            ExpressionAttributeValues={":board": _board(window, version), ":rank": RANK_PREFIX},
            Limit=limit,
            ConsistentRead=True,  # the board was written just before its pointer flipped
        )
        return [_standing(item) for item in page.get("Items", [])]

    def standing_of(self, window: Window, version: int, player_id: str) -> Standing | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": _board(window, version), "sk": PLAYER_PREFIX + player_id},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else _standing(item)

    def write_board(self, window: Window, version: int, standings: list[Standing], expires_at: int) -> None:
        board = _board(window, version)
        requests = []
        for standing in standings:
            fields = {
                "rank": standing.rank,
                "playerId": standing.player_id,
                "score": standing.score,
                "value": standing.value,
                "expiresAt": expires_at,
            }
            by_rank = {"pk": board, "sk": f"{RANK_PREFIX}{standing.rank:09d}#{standing.player_id}"}
            by_player = {"pk": board, "sk": PLAYER_PREFIX + standing.player_id}
            requests += [
                {"PutRequest": {"Item": by_rank | fields}},
                {"PutRequest": {"Item": by_player | fields}},
            ]
        self._batch(requests)

    def flip(self, window: Window, new: BoardPointer, read: BoardPointer | None) -> bool:
        item: dict[str, Any] = {
            "pk": POINTER,
            "sk": str(window),
            "version": new.version,
            "generatedMs": new.generated_ms,
        }
        if new.since_ms is not None:
            item["sinceMs"] = new.since_ms
        if new.previous is not None:
            item["previous"] = new.previous
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version < :version",
                ExpressionAttributeValues={":version": new.version},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_board(self, window: Window, version: int) -> None:
        board = _board(window, version)
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in items(
                self._client.query,
                TableName=self._table,
                KeyConditionExpression="pk = :board",
                ExpressionAttributeValues={":board": board},
                ProjectionExpression="pk, sk",
            )
        ]
        self._batch([{"DeleteRequest": {"Key": key}} for key in keys])

    # -- snapshots ---------------------------------------------------------------------------

    def has_snapshot(self, hour_ms: int) -> bool:
        key = {"pk": SNAPSHOTS, "sk": f"{hour_ms:013d}"}
        return "Item" in self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)

    def put_snapshot(self, hour_ms: int, snapshot: Snapshot, expires_at: int) -> None:
        self._batch(
            [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": _values(hour_ms),
                            "sk": player,
                            "value": value,
                            "expiresAt": expires_at,
                        }
                        | ({} if snapshot.moved is None else {"moved": snapshot.moved.get(player, {})})
                    }
                }
                for player, value in snapshot.values.items()
            ]
        )
        self._client.put_item(  # last: the snapshot exists once every value is in
            TableName=self._table,
            Item={
                "pk": SNAPSHOTS,
                "sk": f"{hour_ms:013d}",
                "takenMs": snapshot.taken_ms,
                "expiresAt": expires_at,
            }
            # whether it kept the movements its scan saw: an empty snapshot has no value item to say so
            | ({} if snapshot.moved is None else {"hasMoved": True}),
        )

    def snapshot_from(self, start_ms: int) -> Snapshot | None:
        start = f"{start_ms:013d}"

        def first(condition: str, forward: bool, limit: int) -> list[dict[str, Any]]:
            return list(
                self._client.query(
                    TableName=self._table,
                    KeyConditionExpression=f"pk = :snapshots AND {condition}",
                    ExpressionAttributeValues={":snapshots": SNAPSHOTS, ":start": start},
                    ScanIndexForward=forward,
                    Limit=limit,
                    ConsistentRead=True,
                ).get("Items", [])
            )

        # the one keyed in the start's hour may have been taken after the start
        candidates = first("sk <= :start", False, 2)[::-1] + first("sk > :start", True, 1)
        if not candidates:
            return None
        found = [min(candidates, key=lambda item: abs(int(item["takenMs"]) - start_ms))]
        hour = int(found[0]["sk"])
        read = list(
            items(
                self._client.query,
                TableName=self._table,
                KeyConditionExpression="pk = :values",
                ExpressionAttributeValues={":values": _values(hour)},
                ConsistentRead=True,
            )
        )
        values = {item["sk"]: int(item["value"]) for item in read}
        moved = None
        # snapshots from before ``hasMoved`` said so by a ``moved`` on every value item
        if found[0].get("hasMoved") or (read and all("moved" in item for item in read)):
            moved = {item["sk"]: {a: int(q) for a, q in item.get("moved", {}).items()} for item in read}
        return Snapshot(taken_ms=int(found[0]["takenMs"]), values=values, moved=moved)

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        """``BatchWriteItem`` in chunks of 25, :data:`WRITERS` chunks at a time, each resending what
        DynamoDB left unprocessed; returns once every chunk is written. The first failure raises once
        the chunks already being written end; the rest are never sent."""
        chunks = [requests[first : first + BATCH] for first in range(0, len(requests), BATCH)]
        failed = threading.Event()

        def write(chunk: list[dict[str, Any]]) -> None:
            if failed.is_set():
                return  # a chunk failed: the ones not started are not sent
            try:
                self._write_chunk(chunk)
            except Exception:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="leaderboard-write") as pool:
            for written in [pool.submit(write, chunk) for chunk in chunks]:
                written.result()

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self._table: chunk}
        for attempt in range(BATCH_ATTEMPTS):
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError("DynamoDB kept leaving leaderboard writes unprocessed")
