"""The storage edge: DynamoDB items to and from domain types (STYLE rule 3).

boto3 hands numbers back as ``Decimal``; they become ``int`` here, once, and nowhere else. Times are
stored as Unix milliseconds. Of boto3 only its type codec is used, for the one place DynamoDB's wire
JSON reaches us undecoded.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from mercato.models.events import GoalEvent, GoalRecord
from mercato.models.history import PlayerFill
from mercato.models.keys import encode_book_key
from mercato.models.markets import CommodityMarket, FootballerMarket, Market
from mercato.models.orders import Order, OrderStatus, Side, TimeInForce, due_at_ms
from mercato.models.times import from_millis as from_millis
from mercato.models.times import to_millis as to_millis
from mercato.models.trades import Trade
from mercato.resources import TRADES

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer

Item = dict[str, Any]

ORDER_PREFIX: Final = "ORDER#"
CLIENT_PREFIX: Final = "CLIENT#"
ASSET_PREFIX: Final = "ASSET#"
DEPOSIT_PREFIX: Final = "DEPOSIT#"
WITHDRAWAL_PREFIX: Final = "WITHDRAWAL#"
EVENT_PREFIX: Final = "EVENT#"
FILL_PREFIX: Final = "FILL#"
FILL_COUNTER_KEY: Final = "FILLSEQ"
"""The item holding a player's fill sequence (``fillSeq``: the number of the player's last fill)."""
KIND_ORDER: Final = "order"
KIND_GOAL: Final = "goal"
KIND_LISTING: Final = "listing"
LISTING_KEY: Final = "LISTING"
"""Outside the ``EVENT#`` namespace, so no goal's event id can ever take the listing event's key."""
ORIGIN_HOUSE: Final = "house"
CANCELLED_BY_OWNER: Final = "owner"
"""``cancelledBy`` of an order record its owner cancelled (the matcher's cancels leave it unset)."""

_MARKET_FIELDS: Final = (
    "material",
    "kind",
    "name",
    "feeBps",
    "team",
    "personId",
    "baseValue",
    "goalValue",
    "house",
    "goals",
    "bestBid",
    "bestAsk",
    "lastPrice",
    "volume",
    "hours",
)


_MAX_EXPIRY_MS: Final = 9_999_999_999_999


def plain(value: Any) -> Any:
    """``Decimal`` to ``int`` all the way down (money is never fractional)."""
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError(f"a fractional number in storage: {value}")
        return int(value)
    if isinstance(value, Mapping):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value


# -- orders ---------------------------------------------------------------------------------------


@cache
def _wire() -> "TypeDeserializer":
    """boto3's codec, imported on first use: the in-memory engine (the pytest fixture's default)
    never meets wire JSON, and importing boto3 costs it a tenth of a second at start-up."""
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def from_wire(item: Mapping[str, Any]) -> Item:
    """An item in DynamoDB's wire JSON (``{"orderId": {"S": "…"}}``), decoded as everything else is.

    A transaction's cancellation reasons carry the old item this way even through boto3's resource
    layer, which decodes only successful responses."""
    wire = _wire()
    return {name: plain(wire.deserialize(value)) for name, value in item.items()}


def book_key(order: Order) -> str:
    return encode_book_key(order.side, order.price, order.order_id)


def listing_event_item(material: str, at: datetime) -> Item:
    """Written once when a footballer is listed: it wakes the matcher, which posts the house's ladder."""
    return {"material": material, "sk": LISTING_KEY, "kind": KIND_LISTING, "createdAt": to_millis(at)}


def book_order_item(order: Order) -> Item:
    """The order as it rests in the book partition: what the matcher reads and uncrosses."""
    item: Item = {
        "material": order.material,
        "sk": book_key(order),
        "kind": KIND_ORDER,
        "orderId": order.order_id,
        "playerId": order.player_id,
        "side": str(order.side),
        "price": order.price,
        "quantity": order.quantity,
        "remaining": order.quantity - order.filled_quantity,
        "timeInForce": str(order.time_in_force),
        "createdAt": to_millis(order.created_at),
    }
    if order.expires_at is not None:
        item["expiresAt"] = to_millis(order.expires_at)
    # an IOC or FOK is due a while after it arrived: a settlement from then on finds it in the
    # index and ends it, even if the record that announced it was never delivered
    due = due_at_ms(order.time_in_force, item.get("expiresAt"), item["createdAt"])
    if due is not None:
        item["expiry"] = expiry_key(due, order.order_id)
    return item


def expiry_key(expires_at_ms: int, order_id: str) -> str:
    """The ``by-expiry`` index's sort key: due orders sort first. Every instant intake accepts (after
    1970, at most ``MAX_EXPIRY_AHEAD`` from now) has 13 digits of milliseconds until the year 2286, so
    the string order is the time order; anything wider is refused rather than mis-sorted."""
    if not 0 <= expires_at_ms <= _MAX_EXPIRY_MS:
        raise ValueError(f"an expiry outside the key's range: {expires_at_ms} ms")
    return f"{expires_at_ms:013d}#{order_id}"


def status_key(status: OrderStatus, order_id: str) -> str:
    return f"{status}#{order_id}"


