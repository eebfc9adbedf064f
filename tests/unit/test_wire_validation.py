"""Wire validation (DESIGN §2 and §5): what a request body may say, and the field an error names.

Bodies are written as raw JSON text, so tokens a JSON encoder would never produce (``1e3``, ``NaN``,
``Infinity``) reach the parser exactly as a client could send them. Every rejection is asserted as
``(error type, loc)`` pairs; ``loc`` is the camelCase wire name, which is what the API reports back.
"""

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mercato.models import (
    MAX_PRICE,
    MAX_QUANTITY,
    MIN_PRICE,
    MIN_QUANTITY,
    CommodityListing,
    Deposit,
    FootballerListing,
    FootballerMarket,
    GoalEvent,
    Order,
    OrderRequest,
    OrderStatus,
    Side,
    TimeInForce,
    Withdrawal,
    new_order_id,
    parse_listing,
)
from mercato.models.errors import Malformed
from mercato.models.ids import UUID7_PATTERN
from mercato.models.jsonwire import MAX_DEPTH, check_json
from mercato.models.money import DEFAULT_FEE_BPS, MAX_AMOUNT, MAX_FEE_BPS

Loc = tuple[int | str, ...]

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def body(base: Mapping[str, str], **changes: str | None) -> str:
    """A JSON object of raw JSON values: ``base`` with ``changes`` applied (``None`` removes a key)."""
    fields: dict[str, str | None] = {**base, **changes}
    members = [f"{json.dumps(key)}: {raw}" for key, raw in fields.items() if raw is not None]
    return "{" + ", ".join(members) + "}"


def errors_from(parse: Callable[[str | bytes], object], text: str | bytes) -> list[ErrorDetails]:
    """The errors ``parse`` raises for ``text``; fails the test if it accepts the body."""
    with pytest.raises(ValidationError) as caught:
        parse(text)
    return caught.value.errors()


def rejected(parse: Callable[[str | bytes], object], text: str | bytes) -> list[tuple[str, Loc]]:
    """``(type, loc)`` of each error ``parse`` raises for ``text``."""
    return [(error["type"], error["loc"]) for error in errors_from(parse, text)]


def is_wire_int(value: object) -> bool:
    """A JSON integer: an ``int`` that is not a ``bool``."""
    return type(value) is int


SEED_ORDER: Final = {"type": '"Sell"', "material": '"wheat"', "quantity": "100", "pricePerUnit": "10"}
"""DESIGN §5's seed body, ``{"type": "Sell", "material": "wheat", "quantity": 100, "pricePerUnit": 10}``."""

COMMODITY: Final = {"material": '"wheat"', "kind": '"commodity"', "name": '"Wheat"'}
FOOTBALLER: Final = {
    "material": '"lionel-messi"',
    "kind": '"footballer"',
    "name": '"Lionel Messi"',
    "feeBps": "150",
    "team": '"Argentina"',
    "personId": "44",
    "baseValue": "1000",
    "goalValue": "50",
}

ORDER_WIRE_KEYS: Final = {
    "orderId",
    "clientOrderId",
    "type",
    "material",
    "quantity",
    "pricePerUnit",
    "timeInForce",
    "expiresAt",
    "status",
    "filledQuantity",
    "remainingQuantity",
    "filledNotional",
    "createdAt",
}
"""DESIGN §5's ``order`` body."""

CREATED_AT: Final = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# 1. Orders that parse
# --------------------------------------------------------------------------------------------------


def test_the_bounds_are_the_ones_design_section_2_states() -> None:
    assert (MIN_PRICE, MAX_PRICE) == (1, 999_999_999_999)
    assert (MIN_QUANTITY, MAX_QUANTITY) == (1, 1_000_000_000)


def test_the_seed_body_parses_with_the_defaults() -> None:
    # Given the order body DESIGN §5 keeps from the original API
    text = '{"type": "Sell", "material": "wheat", "quantity": 100, "pricePerUnit": 10}'

    # When it is parsed
    request = OrderRequest.parse(text)

    # Then it is a good-till-cancelled sell with no expiry and no client order id
    assert (request.side, request.material, request.quantity, request.price) == (Side.SELL, "wheat", 100, 10)
    assert request.time_in_force is TimeInForce.GTC
    assert request.expires_at is None
    assert request.client_order_id is None


def test_a_body_given_as_bytes_parses_like_text() -> None:
    assert OrderRequest.parse(body(SEED_ORDER).encode()) == OrderRequest.parse(body(SEED_ORDER))


