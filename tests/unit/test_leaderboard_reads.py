"""The leaderboard's reads of a board: consistent, like the pointer read before them. A board is
written and then its pointer flipped; an eventually consistent read right after the flip could
return part of the new board, or no rank on ``GET /accounts/me``."""

from typing import Any

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
