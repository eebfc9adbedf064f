"""The OpenAPI document against the server: real answers, successes and errors, each validated
against the operation the document says answers it; and the request rules a generated client
relies on (JSON with or without a Content-Type, 415 otherwise, 405 with Allow)."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mercato.emulators.function_url import function_url_event, response_body
from mercato.intake.openapi import ERROR_STATUS
from tests.integration.conftest import Reply
from tests.integration.pipelines import pipeline_on
from tests.integration.test_pipeline import Exchange, stocked

UNKNOWN_ORDER = "0190a000-0000-7000-8000-00000000abcd"


@pytest.fixture(scope="module")
def exchange() -> Iterator[Exchange]:
    with pipeline_on("moto") as pipeline:
        exchange = stocked(Exchange(pipeline))
        exchange.list_footballer("lionel-messi")
        exchange.order("bob", "Sell", 5, 20)
        exchange.order("alice", "Buy", 5, 20)
        exchange.drain()
        yield exchange


@pytest.fixture(scope="module")
def document(exchange: Exchange) -> dict[str, Any]:
    reply = exchange.call("GET", "/openapi.json")
    assert reply.status == 200
    return dict(reply.body)


def operation(document: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented operation serving ``method path`` (templates matched like the router does)."""
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item and not _shadowed(document, template, path):
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


def _shadowed(document: dict[str, Any], template: str, path: str) -> bool:
    """A static path wins over a template (``/accounts/me`` over ``/accounts/{player_id}``)."""
    return "{" in template and path in document["paths"]


def check(document: dict[str, Any], method: str, path: str, reply: Reply) -> None:
    """The reply's status is documented for the operation and its body matches the schema there."""
    template, op = operation(document, method, path.split("?")[0])
    responses = op["responses"]
    assert str(reply.status) in responses, f"{method} {template} answered an undocumented {reply.status}"
    schema = responses[str(reply.status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({"components": document["components"], **schema})
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(reply.body)
    ]
    assert errors == [], f"{method} {template} {reply.status}"
    if reply.status >= 400:
        assert ERROR_STATUS[reply.body["error"]["code"]] == reply.status
    sent = {name.lower() for name in reply.headers}
    documented = {name.lower() for name in responses[str(reply.status)].get("headers", {})}
    assert documented <= sent, f"{method} {template} {reply.status} lacks {documented - sent}"


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/markets", {}),
    ("GET", "/markets/wheat", {}),
    ("GET", "/markets/lionel-messi", {}),
    ("GET", "/markets/gold", {}),
    ("GET", "/markets/wheat/book", {"query": {"depth": "3"}}),
    ("GET", "/markets/wheat/book", {"query": {"depth": "0"}}),
    ("GET", "/markets/wheat/trades", {"query": {"limit": "1"}}),
    ("GET", "/markets/wheat/trades", {"query": {"cursor": "bm9wZQ=="}}),
    ("GET", "/markets/wheat/candles", {"query": {"interval": "1m"}}),
    (
        "GET",
        "/markets/wheat/candles",
        {"query": {"from": "2030-01-01T00:00:00Z", "to": "2029-01-01T00:00:00Z"}},
    ),
    ("POST", "/orders", {"body": {"type": "Buy", "material": "wheat", "quantity": 1, "pricePerUnit": 5}}),
    (
        "POST",
        "/orders",
        {"body": {"type": "Buy", "material": "wheat", "quantity": 10**9, "pricePerUnit": 10**9}},
    ),
    ("POST", "/orders", {"body": {"type": "Buy", "material": "gold", "quantity": 1, "pricePerUnit": 5}}),
    ("POST", "/orders", {"body": {"type": "Buy", "material": "wheat", "quantity": 1.5, "pricePerUnit": 5}}),
    ("POST", "/orders", {"raw": b"{not json"}),
    ("POST", "/orders", {"raw": b"x" * 5000}),
    (
        "POST",
        "/orders",
        {"raw": b"type=Buy", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ),
    ("GET", "/orders", {"query": {"limit": "2"}}),
    ("GET", "/orders", {"query": {"status": "nope"}}),
    ("GET", f"/orders/{UNKNOWN_ORDER}", {}),
    ("DELETE", f"/orders/{UNKNOWN_ORDER}", {}),
    ("GET", "/fills", {}),
    ("GET", "/fills", {"query": {"after": "99"}}),
    ("GET", "/accounts/me", {}),
    ("GET", "/accounts/me", {"token": "garbage"}),
    ("GET", "/accounts/alice", {"admin": True}),
    ("GET", "/accounts/alice/orders", {"admin": True}),
    ("GET", "/accounts/alice", {}),
    (
        "POST",
        "/accounts/alice/deposits",
        {"admin": True, "body": {"depositId": "c1", "asset": "coins", "quantity": 5}},
    ),
    (
        "POST",
        "/accounts/alice/deposits",
        {"admin": True, "body": {"depositId": "c1", "asset": "coins", "quantity": 6}},
    ),
    (
        "POST",
        "/accounts/alice/withdrawals",
        {"admin": True, "body": {"withdrawalId": "w1", "asset": "coins", "quantity": 10**12}},
    ),
    (
        "POST",
        "/markets",
        {"admin": True, "body": {"material": "wheat", "kind": "commodity", "name": "Other"}},
    ),
    (
        "POST",
        "/events/goals",
        {"admin": True, "body": {"eventId": "g1", "material": "wheat", "matchId": "m", "minute": 3}},
    ),
    (
        "POST",
        "/events/goals",
        {"admin": True, "body": {"eventId": "g1", "material": "lionel-messi", "matchId": "m", "minute": 3}},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "options"), REQUESTS, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(REQUESTS)]
)
def test_every_real_answer_matches_the_document(
    exchange: Exchange, document: dict[str, Any], method: str, path: str, options: dict[str, Any]
) -> None:
    call = dict(options)
    body = call.pop("body", None)
    player = None if call.get("admin") or "token" in call else "alice"
    reply = exchange.call(method, path, body, player=player, **call)

    check(document, method, path, reply)