@pytest.mark.parametrize("time_in_force", [TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC], ids=str)
def test_an_order_with_a_client_order_id_and_a_time_in_force_parses(time_in_force: TimeInForce) -> None:
    text = body(SEED_ORDER, type='"Buy"', clientOrderId='"A.b_c:d-1"', timeInForce=f'"{time_in_force}"')

    request = OrderRequest.parse(text)

    assert request.side is Side.BUY
    assert request.client_order_id == "A.b_c:d-1"
    assert request.time_in_force is time_in_force
    assert request.expires_at is None


def test_a_gtc_order_with_every_optional_field_parses_and_keeps_the_expiry_instant_in_utc() -> None:
    # Given a GTC order that expires at noon in UTC+2
    text = body(
        SEED_ORDER,
        clientOrderId='"game-42:order-7"',
        timeInForce='"GTC"',
        expiresAt='"2030-06-01T12:00:00+02:00"',
    )

    # When it is parsed
    request = OrderRequest.parse(text)

    # Then the expiry is that instant, kept in UTC (as every answer names it), and every field is kept
    assert request.expires_at == datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
    assert request.expires_at is not None
    assert request.expires_at.utcoffset() == timedelta(0)
    assert request.client_order_id == "game-42:order-7"
    assert request.time_in_force is TimeInForce.GTC


def test_a_utc_expiry_written_with_z_parses() -> None:
    request = OrderRequest.parse(body(SEED_ORDER, expiresAt='"2030-01-01T00:00:00Z"'))

    assert request.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("time_in_force", ["IOC", "FOK"])
def test_an_explicit_null_expiry_is_allowed_on_orders_that_never_rest(time_in_force: str) -> None:
    request = OrderRequest.parse(body(SEED_ORDER, timeInForce=f'"{time_in_force}"', expiresAt="null"))

    assert request.expires_at is None
    assert request.time_in_force == time_in_force


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        pytest.param("quantity", str(MIN_QUANTITY), MIN_QUANTITY, id="quantity-min"),
        pytest.param("quantity", str(MAX_QUANTITY), MAX_QUANTITY, id="quantity-max"),
        pytest.param("pricePerUnit", str(MIN_PRICE), MIN_PRICE, id="price-min"),
        pytest.param("pricePerUnit", str(MAX_PRICE), MAX_PRICE, id="price-max"),
    ],
)
def test_the_bounds_themselves_are_accepted(field: str, raw: str, expected: int) -> None:
    request = OrderRequest.parse(body(SEED_ORDER, **{field: raw}))

    assert request.wire()[field] == expected


@pytest.mark.parametrize(
    "material",
    [
        pytest.param("a" * 48, id="48-chars"),
        pytest.param("0", id="one-digit"),
        pytest.param("iron-ore-2", id="hyphen-and-digit"),
        pytest.param("a-", id="trailing-hyphen"),
    ],
)
def test_a_material_id_within_the_pattern_is_accepted(material: str) -> None:
    assert OrderRequest.parse(body(SEED_ORDER, material=f'"{material}"')).material == material


def test_a_64_character_client_order_id_is_accepted() -> None:
    client_order_id = "x" * 64

    request = OrderRequest.parse(body(SEED_ORDER, clientOrderId=f'"{client_order_id}"'))

    assert request.client_order_id == client_order_id


# --------------------------------------------------------------------------------------------------
# 2. Money and quantities are JSON integers in range
# --------------------------------------------------------------------------------------------------

MONEY_FIELDS: Final = ["quantity", "pricePerUnit"]

NOT_AN_INTEGER = [
    pytest.param("10.0", id="float-10.0"),
    pytest.param("10.5", id="float-10.5"),
    pytest.param("1e3", id="exponent-1e3"),
    pytest.param("1E3", id="exponent-1E3"),
    pytest.param("1e0", id="exponent-1e0"),
    pytest.param('"10"', id="numeric-string"),
    pytest.param("true", id="true"),
    pytest.param("false", id="false"),
    pytest.param("null", id="null"),
    pytest.param("[10]", id="array"),
    pytest.param('{"value": 10}', id="object"),
]


@pytest.mark.parametrize("raw", NOT_AN_INTEGER)
@pytest.mark.parametrize("field", MONEY_FIELDS)
def test_a_money_field_that_is_not_a_json_integer_is_rejected(field: str, raw: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: raw})) == [("int_type", (field,))]


