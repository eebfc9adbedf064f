"""The function URL handler: every route of DESIGN §5 (STYLE rule 1: parse, call one domain function,
map the result).

Before a request reaches the resolver, :func:`gate` does what must come before validation: the 4 KiB
body limit (413), strict JSON (400) and the bearer token and its scope (401, 403). The resolver then
validates bodies, paths and queries against the models (422), which also makes the OpenAPI document.
Domain errors map to HTTP in one table, :data:`STATUS`.
"""

import base64
import binascii
import re
import threading
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Final, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from botocore.exceptions import ClientError
from pydantic.alias_generators import to_camel

from mercato import observability, tracing
from mercato.intake.access import Access, RouteAccess, needs
from mercato.intake.auth import Principal, authenticate, authorize
from mercato.intake.limits import RateLimiter
from mercato.intake.openapi import UNKNOWN, openapi_document
from mercato.intake.openapi import doc as _doc
from mercato.intake.service import Intake
from mercato.intake.webview import HEADERS, WebFile, page, web_file
from mercato.leaderboard.ranking import Window
from mercato.models.accounts import Deposit, Withdrawal
from mercato.models.base import Timestamp
from mercato.models.errors import (
    Busy,
    Conflict,
    ExchangeError,
    Forbidden,
    Invalid,
    Malformed,
    MethodNotAllowed,
    NotFound,
    Throttled,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from mercato.models.events import GoalEvent
from mercato.models.history import CandlesView, FillsPage, Interval
from mercato.models.ids import TOKEN_PATTERN, UUID_PATTERN
from mercato.models.jsonwire import check_json
from mercato.models.markets import CommodityListing, CommodityMarket, FootballerListing, FootballerMarket
from mercato.models.money import MATERIAL_PATTERN
from mercato.models.orders import Order, OrderRequest, OrderStatus
from mercato.models.views import (
    AccountView,
    BookView,
    ErrorBody,
    ErrorDetail,
    GoalsView,
    LeaderboardView,
    MyAccountView,
    OrderPage,
    TradesView,
)
from mercato.storage.errors import busy, unavailable

logger = observability.logger("intake")
MAX_BODY_BYTES = 4096
_ID_CHARACTERS = re.compile(r"[A-Za-z0-9._:-]*")
_DIGITS = re.compile(r"[0-9]{1,18}")
"""A whole number in a query: what a client writes (the bounds are the route's)."""
"""Every character a material, order or player id may have."""
STATUS: dict[type[ExchangeError], int] = {
    Malformed: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    Invalid: 422,
    Throttled: 429,
    Unavailable: 503,
}

Material = Annotated[str, Path(pattern=MATERIAL_PATTERN, description="a material id")]
OrderIdPath = Annotated[
    str,
    Path(
        pattern=UUID_PATTERN,
        description="an order id (a UUIDv7; any other UUID is unknown: 404); its hex digits in either"
        " case (RFC 9562: Swift's uuidString is upper case)",
    ),
]
PlayerPath = Annotated[str, Path(pattern=TOKEN_PATTERN, description="a player id")]
Listing = CommodityListing | FootballerListing
MarketBody = CommodityMarket | FootballerMarket


def error_body(error: ExchangeError) -> ErrorBody:
    return ErrorBody(error=ErrorDetail(code=error.code, message=error.message))


def error_status(error: ExchangeError) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(error, kind))


def error_response(error: ExchangeError) -> Response[ErrorBody]:
    return _json(error_status(error), error_body(error), _error_headers(error))


