"""The OpenAPI document a client generator can trust.

Powertools generates the paths, parameters and schemas from the routes. This module adds what it does
not know: the bearer security scheme and each operation's security (from the access its route
declares, :mod:`mercato.intake.access`, the declaration the gate enforces), and every error status an
operation can answer, each in the one error shape with its codes listed. A route names its own domain error
codes with :func:`doc`; the codes every route of a kind can answer (the gate's and the validator's)
are added here, from the same rules the gate applies.
"""

import json
from typing import Any, Final

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from mercato.intake.access import DECLARATION, Access, needs
from mercato.models.views import ErrorBody

UNKNOWN: Final = "unknown_material"

ERROR_STATUS: Final[dict[str, int]] = {
    "malformed_json": 400,
    "missing_token": 401,
    "malformed_token": 401,
    "expired_token": 401,
    "bad_signature": 401,
    "invalid_token": 401,
    "wrong_scope": 403,
    "reserved_player": 403,
    "unknown_material": 404,
    "no_leaderboard": 404,
    "order_not_found": 404,
    "insufficient_balance": 409,
    "client_order_id_reused": 409,
    "order_not_open": 409,
    "order_busy": 409,
    "movement_id_reused": 409,
    "event_id_reused": 409,
    "market_exists": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_field": 422,
    "expiry_in_past": 422,
    "expiry_too_far": 422,
    "not_a_footballer": 422,
    "bad_cursor": 422,
    "invalid_range": 422,
    "range_too_large": 422,
    "throttled": 429,
    "rate_limited": 429,
    "internal_error": 500,
    "unavailable": 503,
    # the local server's own answers to a request it cannot read as HTTP (mercato/local/stack.py);
    # on AWS the function URL's front end frames requests and answers such ones itself
    "bad_request": 400,
    "bad_header": 400,
    "bad_content_length": 400,
    "short_body": 400,
    "body_timeout": 408,
    "headers_timeout": 408,
    "length_required": 411,
    "request_uri_too_long": 414,
    "request_header_fields_too_large": 431,
    "unsupported_transfer_coding": 501,
    "http_version_not_supported": 505,
    "too_many_connections": 503,
    # the local server's event stream of GET /fills: a token holds at most eight at once
    "too_many_streams": 429,
}
"""Every error code the API answers with, and its status."""

_AUTH_CODES: Final = (
    "missing_token",
    "malformed_token",
    "expired_token",
    "bad_signature",
    "invalid_token",
    "wrong_scope",
    "reserved_player",
)
_BODY_CODES: Final = ("malformed_json", "unsupported_media_type")
FRAMING_CODES: Final = (
    "bad_request",
    "bad_header",
    "bad_content_length",
    "short_body",
    "body_timeout",
    "headers_timeout",
    "length_required",
    "request_uri_too_long",
    "request_header_fields_too_large",
    "unsupported_transfer_coding",
    "http_version_not_supported",
    "too_many_connections",
)
"""What the local server answers, on any path, to a request it cannot read as HTTP: a bad request line
or header, a Content-Length that is not a number or that the body never reaches, a transfer coding
(chunked: 411; any other: 501), a request too slow or too large, or one connection too many."""
_ERROR_REF: Final = "#/components/schemas/ErrorBody"
_BEARER: Final = "bearerAuth"
_CODES_KEY: Final = "x-error-codes"
_POWERTOOLS_ERRORS: Final = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

SEED_ORDER: Final = {"type": "Sell", "material": "wheat", "quantity": 100, "pricePerUnit": 10}
ORDER_EXAMPLE: Final = {
    "orderId": "01936c5e-7b1a-7c3d-9e2f-3a4b5c6d7e8f",
    "clientOrderId": None,
    **SEED_ORDER,
    "timeInForce": "GTC",
    "expiresAt": None,
    "status": "open",
    "filledQuantity": 0,
    "remainingQuantity": 100,
    "filledNotional": 0,
    "createdAt": "2026-06-11T18:00:00.000Z",
}


def doc(ok: int | tuple[int, ...], model: Any, *codes: str, access: Access) -> dict[str, Any]:
    """A route's success statuses with their body, the domain error codes it can answer (the gate's
    and the validator's codes are added by :func:`openapi_document`), and who may call it."""
    unknown = [code for code in codes if code not in ERROR_STATUS]
    if unknown:
        raise ValueError(f"undocumented error codes: {unknown}")
    statuses = (ok,) if isinstance(ok, int) else ok
    return {
        "responses": {
            status: {"description": "success", "content": {"application/json": {"model": model}}}
            for status in statuses
        },
        **needs(access, **{_CODES_KEY: list(codes)}),
    }


