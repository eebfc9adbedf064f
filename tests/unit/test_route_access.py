"""The scope a route needs is declared with the route: an app with a route that declares none is
not built, the gate and the OpenAPI document read the same declarations, and a request no route
serves needs a trade token (except a GET below a public route's fixed prefix)."""

from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from mercato.intake import app as intake_app
from mercato.intake.access import Access, RouteAccess, UndeclaredAccess, needs
from mercato.intake.app import build_app, declared_access
from mercato.intake.auth import Scope, required_scope
from mercato.intake.openapi import openapi_document
from mercato.intake.service import Intake

DECLARED = {
    "POST /orders": Access.TRADE,
    "GET /orders": Access.TRADE,
    "GET /orders/<order_id>": Access.TRADE,
    "DELETE /orders/<order_id>": Access.TRADE,
    "GET /fills": Access.TRADE,
    "GET /accounts/me": Access.TRADE,
    "GET /accounts/<player_id>": Access.ADMIN,
    "GET /accounts/<player_id>/orders": Access.ADMIN,
    "POST /accounts/<player_id>/deposits": Access.ADMIN,
    "POST /accounts/<player_id>/withdrawals": Access.ADMIN,
    "POST /markets": Access.ADMIN,
    "POST /events/goals": Access.ADMIN,
    "GET /markets": Access.PUBLIC,
    "GET /markets/<material>": Access.PUBLIC,
    "GET /markets/<material>/book": Access.PUBLIC,
    "GET /markets/<material>/trades": Access.PUBLIC,
    "GET /markets/<material>/goals": Access.PUBLIC,
    "GET /markets/<material>/candles": Access.PUBLIC,
    "GET /leaderboard": Access.PUBLIC,
    "GET /": Access.PUBLIC,
    "GET /web/<name>": Access.PUBLIC,
    "GET /openapi.json": Access.PUBLIC,
}
"""Every route and who may call it (DESIGN §5): a route added or changed must change this too."""


def test_every_route_declares_who_may_call_it() -> None:
    routes = declared_access().routes

    assert {f"{route.method} {route.path}": route.access for route in routes} == DECLARED


def test_an_app_with_a_route_that_declares_nothing_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    class WithAForgottenRoute(LambdaFunctionUrlResolver):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.get("/forgotten")(lambda: None)
            self.post("/also-forgotten", openapi_extensions={"x-mercato-access": "everyone"})(lambda: None)

    monkeypatch.setattr(intake_app, "LambdaFunctionUrlResolver", WithAForgottenRoute)

    with pytest.raises(UndeclaredAccess, match=r"these do not: GET /forgotten, POST /also-forgotten$"):
        build_app(cast(Intake, None))


def test_a_declared_route_is_found_as_the_resolver_finds_it() -> None:
    app = LambdaFunctionUrlResolver()
    app.get("/things/<name>", **needs(Access.PUBLIC))(lambda name: None)
    app.get("/things/mine", **needs(Access.TRADE))(lambda: None)
    app.post("/things/<name>", **needs(Access.ADMIN))(lambda name: None)
    routes = RouteAccess.of(app)

    assert routes.needed("GET", "/things/mine") is Scope.TRADE  # a fixed path before a parameter
    assert routes.needed("GET", "/things/hat") is None
    assert routes.needed("get", "/things/hat") is Scope.TRADE  # methods are case-sensitive: no route
    assert routes.needed("POST", "/things/hat") is Scope.ADMIN
    assert routes.methods("/things/hat") == ["GET", "POST"]
    assert routes.methods("/things") == []


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        pytest.param("GET", "/accounts/me", Scope.TRADE, id="own-account-before-a-players"),
        pytest.param("GET", "/accounts/me/orders", Scope.ADMIN, id="a-player-named-me"),
        pytest.param("GET", "/markets/wheat/candles", None, id="public-read"),
        pytest.param("GET", "/markets/wheat/nothing/here", None, id="misspelt-public-read"),
        pytest.param("GET", "/web/a/b", None, id="misspelt-web-file"),
        pytest.param("GET", "/nope", Scope.TRADE, id="unknown-path"),
        pytest.param("GET", "/leaderboard/x", Scope.TRADE, id="below-a-fixed-public-path"),
        pytest.param("DELETE", "/markets/wheat", Scope.TRADE, id="public-path-other-method"),
        pytest.param("POST", "//markets", Scope.TRADE, id="admin-path-spelt-otherwise"),
        pytest.param("PUT", "/orders", Scope.TRADE, id="trade-path-other-method"),
    ],
)
def test_the_scope_a_request_needs(method: str, path: str, needed: Scope | None) -> None:
    assert declared_access().needed(method, path) is needed
    assert required_scope(method, path) is needed


def test_the_document_writes_each_operations_security_from_the_same_declaration() -> None:
    document = openapi_document(build_app(cast(Intake, None)))
    documented = {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }

    assert len(documented) == len(DECLARED) - 1  # all but the web page's files
    for route in declared_access().routes:
        operation = documented.get(f"{route.method} {route.path.replace('<', '{').replace('>', '}')}")
        if operation is None:
            assert route.path == "/web/<name>"
            continue
        assert operation["security"] == ([] if route.access is Access.PUBLIC else [{"bearerAuth": []}])
        assert ("401" in operation["responses"]) is (route.access is not Access.PUBLIC)
        assert "x-mercato-access" not in operation