def _error_headers(error: ExchangeError) -> dict[str, str] | None:
    if isinstance(error, Unauthenticated):  # RFC 6750 §3: no error code when no token came
        problem = "" if error.code == "missing_token" else ', error="invalid_token"'
        return {"WWW-Authenticate": f'Bearer realm="mercato"{problem}'}
    if isinstance(error, Throttled | Unavailable):
        return {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(error, MethodNotAllowed):
        return {"Allow": ", ".join(error.allow)}
    return None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON response; the resolver validates ``body`` against the route's response model and
    serialises it by its wire (camelCase) names."""
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def build_app(intake: Intake) -> LambdaFunctionUrlResolver:
    app = LambdaFunctionUrlResolver(enable_validation=True)

    def principal() -> Principal:
        found: Principal = app.context["principal"]
        return found

    @app.exception_handler(ExchangeError)
    def _domain_error(error: ExchangeError) -> Response[ErrorBody]:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[ErrorBody]:
        problems = "; ".join(_problem(detail) for detail in error.errors())
        return error_response(Invalid(problems, code="invalid_field"))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[ErrorBody]:
        return error_response(NotFound("no such route", code="no_route"))

    app.use(middlewares=[_known_query])

    # -- orders ------------------------------------------------------------------------------

    @app.post(
        "/orders",
        summary="Reserve and accept an order (200 with the original for a clientOrderId replay)",
        **_doc(
            (202, 200),
            Order,
            UNKNOWN,
            "insufficient_balance",
            "client_order_id_reused",
            "expiry_in_past",
            "expiry_too_far",
            access=Access.TRADE,
        ),
    )
    def place_order(request: Annotated[OrderRequest, Body()]) -> Response[Order]:
        order, created = intake.place_order(principal().player_id, request)
        return _json(202 if created else 200, order)

    @app.get(
        "/orders/<order_id>",
        summary="One of your orders",
        **_doc(200, Order, "order_not_found", access=Access.TRADE),
    )
    def get_order(order_id: OrderIdPath) -> Response[Order]:
        return _json(200, intake.order(principal().player_id, order_id.lower()))

    @app.get(
        "/orders",
        summary="Your orders, newest first",
        **_doc(200, OrderPage, "bad_cursor", access=Access.TRADE),
    )
    def list_orders(
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=1024)] = None,
    ) -> Response[OrderPage]:
        return _json(200, intake.orders(principal().player_id, status, limit, cursor))

    @app.delete(
        "/orders/<order_id>",
        summary="Cancel the rest of an order",
        **_doc(200, Order, "order_not_found", "order_not_open", "order_busy", access=Access.TRADE),
    )
    def cancel_order(order_id: OrderIdPath) -> Response[Order]:
        return _json(200, intake.cancel(principal().player_id, order_id.lower()))

    @app.get(
        "/fills",
        summary="Your fills after a cursor, oldest first; pass the answer's cursor as after next time",
        description=(
            "On the local stack, `Accept: text/event-stream` keeps the connection open instead: one "
            "`fills` event per page of new fills (`id` its cursor; `Last-Event-ID` resumes after it), "
            "an `error` event in the error shape, and at most eight streams a token (the ninth is "
            "answered 429 too_many_streams)."
        ),
        **_doc(200, FillsPage, "bad_cursor", "too_many_streams", access=Access.TRADE),
    )
    def list_fills(
        after: Annotated[
            str, Query(pattern=r"^[0-9]{1,12}$", description="the cursor of the last answer")
        ] = "0",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response[FillsPage]:
        return _json(200, intake.fills(principal().player_id, after, limit))

    # -- accounts ----------------------------------------------------------------------------

    @app.get(
        "/accounts/me",
        summary="Your balances, and your rank on each leaderboard window",
        **_doc(200, AccountView | MyAccountView, access=Access.TRADE),
    )
    def my_account() -> Response[AccountView | MyAccountView]:
        return _json(200, intake.my_account(principal().player_id))

    # -- leaderboard -------------------------------------------------------------------------

    @app.get(
        "/leaderboard",
        summary="Players ranked by portfolio value (all) or its gain (day, week), as of the last rollup",
        **_doc(200, LeaderboardView, "no_leaderboard", access=Access.PUBLIC),
    )
    def leaderboard(
        window: Annotated[Window, Query()] = Window.ALL,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> Response[LeaderboardView]:
        return _json(200, intake.board(window, limit))

    @app.get(
        "/accounts/<player_id>",
        summary="A player's balances and ranks, as /accounts/me shows them to the player (the game server's)",
        **_doc(200, AccountView | MyAccountView, "reserved_player", access=Access.ADMIN),
    )
    def player_account(player_id: PlayerPath) -> Response[AccountView | MyAccountView]:
        return _json(200, intake.player_account(player_id))

    @app.get(
        "/accounts/<player_id>/orders",
        summary="A player's orders, newest first (the game server's)",
        **_doc(200, OrderPage, "bad_cursor", "reserved_player", access=Access.ADMIN),
    )
    def player_orders(
        player_id: PlayerPath,
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=1024)] = None,
    ) -> Response[OrderPage]:
        return _json(200, intake.player_orders(player_id, status, limit, cursor))

    @app.post(
        "/accounts/<player_id>/deposits",
        summary="Credit a player, once per depositId (200 for a replay)",
        **_doc(
            (201, 200), AccountView, "reserved_player", UNKNOWN, "movement_id_reused", access=Access.ADMIN
        ),
    )
    def deposit(player_id: PlayerPath, body: Annotated[Deposit, Body()]) -> Response[AccountView]:
        account, created = intake.deposit(player_id, body)
        return _json(201 if created else 200, account)

    @app.post(
        "/accounts/<player_id>/withdrawals",
        summary="Debit a player's available amount, once per withdrawalId (200 for a replay)",
        **_doc(
            (201, 200),
            AccountView,
            "reserved_player",
            UNKNOWN,
            "movement_id_reused",
            "insufficient_balance",
            access=Access.ADMIN,
        ),
    )
    def withdraw(player_id: PlayerPath, body: Annotated[Withdrawal, Body()]) -> Response[AccountView]:
        account, created = intake.withdraw(player_id, body)
        return _json(201 if created else 200, account)

    # -- markets -----------------------------------------------------------------------------

    @app.get(
        "/markets",
        summary="The catalog with a ticker per market",
        **_doc(200, list[MarketBody], access=Access.PUBLIC),
    )
    def list_markets() -> Response[list[MarketBody]]:
        return _json(200, intake.market_views())

    @app.get(
        "/markets/<material>",
        summary="One market's ticker and 24-hour figures",
        **_doc(200, MarketBody, UNKNOWN, access=Access.PUBLIC),
    )
    def get_market(material: Material) -> Response[MarketBody]:
        return _json(200, intake.market_view(material))

    @app.get(
        "/markets/<material>/book",
        summary="Aggregated price levels",
        **_doc(200, BookView, UNKNOWN, access=Access.PUBLIC),
    )
    def get_book(material: Material, depth: Annotated[int, Query(ge=1, le=100)] = 10) -> Response[BookView]:
        return _json(200, intake.book(material, depth))

    @app.get(
        "/markets/<material>/trades",
        summary="Trades executed in [from, to), newest first, a page at a time",
        **_doc(200, TradesView, UNKNOWN, "bad_cursor", "invalid_range", access=Access.PUBLIC),
    )
    def get_trades(
        material: Material,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=1024)] = None,
        start: Annotated[Timestamp | None, Query(alias="from", description="ISO 8601, inclusive")] = None,
        end: Annotated[Timestamp | None, Query(alias="to", description="ISO 8601, exclusive")] = None,
    ) -> Response[TradesView]:
        return _json(200, intake.trades(material, limit, cursor, start, end))

    @app.get(
        "/markets/<material>/goals",
        summary="A footballer's goals, in the order they were posted",
        **_doc(200, GoalsView, UNKNOWN, "not_a_footballer", access=Access.PUBLIC),
    )
    def get_goals(material: Material) -> Response[GoalsView]:
        return _json(200, intake.goals(material))

    @app.get(
        "/markets/<material>/candles",
        summary="Open, high, low, close and volume per interval of the trades in [from, to), oldest first",
        **_doc(200, CandlesView, UNKNOWN, "invalid_range", "range_too_large", access=Access.PUBLIC),
    )
    def get_candles(
        material: Material,
        interval: Annotated[Interval, Query()] = Interval.HOUR,
        start: Annotated[
            Timestamp | None,
            Query(alias="from", description="ISO 8601, inclusive (default: 720 intervals before to)"),
        ] = None,
        end: Annotated[
            Timestamp | None, Query(alias="to", description="ISO 8601, exclusive (default: now)")
        ] = None,
    ) -> Response[CandlesView]:
        return _json(200, intake.candles(material, interval, start, end))

    @app.post(
        "/markets",
        summary="List a material or a footballer (200 if it is listed identically already)",
        **_doc((201, 200), MarketBody, "market_exists", access=Access.ADMIN),
    )
    def list_market(listing: Annotated[Listing, Body(discriminator="kind")]) -> Response[MarketBody]:
        market, created = intake.list_market(listing)
        return _json(201 if created else 200, market)

    # -- market events -----------------------------------------------------------------------

    @app.post(
        "/events/goals",
        summary="A goal event, the feed job's path (200 for a replay)",
        **_doc((202, 200), GoalEvent, UNKNOWN, "not_a_footballer", "event_id_reused", access=Access.ADMIN),
    )
    def post_goal(event: Annotated[GoalEvent, Body()]) -> Response[GoalEvent]:
        accepted, created = intake.post_goal(event)
        return _json(202 if created else 200, accepted)

    # -- the web market view ------------------------------------------------------------------

    @app.get("/", include_in_schema=False, **needs(Access.PUBLIC))
    def web_page() -> Response[str]:
        return _web_response(page())

    @app.get("/web/<name>", include_in_schema=False, **needs(Access.PUBLIC))
    def web_asset(name: str) -> Response[str]:
        found = web_file(name)
        if found is None:
            raise NotFound(f"the web view has no file '{name}'", code="no_route")
        return _web_response(found)

    document: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False, **needs(Access.PUBLIC))
    def openapi() -> Response[Any]:
        if not document:
            document.update(openapi_document(app))
        return _json(200, document)

    RouteAccess.of(app)  # every route declares who may call it, or the app is not built
    return app


@cache
def declared_access() -> RouteAccess:
    """The access the intake's routes declare, for callers outside a handler (the routes only: no
    store is reached)."""
    return RouteAccess.of(build_app(cast(Intake, None)))


def _web_response(found: WebFile) -> Response[str]:
    return Response(status_code=200, content_type=found.content_type, body=found.body, headers=dict(HEADERS))


def _decoded_path(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its path percent-decoded (a function URL passes the path as sent, so
    ``/accounts/ana%3A1`` names player ``ana:1``), when what it decodes to can only be ids; an
    encoded ``/`` would add a segment and is left encoded with the rest."""
    raw = str(event.get("rawPath", "/"))
    if "%" not in raw:
        return event
    segments = [unquote(segment, errors="replace") for segment in raw.split("/")]
    if not all(_ID_CHARACTERS.fullmatch(segment) for segment in segments):  # "$" lets a "\n" end one
        return event  # no id has such characters: left encoded, the path parameter is refused (422)
    return event | {"rawPath": "/".join(segments)}