def operation_codes(access: Access, own: list[str]) -> list[str]:
    """Every error code an operation can answer: its own, and those of the gate and the validator."""
    # any request may carry a body, and a query parameter the route does not know; every operation
    # reads DynamoDB, which may throttle it or be out of reach
    codes = {
        *own,
        "body_too_large",
        "internal_error",
        "invalid_field",
        "throttled",
        "unavailable",
        *_BODY_CODES,
        *FRAMING_CODES,
    }
    if access is not Access.PUBLIC:
        codes.update(_AUTH_CODES)
        codes.add("rate_limited")  # where the deployment limits each player (intake/limits.py)
    return sorted(codes)


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    narrowed = {
        "type": "object",
        "properties": {
            "error": {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}
        },
    }
    response: dict[str, Any] = {
        "description": "error: " + ", ".join(codes),
        "content": {
            "application/json": {
                "schema": {"allOf": [{"$ref": _ERROR_REF}, narrowed]},
                "example": {"error": {"code": codes[0], "message": "what went wrong, for a human"}},
            }
        },
    }
    if status == 503:
        response["description"] += (
            " (DynamoDB out of reach, or failing on its side: a write may or may not have applied, so "
            "resend a write only with its clientOrderId, depositId or withdrawalId)"
        )
    framing = [code for code in codes if code in FRAMING_CODES]
    if framing:
        response["description"] += f" ({', '.join(framing)}: the local server's HTTP framing)"
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": 'the Bearer challenge (RFC 6750): `Bearer realm="mercato"`, with '
                '`error="invalid_token"` when a token came',
                "schema": {"type": "string"},
            }
        }
    return response


def _security(access: Access, operation: dict[str, Any]) -> None:
    operation["security"] = [] if access is Access.PUBLIC else [{_BEARER: []}]
    who = {
        Access.PUBLIC: "Public: no token.",
        Access.TRADE: "Needs a trade token.",
        Access.ADMIN: "Needs an admin token.",
    }
    operation["description"] = " ".join(filter(None, [operation.get("description"), who[access]]))


def openapi_document(app: LambdaFunctionUrlResolver) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="Mercato",
            version="1",
            description="A play-money exchange for games. Every error is {error: {code, message}}. "
            "Money and quantities are JSON integers written as integers: a number written with a "
            "fraction (10.0) is refused with 422 invalid_field, even where its value is whole; an "
            "exponent (1e1), NaN or Infinity anywhere in a body with 400 malformed_json. A request "
            "body with no Content-Type is read as JSON; any other declared "
            "type is refused with 415. Unknown body fields and unknown query parameters are refused "
            "with 422 invalid_field.",
        )
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    components["securitySchemes"] = {
        _BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "HS256, claims sub (the player), scope (trade or admin) and exp",
        }
    }
    document["security"] = [{_BEARER: []}]
    for item in document["paths"].values():
        for operation in item.values():
            own = operation.pop(_CODES_KEY, [])
            access = Access(operation.pop(DECLARATION))  # every route declares it (access.py)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _not_null(parameter["schema"])
            _security(access, operation)
            responses = {
                status: response for status, response in operation["responses"].items() if int(status) < 400
            }
            by_status: dict[int, list[str]] = {}
            for code in operation_codes(access, own):
                by_status.setdefault(ERROR_STATUS[code], []).append(code)
            for status, codes in sorted(by_status.items()):
                responses[str(status)] = _error_response(status, codes)
            operation["responses"] = responses
    for path, operation in _documents_of_the_api().items():
        document["paths"][path] = {"get": operation}
    _examples(document)
    whole: dict[str, Any] = _whole_numbers(document)
    return whole


def _documents_of_the_api() -> dict[str, dict[str, Any]]:
    """The two routes that are not the API but serve it (DESIGN §5 lists them): the web market view
    and this document. Neither reads a table or takes a query parameter, so only the gate's body
    checks and a bug can refuse them."""
    served = {
        "/": ("The web market view: an HTML page that reads this API", "text/html", {"type": "string"}),
        "/openapi.json": ("This document", "application/json", {"type": "object"}),
    }
    operations = {}
    for path, (summary, media, schema) in served.items():
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": "web_page" if path == "/" else "openapi_document",
            "responses": {"200": {"description": "success", "content": {media: {"schema": schema}}}},
        }
        _security(Access.PUBLIC, operation)
        by_status: dict[int, list[str]] = {}
        for code in sorted(("body_too_large", "internal_error", *_BODY_CODES, *FRAMING_CODES)):
            by_status.setdefault(ERROR_STATUS[code], []).append(code)
        for status, codes in sorted(by_status.items()):
            operation["responses"][str(status)] = _error_response(status, codes)
        operations[path] = operation
    return operations


def _whole_numbers(node: Any) -> Any:
    """Bounds and defaults as integers: Powertools writes ``maximum: 999999999999.0``, which would
    tell a generator that a price may be a float."""
    if isinstance(node, dict):
        return {key: _whole_numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_whole_numbers(value) for value in node]
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its ``null`` branch: a parameter is absent, never null."""
    branches = [branch for branch in schema.get("anyOf", []) if branch.get("type") != "null"]
    if len(branches) != 1:
        return schema
    kept = {key: value for key, value in schema.items() if key != "anyOf"}
    only: dict[str, Any] = branches[0]
    return kept | only


def _examples(document: dict[str, Any]) -> None:
    """The seed's order shape, as a client first meets it."""
    place = document["paths"]["/orders"]["post"]
    place["requestBody"]["content"]["application/json"]["example"] = SEED_ORDER
    for status in ("200", "202"):
        place["responses"][status]["content"]["application/json"]["example"] = ORDER_EXAMPLE
