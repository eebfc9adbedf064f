"""The function URL handler: every route of DESIGN §5 (STYLE rule 1: parse, call one domain function,
map the result).

Before a request reaches the resolver, :func:`gate` does what must come before validation: the 4 KiB
body limit (413), strict JSON (400) and the bearer token and its scope (401, 403). The resolver then
validates bodies, paths and queries against the models (422), which also makes the OpenAPI document.
Domain errors map to HTTP in one table, :data:`STATUS`.
"""

import base64
import threading
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic.alias_generators import to_camel

from mercato import tracing
from mercato.intake.auth import Principal, authenticate, authorize, required_scope
from mercato.intake.limits import RateLimiter
from mercato.intake.service import Intake
from mercato.leaderboard.ranking import Window
from mercato.models.accounts import Deposit, Withdrawal
from mercato.models.errors import (
    Conflict,
    ExchangeError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    Throttled,
    TooLarge,
    Unauthenticated,
)
from mercato.models.events import GoalEvent
from mercato.models.ids import TOKEN_PATTERN, UUID7_PATTERN
from mercato.models.jsonwire import check_json
from mercato.models.markets import CommodityListing, CommodityMarket, FootballerListing, FootballerMarket
from mercato.models.money import MATERIAL_PATTERN
from mercato.models.orders import Order, OrderRequest, OrderStatus
from mercato.models.views import (
    AccountView,
    BookView,
    ErrorBody,
    ErrorDetail,
    LeaderboardView,
    MyAccountView,
    OrderPage,
    TradesView,
)

logger = Logger(service="intake")
MAX_BODY_BYTES = 4096
STATUS: dict[type[ExchangeError], int] = {
    Malformed: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Invalid: 422,
    Throttled: 429,
}

Material = Annotated[str, Path(pattern=MATERIAL_PATTERN, description="a material id")]
OrderIdPath = Annotated[str, Path(pattern=UUID7_PATTERN, description="an order id (UUIDv7)")]
PlayerPath = Annotated[str, Path(pattern=TOKEN_PATTERN, description="a player id")]
Listing = CommodityListing | FootballerListing
MarketBody = CommodityMarket | FootballerMarket


def error_body(error: ExchangeError) -> ErrorBody:
    return ErrorBody(error=ErrorDetail(code=error.code, message=error.message))


def error_status(error: ExchangeError) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(error, kind))


def error_response(error: ExchangeError) -> Response[ErrorBody]:
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, Throttled) else None
    return _json(error_status(error), error_body(error), headers)


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
        problems = []
        for detail in error.errors():
            source, *place = detail["loc"]
            # body errors already carry wire names; path and query parameters carry Python ones
            rename = to_camel if source in ("path", "query") else str
            where = ".".join(rename(part) if isinstance(part, str) else str(part) for part in place)
            problems.append(f"{where}: {detail['msg']}" if where else detail["msg"])
        return error_response(Invalid("; ".join(problems), code="invalid_field"))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[ErrorBody]:
        return error_response(NotFound("no such route", code="no_route"))

    # -- orders ------------------------------------------------------------------------------

    @app.post("/orders", summary="Reserve and accept an order", responses=_responses(202, Order))
    def place_order(request: Annotated[OrderRequest, Body()]) -> Response[Order]:
        order, created = intake.place_order(principal().player_id, request)
        return _json(202 if created else 200, order)

    @app.get("/orders/<order_id>", summary="One of your orders", responses=_responses(200, Order))
    def get_order(order_id: OrderIdPath) -> Response[Order]:
        return _json(200, intake.order(principal().player_id, order_id))

    @app.get("/orders", summary="Your orders, newest first", responses=_responses(200, OrderPage))
    def list_orders(
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=1024)] = None,
    ) -> Response[OrderPage]:
        return _json(200, intake.orders(principal().player_id, status, limit, cursor))

    @app.delete("/orders/<order_id>", summary="Cancel the rest of an order", responses=_responses(200, Order))
    def cancel_order(order_id: OrderIdPath) -> Response[Order]:
        return _json(200, intake.cancel(principal().player_id, order_id))

    # -- accounts ----------------------------------------------------------------------------

    @app.get(
        "/accounts/me",
        summary="Your balances, and your rank on each leaderboard window",
        responses=_responses(200, AccountView | MyAccountView),
    )
    def my_account() -> Response[AccountView | MyAccountView]:
        return _json(200, intake.my_account(principal().player_id))

    # -- leaderboard -------------------------------------------------------------------------

    @app.get(
        "/leaderboard",
        summary="Players ranked by portfolio value (all) or its gain (day, week), as of the last rollup",
        responses=_responses(200, LeaderboardView),
    )
    def leaderboard(
        window: Annotated[Window, Query()] = Window.ALL,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> Response[LeaderboardView]:
        return _json(200, intake.board(window, limit))

    @app.post(
        "/accounts/<player_id>/deposits",
        summary="Credit a player, once per depositId",
        responses=_responses(201, AccountView),
    )
    def deposit(player_id: PlayerPath, body: Annotated[Deposit, Body()]) -> Response[AccountView]:
        account, created = intake.deposit(player_id, body)
        return _json(201 if created else 200, account)

    @app.post(
        "/accounts/<player_id>/withdrawals",
        summary="Debit a player's available amount",
        responses=_responses(201, AccountView),
    )
    def withdraw(player_id: PlayerPath, body: Annotated[Withdrawal, Body()]) -> Response[AccountView]:
        account, created = intake.withdraw(player_id, body)
        return _json(201 if created else 200, account)

    # -- markets -----------------------------------------------------------------------------

    @app.get(
        "/markets",
        summary="The catalog with a ticker per market",
        responses=_responses(200, list[MarketBody]),
    )
    def list_markets() -> Response[list[MarketBody]]:
        return _json(200, list(intake.markets()))

    @app.get("/markets/<material>", summary="One market's ticker", responses=_responses(200, MarketBody))
    def get_market(material: Material) -> Response[MarketBody]:
        return _json(200, intake.market(material))

    @app.get(
        "/markets/<material>/book", summary="Aggregated price levels", responses=_responses(200, BookView)
    )
    def get_book(material: Material, depth: Annotated[int, Query(ge=1, le=100)] = 10) -> Response[BookView]:
        return _json(200, intake.book(material, depth))

    @app.get(
        "/markets/<material>/trades",
        summary="Recent trades, newest first",
        responses=_responses(200, TradesView),
    )
    def get_trades(
        material: Material, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> Response[TradesView]:
        return _json(200, intake.trades(material, limit))

    @app.post("/markets", summary="List a material or a footballer", responses=_responses(201, MarketBody))
    def list_market(listing: Annotated[Listing, Body(discriminator="kind")]) -> Response[MarketBody]:
        market, created = intake.list_market(listing)
        return _json(201 if created else 200, market)

    # -- market events -----------------------------------------------------------------------

    @app.post(
        "/events/goals", summary="A goal event (the feed job's path)", responses=_responses(202, GoalEvent)
    )
    def post_goal(event: Annotated[GoalEvent, Body()]) -> Response[GoalEvent]:
        accepted, created = intake.post_goal(event)
        return _json(202 if created else 200, accepted)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[Any]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title="Mercato", version="1"),
        )

    return app