def _known_query(app: LambdaFunctionUrlResolver, next_middleware: Callable[..., Any]) -> Any:
    """A query parameter an API route does not take is refused, as an unknown body field is. The
    page, its files and the OpenAPI document (not API routes: not in the document) ignore theirs, so
    a shared link that picked up ``?utm_source=`` still opens the market view."""
    route = app.context.get("_route")
    if route is not None and not route.include_in_schema:
        return next_middleware(app)
    params = route.dependant.query_params if route and route.dependant else []
    sent = app.current_event.query_string_parameters or {}
    unknown = sorted(set(sent) - {param.alias for param in params})
    if unknown:
        raise Invalid(f"unknown query parameter: {', '.join(unknown)}", code="invalid_field")
    for param in params:  # pydantic would read "1_0", "+1" and " 1" as numbers too, as int() does
        if (
            param.field_info.annotation is int
            and param.alias in sent
            and not _DIGITS.fullmatch(sent[param.alias])
        ):
            raise Invalid(
                f"{param.alias}: a whole number is written in decimal digits only, e.g. 10",
                code="invalid_field",
            )
    return next_middleware(app)


def gate(event: dict[str, Any], secret: str, routes: RouteAccess) -> Principal | None:
    """The checks that come before validation; returns the caller, ``None`` for public reads.

    In order: the body's size (413), the token and the scope its route declares (401, 403: a path
    that names no route still needs a token), the route (404, or 405 naming the methods the path
    serves), the declared body type (415) and strict JSON (400)."""
    raw = _raw_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    http = event.get("requestContext", {}).get("http", {})
    # methods are case-sensitive (RFC 9110 §9.1): "get" is no method a path serves
    method, path = str(http.get("method", "GET")), str(event.get("rawPath", "/"))
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    needed = routes.needed(method, path)
    principal = None
    if needed is not None:
        principal = authenticate(headers.get("authorization"), secret)
        if routes.route(method, path) is not None:  # no route: a token of either scope learns so
            authorize(principal, needed)
    served = routes.methods(path)
    if not served:
        raise NotFound("no such route", code="no_route")
    if method not in served:
        allowed = sorted([*served, "HEAD"]) if "GET" in served else served
        raise MethodNotAllowed(f"{path} answers {', '.join(allowed)}, not {method}", allow=allowed)
    if raw:  # any request may carry a body, and any body must be JSON
        _check_json_type(headers.get("content-type"), headers.get("content-encoding"))
        value = check_json(raw)
        # Every body a route reads is one object. Powertools would validate an array's first item
        # (it unwraps lists for repeated query parameters): [order, anything] placed the first order
        # and dropped the rest unread.
        if method == "POST" and not isinstance(value, dict):
            raise Invalid("the body must be one JSON object", code="invalid_field")
    return principal


