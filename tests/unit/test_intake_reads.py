"""Intake's reads of a player's orders and of a book are consistent where DynamoDB allows it: an
eventually consistent read right after a ``202`` could leave the new order out of ``GET /orders``,
or show an order a ``200`` cancel had just taken off the book (a reviewer's find; moto, DynamoDB
Local and the in-memory exchange are all consistent, so only the request itself can show it)."""

from typing import Any

from mercato.intake.dynamo import DynamoIntakeStore
from mercato.models.orders import OrderStatus, Side
from mercato.storage.names import TableNames


class Recorder:
    """A DynamoDB client that records each query and finds nothing."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        return {"Items": []}


def _store() -> tuple[DynamoIntakeStore, Recorder]:
    client = Recorder()
    return DynamoIntakeStore(
        client, TableNames("book", "orders", "accounts", "trades", "markets", "fills")
    ), client


def test_a_players_orders_and_a_books_levels_are_read_consistently() -> None:
    store, client = _store()

    store.list_orders("alice", None, 50, None)
    store.book_levels("wheat", Side.BUY, 10)

    assert [(q["TableName"], q.get("ConsistentRead")) for q in client.queries] == [
        ("orders", True),
        ("book", True),
    ]


def test_orders_by_status_come_from_an_index_which_cannot_be_read_consistently() -> None:
    store, client = _store()

    store.list_orders("alice", OrderStatus.OPEN, 50, None)

    (query,) = client.queries
    assert "IndexName" in query
    assert "ConsistentRead" not in query  # DynamoDB refuses a consistent read of a global index
