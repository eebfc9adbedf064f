"""Every route of DESIGN §5 on moto, asserting what was stored, not just the status."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mercato.models.keys import encode_book_key
from mercato.models.orders import Side
from mercato.storage.items import trade_time_key
from tests.integration.conftest import Api


def item(api: Api, table: str, **key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = api.client.get_item(TableName=table, Key=key, ConsistentRead=True).get(
        "Item"
    )
    return found


@pytest.fixture
def market(api: Api) -> Api:
    """Wheat listed; alice holds 10,000 coins, bob holds 500 wheat."""
    assert api.list_market("wheat").status == 201
    assert api.deposit("alice", "coins", 10_000).status == 201
    assert api.deposit("bob", "wheat", 500).status == 201
    return api


# -- orders -----------------------------------------------------------------------------------


def test_a_buy_reserves_price_times_quantity_and_rests_in_the_book(market: Api) -> None:
    reply = market.order("alice", "Buy", 10, 25)

    assert reply.status == 202
    order = reply.body
    assert (order["status"], order["remainingQuantity"], order["filledQuantity"]) == ("open", 10, 0)
    assert market.balances("alice")["coins"] == {"available": 9_750, "reserved": 250}
    book = item(
        market, market.tables.book, material="wheat", sk=encode_book_key(Side.BUY, 25, order["orderId"])
    )
    assert book is not None
    assert (book["playerId"], book["remaining"], book["kind"]) == ("alice", 10, "order")
    record = item(market, market.tables.orders, playerId="alice", sk=f"ORDER#{order['orderId']}")
    assert record is not None
    assert (record["status"], record["statusKey"]) == ("open", f"open#{order['orderId']}")


def test_a_sell_reserves_the_items(market: Api) -> None:
    reply = market.order("bob", "Sell", 120, 30)

    assert reply.status == 202
    assert market.balances("bob")["wheat"] == {"available": 380, "reserved": 120}
    sk = encode_book_key(Side.SELL, 30, reply.body["orderId"])
    assert item(market, market.tables.book, material="wheat", sk=sk) is not None


def test_an_order_with_every_option_is_stored_with_them(market: Api) -> None:
    expiry = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    wire = expiry.isoformat().replace("+00:00", "Z")
    reply = market.order("alice", "Buy", 1, 10, clientOrderId="c-1", timeInForce="GTC", expiresAt=wire)

    assert reply.status == 202
    assert (reply.body["clientOrderId"], reply.body["expiresAt"]) == ("c-1", wire)
    book = item(
        market, market.tables.book, material="wheat", sk=encode_book_key(Side.BUY, 10, reply.body["orderId"])
    )
    assert book is not None
    assert book["expiresAt"] == int(expiry.timestamp()) * 1000


def test_the_owner_reads_an_order(market: Api) -> None:
    placed = market.order("alice", "Buy", 3, 7).body

    reply = market.call("GET", f"/orders/{placed['orderId']}", player="alice")

    assert reply.status == 200
    assert reply.body == placed


def test_a_players_orders_come_newest_first_a_page_at_a_time(market: Api) -> None:
    ids = [market.order("alice", "Buy", 1, price).body["orderId"] for price in range(1, 6)]

    first = market.call("GET", "/orders", player="alice", query={"limit": "2"})
    second = market.call(
        "GET", "/orders", player="alice", query={"limit": "2", "cursor": first.body["nextCursor"]}
    )
    third = market.call(
        "GET", "/orders", player="alice", query={"limit": "2", "cursor": second.body["nextCursor"]}
    )

    pages = [first, second, third]
    assert all(page.status == 200 for page in pages)
    seen = [order["orderId"] for page in pages for order in page.body["orders"]]
    assert seen == list(reversed(ids))
    assert market.call("GET", "/orders", player="bob").body["orders"] == [], "bob sees none of alice's orders"


def test_the_status_filter_lists_only_open_orders(market: Api) -> None:
    keep = market.order("alice", "Buy", 1, 5).body["orderId"]
    gone = market.order("alice", "Buy", 1, 6).body["orderId"]
    assert market.call("DELETE", f"/orders/{gone}", player="alice").status == 200

    open_orders = market.call("GET", "/orders", player="alice", query={"status": "open"})
    cancelled = market.call("GET", "/orders", player="alice", query={"status": "cancelled"})

    assert [o["orderId"] for o in open_orders.body["orders"]] == [keep]
    assert [o["orderId"] for o in cancelled.body["orders"]] == [gone]


def test_a_cancel_releases_the_reservation_and_takes_the_order_off_the_book(market: Api) -> None:
    order = market.order("alice", "Buy", 10, 25).body

    reply = market.call("DELETE", f"/orders/{order['orderId']}", player="alice")

    assert reply.status == 200
    assert (reply.body["status"], reply.body["remainingQuantity"]) == ("cancelled", 0)
    assert market.balances("alice")["coins"] == {"available": 10_000, "reserved": 0}
    assert (
        item(market, market.tables.book, material="wheat", sk=encode_book_key(Side.BUY, 25, order["orderId"]))
        is None
    )
    record = item(market, market.tables.orders, playerId="alice", sk=f"ORDER#{order['orderId']}")
    assert record is not None
    assert record["statusKey"] == f"cancelled#{order['orderId']}"


def test_a_cancel_after_a_partial_fill_releases_only_what_remains(market: Api) -> None:
    order = market.order("bob", "Sell", 100, 30).body
    sk = encode_book_key(Side.SELL, 30, order["orderId"])
    # Given the matcher filled 40 of it: the book keeps 60, and 40 reserved items went to the buyer
    market.client.update_item(
        TableName=market.tables.book,
        Key={"material": "wheat", "sk": sk},
        UpdateExpression="SET remaining = :r",
        ExpressionAttributeValues={":r": 60},
    )
    market.client.update_item(
        TableName=market.tables.accounts,
        Key={"playerId": "bob", "sk": "ASSET#wheat"},
        UpdateExpression="SET reserved = reserved - :f",
        ExpressionAttributeValues={":f": 40},
    )

    reply = market.call("DELETE", f"/orders/{order['orderId']}", player="bob")

    assert reply.status == 200
    assert market.balances("bob")["wheat"] == {"available": 460, "reserved": 0}


# -- accounts ---------------------------------------------------------------------------------


def test_balances_list_every_asset(market: Api) -> None:
    market.deposit("alice", "wheat", 3)
    market.order("alice", "Sell", 1, 99)

    reply = market.call("GET", "/accounts/me", player="alice")

    assert reply.status == 200
    assert reply.body == {
        "playerId": "alice",
        "balances": {"coins": {"available": 10_000, "reserved": 0}, "wheat": {"available": 2, "reserved": 1}},
    }


def test_a_deposit_credits_once_per_deposit_id(market: Api) -> None:
    first = market.deposit("carol", "coins", 50, deposit_id="topup-1")
    again = market.deposit("carol", "coins", 50, deposit_id="topup-1")
    other = market.deposit("carol", "coins", 5, deposit_id="topup-2")

    assert (first.status, again.status, other.status) == (201, 200, 201)
    assert market.balances("carol")["coins"] == {"available": 55, "reserved": 0}
    record = item(market, market.tables.accounts, playerId="carol", sk="DEPOSIT#topup-1")
    assert record is not None
    assert (record["asset"], record["quantity"]) == ("coins", 50)


def test_a_withdrawal_debits_the_available_amount_once(market: Api) -> None:
    body = {"withdrawalId": "w-1", "asset": "wheat", "quantity": 200}

    first = market.call("POST", "/accounts/bob/withdrawals", body, admin=True)
    again = market.call("POST", "/accounts/bob/withdrawals", body, admin=True)

    assert (first.status, again.status) == (201, 200)
    assert first.body["balances"]["wheat"] == {"available": 300, "reserved": 0}
    assert market.balances("bob")["wheat"] == {"available": 300, "reserved": 0}


# -- markets ----------------------------------------------------------------------------------


def test_listing_a_market_puts_it_in_the_catalog(api: Api) -> None:
    commodity = api.list_market("copper", feeBps=150)
    footballer = api.list_footballer("lionel-messi")
    again = api.list_market("copper", feeBps=150)

    assert (commodity.status, footballer.status, again.status) == (201, 201, 200)
    catalog = api.call("GET", "/markets")
    assert catalog.status == 200
    assert [m["material"] for m in catalog.body] == ["copper", "lionel-messi"]
    copper = catalog.body[0]
    assert copper == {
        "material": "copper",
        "kind": "commodity",
        "name": "Copper",
        "feeBps": 150,
        "bestBid": None,
        "bestAsk": None,
        "lastPrice": None,
        "volume": 0,
        "change24h": None,
        "high24h": None,
        "low24h": None,
        "volume24h": None,
    }


def test_a_footballer_market_shows_its_fundamental_value(api: Api) -> None:
    api.list_footballer("lionel-messi")
    api.client.update_item(
        TableName=api.tables.markets,
        Key={"material": "lionel-messi"},
        UpdateExpression="SET goals = :g",
        ExpressionAttributeValues={":g": 2},
    )

    reply = api.call("GET", "/markets/lionel-messi")

    assert reply.status == 200
    assert (reply.body["kind"], reply.body["team"], reply.body["personId"]) == ("footballer", "Argentina", 44)
    assert (reply.body["goals"], reply.body["fundamentalValue"]) == (2, 1_000 + 2 * 100)


def test_the_book_aggregates_price_levels_best_first(market: Api) -> None:
    for player, side, quantity, price in [
        ("alice", "Buy", 5, 10),
        ("alice", "Buy", 7, 10),
        ("alice", "Buy", 1, 12),
        ("alice", "Buy", 2, 8),
        ("bob", "Sell", 3, 20),
        ("bob", "Sell", 4, 15),
        ("bob", "Sell", 6, 15),
    ]:
        assert market.order(player, side, quantity, price).status == 202

    reply = market.call("GET", "/markets/wheat/book", query={"depth": "2"})

    assert reply.status == 200
    assert reply.body == {
        "material": "wheat",
        "bids": [{"price": 12, "quantity": 1, "orders": 1}, {"price": 10, "quantity": 12, "orders": 2}],
        "asks": [{"price": 15, "quantity": 10, "orders": 2}, {"price": 20, "quantity": 3, "orders": 1}],
    }


def test_recent_trades_come_newest_first(market: Api) -> None:
    for n, (taker, maker) in enumerate(
        [("0190a000-0000-7000-8000-00000000000a", "m1"), ("0190b000-0000-7000-8000-00000000000b", "m2")]
    ):
        market.client.put_item(
            TableName=market.tables.trades,
            Item={
                "material": "wheat",
                "sk": f"{taker}#{maker}",
                "tradeId": f"t{n}",
                "price": 10 + n,
                "quantity": 1,
                "takerSide": "Buy",
                "executedAt": 1_780_000_000_000 + n,
                "timeKey": trade_time_key(1_780_000_000_000 + n, f"{taker}#{maker}"),
                "buyOrderId": taker,
                "sellOrderId": "0190a000-0000-7000-8000-0000000000ff",
                "buyerId": "alice",
                "sellerId": "bob",
                "fee": 0,
            },
        )

    reply = market.call("GET", "/markets/wheat/trades", query={"limit": "5"})

    assert reply.status == 200
    assert [(t["tradeId"], t["price"]) for t in reply.body["trades"]] == [("t1", 11), ("t0", 10)]
    assert set(reply.body["trades"][0]) == {"tradeId", "price", "quantity", "takerSide", "executedAt"}


# -- market events ----------------------------------------------------------------------------


def test_a_goal_is_written_into_the_footballers_book_partition_once(api: Api) -> None:
    api.list_footballer("lionel-messi")
    goal = {"eventId": "wc2022:44:1", "material": "lionel-messi", "matchId": "final", "minute": 23}

    first = api.call("POST", "/events/goals", goal, admin=True)
    again = api.call("POST", "/events/goals", goal, admin=True)

    assert (first.status, again.status) == (202, 200)
    stored = item(api, api.tables.book, material="lionel-messi", sk="EVENT#wc2022:44:1")
    assert stored is not None
    assert (stored["kind"], stored["minute"], stored["applied"]) == ("goal", 23, False)


# -- the OpenAPI document ---------------------------------------------------------------------

ROUTES = {
    ("post", "/orders"),
    ("get", "/orders/{order_id}"),
    ("get", "/orders"),
    ("delete", "/orders/{order_id}"),
    ("get", "/accounts/me"),
    ("get", "/leaderboard"),
    ("get", "/markets"),
    ("get", "/markets/{material}"),
    ("get", "/markets/{material}/book"),
    ("get", "/markets/{material}/trades"),
    ("get", "/markets/{material}/goals"),
    ("post", "/markets"),
    ("post", "/accounts/{player_id}/deposits"),
    ("post", "/accounts/{player_id}/withdrawals"),
    ("post", "/events/goals"),
    ("get", "/markets/{material}/candles"),
    ("get", "/accounts/{player_id}"),
    ("get", "/accounts/{player_id}/orders"),
    ("get", "/fills"),
}


def test_the_openapi_document_lists_every_route_with_its_schemas(api: Api) -> None:
    reply = api.call("GET", "/openapi.json")

    assert reply.status == 200
    document = reply.body
    listed = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert listed == ROUTES | {("get", "/"), ("get", "/openapi.json")}  # the page and this document
    schemas = document["components"]["schemas"]
    for method, path in ROUTES:
        operation = document["paths"][path][method]
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert operation["responses"][success]["content"]["application/json"]["schema"], (method, path)
        if method == "post":
            assert operation["requestBody"]["content"]["application/json"]["schema"], (method, path)
    order_request = schemas["OrderRequest"]
    assert {"type", "material", "quantity", "pricePerUnit"} <= set(order_request["required"])
    assert order_request["properties"]["pricePerUnit"]["maximum"] == 999_999_999_999


def test_a_market_listed_under_the_older_looser_rules_still_reads_and_trades(api: Api) -> None:
    """Listings now refuse hidden characters in names and a ``personId`` past 2^53-1; markets listed
    before keep them. A reviewer found such a stored market answered 500 to every read of the catalog
    and to every order on it: the stored shapes take what was stored, only a listing is stricter."""
    api.list_footballer("old-striker")
    api.list_market("old-grain")
    markets = api.tables.markets
    for material, name in (("old-striker", "Old\tStriker\x1b[0m"), ("old-grain", "Grain\u202e")):
        api.client.update_item(
            TableName=markets,
            Key={"material": material},
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": name},
        )
    api.client.update_item(
        TableName=markets,
        Key={"material": "old-striker"},
        UpdateExpression="SET personId = :p",
        ExpressionAttributeValues={":p": 2**60},
    )

    listed = api.call("GET", "/markets")
    assert listed.status == 200
    assert {m["material"]: m["name"] for m in listed.body} == {
        "old-striker": "Old\tStriker\x1b[0m",
        "old-grain": "Grain\u202e",
    }
    assert api.call("GET", "/markets/old-striker").body["personId"] == 2**60
    api.deposit("alice", "coins", 1_000)
    order = {"type": "Buy", "material": "old-grain", "quantity": 1, "pricePerUnit": 5}
    assert api.call("POST", "/orders", order, player="alice").status == 202
