"""The DynamoDB adapter of :class:`~mercato.matcher.ports.MatcherStore`."""

from collections.abc import Callable
from typing import Any, Final

from mercato.matcher.book import BookOrder
from mercato.matcher.dynamo_settlement import transact_items
from mercato.matcher.ports import DUE_PAGE, BookRead, FootballerState, MarketState, PendingGoal
from mercato.matcher.transactions import Settlement
from mercato.models.history import HourFigures
from mercato.models.keys import BUY_PREFIX, SELL_PREFIX
from mercato.models.markets import HouseParams
from mercato.models.orders import Side, TimeInForce
from mercato.resources import BOOK
from mercato.storage.errors import Classified
from mercato.storage.items import ASSET_PREFIX, EVENT_PREFIX, FILL_COUNTER_KEY, KIND_GOAL, plain
from mercato.storage.names import TableNames
from mercato.storage.pages import items

FIRST_PAGE: Final = 10
"""The top of each side: usually all the crossing there is."""
PAGE: Final = 100
"""The first page past the top; each further page of the same side is twice the one before."""
MAX_PAGE: Final = 1_600
"""Well inside a Query's 1 MB (a book item is about 300 bytes)."""
BATCH_GET: Final = 100
"""Keys per ``BatchGetItem``, DynamoDB's limit."""


def book_order(item: dict[str, Any]) -> BookOrder:
    expires = item.get("expiresAt")
    return BookOrder(
        order_id=item["orderId"],
        player_id=item["playerId"],
        side=Side(item["side"]),
        price=int(item["price"]),
        quantity=int(item["remaining"]),
        time_in_force=TimeInForce(item["timeInForce"]),
        expires_at=None if expires is None else int(expires),
    )


