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
"""The one count per footballer that versions before per-source counts kept. While no source has a
count of its own, a source that has reached it carries on from it (an upgrade mid-competition posts
nothing again under new ids); one below it counts from nought (it was another season's). The first
count stored removes it."""


def count_attribute(source: str) -> str:
    """The market item's attribute holding the count for ``source``."""
    return f"{LEGACY_COUNT}:{source}"


def stored_count(item: Mapping[str, Any], source: str) -> tuple[int, int | None]:
    """The count ``item`` holds for ``source`` (nought if none), and the legacy count while no
    source has one of its own (``None`` otherwise)."""
    own = item.get(count_attribute(source))
    if any(name.startswith(f"{LEGACY_COUNT}:") for name in item) or LEGACY_COUNT not in item:
        return (0 if own is None else int(own)), None
    return 0, int(item[LEGACY_COUNT])


_OWN: Final = (
    "attribute_exists(material) AND (#count = :was OR (attribute_not_exists(#count) AND :was = :zero))"
)
"""Store over this source's own count (nought when it has none)."""
_INHERITED: Final = "attribute_not_exists(#count) AND #legacy = :was"
"""Store over the legacy count, which this source carries on from (only an existing market item has
one, so no other condition is needed for it to exist)."""


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
            Followed(item["material"], item.get("personId"), *stored_count(item, source))
            for item in map(plain, items(self._client.scan, **kwargs))
        ]

    def save(self, material: str, source: str, *, was: int, now: int, inherited: bool = False) -> bool:
        """The new count, if the stored one is still ``was``: this source's own (nought while it
        has none), or with ``inherited`` the legacy count. The legacy count goes with the write."""
        try:
            self._client.update_item(
                TableName=self._t.markets,
                Key={"material": material},
                UpdateExpression="SET #count = :now REMOVE #legacy",
                ConditionExpression=_INHERITED if inherited else _OWN,
                ExpressionAttributeNames={"#count": count_attribute(source), "#legacy": LEGACY_COUNT},
                ExpressionAttributeValues={":now": now, ":was": was} | ({} if inherited else {":zero": 0}),
            )
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                return False
            raise
        return True