def order_record_item(order: Order) -> Item:
    """The player's order record: status, fills so far, and the request it came from."""
    item: Item = {
        "playerId": order.player_id,
        "sk": ORDER_PREFIX + order.order_id,
        "statusKey": status_key(order.status, order.order_id),
        "orderId": order.order_id,
        "material": order.material,
        "side": str(order.side),
        "price": order.price,
        "quantity": order.quantity,
        "timeInForce": str(order.time_in_force),
        "status": str(order.status),
        "filledQuantity": order.filled_quantity,
        "filledNotional": order.filled_notional,
        "createdAt": to_millis(order.created_at),
    }
    if order.client_order_id is not None:
        item["clientOrderId"] = order.client_order_id
    if order.expires_at is not None:
        item["expiresAt"] = to_millis(order.expires_at)
    return item


def order_from_record(item: Mapping[str, Any]) -> Order:
    item = plain(item)
    return Order(
        order_id=item["orderId"],
        player_id=item["playerId"],
        client_order_id=item.get("clientOrderId"),
        side=Side(item["side"]),
        material=item["material"],
        quantity=item["quantity"],
        price=item["price"],
        time_in_force=TimeInForce(item["timeInForce"]),
        expires_at=from_millis(item["expiresAt"]) if "expiresAt" in item else None,
        status=OrderStatus(item["status"]),
        filled_quantity=item["filledQuantity"],
        filled_notional=item["filledNotional"],
        created_at=from_millis(item["createdAt"]),
        cancelled_by_owner=item.get("cancelledBy") == CANCELLED_BY_OWNER,
    )


# -- markets --------------------------------------------------------------------------------------


def market_item(market: Market) -> Item:
    wire = market.wire()
    return {key: wire[key] for key in _MARKET_FIELDS if wire.get(key) is not None} | {
        "feesAccrued": 0,
        "houseQuotes": {},
    }


def market_from_item(item: Mapping[str, Any]) -> Market:
    fields = {key: value for key, value in plain(item).items() if key in _MARKET_FIELDS}
    if fields.get("kind") == "footballer":
        return FootballerMarket.model_validate(fields, by_alias=True)
    return CommodityMarket.model_validate(fields, by_alias=True)


# -- trades and events ----------------------------------------------------------------------------


def trade_from_item(item: Mapping[str, Any]) -> Trade:
    item = plain(item)
    return Trade(
        trade_id=item["tradeId"],
        material=item["material"],
        price=item["price"],
        quantity=item["quantity"],
        taker_side=Side(item["takerSide"]),
        executed_at=from_millis(item["executedAt"]),
        buy_order_id=item["buyOrderId"],
        sell_order_id=item["sellOrderId"],
        buyer_id=item["buyerId"],
        seller_id=item["sellerId"],
        fee=item.get("fee", 0),
    )


def goal_event_item(event: GoalEvent, at: datetime) -> Item:
    return {
        "material": event.material,
        "sk": EVENT_PREFIX + event.event_id,
        "kind": KIND_GOAL,
        "eventId": event.event_id,
        "matchId": event.match_id,
        "minute": event.minute,
        "createdAt": to_millis(at),
        "applied": False,
    }


def goal_event_from_item(item: Mapping[str, Any]) -> GoalEvent:
    item = plain(item)
    return GoalEvent.model_validate({key: item[key] for key in ("eventId", "material", "matchId", "minute")})


def goal_record_from_item(item: Mapping[str, Any]) -> GoalRecord:
    item = plain(item)
    return GoalRecord(
        event_id=item["eventId"],
        match_id=item["matchId"],
        minute=item["minute"],
        posted_at=from_millis(item["createdAt"]),
        applied=item["applied"],
    )


def trade_time_key(executed_at_ms: int, trade_key: str) -> str:
    """The trades table's ``by-time`` index sort key: trades in the order they executed."""
    return f"{executed_at_ms:013d}#{trade_key}"


def trades_by_time(
    trades_table: str, material: str, start_ms: int, end_ms: int = 10**13, *, newest_first: bool
) -> dict[str, Any]:
    """The ``Query`` of one market's trades executed in ``[start_ms, end_ms)`` on the trades table's
    ``by-time`` index (every ``timeKey`` of those milliseconds sorts between the two bounds)."""
    return {
        "TableName": trades_table,
        "IndexName": TRADES.indexes[0].name,
        "KeyConditionExpression": "material = :material AND timeKey BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":material": material,
            ":low": f"{start_ms:013d}",
            ":high": f"{end_ms - 1:013d}~",
        },
        "ScanIndexForward": not newest_first,
    }


def fill_key(seq: int) -> str:
    """A player's fill record, in the fills table under the player: ``FILL#{seq:012d}``."""
    return f"{FILL_PREFIX}{seq:012d}"


def fill_from_item(item: Mapping[str, Any]) -> PlayerFill:
    item = plain(item)
    return PlayerFill(
        seq=item["seq"],
        fill_id=item["fillId"],
        trade_id=item["tradeId"],
        order_id=item["orderId"],
        material=item["material"],
        side=Side(item["side"]),
        price=item["price"],
        quantity=item["quantity"],
        fee=item["fee"],
        executed_at=from_millis(item["executedAt"]),
    )