@pytest.mark.parametrize(("path", "media"), [("/", "text/html"), ("/openapi.json", "application/json")])
def test_the_page_and_this_document_are_answered_as_documented(
    exchange: Exchange, document: dict[str, Any], path: str, media: str
) -> None:
    """DESIGN §5 lists the web view and the OpenAPI document among the routes: the document has them,
    with the type each is served as (a reviewer found both missing)."""
    _, op = operation(document, "GET", path)
    response = exchange.handler(function_url_event("GET", path), None)
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}

    assert response["statusCode"] == 200
    assert list(op["responses"]["200"]["content"]) == [media]
    assert headers["content-type"].split(";")[0] == media
    assert op["security"] == []


def test_every_operation_is_secured_as_the_gate_enforces(document: dict[str, Any]) -> None:
    public = {
        (method, path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if op["security"] == []
    }

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert public == {
        ("get", "/markets"),
        ("get", "/markets/{material}"),
        ("get", "/markets/{material}/book"),
        ("get", "/markets/{material}/trades"),
        ("get", "/markets/{material}/candles"),
        ("get", "/markets/{material}/goals"),
        ("get", "/leaderboard"),
        ("get", "/"),  # the web market view and this document: DESIGN §5 lists them too
        ("get", "/openapi.json"),
    }
    for path, item in document["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            assert "413" in statuses
            assert ("401" in statuses) == ((method, path) not in public), (method, path)


def test_the_order_examples_are_the_seed_shape(document: dict[str, Any]) -> None:
    place = document["paths"]["/orders"]["post"]

    assert place["requestBody"]["content"]["application/json"]["example"] == {
        "type": "Sell",
        "material": "wheat",
        "quantity": 100,
        "pricePerUnit": 10,
    }
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(document["components"]["schemas"])


def send(exchange: Exchange, headers: dict[str, str], body: bytes) -> Reply:
    """A POST /orders for Alice with exactly these headers (no Content-Type unless given)."""
    from mercato.intake.auth import Scope, issue_token
    from tests.integration.conftest import SECRET

    token = issue_token(SECRET, "alice", Scope.TRADE)
    event = function_url_event(
        "POST", "/orders", headers={"Authorization": f"Bearer {token}"} | headers, body=body
    )
    response = exchange.handler(event, None)
    return Reply(response["statusCode"], json.loads(response_body(response)), response.get("headers") or {})


ORDER = json.dumps({"type": "Buy", "material": "wheat", "quantity": 1, "pricePerUnit": 3}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json; charset=utf-8"},
        {"content-type": "Application/JSON"},
        {"Content-Type": "application/vnd.mercato+json"},
        {"Content-Encoding": "identity"},
        {"Content-Encoding": ""},
        {"Content-Type": 'application/json; foo="a;charset=latin1"'},
        {"Content-Type": "application/json; charset=us-ascii"},
    ],
    ids=["none", "charset", "case", "suffix", "identity", "empty-coding", "quoted-semicolon", "ascii"],
)
def test_a_json_body_is_accepted_with_or_without_a_json_content_type(
    exchange: Exchange, headers: dict[str, str]
) -> None:
    """application/json defines no charset parameter, and one has no effect (RFC 8259 §11): the body is
    read as UTF-8 whatever charset is named (a reviewer's find: a charset parsed out of a quoted value
    refused a valid order)."""
    reply = send(exchange, headers, ORDER)

    assert reply.status == 202, reply.body
    assert reply.body["pricePerUnit"] == 3


@pytest.mark.parametrize(
    "declared",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_any_other_declared_type_is_415_in_the_error_shape_and_changes_nothing(
    exchange: Exchange, declared: str
) -> None:
    before = exchange.snapshot()

    reply = send(exchange, {"Content-Type": declared}, ORDER)

    assert reply.status == 415
    assert reply.body == {
        "error": {"code": "unsupported_media_type", "message": reply.body["error"]["message"]}
    }
    assert declared.split(";")[0] in reply.body["error"]["message"]
    assert exchange.snapshot() == before


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Content-Encoding": "br"}, "br"),
        ({"Content-Encoding": "gzip"}, "gzip"),
        ({"Content-Encoding": "identity, gzip"}, "gzip"),
    ],
    ids=["brotli", "gzip", "identity-then-gzip"],
)
def test_a_body_with_a_content_coding_is_415_and_changes_nothing(
    exchange: Exchange, headers: dict[str, str], named: str
) -> None:
    """Intake decodes no content coding: a declared one is refused (RFC 9110 §15.5.16) rather than
    read as if it were not there (a reviewer's find: brotli declared over a plain body placed the
    order; gzip got a misleading 400 'not UTF-8')."""
    before = exchange.snapshot()

    reply = send(exchange, headers, ORDER)

    assert reply.status == 415, reply.body
    assert reply.body == {
        "error": {"code": "unsupported_media_type", "message": reply.body["error"]["message"]}
    }
    assert named in reply.body["error"]["message"]
    assert exchange.snapshot() == before


