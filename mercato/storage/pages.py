"""Every item of a DynamoDB ``Query`` or ``Scan``, across its pages."""

from collections.abc import Callable, Iterator
from typing import Any


def items(call: Callable[..., dict[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """Yield the items of ``call(**request)`` page by page, following ``LastEvaluatedKey``; stop
    iterating early and no further page is read."""
    while True:
        page = call(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request = request | {"ExclusiveStartKey": page["LastEvaluatedKey"]}