@pytest.mark.parametrize(
    ("raw", "is_the_value"),
    [
        pytest.param("NaN", math.isnan, id="NaN"),
        pytest.param("Infinity", lambda value: value == math.inf, id="Infinity"),
        pytest.param("-Infinity", lambda value: value == -math.inf, id="-Infinity"),
    ],
)
@pytest.mark.parametrize("field", MONEY_FIELDS)
def test_nan_and_infinity_get_past_the_json_parser_and_are_rejected_on_the_field(
    field: str, raw: str, is_the_value: Callable[[float], bool]
) -> None:
    # Given a body carrying a token that is not valid JSON (RFC 8259 has no NaN or Infinity)
    text = body(SEED_ORDER, **{field: raw})

    # When it is parsed
    [error] = errors_from(OrderRequest.parse, text)

    # Then the parser reads it as a float and the integer field refuses it: a field error, not json_invalid
    assert (error["type"], error["loc"]) == ("int_type", (field,))
    assert isinstance(error["input"], float)
    assert is_the_value(error["input"])


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        pytest.param("quantity", "0", "greater_than_equal", id="quantity-zero"),
        pytest.param("quantity", "-0", "greater_than_equal", id="quantity-minus-zero"),
        pytest.param("quantity", "-1", "greater_than_equal", id="quantity-negative"),
        pytest.param("quantity", "1000000001", "less_than_equal", id="quantity-one-past-max"),
        pytest.param("quantity", "1" + "0" * 30, "less_than_equal", id="quantity-huge"),
        pytest.param("pricePerUnit", "0", "greater_than_equal", id="price-zero"),
        pytest.param("pricePerUnit", "-0", "greater_than_equal", id="price-minus-zero"),
        pytest.param("pricePerUnit", "-1", "greater_than_equal", id="price-negative"),
        pytest.param("pricePerUnit", "1000000000000", "less_than_equal", id="price-one-past-max"),
        pytest.param("pricePerUnit", "1" + "0" * 30, "less_than_equal", id="price-huge"),
    ],
)
def test_a_money_field_out_of_range_is_rejected(field: str, raw: str, error_type: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: raw})) == [(error_type, (field,))]


@pytest.mark.parametrize("field", MONEY_FIELDS)
def test_a_leading_zero_is_not_json_and_fails_the_whole_body(field: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: "010"})) == [("json_invalid", ())]


# --------------------------------------------------------------------------------------------------
# 3. The other order fields
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        pytest.param("type", '"buy"', "enum", id="type-lower-case"),
        pytest.param("type", '"BUY"', "enum", id="type-upper-case"),
        pytest.param("type", '"Hold"', "enum", id="type-hold"),
        pytest.param("type", "null", "enum", id="type-null"),
        pytest.param("material", '"Wheat"', "string_pattern_mismatch", id="material-upper-case"),
        pytest.param("material", '"wh#eat"', "string_pattern_mismatch", id="material-hash"),
        pytest.param("material", '"-wheat"', "string_pattern_mismatch", id="material-leading-hyphen"),
        pytest.param("material", '""', "string_pattern_mismatch", id="material-empty"),
        pytest.param("material", f'"{"a" * 49}"', "string_pattern_mismatch", id="material-49-chars"),
        pytest.param("material", '"wh\\u00e9at"', "string_pattern_mismatch", id="material-unicode-escape"),
        pytest.param("material", '"whéat"', "string_pattern_mismatch", id="material-unicode-literal"),
        pytest.param("material", '"wheat "', "string_pattern_mismatch", id="material-trailing-space"),
        pytest.param("material", '"wheat\\n"', "string_pattern_mismatch", id="material-trailing-newline"),
        pytest.param("material", '"coins#1"', "string_pattern_mismatch", id="material-key-separator"),
        pytest.param("material", "1", "string_type", id="material-number"),
        pytest.param("timeInForce", '"gtc"', "enum", id="tif-lower-case"),
        pytest.param("timeInForce", '"DAY"', "enum", id="tif-day"),
        pytest.param("timeInForce", "null", "enum", id="tif-null"),
        pytest.param("expiresAt", '"2030-01-01T00:00:00"', "timezone_aware", id="expiry-without-timezone"),
        pytest.param("expiresAt", '"tomorrow"', "datetime_from_date_parsing", id="expiry-not-a-date"),
        pytest.param("expiresAt", '"2030-01-01"', "timezone_aware", id="expiry-date-only"),
        pytest.param("expiresAt", "1893456000", "value_error", id="expiry-unix-seconds"),
        pytest.param("expiresAt", '"1893456000"', "value_error", id="expiry-unix-seconds-as-a-string"),
        pytest.param("expiresAt", '"1.8934e9"', "value_error", id="expiry-a-number-as-a-string"),
        pytest.param(
            "expiresAt", '"9999-12-31T23:59:59-01:00"', "value_error", id="expiry-past-year-9999-in-utc"
        ),
        pytest.param("clientOrderId", '"my order"', "string_pattern_mismatch", id="client-id-spaces"),
        pytest.param("clientOrderId", '""', "string_pattern_mismatch", id="client-id-empty"),
        pytest.param("clientOrderId", f'"{"x" * 65}"', "string_pattern_mismatch", id="client-id-65-chars"),
        pytest.param("clientOrderId", '"a#b"', "string_pattern_mismatch", id="client-id-hash"),
        pytest.param("clientOrderId", "7", "string_type", id="client-id-number"),
    ],
)
def test_a_bad_value_is_rejected_naming_the_wire_field(field: str, raw: str, error_type: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: raw})) == [(error_type, (field,))]


