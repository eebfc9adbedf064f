"""The DynamoDB adapter of :class:`~mercato.feed.job.FeedStore`: the counts live on market items."""

from typing import Any

from botocore.exceptions import ClientError

from mercato.feed.job import Followed
from mercato.models.errors import StateMoved
from mercato.storage.errors import classify
from mercato.storage.items import plain
from mercato.storage.names import TableNames
from mercato.storage.pages import items


class DynamoFeedStore:
    def __init__(self, client: Any, tables: TableNames) -> None:
        self._client = client
        self._t = tables

    def followed(self) -> list[Followed]:
        kwargs: dict[str, Any] = {
            "TableName": self._t.markets,
            "FilterExpression": "kind = :footballer",
            "ExpressionAttributeValues": {":footballer": "footballer"},
            "ConsistentRead": True,
        }
        return [
            Followed(item["material"], item.get("personId"), item.get("feedGoals", 0))
            for item in map(plain, items(self._client.scan, **kwargs))
        ]

    def save(self, material: str, *, was: int, now: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._t.markets,
                Key={"material": material},
                UpdateExpression="SET feedGoals = :now",
                ConditionExpression="attribute_exists(material) AND (feedGoals = :was OR "
                "(attribute_not_exists(feedGoals) AND :was = :zero))",
                ExpressionAttributeValues={":now": now, ":was": was, ":zero": 0},
            )
        except ClientError as error:
            if isinstance(classify(error), StateMoved):
                return False
            raise
        return True