_LISTING_KINDS: Final = ("commodity", "footballer")
"""The tags of the listing union: pydantic puts the one it validated against at the head of a
field's location (``commodity.material``), which is no wire name."""
_NOT_ONE_OF_OURS: Final = {
    "orderId": "not an order id: send the orderId POST /orders answered (a clientOrderId is not one)",
    "material": "not a material id (1-48 of a-z, 0-9 and -, starting with a letter or digit)",
    "playerId": "not a player id (1-64 of A-Z a-z 0-9 . _ : -)",
    "after": "not a fills cursor: send 0, or the cursor the last answer gave",
}
"""What a path or query value that fails its pattern is not, said instead of the pattern itself."""


def _problem(detail: Any) -> str:
    """One validation error in the API's words: the wire name of what is wrong, then what is wrong
    with it, in words a client can act on where pydantic's would not help."""
    source, *place = detail["loc"]
    if source == "body" and len(place) > 1 and place[0] in _LISTING_KINDS:
        place = place[1:]
    # body errors already carry wire names; path and query parameters carry Python ones
    rename = to_camel if source in ("path", "query") else str
    where = ".".join(rename(part) if isinstance(part, str) else str(part) for part in place)
    message = detail["msg"]
    if source == "body" and not where:  # the body as a whole: missing, or a listing's tag
        discriminator = (detail.get("ctx") or {}).get("discriminator")
        if not discriminator and detail["type"] == "missing":
            return "body: missing; send one JSON object"
        where = str(discriminator or "").strip("'")
    elif (
        source in ("path", "query")
        and detail["type"] == "string_pattern_mismatch"
        and where in _NOT_ONE_OF_OURS
    ):
        message = _NOT_ONE_OF_OURS[where]
    elif source == "query" and isinstance(detail.get("input"), list):  # ?after=0&after=1
        message = "given more than once; give it once"
    return f"{where}: {message}" if where else message


