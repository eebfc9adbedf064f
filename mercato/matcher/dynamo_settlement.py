"""A :class:`~mercato.matcher.transactions.Settlement` rendered to one ``TransactWriteItems``.

Every expectation of the value becomes a condition on the item it writes (so a stale plan is refused
whole): a book change on the ``remaining`` read, a trade, a fill record and a posted order on their
absence, an order record on being open, a decreasing balance on not going negative, a fill sequence
on its value, a goal event on not being applied, the market item on existing at the version read.
DynamoDB refuses two actions on one item in a transaction; the planner merges them, so each part here
is one item.
"""

from typing import Any

from mercato.matcher.transactions import (
    BalanceDelta,
    BookChange,
    FillRecord,
    FillSequence,
    MarketDelta,
    NewOrder,
    OrderChange,
    Settlement,
    TradeRecord,
)
from mercato.models.keys import encode_book_key
from mercato.models.orders import OrderStatus
from mercato.storage.items import (
    ASSET_PREFIX,
    EVENT_PREFIX,
    FILL_COUNTER_KEY,
    ORDER_PREFIX,
    ORIGIN_HOUSE,
    book_order_item,
    fill_key,
    order_record_item,
    status_key,
    trade_time_key,
)
from mercato.storage.names import TableNames

Action = dict[str, Any]


def transact_items(settlement: Settlement, tables: TableNames) -> list[Action]:
    """The ``TransactItems`` of one settlement, every write conditional."""
    at = settlement.at_ms
    material = settlement.material
    actions: list[Action] = [_book_action(material, change, tables) for change in settlement.book]
    actions += [_new_book_action(new, tables) for new in settlement.new_orders if new.remaining > 0]
    actions += [_new_record_action(new, tables) for new in settlement.new_orders]
    actions += [_record_action(change, at, tables) for change in settlement.orders]
    actions += [_goal_action(material, event_id, at, tables) for event_id in settlement.market.goals_applied]
    actions += [_balance_action(delta, tables) for delta in settlement.balances]
    actions += [_trade_action(material, trade, at, tables) for trade in settlement.trades]
    actions += [_fill_seq_action(sequence, tables) for sequence in settlement.fill_sequences]
    actions += [_fill_action(material, fill, at, tables) for fill in settlement.fills]
    actions.append(_market_action(material, settlement.market, tables))
    return actions


def _book_action(material: str, change: BookChange, tables: TableNames) -> Action:
    key = {"material": material, "sk": encode_book_key(change.side, change.price, change.order_id)}
    condition = {":was": change.expected}
    if change.left == 0:
        return {
            "Delete": {
                "TableName": tables.book,
                "Key": key,
                "ConditionExpression": "remaining = :was",
                "ExpressionAttributeValues": condition,
            }
        }
    return {
        "Update": {
            "TableName": tables.book,
            "Key": key,
            "UpdateExpression": "SET remaining = :left",
            "ConditionExpression": "remaining = :was",
            "ExpressionAttributeValues": condition | {":left": change.left},
        }
    }


