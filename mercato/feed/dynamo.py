"""The DynamoDB adapter of :class:`~mercato.feed.job.FeedStore`: the counts live on market items."""

from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import ClientError

from mercato.feed.job import Followed
from mercato.models.errors import StateMoved
from mercato.storage.errors import classify
from mercato.storage.items import plain
from mercato.storage.names import TableNames
from mercato.storage.pages import items

LEGACY_COUNT: Final = "feedGoals"
"""The one count per footballer that versions before per-source counts kept: the first source this
version stores a count for starts from it (and removes it), so an upgrade mid-competition does not
post its goals again under new ids."""


def count_attribute(source: str) -> str:
    """The market item's attribute holding the count for ``source``."""
    return f"{LEGACY_COUNT}:{source}"


def stored_count(item: Mapping[str, Any], source: str) -> int:
    """The count ``item`` holds for ``source``: its own, else (while no source has one) the legacy
    count."""
    own = item.get(count_attribute(source))
    if own is not None:
        return int(own)
    if any(name.startswith(f"{LEGACY_COUNT}:") for name in item):
        return 0
    return int(item.get(LEGACY_COUNT, 0))


class DynamoFeedStore:
    def __init__(self, client: Any, tables: TableNames) -> None:
        self._client = client
        self._t = tables

    def followed(self, source: str) -> list[Followed]:
        kwargs: dict[str, Any] = {
            "TableName": self._t.markets,
            "FilterExpression": "kind = :footballer",
            "ExpressionAttributeValues": {":footballer": "footballer"},
            "ConsistentRead": True,
        }
        return [
            Followed(item["material"], item.get("personId"), stored_count(item, source))
            for item in map(plain, items(self._client.scan, **kwargs))
        ]

    def save(self, material: str, source: str, *, was: int, now: int) -> bool:
        """The new count, if the stored one is still ``was``: this source's own, or, while it has
        none, the legacy count (which the write removes) or nought."""
        try:
            self._client.update_item(
                TableName=self._t.markets,
                Key={"material": material},
                UpdateExpression="SET #count = :now REMOVE #legacy",
                ConditionExpression="attribute_exists(material) AND (#count = :was OR "
                "(attribute_not_exists(#count) AND (#legacy = :was OR "
                "(attribute_not_exists(#legacy) AND :was = :zero))))",
                ExpressionAttributeNames={"#count": count_attribute(source), "#legacy": LEGACY_COUNT},
                ExpressionAttributeValues={":now": now, ":was": was, ":zero": 0},
            )
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                return False
            raise
        return True
