"""The token buckets on DynamoDB: one item per player and route class in the limits table, holding
the bucket's TAT in ticks and the rate they are counted at (``mercato/intake/limits.py``)."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mercato.intake.limits import MILLI, LimiterUnavailable, RouteClass, Seen, Step
from mercato.models.errors import StateMoved
from mercato.resources import LIMITS
from mercato.storage.errors import classify
from mercato.storage.items import from_wire


class DynamoBucketStore:
    """Through a boto3 *resource* client: one conditional write a call, no read. A refused write
    returns the item as it was (``ReturnValuesOnConditionCheckFailure``); every AWS error but a
    failed condition is :class:`LimiterUnavailable` (the limiter then fails open)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _key(self, player_id: str, kind: RouteClass) -> dict[str, str]:
        assert LIMITS.sort_key is not None
        return {LIMITS.partition_key: player_id, LIMITS.sort_key: str(kind)}

    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        return self._write(
            step,
            self._client.update_item,
            Key=self._key(player_id, kind),
            UpdateExpression="SET tat = tat + :one, since = :now, #expires = :expires",
            # no rate in the condition: a TAT counted at another rate is, in ticks of this one, long
            # past (the rate was raised) or far ahead (lowered), so this refuses it, and the refused
            # write's perSecond sends the request to restart (``_seen``)
            # and never from a clock behind the last writer's: its since only ever grows, and the
            # request takes from the bucket at that instant instead (RateLimiter._take)
            ConditionExpression=(
                "tat BETWEEN :now AND :latest AND (attribute_not_exists(since) OR since <= :now)"
            ),
            ExpressionAttributeNames={"#expires": LIMITS.ttl or "expiresAt"},
            ExpressionAttributeValues={
                ":one": MILLI,
                ":expires": step.expires_at,
                ":now": step.now,
                ":latest": step.latest,
            },
        )

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        return self._write(
            step,
            self._client.put_item,
            Item=self._key(player_id, kind)
            | {
                "tat": step.now + MILLI,
                "since": step.now,
                "perSecond": step.per_second,
                LIMITS.ttl or "expiresAt": step.expires_at,
            },
            # NOT … = …, not <>: an item without perSecond compares false either way
            ConditionExpression="attribute_not_exists(tat) OR NOT perSecond = :rate OR tat < :now",
            ExpressionAttributeValues={":rate": step.per_second, ":now": step.now},
        )

    def _write(self, step: Step, call: Any, **request: Any) -> Seen | None:
        try:
            call(TableName=self._table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **request)
        except ClientError as error:
            if not isinstance(classify(error), StateMoved):
                raise LimiterUnavailable(str(error)) from error
            try:
                old: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
                return _seen(from_wire(old), step)
            except ValueError as unreadable:  # a fractional number: an item this code did not write
                raise LimiterUnavailable(
                    f"the bucket item is not one the limiter wrote: {unreadable}"
                ) from error
        except BotoCoreError as error:
            raise LimiterUnavailable(str(error)) from error
        return None


def _seen(item: dict[str, Any], step: Step) -> Seen:
    """A refused write's old item: its TAT, or none when it is missing or kept at another rate."""
    if not item or "tat" not in item or item.get("perSecond") != step.per_second:
        return Seen(None)
    tat, since = item["tat"], item.get("since")  # no since: written before it was kept
    if not _whole(tat) or not (since is None or _whole(since)):
        raise LimiterUnavailable(
            f"the bucket item is not one the limiter wrote: tat={tat!r}, since={since!r}"
        )
    return Seen(tat, since)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