def _responses(status: int, model: Any) -> dict[int, Any]:
    error = {"description": "error", "content": {"application/json": {"model": ErrorBody}}}
    return {
        status: {"description": "success", "content": {"application/json": {"model": model}}},
        400: error,
        429: {
            "description": "rate limited (per player and route class; see Retry-After) or throttled",
            "content": {"application/json": {"model": ErrorBody}},
        },
    }


def gate(event: dict[str, Any], secret: str) -> Principal | None:
    """The checks that come before validation; returns the caller, ``None`` for public reads."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    http = event.get("requestContext", {}).get("http", {})
    needed = required_scope(http.get("method", "GET"), event.get("rawPath", "/"))
    principal = None
    if needed is not None:
        headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
        principal = authenticate(headers.get("authorization"), secret)
        authorize(principal, needed)
    if raw:
        check_json(raw)
    return principal


def _plain_response(status: int, error: ExchangeError) -> dict[str, Any]:
    """A function URL response outside the resolver, in the one error shape."""
    headers = {"Content-Type": content_types.APPLICATION_JSON}
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return {
        "statusCode": status,
        "headers": headers,
        "body": error_body(error).model_dump_json(),
        "isBase64Encoded": False,
    }


INTERNAL_ERROR = ExchangeError(
    "an internal error; a request with a clientOrderId, depositId or withdrawalId is safe to retry",
    code="internal_error",
)


def build_handler(
    intake: Intake, secret: Callable[[], str], limiter: RateLimiter | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler: the gate, the caller's rate limit, then the resolver.

    Powertools keeps the request being resolved on its ``BaseRouter`` *class* (``current_event``,
    ``lambda_context``, the middleware frames) and the caller in the resolver's ``context``: state
    shared by every resolver in the process. So a process resolves one request at a time, as one Lambda
    execution environment does; the gate (body size, strict JSON, the token) runs before, in parallel.
    The local HTTP server's threads take turns here."""
    app = build_app(intake)
    one_at_a_time = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            principal = gate(event, secret())
            if limiter is not None:
                limiter.admit(principal, event.get("requestContext", {}).get("http", {}).get("method", "GET"))
            with one_at_a_time:
                app.append_context(principal=principal)
                result: dict[str, Any] = app.resolve(event, context)  # it clears the context itself
            return result
        except ExchangeError as error:
            return _plain_response(error_status(error), error)
        except Exception:  # the last line of defence: a bug answers 500 in the one shape, never a hang
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