class DynamoMatcherStore:
    """Every call goes through the one error classifier: a throttled read is :class:`Busy` like a
    throttled transaction, a failed condition :class:`StateMoved`."""

    def __init__(self, client: Any, tables: TableNames) -> None:
        self._client = Classified(client)
        self._t = tables

    def materials(self) -> list[str]:
        scanned = items(self._client.scan, TableName=self._t.markets, ProjectionExpression="material")
        return sorted(str(item["material"]) for item in scanned)

    def market(self, material: str) -> MarketState | None:
        item = self._client.get_item(
            TableName=self._t.markets, Key={"material": material}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        item = plain(item)
        footballer = None
        if item.get("kind") == "footballer":
            footballer = FootballerState(
                base_value=item["baseValue"],
                goal_value=item["goalValue"],
                goals=item.get("goals", 0),
                house=HouseParams.model_validate(item.get("house", {})),
                house_quotes=dict(item.get("houseQuotes", {})),
            )
        return MarketState(
            item["feeBps"],
            item.get("bestBid"),
            item.get("bestAsk"),
            footballer,
            item.get("version", 0),
            _hours(item),
        )

    def pending_goals(self, material: str) -> list[PendingGoal]:
        kwargs: dict[str, Any] = {
            "TableName": self._t.book,
            "KeyConditionExpression": "material = :m AND begins_with(sk, :p)",
            "FilterExpression": "kind = :goal AND applied = :no",
            "ExpressionAttributeValues": {
                ":m": material,
                ":p": EVENT_PREFIX,
                ":goal": KIND_GOAL,
                ":no": False,
            },
            "ConsistentRead": True,
        }
        events = sorted(items(self._client.query, **kwargs), key=lambda i: (int(i["createdAt"]), i["sk"]))
        return [PendingGoal(event["eventId"], int(event["createdAt"])) for event in events]

    def _get_many(self, table: str, keys: list[dict[str, Any]], key_name: str) -> dict[str, dict[str, Any]]:
        """Consistent ``BatchGetItem``s (100 keys each, unprocessed keys asked again), by ``key_name``."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET):
            request: dict[str, Any] = {
                table: {"Keys": keys[start : start + BATCH_GET], "ConsistentRead": True}
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                found |= {item[key_name]: item for item in response.get("Responses", {}).get(table, [])}
                request = response.get("UnprocessedKeys") or {}
        return found

    def holdings(self, player_id: str, assets: tuple[str, str]) -> tuple[int, int]:
        keys = [{"playerId": player_id, "sk": ASSET_PREFIX + asset} for asset in assets]
        found = self._get_many(self._t.accounts, keys, "sk")
        totals = [
            0 if item is None else int(item["available"]) + int(item["reserved"])
            for item in (found.get(ASSET_PREFIX + asset) for asset in assets)
        ]
        return totals[0], totals[1]

    def fill_sequences(self, players: list[str]) -> dict[str, int]:
        keys = [{"playerId": player, "sk": FILL_COUNTER_KEY} for player in dict.fromkeys(players)]
        found = self._get_many(self._t.fills, keys, "playerId")
        return {player: int(found[player]["fillSeq"]) if player in found else 0 for player in players}

    def _page(
        self, material: str, prefix: str, start: dict[str, Any] | None, limit: int = PAGE
    ) -> tuple[list[BookOrder], Any]:
        kwargs: dict[str, Any] = {
            "TableName": self._t.book,
            "KeyConditionExpression": "material = :m AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":m": material, ":p": prefix},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._client.query(**kwargs)
        return [book_order(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    def read_book(
        self, material: str, *, bid_floor: int | None = None, ask_ceiling: int | None = None
    ) -> BookRead:
        """Read each side from its best price until its prices no longer reach the other side's best
        (or the quotes about to be posted). Pages double, so a deep crossing (a goal's rush of buy
        orders) costs a few requests, and what is read past the crossing is at most what was needed."""
        bids, bid_next = self._page(material, BUY_PREFIX, None, FIRST_PAGE)
        asks, ask_next = self._page(material, SELL_PREFIX, None, FIRST_PAGE)
        lowest_ask = min(
            [p for p in (asks[0].price if asks else None, bid_floor) if p is not None], default=None
        )
        highest_bid = max(
            [p for p in (bids[0].price if bids else None, ask_ceiling) if p is not None], default=None
        )
        if lowest_ask is not None:
            bids, bid_next = self._read_on(material, BUY_PREFIX, bids, bid_next, lambda p: p >= lowest_ask)
        if highest_bid is not None:
            asks, ask_next = self._read_on(material, SELL_PREFIX, asks, ask_next, lambda p: p <= highest_bid)
        return BookRead(
            bids + asks,
            bids_complete=not bid_next,
            asks_complete=not ask_next,
            lowest_bid_read=bids[-1].price if bids else None,
            highest_ask_read=asks[-1].price if asks else None,
        )

    def _read_on(
        self,
        material: str,
        prefix: str,
        read: list[BookOrder],
        start: Any,
        crosses: Callable[[int], bool],
    ) -> tuple[list[BookOrder], Any]:
        """Page on down one side while its last price read still ``crosses``, each page twice the one
        before (from :data:`PAGE` up to :data:`MAX_PAGE`)."""
        limit = PAGE
        while start and crosses(read[-1].price):
            more, start = self._page(material, prefix, start, limit)
            read, limit = read + more, min(2 * limit, MAX_PAGE)
        return read, start

    def due(self, material: str, now: int) -> list[str]:
        page = self._client.query(
            TableName=self._t.book,
            IndexName=BOOK.indexes[0].name,
            KeyConditionExpression="material = :m AND expiry <= :now",
            ExpressionAttributeValues={":m": material, ":now": f"{now:013d}~"},
            ProjectionExpression="sk",
            Limit=DUE_PAGE,
        )
        return [item["sk"] for item in page.get("Items", [])]

    def due_materials(self, now: int) -> list[str]:
        scanned = items(
            self._client.scan,
            TableName=self._t.book,
            IndexName=BOOK.indexes[0].name,
            FilterExpression="expiry <= :now",
            ExpressionAttributeValues={":now": f"{now:013d}~"},
            ProjectionExpression="material",
        )
        return sorted({str(item["material"]) for item in scanned})

    def set_ticker(self, material: str, best_bid: int | None, best_ask: int | None, version: int) -> None:
        sets, removes, values = [], [], {":version": version}
        for name, value in (("bestBid", best_bid), ("bestAsk", best_ask)):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        expression = ("SET " + ", ".join(sets) if sets else "") + (
            " REMOVE " + ", ".join(removes) if removes else ""
        )
        kwargs: dict[str, Any] = {
            "TableName": self._t.markets,
            "Key": {"material": material},
            "UpdateExpression": expression.strip(),
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": values,
        }
        self._client.update_item(**kwargs)

    def read_orders(self, material: str, keys: list[str]) -> list[BookOrder]:
        unique = list(dict.fromkeys(keys))
        found = self._get_many(self._t.book, [{"material": material, "sk": key} for key in unique], "sk")
        return [book_order(found[key]) for key in unique if key in found]

    def best_price(self, material: str, buy: bool) -> int | None:
        orders, _ = self._page(material, BUY_PREFIX if buy else SELL_PREFIX, None, 1)
        return orders[0].price if orders else None

    def commit(self, settlement: Settlement) -> None:
        self._client.transact_write_items(TransactItems=transact_items(settlement, self._t))


def _hours(market: dict[str, Any]) -> tuple[HourFigures, ...] | None:
    """The market item's hourly figures; ``None`` if it traded before they were kept whole (no
    ``hours`` beside a ``lastPrice``, or six numbers an hour): figures rolled onto those would leave
    out the earlier trades, so they wait for ``mercato upgrade``, which reads them all."""
    stored = market.get("hours")
    if stored is None:
        return None if "lastPrice" in market else ()
    if any(len(figures) != len(HourFigures._fields) for figures in stored):
        return None
    return tuple(HourFigures(*figures) for figures in stored)
