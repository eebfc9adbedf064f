"""Lambda function URL events (payload format 2.0), built from an HTTP request, and back.

The embedded stack serves intake over HTTP by turning each request into exactly the event a function
URL would deliver; the tests use the same factory.
"""

import base64
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

_request_ids = random.Random()
"""Request ids need only be unique; ``uuid4`` makes a system call per id (the lock given up)."""


def function_url_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    raw_query = query if isinstance(query, str) else urlencode(query or {})
    lowered = {key.lower(): value for key, value in (headers or {}).items()}  # the caller joins repeats
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "mercato-local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,  # as sent: methods are case-sensitive
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.UUID(int=_request_ids.getrandbits(128), version=4)),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def query_parameters(raw_query: str) -> dict[str, str]:
    """A query string's parameters as a function URL passes them: ``after=0&after=1`` is
    ``{"after": "0,1"}``."""
    return joined(parse_qsl(raw_query, keep_blank_values=True))


def joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Names and values as payload format 2.0 passes repeated headers and query parameters: one
    entry per name, its values joined with commas in the order they came."""
    entries: dict[str, str] = {}
    for name, value in pairs:
        entries[name] = f"{entries[name]},{value}" if name in entries else value
    return entries


def response_body(response: Mapping[str, Any]) -> bytes:
    """The bytes of a function URL response."""
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