def _head_as_get(event: dict[str, Any]) -> dict[str, Any]:
    """A ``HEAD`` is answered as the ``GET`` of the same path would be (RFC 9110 §9.3.2: same status,
    same headers, the same token rules); the transport sends no body (the local server drops it and
    keeps the GET's ``Content-Length``, as HTTP front ends do)."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    if http.get("method") != "HEAD":
        return event
    return event | {"requestContext": context | {"http": http | {"method": "GET"}}}


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body's bytes; one marked base64 must be base64 (strictly: a body that decodes to nothing
    through skipped characters would otherwise pass the gate as no body at all)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise Malformed("the body is marked base64 but is not valid base64") from None


def _plain_response(status: int, error: ExchangeError) -> dict[str, Any]:
    """A function URL response outside the resolver, in the one error shape."""
    headers = {"Content-Type": content_types.APPLICATION_JSON, **(_error_headers(error) or {})}
    return {
        "statusCode": status,
        "headers": headers,
        "body": error_body(error).model_dump_json(),
        "isBase64Encoded": False,
    }


BUSY = Throttled("the exchange is busy; retry shortly")
UNAVAILABLE = Unavailable(
    "the exchange's storage is unavailable; retry shortly (a request with a clientOrderId, depositId "
    "or withdrawalId is safe to retry: whether it applied is not known)"
)
INTERNAL_ERROR = ExchangeError(
    "an internal error; a request with a clientOrderId, depositId or withdrawalId is safe to retry",
    code="internal_error",
)


def _check_json_type(declared: str | None, coding: str | None = None) -> None:
    """A body with no Content-Type is read as JSON; a declared type must be JSON (``+json`` too), with
    no content coding but ``identity`` (intake decodes none, RFC 9110 §15.5.16: a reviewer's
    brotli-declared body was read as plain). A ``charset`` parameter is ignored: application/json
    defines none and JSON is UTF-8 (RFC 8259 §8.1, §11), so a body that is not is a 400."""
    codings = [c.strip().lower() for c in (coding or "").split(",") if c.strip()]
    if any(c != "identity" for c in codings):
        raise UnsupportedMediaType(
            f"the body is encoded as {coding!r}; send it unencoded (no Content-Encoding)"
        )
    if declared is None or not declared.strip():
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media != content_types.APPLICATION_JSON and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"the body is declared as {media!r}; send JSON (application/json or no Content-Type)"
        )


def _as_json(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a body declared as plain JSON, which is how the resolver reads it, and without a
    body declared as nothing: the gate has judged the type already, so the resolver, which would
    answer a declared type in its own shape, never sees another."""
    headers = {
        key: value for key, value in (event.get("headers") or {}).items() if key.lower() != "content-type"
    }
    if event.get("body"):
        headers["content-type"] = content_types.APPLICATION_JSON
    return event | {"headers": headers}