@pytest.mark.parametrize("field", ["type", "material", "quantity", "pricePerUnit"])
def test_a_missing_required_field_is_rejected_naming_it(field: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: None})) == [("missing", (field,))]


@pytest.mark.parametrize("time_in_force", ["IOC", "FOK"])
@pytest.mark.parametrize("expiry_first", [False, True], ids=["tif-first", "expiry-first"])
def test_an_expiry_on_an_order_that_never_rests_is_rejected_on_expires_at(
    time_in_force: str, expiry_first: bool
) -> None:
    # Given an IOC or FOK order that also names an expiry, in either key order
    optional = {"timeInForce": f'"{time_in_force}"', "expiresAt": '"2030-01-01T00:00:00Z"'}
    if expiry_first:
        optional = dict(reversed(optional.items()))

    # When it is parsed
    [error] = errors_from(OrderRequest.parse, body(SEED_ORDER, **optional))

    # Then expiresAt is the field at fault
    assert (error["type"], error["loc"]) == ("value_error", ("expiresAt",))
    assert "only to GTC" in error["msg"]


def test_a_bad_time_in_force_with_an_expiry_blames_only_the_time_in_force() -> None:
    text = body(SEED_ORDER, timeInForce='"DAY"', expiresAt='"2030-01-01T00:00:00Z"')

    assert rejected(OrderRequest.parse, text) == [("enum", ("timeInForce",))]


@pytest.mark.parametrize(
    ("python_name", "wire_name", "raw"),
    [
        pytest.param("price_per_unit", "pricePerUnit", "10", id="price_per_unit"),
        pytest.param("side", "type", '"Sell"', id="side"),
        pytest.param("price", "pricePerUnit", "10", id="price"),
    ],
)
def test_a_required_field_under_its_python_name_is_extra_and_the_wire_name_is_missing(
    python_name: str, wire_name: str, raw: str
) -> None:
    text = body(SEED_ORDER, **{wire_name: None, python_name: raw})

    assert sorted(rejected(OrderRequest.parse, text)) == sorted(
        [("missing", (wire_name,)), ("extra_forbidden", (python_name,))]
    )


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        pytest.param("client_order_id", '"c-1"', id="client_order_id"),
        pytest.param("time_in_force", '"IOC"', id="time_in_force"),
        pytest.param("expires_at", '"2030-01-01T00:00:00Z"', id="expires_at"),
        pytest.param("playerId", '"p1"', id="playerId"),
        pytest.param("orderId", f'"{new_order_id()}"', id="orderId"),
        pytest.param("comment", '"hello"', id="unknown"),
    ],
)
def test_an_unknown_field_is_extra_forbidden_naming_it(field: str, raw: str) -> None:
    assert rejected(OrderRequest.parse, body(SEED_ORDER, **{field: raw})) == [("extra_forbidden", (field,))]