@pytest.mark.parametrize("declared", ["text/plain", "application/x-www-form-urlencoded", "application/json"])
def test_a_missing_body_is_answered_alike_whatever_type_is_declared(
    exchange: Exchange, declared: str
) -> None:
    """No body means no body type to refuse: the answer is the one for no Content-Type, in the one
    error shape (a declared text/plain once reached the resolver's own 415 ``{statusCode, detail}``)."""
    before = exchange.snapshot()

    undeclared = send(exchange, {}, b"")
    reply = send(exchange, {"Content-Type": declared}, b"")

    assert undeclared.status == 422, undeclared.body
    assert (reply.status, reply.body) == (undeclared.status, undeclared.body)
    assert set(reply.body) == {"error"}
    assert exchange.snapshot() == before


@pytest.mark.parametrize(
    "body", ["a", "!!!!", "eyJ0eXBlIjoiQnV5In0=!"], ids=["truncated", "no-alphabet", "trailing"]
)
def test_a_body_marked_base64_that_is_not_base64_is_a_400_and_changes_nothing(
    exchange: Exchange, body: str
) -> None:
    """A function URL marks a binary body ``isBase64Encoded``; one that does not decode is the
    client's error (400 in the one shape), not a 500, and never read as no body at all."""
    from mercato.intake.auth import Scope, issue_token
    from tests.integration.conftest import SECRET

    before = exchange.snapshot()
    event = function_url_event(
        "POST", "/orders", headers={"Authorization": f"Bearer {issue_token(SECRET, 'alice', Scope.TRADE)}"}
    ) | {"body": body, "isBase64Encoded": True}

    response = exchange.handler(event, None)

    assert response["statusCode"] == 400, response
    error = json.loads(response_body(response))["error"]
    assert (error["code"], "base64" in error["message"]) == ("malformed_json", True)
    assert exchange.snapshot() == before
