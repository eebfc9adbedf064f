"""The DynamoDB adapter of every intake port (:mod:`mercato.intake.ports`), in one class."""

import base64
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mercato import tracing
from mercato.intake.ports import (
    ClientOrderIdTaken,
    ClientOrderMarker,
    HouseOpening,
    Movement,
    TooManyTrades,
)
from mercato.models.accounts import Balance, Deposit, Withdrawal
from mercato.models.errors import InsufficientBalance, StateMoved, Throttled
from mercato.models.events import GoalEvent, GoalRecord
from mercato.models.history import PlayerFill
from mercato.models.keys import side_prefix
from mercato.models.markets import Market
from mercato.models.orders import Order, OrderStatus, Side, escrow
from mercato.models.trades import Trade
from mercato.models.views import Level
from mercato.resources import ORDERS
from mercato.storage.errors import busy, cancellation_reasons, classify
from mercato.storage.items import (
    ASSET_PREFIX,
    CANCELLED_BY_OWNER,
    CLIENT_PREFIX,
    DEPOSIT_PREFIX,
    EVENT_PREFIX,
    FILL_COUNTER_KEY,
    KIND_GOAL,
    ORDER_PREFIX,
    WITHDRAWAL_PREFIX,
    book_key,
    book_order_item,
    fill_from_item,
    fill_key,
    from_wire,
    goal_event_from_item,
    goal_event_item,
    goal_record_from_item,
    listing_event_item,
    market_from_item,
    market_item,
    order_from_record,
    order_record_item,
    plain,
    status_key,
    to_millis,
    trade_from_item,
    trades_by_time,
)
from mercato.storage.names import TableNames
from mercato.storage.pages import items

_LEVEL_PAGE = 200


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(plain(key)).encode()).decode()


def _page(page: dict[str, Any], limit: int, key: tuple[str, ...]) -> tuple[list[Any], str | None]:
    """At most ``limit`` items of a query that asked for ``limit + 1``, and a cursor only when more
    follow: DynamoDB hands back a ``LastEvaluatedKey`` whenever it reaches its ``Limit``, even with
    nothing after it, so a page of exactly what was left would lead to an empty one. One more than
    asked shows there is more; fewer with a ``LastEvaluatedKey`` means a 1 MB page ended early."""
    found = page.get("Items", [])
    if len(found) > limit:
        last = found[limit - 1]
        return found[:limit], _encode_cursor({name: last[name] for name in key})
    return found, _encode_cursor(page.get("LastEvaluatedKey"))