@pytest.mark.parametrize(
    ("text", "error_type"),
    [
        pytest.param("not json", "json_invalid", id="not-json"),
        pytest.param("", "json_invalid", id="empty"),
        pytest.param('{"type": "Sell",}', "json_invalid", id="trailing-comma"),
        pytest.param(body(SEED_ORDER) + " trailing", "json_invalid", id="trailing-text"),
        pytest.param(body(SEED_ORDER).replace('"', "'"), "json_invalid", id="single-quotes"),
        pytest.param(f"[{body(SEED_ORDER)}]", "model_type", id="array-of-the-order"),
        pytest.param("[]", "model_type", id="empty-array"),
        pytest.param('"Sell"', "model_type", id="string"),
        pytest.param("null", "model_type", id="null"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_rejected_as_a_whole(text: str, error_type: str) -> None:
    assert rejected(OrderRequest.parse, text) == [(error_type, ())]


def test_bytes_that_are_not_utf8_are_rejected_as_invalid_json() -> None:
    text = b'{"type": "Sell", "material": "wh\xffeat", "quantity": 100, "pricePerUnit": 10}'

    assert rejected(OrderRequest.parse, text) == [("json_invalid", ())]


# --------------------------------------------------------------------------------------------------
# 4. Market listings (POST /markets)
# --------------------------------------------------------------------------------------------------


def test_a_commodity_listing_parses_with_the_default_fee() -> None:
    listing = parse_listing(body(COMMODITY))

    assert isinstance(listing, CommodityListing)
    assert (listing.material, listing.name, listing.fee_bps) == ("wheat", "Wheat", DEFAULT_FEE_BPS)
    assert listing.wire() == {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 200}


def test_a_footballer_listing_parses_its_camel_case_fields() -> None:
    # Given a footballer listing with every field DESIGN §5 names
    text = body(FOOTBALLER)

    # When it is parsed
    listing = parse_listing(text)

    # Then kind picks the footballer shape and each camelCase field lands in its place
    assert isinstance(listing, FootballerListing)
    assert listing.fee_bps == 150
    assert listing.team == "Argentina"
    assert listing.person_id == 44
    assert listing.base_value == 1000
    assert listing.goal_value == 50
    assert "goals" not in listing.wire(), "a new listing has scored nothing; goals come from goal events"


@pytest.mark.parametrize("field", ["team", "baseValue", "goalValue"])
def test_a_footballer_without_a_required_field_is_rejected_naming_it(field: str) -> None:
    assert rejected(parse_listing, body(FOOTBALLER, **{field: None})) == [("missing", ("footballer", field))]


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        pytest.param("team", '"Argentina"', id="team"),
        pytest.param("personId", "44", id="personId"),
        pytest.param("baseValue", "1000", id="baseValue"),
        pytest.param("goalValue", "50", id="goalValue"),
        pytest.param("fee_bps", "100", id="snake-case-fee"),
    ],
)
def test_a_commodity_with_a_footballer_field_is_rejected_as_extra(field: str, raw: str) -> None:
    assert rejected(parse_listing, body(COMMODITY, **{field: raw})) == [
        ("extra_forbidden", ("commodity", field))
    ]


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        pytest.param('"stock"', "union_tag_invalid", id="unknown"),
        pytest.param('"Commodity"', "union_tag_invalid", id="capitalised"),
        pytest.param("null", "union_tag_invalid", id="null"),
        pytest.param(None, "union_tag_not_found", id="missing"),
    ],
)
def test_a_listing_of_unknown_kind_is_rejected(kind: str | None, error_type: str) -> None:
    assert rejected(parse_listing, body(COMMODITY, kind=kind)) == [(error_type, ())]


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        pytest.param("10001", "less_than_equal", id="one-past-max"),
        pytest.param("-1", "greater_than_equal", id="negative"),
        pytest.param("2.5", "int_type", id="float"),
        pytest.param('"200"', "int_type", id="string"),
    ],
)
def test_a_fee_outside_0_to_10000_bps_is_rejected(raw: str, error_type: str) -> None:
    assert rejected(parse_listing, body(COMMODITY, feeBps=raw)) == [(error_type, ("commodity", "feeBps"))]


@pytest.mark.parametrize("fee_bps", [0, MAX_FEE_BPS], ids=["free", "max"])
def test_a_fee_at_the_bounds_is_accepted(fee_bps: int) -> None:
    assert parse_listing(body(COMMODITY, feeBps=str(fee_bps))).fee_bps == fee_bps


@pytest.mark.parametrize(("base", "kind"), [(COMMODITY, "commodity"), (FOOTBALLER, "footballer")])
def test_coins_cannot_be_listed_as_a_material(base: Mapping[str, str], kind: str) -> None:
    [error] = errors_from(parse_listing, body(base, material='"coins"'))

    assert (error["type"], error["loc"]) == ("value_error", (kind, "material"))
    assert "'coins' is the currency" in error["msg"]


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        pytest.param("material", '"Lionel-Messi"', "string_pattern_mismatch", id="material-upper-case"),
        pytest.param("name", '"   "', "string_too_short", id="name-blank"),
        pytest.param("personId", "0", "greater_than_equal", id="person-id-zero"),
        pytest.param("baseValue", "0", "greater_than_equal", id="base-value-zero"),
        pytest.param("goalValue", "1000000000000", "less_than_equal", id="goal-value-past-max-price"),
        pytest.param("baseValue", "1000.0", "int_type", id="base-value-float"),
    ],
)
def test_a_footballer_field_out_of_range_is_rejected_naming_it(field: str, raw: str, error_type: str) -> None:
    assert rejected(parse_listing, body(FOOTBALLER, **{field: raw})) == [(error_type, ("footballer", field))]


