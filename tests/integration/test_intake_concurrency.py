"""Concurrent requests never spend a coin or an item twice, and a cancel releases exactly once."""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.models.keys import encode_book_key
from mercato.models.orders import Order, OrderStatus, Side
from tests.integration.conftest import Api, Reply

T = TypeVar("T")


def all_at_once(count: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(0..count-1)`` on ``count`` threads released together."""
    start = threading.Barrier(count)

    def run(n: int) -> T:
        start.wait()
        return action(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def book_orders(api: Api, material: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.client.query(
        TableName=api.tables.book,
        KeyConditionExpression="material = :m",
        ExpressionAttributeValues={":m": material},
        ConsistentRead=True,
    )["Items"]
    return items


def test_twenty_concurrent_buys_accept_exactly_what_the_coins_cover(api: Api) -> None:
    # Given coins for 18 orders of 5 at 100, and 20 such orders sent at once
    api.list_market("wheat")
    api.deposit("alice", "coins", 18 * 500)

    replies = all_at_once(20, lambda n: api.order("alice", "Buy", 5, 100, clientOrderId=f"buy-{n}"))

    assert Counter(r.status for r in replies) == {202: 18, 409: 2}
    assert {r.code for r in replies if r.status == 409} == {"insufficient_balance"}
    assert api.balances("alice")["coins"] == {"available": 0, "reserved": 18 * 500}
    assert len(book_orders(api, "wheat")) == 18


def test_twenty_concurrent_sells_accept_exactly_what_the_items_cover(api: Api) -> None:
    api.list_market("wheat")
    api.deposit("bob", "wheat", 18 * 7)

    replies = all_at_once(20, lambda n: api.order("bob", "Sell", 7, 40 + n))

    assert Counter(r.status for r in replies) == {202: 18, 409: 2}
    assert api.balances("bob")["wheat"] == {"available": 0, "reserved": 18 * 7}
    assert len(book_orders(api, "wheat")) == 18


def test_two_cancels_of_one_order_release_its_reservation_once(api: Api) -> None:
    api.list_market("wheat")
    api.deposit("alice", "coins", 10_000)
    for _ in range(5):
        order_id = api.order("alice", "Buy", 10, 100).body["orderId"]

        replies: list[Reply] = all_at_once(2, cancel(api, "alice", order_id))

        # both answer with the cancelled order (the second is a retry of the first), released once
        assert [r.status for r in replies] == [200, 200]
        assert [r.body["status"] for r in replies] == ["cancelled", "cancelled"]
        assert api.balances("alice")["coins"] == {"available": 10_000, "reserved": 0}


def cancel(api: Api, player: str, order_id: str) -> Callable[[int], Reply]:
    return lambda _: api.call("DELETE", f"/orders/{order_id}", player=player)


class FillsBetweenReadAndWrite(DynamoIntakeStore):
    """A store that lets the matcher fill part of the order right after the cancel read the book."""

    def __init__(self, client: Any, api: Api, filled: int) -> None:
        super().__init__(client, api.tables)
        self.api = api
        self.filled = filled
        self.reads = 0

    def resting_quantity(self, order: Order) -> int | None:
        remaining = super().resting_quantity(order)
        self.reads += 1
        if self.reads == 1 and remaining is not None:
            self._fill(order, remaining)
        return remaining

    def _fill(self, order: Order, remaining: int) -> None:
        """What settlement does to the seller's side of a fill of ``self.filled`` items."""
        self.api.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.api.tables.book,
                        "Key": {
                            "material": order.material,
                            "sk": encode_book_key(order.side, order.price, order.order_id),
                        },
                        "UpdateExpression": "SET remaining = :left",
                        "ConditionExpression": "remaining = :was",
                        "ExpressionAttributeValues": {":left": remaining - self.filled, ":was": remaining},
                    }
                },
                {
                    "Update": {
                        "TableName": self.api.tables.accounts,
                        "Key": {"playerId": order.player_id, "sk": "ASSET#wheat"},
                        "UpdateExpression": "SET reserved = reserved - :f",
                        "ExpressionAttributeValues": {":f": self.filled},
                    }
                },
            ]
        )


def test_a_cancel_whose_order_was_filled_after_it_read_the_book_releases_only_the_rest(api: Api) -> None:
    # Given bob sells 100 wheat, and a fill of 30 lands between the cancel's read and its write
    api.list_market("wheat")
    api.deposit("bob", "wheat", 100)
    order_id = api.order("bob", "Sell", 100, 10).body["orderId"]
    store = FillsBetweenReadAndWrite(api.client, api, filled=30)

    # When bob cancels
    cancelled = Intake(store).cancel("bob", order_id)

    # Then the first attempt failed its condition, the second released the 70 left, once
    assert store.reads == 2
    assert cancelled.status is OrderStatus.CANCELLED
    assert api.balances("bob")["wheat"] == {"available": 70, "reserved": 0}
    sk = encode_book_key(Side.SELL, 10, order_id)
    assert "Item" not in api.client.get_item(TableName=api.tables.book, Key={"material": "wheat", "sk": sk})
