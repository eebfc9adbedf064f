"""Intake in a read region: it serves reads from the region's replicas and refuses every write
with ``421 wrong_region``, naming the home region's URL (see docs/architecture.md, "Second region
for reads"). It neither redirects (browsers drop ``Authorization`` on a cross-origin redirect) nor
proxies (two cross-region hops for nothing): the client sends the write to the home region."""

from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools.event_handler import content_types

from mercato.models.views import ErrorBody, ErrorDetail

READS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_URL_HEADER: Final = "Mercato-Write-Url"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def read_only(handler: Handler, *, region: str, write_url: str | None) -> Handler:
    """``handler`` for reads; every other method answers 421 and reaches nothing."""
    where = f"the home region's URL, {write_url}" if write_url else "the home region's URL"
    refusal = ErrorBody(
        error=ErrorDetail(code="wrong_region", message=f"{region} serves reads only; send writes to {where}")
    ).model_dump_json()

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
        if method in READS:
            result = handler(event, context)
            result["headers"] = {**(result.get("headers") or {}), "Mercato-Region": region}
            return result
        headers = {"Content-Type": content_types.APPLICATION_JSON, "Mercato-Region": region}
        if write_url:
            headers[WRITE_URL_HEADER] = write_url
        return {"statusCode": 421, "headers": headers, "body": refusal, "isBase64Encoded": False}

    return handle