def _trade_action(material: str, trade: TradeRecord, at: int, tables: TableNames) -> Action:
    trade_key = (
        f"{trade.taker_order_id}#{encode_book_key(trade.maker_side, trade.maker_price, trade.maker_order_id)}"
    )
    item = {
        "material": material,
        "sk": trade_key,
        "timeKey": trade_time_key(at, trade_key),
        "tradeId": trade.trade_id,
        "price": trade.price,
        "quantity": trade.quantity,
        "takerSide": str(trade.taker_side),
        "executedAt": at,
        "buyOrderId": trade.buy_order_id,
        "sellOrderId": trade.sell_order_id,
        "buyerId": trade.buyer_id,
        "sellerId": trade.seller_id,
        "fee": trade.fee,
    }
    return {
        "Put": {
            "TableName": tables.trades,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def _new_book_action(new: NewOrder, tables: TableNames) -> Action:
    item = book_order_item(new.order) | ({"origin": ORIGIN_HOUSE} if new.house else {})
    return {
        "Put": {
            "TableName": tables.book,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def _new_record_action(new: NewOrder, tables: TableNames) -> Action:
    return {
        "Put": {
            "TableName": tables.orders,
            "Item": order_record_item(new.order),
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def _record_action(change: OrderChange, at: int, tables: TableNames) -> Action:
    sets = ["filledQuantity = filledQuantity + :q", "filledNotional = filledNotional + :n"]
    values: dict[str, Any] = {
        ":q": change.filled_quantity,
        ":n": change.filled_notional,
        ":open": str(OrderStatus.OPEN),
    }
    if change.status is not None:
        sets += ["#status = :status", "statusKey = :key", "closedAt = :at"]
        values |= {
            ":status": str(change.status),
            ":key": status_key(change.status, change.order_id),
            ":at": at,
        }
    return {
        "Update": {
            "TableName": tables.orders,
            "Key": {"playerId": change.player_id, "sk": ORDER_PREFIX + change.order_id},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#status = :open",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
    }


def _goal_action(material: str, event_id: str, at: int, tables: TableNames) -> Action:
    return {
        "Update": {
            "TableName": tables.book,
            "Key": {"material": material, "sk": EVENT_PREFIX + event_id},
            "UpdateExpression": "SET applied = :yes, appliedAt = :at",
            "ConditionExpression": "applied = :no",
            "ExpressionAttributeValues": {":yes": True, ":no": False, ":at": at},
        }
    }


def _balance_action(delta: BalanceDelta, tables: TableNames) -> Action:
    update: Action = {
        "TableName": tables.accounts,
        "Key": {"playerId": delta.player_id, "sk": ASSET_PREFIX + delta.asset},
        "UpdateExpression": "SET available = if_not_exists(available, :zero) + :a, "
        "reserved = if_not_exists(reserved, :zero) + :r",
        "ExpressionAttributeValues": {":a": delta.available, ":r": delta.reserved, ":zero": 0},
    }
    conditions = []
    if delta.reserved < 0:
        conditions.append("reserved >= :release")
        update["ExpressionAttributeValues"][":release"] = -delta.reserved
    if delta.available < 0:
        conditions.append("available >= :spend")
        update["ExpressionAttributeValues"][":spend"] = -delta.available
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}


def _fill_seq_action(sequence: FillSequence, tables: TableNames) -> Action:
    """Raise the player's fill sequence to ``last``, conditional on it still being what was read."""
    read = sequence.expected
    return {
        "Update": {
            "TableName": tables.fills,
            "Key": {"playerId": sequence.player_id, "sk": FILL_COUNTER_KEY},
            "UpdateExpression": "SET fillSeq = :last",
            "ConditionExpression": "attribute_not_exists(fillSeq)" if read == 0 else "fillSeq = :read",
            "ExpressionAttributeValues": {":last": sequence.last} | ({":read": read} if read else {}),
        }
    }


def _fill_action(material: str, fill: FillRecord, at: int, tables: TableNames) -> Action:
    item = {
        "playerId": fill.player_id,
        "sk": fill_key(fill.seq),
        "seq": fill.seq,
        "fillId": fill.fill_id,
        "tradeId": fill.trade_id,
        "orderId": fill.order_id,
        "material": material,
        "side": str(fill.side),
        "price": fill.price,
        "quantity": fill.quantity,
        "fee": fill.fee,
        "executedAt": at,
    }
    return {
        "Put": {
            "TableName": tables.fills,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def _market_action(material: str, market: MarketDelta, tables: TableNames) -> Action:
    sets = [
        "feesAccrued = if_not_exists(feesAccrued, :zero) + :fees",
        "volume = if_not_exists(volume, :zero) + :v",
    ]
    values: dict[str, Any] = {":fees": market.fees, ":v": market.volume, ":zero": 0}
    names: dict[str, str] = {}
    removes: list[str] = []
    if market.goals_applied:
        sets.append("goals = if_not_exists(goals, :zero) + :goals")
        values[":goals"] = len(market.goals_applied)
    for n, order_id in enumerate(market.quotes_removed):
        names[f"#gone{n}"] = order_id
        removes.append(f"houseQuotes.#gone{n}")
    for n, quote in enumerate(market.quotes_added):
        names[f"#quote{n}"] = quote.order_id
        values[f":quote{n}"] = encode_book_key(quote.side, quote.price, quote.order_id)
        sets.append(f"houseQuotes.#quote{n} = :quote{n}")
    if market.last_price is not None:
        sets.append("lastPrice = :last")
        values[":last"] = market.last_price
    if market.hours is not None:
        sets.append("hours = :hours")
        values[":hours"] = [list(figures) for figures in market.hours]
    ticker = market.ticker
    if ticker is not None:
        sides = (
            ("bestBid", ticker.best_bid, ticker.bid_known),
            ("bestAsk", ticker.best_ask, ticker.ask_known),
        )
        for name, value, known in sides:
            if not known:
                continue
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
    values[":version"] = market.expected_version
    values[":next"] = market.expected_version + 1
    sets.append("version = :next")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    update: Action = {
        "TableName": tables.markets,
        "Key": {"material": material},
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(material) AND "
        "(version = :version OR (attribute_not_exists(version) AND :version = :zero))",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}