_RESOLVING = threading.RLock()
"""Held while any resolver of the process resolves a request (see :func:`build_handler`).
Re-entrant: the fault-injection tests land another request from inside a storage call, in the same
thread (standing for another Lambda environment), and a plain lock would wait for itself."""


def build_handler(
    intake: Intake, secret: Callable[[], str], limiter: RateLimiter | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler: the gate, the caller's rate limit, then the resolver.

    Powertools keeps the request being resolved on its ``BaseRouter`` *class* (``current_event``,
    ``lambda_context``, the middleware frames) and the caller in the resolver's ``context``: state
    shared by every resolver in the process. So a process resolves one request at a time, whichever
    handler it came to (two stacks in one process share that state too), as one Lambda execution
    environment does; the gate (body size, strict JSON, the token) runs before, in parallel. The local
    HTTP server's threads take turns here."""
    app = build_app(intake)
    routes = RouteAccess.of(app)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        event = _head_as_get(_decoded_path(event))
        try:
            principal = gate(event, secret(), routes)
            if limiter is not None:
                limiter.admit(principal, event.get("requestContext", {}).get("http", {}).get("method", "GET"))
            with _RESOLVING:
                app.append_context(principal=principal)
                result: dict[str, Any] = app.resolve(_as_json(event), context)  # it clears the context itself
            return result
        except ExchangeError as error:
            return _plain_response(error_status(error), error)
        except Exception as error:  # the last line of defence: never a hang, always the one shape
            if isinstance(error, Busy) or (isinstance(error, ClientError) and busy(error)):
                return _plain_response(429, BUSY)  # a read DynamoDB throttled past boto3's own retries
            if unavailable(error):
                logger.warning("storage unavailable", path=event.get("rawPath"), error=type(error).__name__)
                return _plain_response(503, UNAVAILABLE)
            logger.exception("unhandled error", path=event.get("rawPath"))
            return _plain_response(500, INTERNAL_ERROR)

    return traced(handler)


def traced(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Each request in a span continuing the caller's trace; the answer names it (``traceparent``)."""

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        http = event.get("requestContext", {}).get("http", {})
        caller = tracing.SpanContext.from_headers(event.get("headers") or {})
        with tracing.span(
            "intake", caller, method=http.get("method", ""), path=event.get("rawPath", "")
        ) as span:
            result = handler(event, context)
        result["headers"] = {**(result.get("headers") or {}), tracing.TRACEPARENT: span.traceparent}
        return result

    return handle