def messi(**values: Any) -> FootballerMarket:
    """Messi's market with ``values`` (base value, goal value, goals, ...)."""
    return FootballerMarket(
        material="lionel-messi", name="Lionel Messi", kind="footballer", team="Argentina", **values
    )


@pytest.mark.parametrize("goals", [0, 1, 3])
def test_the_wire_form_carries_the_fundamental_value_base_plus_goal_value_times_goals(goals: int) -> None:
    # Given Messi listed at 1000 coins and 50 a goal, with some goals scored
    after_goals = messi(person_id=44, base_value=1000, goal_value=50, goals=goals)

    # When it is put on the wire
    wire = after_goals.wire()

    # Then fundamentalValue is F = base + goalValue × goals, an integer
    assert wire["fundamentalValue"] == 1000 + 50 * goals
    assert is_wire_int(wire["fundamentalValue"])
    assert {"team", "personId", "baseValue", "goalValue", "goals", "fundamentalValue"} <= wire.keys()


def test_the_fundamental_value_stops_at_the_highest_price_and_the_goals_still_count() -> None:
    """The house quotes around F and a quote must be a valid price: F is capped (documented under
    Footballer stocks, after a reviewer found it only in a comment)."""
    near_the_top = messi(base_value=999_999_999_000, goal_value=999_999_999_999, goals=2)

    assert (near_the_top.fundamental_value, near_the_top.goals) == (999_999_999_999, 2)


def test_the_fundamental_value_is_derived_and_cannot_be_posted() -> None:
    text = body(FOOTBALLER, fundamentalValue="5000")

    assert rejected(parse_listing, text) == [("extra_forbidden", ("footballer", "fundamentalValue"))]


# --------------------------------------------------------------------------------------------------
# 5. Deposits and withdrawals
# --------------------------------------------------------------------------------------------------

Movement = type[Deposit] | type[Withdrawal]
MOVEMENTS = [
    pytest.param(Deposit, "depositId", id="deposit"),
    pytest.param(Withdrawal, "withdrawalId", id="withdrawal"),
]


def movement_body(id_field: str, **changes: str | None) -> str:
    return body({id_field: '"game-1:42"', "asset": '"coins"', "quantity": "500"}, **changes)


@pytest.mark.parametrize(
    ("asset", "quantity"),
    [
        pytest.param("coins", 500, id="coins"),
        pytest.param("wheat", 500, id="material"),
        pytest.param("lionel-messi", 1, id="footballer-one"),
        pytest.param("coins", MAX_AMOUNT, id="coins-max"),
    ],
)
@pytest.mark.parametrize(("model", "id_field"), MOVEMENTS)
def test_a_movement_of_coins_or_a_material_parses(
    model: Movement, id_field: str, asset: str, quantity: int
) -> None:
    moved = model.parse(movement_body(id_field, asset=f'"{asset}"', quantity=str(quantity)))

    assert moved.wire() == {id_field: "game-1:42", "asset": asset, "quantity": quantity}


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        pytest.param("quantity", "500.0", "int_type", id="quantity-float"),
        pytest.param("quantity", "5e2", "int_type", id="quantity-exponent"),
        pytest.param("quantity", '"500"', "int_type", id="quantity-string"),
        pytest.param("quantity", "true", "int_type", id="quantity-bool"),
        pytest.param("quantity", "0", "greater_than_equal", id="quantity-zero"),
        pytest.param("quantity", "-500", "greater_than_equal", id="quantity-negative"),
        pytest.param("quantity", str(10**18 + 1), "less_than_equal", id="quantity-above-1e18"),
        pytest.param("asset", '"Coins"', "string_pattern_mismatch", id="asset-upper-case"),
        pytest.param("asset", '"wh#eat"', "string_pattern_mismatch", id="asset-hash"),
        pytest.param("asset", '""', "string_pattern_mismatch", id="asset-empty"),
        pytest.param("asset", '"münze"', "string_pattern_mismatch", id="asset-unicode"),
        pytest.param("asset", "null", "string_type", id="asset-null"),
    ],
)
@pytest.mark.parametrize(("model", "id_field"), MOVEMENTS)
def test_a_bad_movement_is_rejected_naming_the_field(
    model: Movement, id_field: str, field: str, raw: str, error_type: str
) -> None:
    assert rejected(model.parse, movement_body(id_field, **{field: raw})) == [(error_type, (field,))]


