"""A read DynamoDB throttles past boto3's own retries answers 429, as a throttled write does."""

from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from mercato.intake.app import build_handler
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.storage.names import TableNames
from mercato.storage.tables import create_support_tables
from tests.integration.conftest import SECRET, Api


class ThrottledReads:
    """A DynamoDB client whose reads are refused as throttled (past boto3's own retries)."""

    READS: Final = frozenset({"get_item", "query", "scan", "batch_get_item"})

    def __init__(self, client: Any, code: str) -> None:
        self._client, self._code = client, code

    def __getattr__(self, name: str) -> Any:
        if name not in self.READS:
            return getattr(self._client, name)

        def refused(**request: Any) -> Any:
            error: Any = {"Error": {"Code": self._code, "Message": "refused"}}
            raise ClientError(error, name)

        return refused


@pytest.mark.parametrize(
    ("path", "player"),
    [
        ("/markets", None),
        ("/markets/wheat", None),
        ("/markets/wheat/book", None),
        ("/orders", "alice"),
        ("/accounts/me", "alice"),
        ("/leaderboard", None),
    ],
)
def test_a_read_dynamodb_throttles_answers_429_with_retry_after_and_a_bug_500(
    dynamodb: Any, tables: TableNames, path: str, player: str | None
) -> None:
    """A throttled read (any of DynamoDB's throttling codes) answers ``429 throttled`` with
    ``Retry-After``, as writes did, so a client backing off retries it (a reviewer found reads, the
    leaderboard's among them, answered 500); an error that is not throttling stays a 500."""
    board = create_support_tables(dynamodb, "test")["leaderboard"]

    def api_on(client: Any) -> Api:
        intake = Intake(
            DynamoIntakeStore(client, tables), leaderboard=DynamoLeaderboardStore(client, board, tables)
        )
        return Api(build_handler(intake, lambda: SECRET), dynamodb, tables)

    api_on(dynamodb).list_market("wheat")
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"):
        reply = api_on(ThrottledReads(dynamodb, code)).call("GET", path, player=player)
        assert (reply.status, reply.code, reply.headers.get("Retry-After")) == (429, "throttled", "1")
    broken = api_on(ThrottledReads(dynamodb, "ValidationException")).call("GET", path, player=player)
    assert (broken.status, broken.code) == (500, "internal_error")