def _decoded(cursor: str, refusal: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:  # not base64, not UTF-8 or not JSON
        raise ValueError(refusal) from None


def _decode_cursor(cursor: str, player_id: str, status: OrderStatus | None) -> dict[str, Any]:
    """A cursor this API returned for this player's listing (all orders, or those of ``status``): the
    whole key of the last order of a page, or ``ValueError``."""
    decoded = _decoded(cursor, "not a cursor of this player's orders")
    keys = {"playerId", "sk"} if status is None else {"playerId", "sk", "statusKey"}
    if (
        not isinstance(decoded, dict)
        or set(decoded) != keys
        or not all(isinstance(value, str) for value in decoded.values())
        or decoded["playerId"] != player_id
        or not decoded["sk"].startswith(ORDER_PREFIX)
        or (status is not None and not decoded["statusKey"].startswith(f"{status}#"))
    ):
        raise ValueError("not a cursor of this player's orders")
    return decoded


_TRADE_CURSOR_KEYS = {"material", "sk", "timeKey"}
_STATUS_KEY = ("playerId", "sk", "statusKey")
"""The key of an order on the by-status index (the table's key and the index's)."""


def _decode_trade_cursor(cursor: str, material: str, low: str, high: str) -> dict[str, Any]:
    """A trades cursor this API returned for this material and a range that contains it."""
    decoded = _decoded(cursor, "not a cursor of this market's trades in this range")
    if (
        not isinstance(decoded, dict)
        or set(decoded) != _TRADE_CURSOR_KEYS
        or not all(isinstance(value, str) for value in decoded.values())
        or decoded["material"] != material
        or not low <= decoded["timeKey"] <= high
        or not decoded["sk"]  # DynamoDB refuses an empty key attribute (a 500, not a 422)
        or not decoded["timeKey"].endswith(f"#{decoded['sk']}")  # the index key of that very trade
    ):
        raise ValueError("not a cursor of this market's trades in this range")
    return decoded


class DynamoIntakeStore:
    """Intake's storage on DynamoDB, through a boto3 *resource* client (Python types in and out)."""

    def __init__(self, client: Any, tables: TableNames) -> None:
        self._client = client
        self._t = tables

    # -- helpers -----------------------------------------------------------------------------

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if busy(error):
                raise Throttled("the exchange is busy; retry shortly") from error
            raise

    def _put_new(self, table: str, item: dict[str, Any], key: str) -> bool:
        """Write ``item`` unless its key exists; ``False`` if it did."""
        try:
            self._client.put_item(
                TableName=table, Item=item, ConditionExpression=f"attribute_not_exists({key})"
            )
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                return False
            if busy(error):
                raise Throttled("the exchange is busy; retry shortly") from error
            raise
        return True

    def _get(self, table: str, key: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=table, Key=key, ConsistentRead=consistent)
        item: dict[str, Any] | None = response.get("Item")
        return item

    # -- markets -----------------------------------------------------------------------------

    def get_market(self, material: str) -> Market | None:
        item = self._get(self._t.markets, {"material": material}, consistent=False)
        return None if item is None else market_from_item(item)

    def list_markets(self) -> list[Market]:
        markets = map(market_from_item, items(self._client.scan, TableName=self._t.markets))
        return sorted(markets, key=lambda m: m.material)

    def create_market(self, market: Market, opening: HouseOpening | None = None) -> bool:
        """The market item, and with it the house's endowment and the listing event, in one
        transaction: a crash leaves either no market or one whose house will quote."""
        if opening is None:
            return self._put_new(self._t.markets, market_item(market), "material")
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._t.markets,
                    "Item": market_item(market),
                    "ConditionExpression": "attribute_not_exists(material)",
                }
            },
            {
                "Put": {
                    "TableName": self._t.book,
                    "Item": listing_event_item(market.material, opening.at),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
        ]
        for endowment in opening.endowments:
            actions += self._movement_actions(
                opening.player_id,
                DEPOSIT_PREFIX,
                endowment.deposit_id,
                endowment.asset,
                endowment.quantity,
                opening.at,
                +1,
            )
        try:
            self._transact(actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if cancellation_reasons(error)[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    # -- orders ------------------------------------------------------------------------------

    def place_order(self, order: Order, *, asset: str, amount: int, fingerprint: str | None) -> None:
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._t.accounts,
                    "Key": {"playerId": order.player_id, "sk": ASSET_PREFIX + asset},
                    "UpdateExpression": "SET available = available - :amount, reserved = reserved + :amount",
                    "ConditionExpression": "available >= :amount",
                    "ExpressionAttributeValues": {":amount": amount},
                }
            },
            {
                "Put": {
                    "TableName": self._t.book,
                    "Item": tracing.stamp(book_order_item(order)),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {
                "Put": {
                    "TableName": self._t.orders,
                    "Item": order_record_item(order),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
        ]
        if order.client_order_id is not None and fingerprint is not None:
            actions.append(
                {
                    "Put": {
                        "TableName": self._t.orders,
                        "Item": {
                            "playerId": order.player_id,
                            "sk": CLIENT_PREFIX + order.client_order_id,
                            "orderId": order.order_id,
                            "fingerprint": fingerprint,
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        try:
            self._transact(actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            if len(reasons) > 3 and reasons[3].get("Code") == "ConditionalCheckFailed":
                old = from_wire(reasons[3].get("Item") or {})
                marker = (
                    ClientOrderMarker(old["orderId"], old["fingerprint"])
                    if old
                    else self.get_client_order(order.player_id, order.client_order_id or "")
                )
                if marker is not None:
                    raise ClientOrderIdTaken(marker) from None
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise InsufficientBalance(
                    f"not enough {asset} available: this order reserves {amount}"
                ) from None
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons[1:3]):
                raise StateMoved(order.order_id) from None  # the order id is taken: a broken id source
            raise

    def get_client_order(self, player_id: str, client_order_id: str) -> ClientOrderMarker | None:
        item = self._get(self._t.orders, {"playerId": player_id, "sk": CLIENT_PREFIX + client_order_id})
        return None if item is None else ClientOrderMarker(item["orderId"], item["fingerprint"])

    def get_order(self, player_id: str, order_id: str) -> Order | None:
        item = self._get(self._t.orders, {"playerId": player_id, "sk": ORDER_PREFIX + order_id})
        return None if item is None else order_from_record(item)

    def list_orders(
        self, player_id: str, status: OrderStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._t.orders,
            "ScanIndexForward": False,
            "Limit": limit + 1,
            "ExpressionAttributeValues": {":player": player_id},
        }
        if status is None:  # the table itself: read consistently, so a 202 just answered is listed
            kwargs["KeyConditionExpression"] = "playerId = :player AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = ORDER_PREFIX
            kwargs["ConsistentRead"] = True
        else:  # a global secondary index cannot be read consistently (see the README's known limits)
            kwargs["IndexName"] = ORDERS.indexes[0].name
            kwargs["KeyConditionExpression"] = "playerId = :player AND begins_with(statusKey, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = f"{status}#"
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, player_id, status)
        found, next_cursor = _page(
            self._client.query(**kwargs), limit, ("playerId", "sk") if status is None else _STATUS_KEY
        )
        return [order_from_record(item) for item in found], next_cursor

    def resting_quantity(self, order: Order) -> int | None:
        item = self._get(self._t.book, {"material": order.material, "sk": book_key(order)})
        return None if item is None else int(item["remaining"])

    def cancel_order(self, order: Order, remaining: int, *, at: datetime) -> None:
        asset, released = escrow(order.side, order.material, order.price, remaining)
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "TableName": self._t.book,
                            "Key": {"material": order.material, "sk": book_key(order)},
                            "ConditionExpression": "remaining = :remaining",
                            "ExpressionAttributeValues": {":remaining": remaining},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._t.accounts,
                            "Key": {"playerId": order.player_id, "sk": ASSET_PREFIX + asset},
                            "UpdateExpression": "SET available = available + :released, "
                            "reserved = reserved - :released",
                            "ConditionExpression": "reserved >= :released",
                            "ExpressionAttributeValues": {":released": released},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._t.orders,
                            "Key": {"playerId": order.player_id, "sk": ORDER_PREFIX + order.order_id},
                            "UpdateExpression": "SET #status = :cancelled, statusKey = :key, closedAt = :at, "
                            "cancelledBy = :owner",
                            "ConditionExpression": "#status = :open",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":owner": CANCELLED_BY_OWNER,
                                ":cancelled": str(OrderStatus.CANCELLED),
                                ":open": str(OrderStatus.OPEN),
                                ":key": status_key(OrderStatus.CANCELLED, order.order_id),
                                ":at": to_millis(at),
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                raise StateMoved(order.order_id) from None
            raise

    # -- accounts ----------------------------------------------------------------------------

    def balances(self, player_id: str) -> dict[str, Balance]:
        page = self._client.query(
            TableName=self._t.accounts,
            KeyConditionExpression="playerId = :player AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":player": player_id, ":prefix": ASSET_PREFIX},
            ConsistentRead=True,
        )
        return {
            item["sk"].removeprefix(ASSET_PREFIX): Balance(
                available=int(item["available"]), reserved=int(item["reserved"])
            )
            for item in page.get("Items", [])
        }

    def _movement_actions(
        self,
        player_id: str,
        prefix: str,
        movement_id: str,
        asset: str,
        quantity: int,
        at: datetime,
        sign: int,
    ) -> list[dict[str, Any]]:
        """The movement record, written once per id, and the balance change it makes."""
        balance_update: dict[str, Any] = {
            "TableName": self._t.accounts,
            "Key": {"playerId": player_id, "sk": ASSET_PREFIX + asset},
            "ExpressionAttributeValues": {":quantity": quantity},
        }
        if sign > 0:
            balance_update["UpdateExpression"] = (
                "SET available = if_not_exists(available, :zero) + :quantity, "
                "reserved = if_not_exists(reserved, :zero)"
            )
            balance_update["ExpressionAttributeValues"][":zero"] = 0
        else:
            balance_update["UpdateExpression"] = "SET available = available - :quantity"
            balance_update["ConditionExpression"] = "available >= :quantity"
        record = {
            "playerId": player_id,
            "sk": prefix + movement_id,
            "asset": asset,
            "quantity": quantity,
            "at": to_millis(at),
        }
        return [
            {
                "Put": {
                    "TableName": self._t.accounts,
                    "Item": record,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
            {"Update": balance_update},
        ]

    def _movement(
        self,
        player_id: str,
        prefix: str,
        movement_id: str,
        asset: str,
        quantity: int,
        at: datetime,
        sign: int,
    ) -> bool:
        try:
            self._transact(self._movement_actions(player_id, prefix, movement_id, asset, quantity, at, sign))
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = cancellation_reasons(error)
            if codes[0] == "ConditionalCheckFailed":
                return False
            if codes[1] == "ConditionalCheckFailed":
                raise InsufficientBalance(f"not enough {asset} available to withdraw {quantity}") from None
            raise
        return True

    def _get_movement(self, player_id: str, key: str) -> Movement | None:
        item = self._get(self._t.accounts, {"playerId": player_id, "sk": key})
        return None if item is None else Movement(item["asset"], int(item["quantity"]))

    def deposit(self, player_id: str, deposit: Deposit, *, at: datetime) -> bool:
        return self._movement(
            player_id, DEPOSIT_PREFIX, deposit.deposit_id, deposit.asset, deposit.quantity, at, +1
        )

    def get_deposit(self, player_id: str, deposit_id: str) -> Movement | None:
        return self._get_movement(player_id, DEPOSIT_PREFIX + deposit_id)

    def withdraw(self, player_id: str, withdrawal: Withdrawal, *, at: datetime) -> bool:
        return self._movement(
            player_id,
            WITHDRAWAL_PREFIX,
            withdrawal.withdrawal_id,
            withdrawal.asset,
            withdrawal.quantity,
            at,
            -1,
        )

    def get_withdrawal(self, player_id: str, withdrawal_id: str) -> Movement | None:
        return self._get_movement(player_id, WITHDRAWAL_PREFIX + withdrawal_id)

    # -- market data -------------------------------------------------------------------------

    def book_levels(self, material: str, side: Side, depth: int) -> list[Level]:
        """Aggregate the best ``depth`` price levels, reading the book in key (priority) order."""
        levels: list[Level] = []
        kwargs: dict[str, Any] = {
            "TableName": self._t.book,
            "KeyConditionExpression": "material = :material AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":material": material, ":prefix": side_prefix(side)},
            "Limit": _LEVEL_PAGE,
            "ConsistentRead": True,  # the book as it stands: no order a cancel just took off
        }
        price = quantity = count = 0
        for item in items(self._client.query, **kwargs):
            item_price = int(item["price"])
            if count and item_price != price:
                levels.append(Level(price=price, quantity=quantity, orders=count))
                if len(levels) == depth:
                    return levels
                quantity = count = 0
            price = item_price
            quantity += int(item["remaining"])
            count += 1
        if count:
            levels.append(Level(price=price, quantity=quantity, orders=count))
        return levels[:depth]

    def recent_trades(self, material: str, limit: int) -> list[Trade]:
        page = self._client.query(
            TableName=self._t.trades,
            KeyConditionExpression="material = :material",
            ExpressionAttributeValues={":material": material},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [trade_from_item(item) for item in page.get("Items", [])]

    def trades_page(
        self, material: str, limit: int, cursor: str | None, start_ms: int, end_ms: int
    ) -> tuple[list[Trade], str | None]:
        request = trades_by_time(self._t.trades, material, start_ms, end_ms, newest_first=True)
        request["Limit"] = limit + 1
        if cursor:
            values = request["ExpressionAttributeValues"]
            request["ExclusiveStartKey"] = _decode_trade_cursor(
                cursor, material, values[":low"], values[":high"]
            )
        found, next_cursor = _page(self._client.query(**request), limit, tuple(sorted(_TRADE_CURSOR_KEYS)))
        return [trade_from_item(item) for item in found], next_cursor

    def trades_between(self, material: str, start_ms: int, end_ms: int, at_most: int | None) -> list[Trade]:
        found: list[Trade] = []
        oldest_first = trades_by_time(self._t.trades, material, start_ms, end_ms, newest_first=False)
        for item in items(self._client.query, **oldest_first):
            if at_most is not None and len(found) == at_most:
                raise TooManyTrades(f"more than {at_most} trades")
            found.append(trade_from_item(item))
        return found

    # -- a player's fills --------------------------------------------------------------------

    def fills_after(self, player_id: str, after: int, limit: int) -> list[PlayerFill]:
        page = self._client.query(
            TableName=self._t.fills,
            KeyConditionExpression="playerId = :player AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":player": player_id,
                ":low": fill_key(after + 1),
                ":high": fill_key(10**12 - 1),
            },
            ConsistentRead=True,
            Limit=limit,
        )
        return [fill_from_item(item) for item in page.get("Items", [])]

    def fill_sequence(self, player_id: str) -> int:
        item = self._get(self._t.fills, {"playerId": player_id, "sk": FILL_COUNTER_KEY})
        return 0 if item is None else int(item["fillSeq"])

    # -- market events -----------------------------------------------------------------------

    def put_goal_event(self, event: GoalEvent, *, at: datetime) -> bool:
        return self._put_new(self._t.book, tracing.stamp(goal_event_item(event, at)), "sk")

    def get_goal_event(self, material: str, event_id: str) -> GoalEvent | None:
        item = self._get(self._t.book, {"material": material, "sk": EVENT_PREFIX + event_id})
        return None if item is None else goal_event_from_item(item)

    def goals(self, material: str) -> list[GoalRecord]:
        events = items(
            self._client.query,
            TableName=self._t.book,
            KeyConditionExpression="material = :m AND begins_with(sk, :p)",
            FilterExpression="kind = :goal",
            ExpressionAttributeValues={":m": material, ":p": EVENT_PREFIX, ":goal": KIND_GOAL},
        )
        return sorted(map(goal_record_from_item, events), key=lambda goal: (goal.posted_at, goal.event_id))