@pytest.mark.parametrize(("model", "id_field"), MOVEMENTS)
def test_a_movement_id_with_a_space_is_rejected_naming_it(model: Movement, id_field: str) -> None:
    text = movement_body(id_field, **{id_field: '"game 1"'})

    assert rejected(model.parse, text) == [("string_pattern_mismatch", (id_field,))]


def test_a_withdrawal_id_does_not_make_a_deposit() -> None:
    text = body({"withdrawalId": '"w-1"', "asset": '"coins"', "quantity": "5"})

    assert sorted(rejected(Deposit.parse, text)) == [
        ("extra_forbidden", ("withdrawalId",)),
        ("missing", ("depositId",)),
    ]


# --------------------------------------------------------------------------------------------------
# 6. Goal events
# --------------------------------------------------------------------------------------------------

GOAL: Final = {"eventId": '"wc2026:44:1"', "material": '"lionel-messi"', "matchId": '"m-101"', "minute": "45"}


def test_a_goal_event_parses() -> None:
    event = GoalEvent.parse(body(GOAL))

    assert (event.event_id, event.material, event.match_id, event.minute) == (
        "wc2026:44:1",
        "lionel-messi",
        "m-101",
        45,
    )


@pytest.mark.parametrize("minute", [0, 120, 150])
def test_a_minute_from_kick_off_to_the_end_of_stoppage_time_is_accepted(minute: int) -> None:
    assert GoalEvent.parse(body(GOAL, minute=str(minute))).minute == minute


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        pytest.param("-1", "greater_than_equal", id="before-kick-off"),
        pytest.param("151", "less_than_equal", id="past-150"),
        pytest.param("45.0", "int_type", id="float"),
        pytest.param('"45"', "int_type", id="string"),
    ],
)
def test_a_minute_out_of_range_is_rejected(raw: str, error_type: str) -> None:
    assert rejected(GoalEvent.parse, body(GOAL, minute=raw)) == [(error_type, ("minute",))]


@pytest.mark.parametrize(
    ("field", "raw", "error_type"),
    [
        pytest.param("eventId", None, "missing", id="event-id-missing"),
        pytest.param("matchId", '"match 1"', "string_pattern_mismatch", id="match-id-space"),
        pytest.param("material", '"Lionel-Messi"', "string_pattern_mismatch", id="material-upper-case"),
    ],
)
def test_a_bad_goal_event_field_is_rejected_naming_it(field: str, raw: str | None, error_type: str) -> None:
    assert rejected(GoalEvent.parse, body(GOAL, **{field: raw})) == [(error_type, (field,))]


# --------------------------------------------------------------------------------------------------
# 7. The order a client gets back
# --------------------------------------------------------------------------------------------------


def accepted_order(**changes: str | None) -> Order:
    """The open order intake writes for the seed body (with ``changes``) from player ``p1``."""
    request = OrderRequest.parse(body(SEED_ORDER, **changes))
    return Order.accept(request, order_id=new_order_id(), player_id="p1", created_at=CREATED_AT)


def order_record(
    *,
    side: Side = Side.SELL,
    status: OrderStatus = OrderStatus.OPEN,
    filled_quantity: int = 0,
    filled_notional: int = 0,
) -> Order:
    """An order for 100 wheat at 10 as the exchange keeps it, built by its Python names."""
    return Order(
        order_id=new_order_id(),
        player_id="p1",
        side=side,
        material="wheat",
        quantity=100,
        price=10,
        status=status,
        filled_quantity=filled_quantity,
        filled_notional=filled_notional,
        created_at=CREATED_AT,
    )


def test_an_accepted_order_wires_to_exactly_the_design_order_body() -> None:
    # Given an accepted GTC sell with a client order id and an expiry
    order = accepted_order(clientOrderId='"c-1"', expiresAt='"2030-01-01T00:00:00Z"')

    # When it is put on the wire
    wire = order.wire()

    # Then it has DESIGN §5's keys and values, and nothing about the player
    assert wire.keys() == ORDER_WIRE_KEYS
    assert "playerId" not in json.dumps(wire)
    assert "p1" not in wire.values()
    assert wire == {
        "orderId": order.order_id,
        "clientOrderId": "c-1",
        "type": "Sell",
        "material": "wheat",
        "quantity": 100,
        "pricePerUnit": 10,
        "timeInForce": "GTC",
        "expiresAt": "2030-01-01T00:00:00Z",
        "status": "open",
        "filledQuantity": 0,
        "remainingQuantity": 100,
        "filledNotional": 0,
        "createdAt": "2026-06-11T12:00:00Z",
    }


