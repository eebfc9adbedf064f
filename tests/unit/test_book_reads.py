"""The matcher reads a deep crossing in a few requests: past the top of each side each page is twice
the one before (a goal's rush of buy orders is thousands deep), and a side's read stops at the first
page whose last price no longer reaches the other side."""

from typing import Any

from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.models.keys import BUY_PREFIX, SELL_PREFIX, encode_book_key
from mercato.models.orders import Side
from mercato.storage.names import TableNames

TABLES = TableNames("book", "orders", "accounts", "trades", "markets", "fills")


class _Book:
    """A book table's Query as DynamoDB pages it: items in sort-key order from after
    ``ExclusiveStartKey``, at most ``Limit`` of them, and a ``LastEvaluatedKey`` while more remain."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = sorted(items, key=lambda item: str(item["sk"]))
        self.asked: list[tuple[str, int]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        prefix, limit = kwargs["ExpressionAttributeValues"][":p"], kwargs["Limit"]
        self.asked.append((prefix, limit))
        side = [item for item in self.items if str(item["sk"]).startswith(prefix)]
        start = kwargs.get("ExclusiveStartKey")
        first = 0 if start is None else [item["sk"] for item in side].index(start["sk"]) + 1
        page = side[first : first + limit]
        more = first + len(page) < len(side)
        return {"Items": page} | ({"LastEvaluatedKey": {"sk": page[-1]["sk"]}} if more else {})


def _order(n: int, side: Side, price: int) -> dict[str, Any]:
    order_id = f"0190a000-0000-7000-8000-{n:012d}"
    return {
        "sk": encode_book_key(side, price, order_id),
        "orderId": order_id,
        "playerId": f"fan-{n}",
        "side": str(side),
        "price": price,
        "remaining": 1,
        "timeInForce": "GTC",
    }


def _bids_then_one_ask(bids: list[int], ask: int) -> _Book:
    orders = [_order(n, Side.BUY, price) for n, price in enumerate(bids)]
    return _Book([*orders, _order(len(bids), Side.SELL, ask)])


def test_a_deep_crossing_is_read_whole_in_pages_that_double() -> None:
    book = _bids_then_one_ask([1_200 - n // 100 for n in range(3_000)], ask=1_100)

    read = DynamoMatcherStore(book, TABLES).read_book("lionel-messi")

    assert len([o for o in read.orders if o.side is Side.BUY]) == 3_000
    assert read.bids_complete
    bid_pages = [limit for prefix, limit in book.asked if prefix == BUY_PREFIX]
    assert bid_pages == [10, 100, 200, 400, 800, 1_600], "6 requests, not 1 + 30 pages of 100"
    assert [limit for prefix, limit in book.asked if prefix == SELL_PREFIX] == [10]


def test_a_side_is_read_no_further_than_the_page_where_it_stops_crossing() -> None:
    book = _bids_then_one_ask([4_200 - n for n in range(3_000)], ask=3_951)  # 250 bids cross

    read = DynamoMatcherStore(book, TABLES).read_book("lionel-messi")

    assert [limit for prefix, limit in book.asked if prefix == BUY_PREFIX] == [10, 100, 200]
    assert not read.bids_complete
    assert read.lowest_bid_read == 4_200 - 309
    assert {o.price for o in read.orders if o.side is Side.BUY} >= set(range(3_951, 4_201))
