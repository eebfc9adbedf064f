"""The leaderboard's reads of a board: consistent, like the pointer read before them. A board is
written and then its pointer flipped; an eventually consistent read right after the flip could
return part of the new board, or no rank on ``GET /accounts/me``."""

import threading
from typing import Any

import pytest

from mercato.leaderboard import dynamo
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.ranking import Window
from mercato.storage.names import TableNames


class Recorder:
    """A DynamoDB client that records each request and finds nothing."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("query", request))
        return {"Items": []}

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("get_item", request))
        return {}


def test_a_boards_standings_and_a_players_standing_are_read_consistently() -> None:
    client = Recorder()
    tables = TableNames("book", "orders", "accounts", "trades", "markets", "fills")
    store = DynamoLeaderboardStore(client, "test-leaderboard", tables)

    store.standings(Window.ALL, 7, 10)
    store.standing_of(Window.ALL, 7, "alice")

    assert [operation for operation, _ in client.requests] == ["query", "get_item"]
    assert all(request.get("ConsistentRead") is True for _, request in client.requests)


class Unwritable:
    """A DynamoDB client that leaves every batch unprocessed, counting the attempts."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
        return {"UnprocessedItems": RequestItems}


def test_a_board_write_that_fails_stops_sending_the_chunks_not_started(monkeypatch: Any) -> None:
    """40 chunks, every attempt refused: the writers already at work give up after their attempts,
    and the chunks queued behind them are never sent (writing on would only run into the
    function's timeout before the failure is raised)."""
    monkeypatch.setattr("mercato.leaderboard.dynamo.time.sleep", lambda seconds: None)
    client = Unwritable()
    store = DynamoLeaderboardStore(
        client, "test-leaderboard", TableNames("book", "orders", "accounts", "trades", "markets", "fills")
    )
    requests = [{"PutRequest": {"Item": {"pk": "p", "sk": str(n)}}} for n in range(40 * dynamo.BATCH)]

    with pytest.raises(RuntimeError, match="unprocessed"):
        store._batch(requests)

    assert client.calls <= 2 * dynamo.WRITERS * dynamo.BATCH_ATTEMPTS < 40 * dynamo.BATCH_ATTEMPTS
