"""The token buckets on DynamoDB: one item per player and route class in the limits table."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mercato.intake.limits import BucketState, LimiterUnavailable, RouteClass
from mercato.models.errors import StateMoved
from mercato.resources import LIMITS
from mercato.storage.errors import classify


class DynamoBucketStore:
    """Through a boto3 *resource* client; every AWS error but a failed condition is
    :class:`LimiterUnavailable` (the limiter then fails open)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _key(self, player_id: str, kind: RouteClass) -> dict[str, str]:
        assert LIMITS.sort_key is not None
        return {LIMITS.partition_key: player_id, LIMITS.sort_key: str(kind)}

    def read(self, player_id: str, kind: RouteClass) -> BucketState | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=self._key(player_id, kind), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise LimiterUnavailable(str(error)) from error
        item = response.get("Item")
        if item is None:
            return None
        try:
            return BucketState(level=int(item["level"]), updated_ms=int(item["updatedMs"]))
        except (KeyError, TypeError, ValueError) as error:  # an item this code did not write
            raise LimiterUnavailable(f"the bucket item is not one the limiter wrote: {error!r}") from error

    def write(
        self, player_id: str, kind: RouteClass, new: BucketState, read: BucketState | None, expires_at: int
    ) -> bool:
        item = self._key(player_id, kind) | {
            "level": new.level,
            "updatedMs": new.updated_ms,
            LIMITS.ttl or "expiresAt": expires_at,
        }
        if read is None:
            condition: dict[str, Any] = {
                "ConditionExpression": f"attribute_not_exists({LIMITS.partition_key})"
            }
        else:
            condition = {
                "ConditionExpression": "#level = :level AND updatedMs = :updated",
                "ExpressionAttributeNames": {"#level": "level"},
                "ExpressionAttributeValues": {":level": read.level, ":updated": read.updated_ms},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                return False
            raise LimiterUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise LimiterUnavailable(str(error)) from error
        return True