def test_the_order_id_on_the_wire_is_a_uuid7() -> None:
    order_id = new_order_id()
    request = OrderRequest.parse(body(SEED_ORDER))

    wire = Order.accept(request, order_id=order_id, player_id="p1", created_at=CREATED_AT).wire()

    assert wire["orderId"] == order_id
    assert isinstance(wire["orderId"], str)
    assert re.fullmatch(UUID7_PATTERN, wire["orderId"])


def test_money_on_the_order_wire_is_json_integers() -> None:
    # Given a partly filled buy: 100 at 10, 40 filled for 380 coins
    order = order_record(side=Side.BUY, filled_quantity=40, filled_notional=380)

    # When it is encoded as JSON text and read back
    text = order.model_dump_json()
    wire = json.loads(text)

    # Then every amount is a JSON integer, and remainingQuantity follows the fill
    amounts = ["quantity", "pricePerUnit", "filledQuantity", "remainingQuantity", "filledNotional"]
    assert [wire[key] for key in amounts] == [100, 10, 40, 60, 380]
    assert all(is_wire_int(wire[key]) for key in amounts)
    assert '"pricePerUnit":10,' in text
    assert wire == order.wire()


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.EXPIRED], ids=str)
def test_a_finished_order_has_nothing_remaining(status: OrderStatus) -> None:
    order = order_record(status=status, filled_quantity=30, filled_notional=300)

    assert (order.wire()["status"], order.wire()["remainingQuantity"]) == (str(status), 0)


@pytest.mark.parametrize("overfill", [1, 100], ids=["by-one", "double"])
def test_an_order_filled_beyond_its_quantity_is_rejected(overfill: int) -> None:
    # Given an order for 100, When it claims more than 100 filled, Then the record is refused
    with pytest.raises(ValidationError, match="filledQuantity exceeds quantity"):
        order_record(filled_quantity=100 + overfill, filled_notional=(100 + overfill) * 10)


def test_an_order_filled_to_exactly_its_quantity_is_valid() -> None:
    order = order_record(status=OrderStatus.FILLED, filled_quantity=100, filled_notional=1000)

    assert (order.wire()["filledQuantity"], order.wire()["remainingQuantity"]) == (100, 0)


def test_an_order_needs_an_aware_creation_time() -> None:
    request = OrderRequest.parse(body(SEED_ORDER))
    naive = datetime(2026, 6, 11, 12, 0)

    with pytest.raises(ValidationError) as caught:
        Order.accept(request, order_id=new_order_id(), player_id="p1", created_at=naive)

    assert [(e["type"], e["loc"]) for e in caught.value.errors()] == [("timezone_aware", ("created_at",))]


def test_goals_are_not_part_of_a_listing() -> None:
    assert rejected(parse_listing, body(FOOTBALLER, goals="3")) == [
        ("extra_forbidden", ("footballer", "goals"))
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"side": Side.SELL, "filled_quantity": 2, "filled_notional": 9},
            "a sell never receives less than its limit",
            id="sell-below-limit",
        ),
        pytest.param(
            {"side": Side.BUY, "filled_quantity": 2, "filled_notional": 21},
            "a buy never pays more than its limit",
            id="buy-above-limit",
        ),
        pytest.param(
            {"filled_quantity": 0, "filled_notional": 100},
            "filledNotional without a fill",
            id="coins-no-fill",
        ),
        pytest.param(
            {"status": OrderStatus.OPEN, "filled_quantity": 100, "filled_notional": 1000},
            "filled exactly when",
            id="open-but-fully-filled",
        ),
        pytest.param(
            {"status": OrderStatus.FILLED, "filled_quantity": 99, "filled_notional": 990},
            "filled exactly when",
            id="filled-but-short",
        ),
    ],
)
def test_an_order_record_in_a_state_the_exchange_cannot_reach_is_rejected(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        order_record(**changes)  # type: ignore[arg-type]


def test_a_footballer_without_a_person_id_is_listed_but_not_followed_by_the_live_feed() -> None:
    listing = parse_listing(body(FOOTBALLER, personId=None))

    assert isinstance(listing, FootballerListing)
    assert listing.person_id is None


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nesting_is_accepted_to_max_depth_and_refused_beyond(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    check_json(opener * MAX_DEPTH + "1" + closer * MAX_DEPTH)
    with pytest.raises(Malformed, match=f"deeper than {MAX_DEPTH}"):
        check_json(opener * (MAX_DEPTH + 1) + "1" + closer * (MAX_DEPTH + 1))
