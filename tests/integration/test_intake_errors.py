"""Every error of DESIGN §5 through the function URL handler, and the rule that comes with them: a
rejected request changes nothing.

Each rejection is asserted the same way (:func:`rejected`): the status, the stable ``error.code``, a
body that is exactly ``{"error": {"code", "message"}}``, and every item of every table the same
after the request as before it. The state set up first (:func:`populate`: two markets, balances
with something reserved, an open order) is what makes "unchanged" mean something.

Because a rejection changes nothing, the tests whose requests are all rejected share one world
(:func:`world`), which proves before each use that it is still exactly as built; tests that change
state first get a world of their own (:func:`fresh`). Both are built on the ``Api`` of the
integration conftest, over one moto backend per module, to keep hundreds of cases fast.

The order of the checks is part of the contract: ``gate`` answers 413, then 401, then 403, then 400
before the resolver validates anything (422), and the domain answers 404 and 409 last.
"""

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import boto3
import jwt
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.intake.app import MAX_BODY_BYTES, build_handler
from mercato.intake.auth import Scope, issue_token
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.models.ids import new_order_id
from mercato.storage.tables import create_tables
from tests.integration.conftest import SECRET, Api, Reply

ALICE: Final = "alice"
BOB: Final = "bob"
CAROL: Final = "carol"
"""A player with no account at all."""
MESSI: Final = "lionel-messi"
ALICE_COINS: Final = 10_000
ALICE_WHEAT: Final = 100
RESTING: Final = {"type": "Buy", "material": "wheat", "quantity": 10, "pricePerUnit": 5}
"""Alice's open order: it reserves 50 of her coins."""
RESERVED: Final = 50
ORDER: Final = {"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 7}
"""A body that would be accepted: a rejection of it is down to the one thing a test changes."""
DEPOSIT: Final = {"depositId": "d-new", "asset": "coins", "quantity": 5}
WITHDRAWAL: Final = {"withdrawalId": "w-new", "asset": "coins", "quantity": 5}
LISTING: Final = {"material": "corn", "kind": "commodity", "name": "Corn"}
GOAL: Final = {"eventId": "g-1", "material": MESSI, "matchId": "m-1", "minute": 10}
OTHER_SECRET: Final = "another-secret-that-is-also-at-least-32-bytes"


@dataclass(frozen=True)
class World:
    api: Api
    order_id: str
    """Alice's open order (:data:`RESTING`)."""


Snapshot = dict[str, list[dict[str, Any]]]


@dataclass
class Backend:
    """One moto DynamoDB for the module; each :meth:`api` gets its own set of tables."""

    client: Any
    prefixes: Iterator[int] = field(default_factory=itertools.count)

    def api(self, clock: Callable[[], datetime] | None = None) -> Api:
        tables = create_tables(self.client, f"errors{next(self.prefixes)}")
        store = DynamoIntakeStore(self.client, tables)
        intake = Intake(store) if clock is None else Intake(store, clock=clock)
        return Api(build_handler(intake, lambda: SECRET), self.client, tables)


def populate(api: Api) -> World:
    """Two markets, Alice with coins and wheat and 50 coins reserved by an open order, Bob with coins."""
    assert api.list_market("wheat").status == 201
    assert api.list_footballer(MESSI).status == 201
    assert api.deposit(ALICE, "coins", ALICE_COINS).status == 201
    assert api.deposit(ALICE, "wheat", ALICE_WHEAT).status == 201
    assert api.deposit(BOB, "coins", 1_000).status == 201
    placed = api.call("POST", "/orders", RESTING, player=ALICE)
    assert placed.status == 202
    assert api.balances(ALICE)["coins"] == {"available": ALICE_COINS - RESERVED, "reserved": RESERVED}
    return World(api, str(placed.body["orderId"]))


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    """Built once: a boto3 client costs more than most of these tests, and there are hundreds."""
    moto_atomic.install()
    with mock_aws():
        yield Backend(boto3.resource("dynamodb").meta.client)


@pytest.fixture(scope="module")
def shared(backend: Backend) -> tuple[World, Snapshot]:
    world = populate(backend.api())
    return world, world.api.snapshot()


@pytest.fixture
def world(shared: tuple[World, Snapshot]) -> World:
    """The module's world, for tests whose requests are all rejected: a rejection changes nothing,
    so one world serves them all. Each use first proves that no earlier test changed it."""
    world, pristine = shared
    assert world.api.snapshot() == pristine, "an earlier test changed the shared world"
    return world


@pytest.fixture
def fresh(backend: Backend) -> World:
    """A world of its own, for tests that change state on the way to their rejection."""
    return populate(backend.api())


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def assert_error(reply: Reply, status: int, code: str) -> str:
    """``reply`` is the error ``status``/``code`` with exactly the error body; returns its message."""
    assert reply.status == status, reply.body
    assert isinstance(reply.body, dict)
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.body["error"]) == {"code", "message"}, reply.body
    assert reply.code == code, reply.body
    message = reply.body["error"]["message"]
    assert isinstance(message, str)
    assert message
    assert reply.headers.get("Content-Type") == "application/json"
    return message


def rejected(api: Api, status: int, code: str, method: str, path: str, body: Any = None, **call: Any) -> str:
    """Send the request; assert it is rejected as ``status``/``code`` and changed nothing. Returns the
    error message."""
    before = api.snapshot()
    reply = api.call(method, path, body, **call)
    message = assert_error(reply, status, code)
    assert api.snapshot() == before, f"{method} {path} was rejected but changed the tables"
    return message


def order_body(**changes: Any) -> dict[str, Any]:
    """:data:`ORDER` with ``changes``; a change to ``None`` removes the field."""
    merged = {**ORDER, **changes}
    return {key: value for key, value in merged.items() if value is not None}


def sign(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def claims(**changes: Any) -> dict[str, Any]:
    """A valid trade token's claims for Alice, with ``changes`` (``None`` removes a claim)."""
    base = {"sub": ALICE, "scope": "trade", "exp": int(time.time()) + 600}
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def tampered() -> str:
    """A real trade token whose payload was rewritten to claim the admin scope, signature kept."""
    header, _, signature = issue_token(SECRET, ALICE, Scope.TRADE).split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims(scope="admin")).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON padded with spaces to exactly ``size`` bytes: still valid JSON."""
    text = json.dumps(body).encode()
    assert len(text) <= size
    return text[:-1] + b" " * (size - len(text)) + b"}"


# --------------------------------------------------------------------------------------------------
# 400 malformed_json
# --------------------------------------------------------------------------------------------------

MALFORMED_ORDERS: Final = [
    pytest.param(b"this is not json", id="not-json"),
    pytest.param(b"{", id="lone-brace"),
    pytest.param(b'{"type": "Buy", "material": "wheat", "quantity": 2', id="truncated"),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 7,}', id="trailing-comma"
    ),
    pytest.param(b'{"type": "Buy", "material": "wheat", "quantity": NaN, "pricePerUnit": 7}', id="nan"),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": Infinity}', id="infinity"
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": -Infinity}', id="-infinity"
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 1e3, "pricePerUnit": 7}', id="exponent-quantity"
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 7E0}', id="exponent-price"
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 1.5e1}', id="exponent-fraction"
    ),
    pytest.param(
        b'{"type": "Buy", "type": "Sell", "material": "wheat", "quantity": 2, "pricePerUnit": 7}',
        id="duplicate-type",
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat", "quantity": 2, "quantity": 3, "pricePerUnit": 7}',
        id="duplicate-quantity",
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wh\xffeat", "quantity": 2, "pricePerUnit": 7}', id="invalid-utf8"
    ),
    pytest.param(
        b'{"type": "Buy", "material": "wheat\xc3\x28", "quantity": 2, "pricePerUnit": 7}',
        id="bad-continuation-byte",
    ),
    pytest.param(b"\xed\xa0\x80", id="utf8-surrogate"),
    pytest.param(b"{'type': 'Buy'}", id="single-quotes"),
]


@pytest.mark.parametrize("raw", MALFORMED_ORDERS)
def test_malformed_order_body_is_400(world: World, raw: bytes) -> None:
    rejected(world.api, 400, "malformed_json", "POST", "/orders", raw=raw, player=ALICE)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f"/accounts/{ALICE}/deposits", id="deposit"),
        pytest.param(f"/accounts/{ALICE}/withdrawals", id="withdrawal"),
        pytest.param("/markets", id="list-market"),
        pytest.param("/events/goals", id="goal"),
    ],
)
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"depositId": "d-x", "asset": "coins", "quantity": NaN}', id="nan"),
        pytest.param(b'{"depositId": "d-x", "asset": "coins", "quantity": 5e2}', id="exponent"),
        pytest.param(
            b'{"depositId": "d-x", "depositId": "d-y", "asset": "coins", "quantity": 5}', id="duplicate"
        ),
        pytest.param(b'{"depositId": "d-x", "asset": "coins", "quantity": 5', id="truncated"),
        pytest.param(b'{"depositId": "d-\xff", "asset": "coins", "quantity": 5}', id="invalid-utf8"),
    ],
)
def test_malformed_admin_body_is_400(world: World, path: str, raw: bytes) -> None:
    rejected(world.api, 400, "malformed_json", "POST", path, raw=raw, admin=True)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_or_utf32_body_is_400(world: World, encoding: str) -> None:
    raw = json.dumps(ORDER).encode(encoding)
    rejected(world.api, 400, "malformed_json", "POST", "/orders", raw=raw, player=ALICE)


def test_utf8_bom_body_is_400(world: World) -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(ORDER).encode()
    rejected(world.api, 400, "malformed_json", "POST", "/orders", raw=raw, player=ALICE)


def test_a_fraction_is_well_formed_json_but_an_invalid_field(world: World) -> None:
    """``10.5`` is JSON; it is refused by the field (422, naming it), not as malformed (400)."""
    raw = b'{"type": "Buy", "material": "wheat", "quantity": 10.5, "pricePerUnit": 7}'
    message = rejected(world.api, 422, "invalid_field", "POST", "/orders", raw=raw, player=ALICE)
    assert "quantity" in message


@pytest.mark.parametrize(
    ("path", "admin"),
    [
        pytest.param("/orders", False, id="order"),
        pytest.param(f"/accounts/{ALICE}/deposits", True, id="deposit"),
        pytest.param(f"/accounts/{ALICE}/withdrawals", True, id="withdrawal"),
        pytest.param("/markets", True, id="list-market"),
        pytest.param("/events/goals", True, id="goal"),
    ],
)
def test_a_post_without_a_body_is_told_the_body_is_missing(world: World, path: str, admin: bool) -> None:
    """Pydantic's bare "Field required" named nothing for a missing body (a reviewer's find)."""
    kwargs: dict[str, Any] = {"admin": True} if admin else {"player": ALICE}
    message = rejected(world.api, 422, "invalid_field", "POST", path, raw=b"", **kwargs)
    assert message.startswith("body: "), message
    assert "JSON object" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"{}", "kind: ", id="no-kind"),
        pytest.param(b'{"material": "gold", "kind": "metal", "name": "Gold"}', "kind: ", id="unknown-kind"),
    ],
)
def test_a_listing_without_a_known_kind_names_the_kind_field(world: World, raw: bytes, expected: str) -> None:
    message = rejected(world.api, 422, "invalid_field", "POST", "/markets", raw=raw, admin=True)
    assert message.startswith(expected), message


# --------------------------------------------------------------------------------------------------
# 401
# --------------------------------------------------------------------------------------------------

Headers = Callable[[], dict[str, str]]


def bearer(token: Callable[[], str]) -> Headers:
    return lambda: {"Authorization": f"Bearer {token()}"}


UNAUTHENTICATED: Final = [
    pytest.param(dict, "missing_token", id="no-authorization"),
    pytest.param(lambda: {"Authorization": ""}, "missing_token", id="empty-authorization"),
    pytest.param(lambda: {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "malformed_token", id="basic-scheme"),
    pytest.param(lambda: {"Authorization": "Token abc.def.ghi"}, "malformed_token", id="token-scheme"),
    pytest.param(lambda: {"Authorization": "Bearer"}, "malformed_token", id="bearer-alone"),
    pytest.param(lambda: {"Authorization": "Bearer    "}, "malformed_token", id="bearer-blank"),
    pytest.param(
        lambda: {"Authorization": issue_token(SECRET, ALICE)}, "malformed_token", id="token-without-scheme"
    ),
    pytest.param(bearer(lambda: "garbage"), "invalid_token", id="garbage"),
    pytest.param(bearer(lambda: "a.b.c"), "invalid_token", id="three-garbage-segments"),
    pytest.param(bearer(lambda: sign(claims(exp=int(time.time()) - 60))), "expired_token", id="expired"),
    pytest.param(bearer(lambda: sign(claims(), key=OTHER_SECRET)), "bad_signature", id="other-secret"),
    pytest.param(bearer(tampered), "bad_signature", id="payload-rewritten-to-admin"),
    pytest.param(bearer(lambda: sign(claims(scope=None))), "invalid_token", id="no-scope"),
    pytest.param(bearer(lambda: sign(claims(sub=None))), "invalid_token", id="no-sub"),
    pytest.param(bearer(lambda: sign(claims(exp=None))), "invalid_token", id="no-exp"),
    pytest.param(bearer(lambda: sign(claims(scope="root"))), "invalid_token", id="scope-root"),
    pytest.param(bearer(lambda: sign(claims(scope="TRADE"))), "invalid_token", id="scope-upper-case"),
    pytest.param(bearer(lambda: sign(claims(scope=["trade"]))), "invalid_token", id="scope-list"),
    pytest.param(bearer(lambda: sign(claims(sub="alice/bob"))), "invalid_token", id="sub-not-a-player-id"),
    pytest.param(bearer(lambda: sign(claims(sub=""))), "invalid_token", id="sub-empty"),
    pytest.param(
        bearer(lambda: sign(claims(nbf=int(time.time()) + 600))), "invalid_token", id="not-yet-valid"
    ),
    pytest.param(bearer(lambda: sign(claims(), key="", algorithm="none")), "invalid_token", id="alg-none"),
]


@pytest.mark.parametrize(("headers", "code"), UNAUTHENTICATED)
def test_bad_credentials_on_an_order_are_401(world: World, headers: Headers, code: str) -> None:
    rejected(world.api, 401, code, "POST", "/orders", ORDER, headers=headers())


@pytest.mark.parametrize(("headers", "code"), UNAUTHENTICATED)
def test_bad_credentials_on_a_read_are_401(world: World, headers: Headers, code: str) -> None:
    rejected(world.api, 401, code, "GET", "/accounts/me", headers=headers())


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        pytest.param(dict, "missing_token", id="no-authorization"),
        pytest.param(
            bearer(lambda: sign(claims(sub="game-server", scope="admin", exp=int(time.time()) - 1))),
            "expired_token",
            id="expired-admin",
        ),
        pytest.param(
            bearer(lambda: sign(claims(sub="game-server", scope="admin"), key=OTHER_SECRET)),
            "bad_signature",
            id="admin-other-secret",
        ),
    ],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/markets", LISTING, id="list-market"),
        pytest.param(f"/accounts/{ALICE}/deposits", DEPOSIT, id="deposit"),
        pytest.param(f"/accounts/{ALICE}/withdrawals", WITHDRAWAL, id="withdrawal"),
        pytest.param("/events/goals", GOAL, id="goal"),
    ],
)
def test_bad_credentials_on_admin_routes_are_401(
    world: World, headers: Headers, code: str, path: str, body: dict[str, Any]
) -> None:
    rejected(world.api, 401, code, "POST", path, body, headers=headers())


@pytest.mark.parametrize(
    ("method", "path", "body", "raw"),
    [
        pytest.param("POST", "/orders", order_body(quantity=0), None, id="order-invalid-field"),
        pytest.param("POST", "/orders", None, b"not json", id="order-malformed"),
        pytest.param("POST", "/orders", None, b'{"quantity": NaN}', id="order-nan"),
        pytest.param("POST", "/orders", {"bogus": True}, None, id="order-unknown-field"),
        pytest.param("POST", "/markets", {"kind": "stock"}, None, id="listing-invalid"),
        pytest.param("POST", f"/accounts/{ALICE}/deposits", None, b"{", id="deposit-malformed"),
        pytest.param("POST", "/accounts/not a player/deposits", DEPOSIT, None, id="deposit-bad-path"),
        pytest.param("GET", "/orders/not-a-uuid", None, None, id="order-id-not-uuid7"),
        pytest.param("GET", "/orders", None, None, id="list-orders"),
        pytest.param("DELETE", f"/orders/{new_order_id()}", None, None, id="cancel"),
    ],
)
def test_authentication_comes_before_validation(
    world: World, method: str, path: str, body: Any, raw: bytes | None
) -> None:
    """An unauthenticated request is 401 whatever else is wrong with it: not 400, 404 or 422."""
    rejected(world.api, 401, "missing_token", method, path, body, raw=raw)
    rejected(world.api, 401, "invalid_token", method, path, body, raw=raw, token="garbage")


def test_bad_query_needs_a_token_first(world: World) -> None:
    rejected(world.api, 401, "missing_token", "GET", "/orders", query={"limit": "0", "status": "bogus"})


def test_an_unknown_route_needs_a_token_first(world: World) -> None:
    """Deny by default: a path that names no route still needs a token before it is a 404."""
    rejected(world.api, 401, "missing_token", "GET", "/nope")
    rejected(world.api, 404, "no_route", "GET", "/nope", player=ALICE)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/accounts/bob/fills", 404, "no_route"),
        ("POST", "/accounts/bob/deposit", 404, "no_route"),
        ("GET", "/Accounts/bob", 404, "no_route"),
        ("PUT", "/accounts/bob/deposits", 405, "method_not_allowed"),
    ],
)
def test_the_game_servers_token_on_a_route_nobody_serves_gets_404_or_405(
    world: World, method: str, path: str, status: int, code: str
) -> None:
    """Either scope's token learns that no route serves the request (an admin's typo was answered
    403 "needs scope 'trade'", pointing at the wrong token: a reviewer's find)."""
    rejected(world.api, status, code, method, path, {"asset": "coins"}, admin=True)


# --------------------------------------------------------------------------------------------------
# 403 wrong_scope
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/markets", LISTING, id="list-market"),
        pytest.param(f"/accounts/{ALICE}/deposits", DEPOSIT, id="deposit-to-self"),
        pytest.param(f"/accounts/{BOB}/deposits", DEPOSIT, id="deposit-to-other"),
        pytest.param(f"/accounts/{ALICE}/withdrawals", WITHDRAWAL, id="withdrawal"),
        pytest.param("/events/goals", GOAL, id="goal"),
    ],
)
def test_trade_token_on_an_admin_route_is_403(world: World, path: str, body: dict[str, Any]) -> None:
    message = rejected(world.api, 403, "wrong_scope", "POST", path, body, player=ALICE)
    assert "admin" in message


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/orders", ORDER, id="place-order"),
        pytest.param("GET", "/accounts/me", None, id="my-account"),
        pytest.param("GET", "/orders", None, id="list-orders"),
        pytest.param("GET", "/orders/{order}", None, id="get-order"),
        pytest.param("DELETE", "/orders/{order}", None, id="cancel-order"),
    ],
)
def test_admin_token_on_a_trade_route_is_403(world: World, method: str, path: str, body: Any) -> None:
    """The game server may not trade, not even with a token whose ``sub`` is the player's."""
    target = path.format(order=world.order_id)
    as_alice = issue_token(SECRET, ALICE, Scope.ADMIN)
    for token in (issue_token(SECRET, "game-server", Scope.ADMIN), as_alice):
        message = rejected(world.api, 403, "wrong_scope", method, target, body, token=token)
        assert "trade" in message
    assert world.api.call("GET", f"/orders/{world.order_id}", player=ALICE).body["status"] == "open"


@pytest.mark.parametrize(
    ("token", "path", "raw"),
    [
        pytest.param(Scope.TRADE, "/markets", b"not json", id="trade-on-markets-malformed"),
        pytest.param(
            Scope.TRADE, f"/accounts/{ALICE}/deposits", b'{"quantity": 1e9}', id="trade-deposit-exp"
        ),
        pytest.param(Scope.ADMIN, "/orders", b'{"quantity": NaN}', id="admin-order-nan"),
        pytest.param(Scope.ADMIN, "/orders", b'{"quantity": 0}', id="admin-order-invalid"),
    ],
)
def test_scope_comes_before_parsing_and_validation(world: World, token: Scope, path: str, raw: bytes) -> None:
    rejected(world.api, 403, "wrong_scope", "POST", path, raw=raw, token=issue_token(SECRET, ALICE, token))


# --------------------------------------------------------------------------------------------------
# 404
# --------------------------------------------------------------------------------------------------


def test_order_for_an_unlisted_material_is_404(world: World) -> None:
    message = rejected(
        world.api, 404, "unknown_material", "POST", "/orders", order_body(material="barley"), player=ALICE
    )
    assert "barley" in message


@pytest.mark.parametrize("path", ["/markets/nope", "/markets/nope/book", "/markets/nope/trades"])
def test_unlisted_market_reads_are_404(world: World, path: str) -> None:
    rejected(world.api, 404, "unknown_material", "GET", path)
    rejected(world.api, 404, "unknown_material", "GET", path, player=ALICE)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(f"/accounts/{ALICE}/deposits", {**DEPOSIT, "asset": "barley"}, id="deposit"),
        pytest.param(f"/accounts/{ALICE}/withdrawals", {**WITHDRAWAL, "asset": "barley"}, id="withdrawal"),
        pytest.param("/events/goals", {**GOAL, "material": "pele"}, id="goal"),
    ],
)
def test_admin_moves_on_an_unlisted_material_are_404(world: World, path: str, body: dict[str, Any]) -> None:
    rejected(world.api, 404, "unknown_material", "POST", path, body, admin=True)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_order_path_that_is_no_order_id_says_which_id_to_send(world: World, method: str) -> None:
    message = rejected(world.api, 422, "invalid_field", method, "/orders/my-own-id-7", player=ALICE)
    assert (
        message
        == "orderId: not an order id: send the orderId POST /orders answered (a clientOrderId is not one)"
    )


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_order_id_is_404(world: World, method: str) -> None:
    unknown = new_order_id()
    message = rejected(world.api, 404, "order_not_found", method, f"/orders/{unknown}", player=ALICE)
    assert unknown in message


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_players_order_looks_exactly_like_an_unknown_one(world: World, method: str) -> None:
    unknown = new_order_id()
    before = world.api.snapshot()
    foreign = world.api.call(method, f"/orders/{world.order_id}", player=BOB)
    missing = world.api.call(method, f"/orders/{unknown}", player=BOB)
    assert world.api.snapshot() == before
    assert_error(foreign, 404, "order_not_found")
    assert_error(missing, 404, "order_not_found")
    assert foreign.body == json.loads(json.dumps(missing.body).replace(unknown, world.order_id))
    owner = world.api.call("GET", f"/orders/{world.order_id}", player=ALICE)
    assert (owner.status, owner.body["status"], owner.body["remainingQuantity"]) == (200, "open", 10)
    assert world.api.balances(ALICE)["coins"] == {"available": ALICE_COINS - RESERVED, "reserved": RESERVED}


def test_another_players_orders_are_not_listed(world: World) -> None:
    reply = world.api.call("GET", "/orders", player=BOB)
    assert (reply.status, reply.body["orders"]) == (200, [])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/nope", id="get-nope"),
        pytest.param("GET", "/accounts/me/", id="trailing-slash"),
        pytest.param("GET", "/Orders", id="case"),
    ],
)
def test_unknown_route_is_404(world: World, method: str, path: str) -> None:
    rejected(world.api, 404, "no_route", method, path.format(order=world.order_id), player=ALICE)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("PUT", "/orders", "GET, HEAD, POST", id="put-orders"),
        pytest.param("PATCH", "/orders/{order}", "DELETE, GET, HEAD", id="patch-order"),
        pytest.param("POST", "/orders/{order}", "DELETE, GET, HEAD", id="post-order-id"),
        pytest.param("TRACE", "/orders", "GET, HEAD, POST", id="trace-orders"),
        pytest.param("PUT", "/accounts/bob/deposits", "POST", id="put-deposits"),
    ],
)
def test_a_method_the_path_does_not_serve_is_405_with_allow(
    world: World, method: str, path: str, allow: str
) -> None:
    before = world.api.snapshot()
    reply = world.api.call(method, path.format(order=world.order_id), {"x": 1}, player=ALICE)
    assert_error(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == allow
    assert world.api.snapshot() == before


def test_a_public_path_answers_405_to_another_method_once_the_token_is_good(world: World) -> None:
    """``DELETE /markets/wheat`` needs a trade token like any unknown route; with one, it is a 405."""
    rejected(world.api, 401, "missing_token", "DELETE", "/markets/wheat")
    reply = world.api.call("DELETE", "/markets/wheat", player=ALICE)
    assert_error(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/markets", "/markets/wheat", "/openapi.json", "/orders", "/accounts/me"])
def test_a_head_is_answered_as_the_get_of_the_same_path(world: World, path: str) -> None:
    # Public reads need no token for HEAD either; a player's reads need the same token as their GET
    player = ALICE if path in ("/orders", "/accounts/me") else None
    if player is not None:
        rejected(world.api, 401, "missing_token", "HEAD", path)
    head = world.api.call("HEAD", path, player=player)
    get = world.api.call("GET", path, player=player)
    assert head.status == get.status == 200
    assert head.headers.get("Content-Type") == get.headers.get("Content-Type")


def test_someone_elses_account_needs_an_admin_token(world: World) -> None:
    rejected(world.api, 403, "wrong_scope", "GET", f"/accounts/{BOB}", player=ALICE)
    rejected(world.api, 403, "wrong_scope", "GET", f"/accounts/{BOB}/orders", player=ALICE)


@pytest.mark.parametrize(
    "path",
    ["/markets/", "//markets", "/events/goals/", "/Markets"],
)
def test_admin_paths_spelled_differently_do_not_reach_a_handler_with_a_trade_token(
    world: World, path: str
) -> None:
    """The scope is decided from the raw path; a spelling that dodges the admin check must also miss
    every route, so a trade token can never list a market or post a goal."""
    body = GOAL if "goals" in path else LISTING
    rejected(world.api, 404, "no_route", "POST", path, body, player=ALICE)


# --------------------------------------------------------------------------------------------------
# 409
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("player", "body"),
    [
        pytest.param(
            ALICE, order_body(quantity=ALICE_COINS - RESERVED + 1, pricePerUnit=1), id="buy-one-over"
        ),
        pytest.param(ALICE, order_body(quantity=ALICE_COINS, pricePerUnit=1), id="buy-needs-reserved-coins"),
        pytest.param(ALICE, order_body(quantity=1_000, pricePerUnit=999_999), id="buy-far-over"),
        pytest.param(ALICE, order_body(type="Sell", quantity=ALICE_WHEAT + 1), id="sell-one-over"),
        pytest.param(ALICE, order_body(type="Sell", material=MESSI, quantity=1), id="sell-unheld-material"),
        pytest.param(BOB, order_body(type="Sell", quantity=1), id="sell-no-items"),
        pytest.param(CAROL, order_body(quantity=1, pricePerUnit=1), id="buy-no-account"),
        pytest.param(CAROL, order_body(type="Sell", quantity=1), id="sell-no-account"),
    ],
)
def test_order_over_the_available_balance_is_409(world: World, player: str, body: dict[str, Any]) -> None:
    rejected(world.api, 409, "insufficient_balance", "POST", "/orders", body, player=player)


def test_order_for_exactly_the_available_balance_is_accepted(fresh: World) -> None:
    reply = fresh.api.order(ALICE, "Buy", ALICE_COINS - RESERVED, 1)
    assert reply.status == 202
    assert fresh.api.balances(ALICE)["coins"] == {"available": 0, "reserved": ALICE_COINS}


@pytest.mark.parametrize(
    ("player", "asset", "quantity"),
    [
        pytest.param(ALICE, "coins", ALICE_COINS - RESERVED + 1, id="coins-one-over-available"),
        pytest.param(ALICE, "coins", ALICE_COINS, id="coins-all-including-reserved"),
        pytest.param(ALICE, "wheat", ALICE_WHEAT + 1, id="wheat-one-over"),
        pytest.param(ALICE, MESSI, 1, id="unheld-material"),
        pytest.param(CAROL, "coins", 1, id="no-account"),
    ],
)
def test_withdrawal_over_the_available_amount_is_409(
    world: World, player: str, asset: str, quantity: int
) -> None:
    body = {"withdrawalId": "w-over", "asset": asset, "quantity": quantity}
    rejected(
        world.api, 409, "insufficient_balance", "POST", f"/accounts/{player}/withdrawals", body, admin=True
    )


def test_a_rejected_withdrawal_does_not_use_up_its_id(fresh: World) -> None:
    api = fresh.api
    body = {"withdrawalId": "w-over", "asset": "coins", "quantity": ALICE_COINS}
    rejected(api, 409, "insufficient_balance", "POST", f"/accounts/{ALICE}/withdrawals", body, admin=True)
    fits = api.call("POST", f"/accounts/{ALICE}/withdrawals", {**body, "quantity": 1}, admin=True)
    assert fits.status == 201
    assert fits.body["balances"]["coins"] == {"available": ALICE_COINS - RESERVED - 1, "reserved": RESERVED}


def test_reserved_items_can_never_be_withdrawn(fresh: World) -> None:
    """A resting sell reserves items; withdrawing them is 409 until the order is cancelled."""
    api = fresh.api
    sell = api.order(ALICE, "Sell", 30, 9)
    assert sell.status == 202
    assert api.balances(ALICE)["wheat"] == {"available": 70, "reserved": 30}
    body = {"withdrawalId": "w-wheat", "asset": "wheat", "quantity": 71}
    rejected(api, 409, "insufficient_balance", "POST", f"/accounts/{ALICE}/withdrawals", body, admin=True)
    everything = {**body, "quantity": ALICE_WHEAT}
    rejected(
        api, 409, "insufficient_balance", "POST", f"/accounts/{ALICE}/withdrawals", everything, admin=True
    )
    took = api.call("POST", f"/accounts/{ALICE}/withdrawals", {**body, "quantity": 70}, admin=True)
    assert took.status == 201
    assert took.body["balances"]["wheat"] == {"available": 0, "reserved": 30}
    assert api.call("DELETE", f"/orders/{sell.body['orderId']}", player=ALICE).status == 200
    assert api.balances(ALICE)["wheat"] == {"available": 30, "reserved": 0}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"quantity": 3}, id="quantity"),
        pytest.param({"pricePerUnit": 8}, id="price"),
        pytest.param({"type": "Sell"}, id="side"),
        pytest.param({"timeInForce": "IOC"}, id="time-in-force"),
        pytest.param({"expiresAt": "2099-01-01T00:00:00Z"}, id="expiry-added"),
        pytest.param({"material": MESSI}, id="material"),
    ],
)
def test_client_order_id_reused_with_a_different_body_is_409(fresh: World, change: dict[str, Any]) -> None:
    api = fresh.api
    first = api.call("POST", "/orders", order_body(clientOrderId="c-1"), player=ALICE)
    assert first.status == 202
    rejected(
        api,
        409,
        "client_order_id_reused",
        "POST",
        "/orders",
        order_body(clientOrderId="c-1", **change),
        player=ALICE,
    )


def test_a_resend_names_its_expiry_as_the_first_answer_did_whatever_the_offset(fresh: World) -> None:
    # Given a GTD order whose expiry is sent to the microsecond, two hours east of UTC
    api = fresh.api
    expiry = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=123_456)
    body = order_body(
        clientOrderId="c-gtd", expiresAt=expiry.astimezone(timezone(timedelta(hours=2))).isoformat()
    )
    first = api.call("POST", "/orders", body, player=ALICE)
    # When it is sent again with the same instant written in UTC
    again = api.call("POST", "/orders", body | {"expiresAt": expiry.isoformat()}, player=ALICE)
    stored = api.call("GET", f"/orders/{first.body['orderId']}", player=ALICE)
    # Then the resend is the same order, and every answer names one instant: in UTC, to the
    # millisecond the exchange keeps, never after the one asked for
    assert (first.status, again.status) == (202, 200)
    kept = expiry.replace(microsecond=123_000).isoformat().replace("+00:00", "Z")
    assert first.body["expiresAt"] == again.body["expiresAt"] == stored.body["expiresAt"] == kept


def test_client_order_id_belongs_to_one_player(fresh: World) -> None:
    """Bob may use the clientOrderId Alice used: a different player's order, not a conflict."""
    api = fresh.api
    assert api.call("POST", "/orders", order_body(clientOrderId="c-1"), player=ALICE).status == 202
    bobs = api.call("POST", "/orders", order_body(clientOrderId="c-1", pricePerUnit=3), player=BOB)
    assert bobs.status == 202


def test_cancelling_an_order_again_answers_as_the_first_cancel_did(fresh: World) -> None:
    """A retry whose first answer was lost (issue 10): the cancelled order again, released once."""
    api = fresh.api
    first = api.call("DELETE", f"/orders/{fresh.order_id}", player=ALICE)
    assert (first.status, first.body["status"]) == (200, "cancelled")
    assert api.balances(ALICE)["coins"] == {"available": ALICE_COINS, "reserved": 0}
    before = api.snapshot()
    again = api.call("DELETE", f"/orders/{fresh.order_id}", player=ALICE)
    assert (again.status, again.body) == (200, first.body)
    assert api.snapshot() == before


def test_cancelling_another_players_cancelled_order_is_still_404(fresh: World) -> None:
    assert fresh.api.call("DELETE", f"/orders/{fresh.order_id}", player=ALICE).status == 200
    rejected(fresh.api, 404, "order_not_found", "DELETE", f"/orders/{fresh.order_id}", player=BOB)


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        pytest.param("deposits", {"quantity": 6}, id="deposit-quantity"),
        pytest.param("deposits", {"asset": "wheat"}, id="deposit-asset"),
        pytest.param("withdrawals", {"quantity": 6}, id="withdrawal-quantity"),
        pytest.param("withdrawals", {"asset": "wheat"}, id="withdrawal-asset"),
    ],
)
def test_movement_id_reused_with_a_different_movement_is_409(
    fresh: World, kind: str, change: dict[str, Any]
) -> None:
    api = fresh.api
    key = "depositId" if kind == "deposits" else "withdrawalId"
    body = {key: "m-1", "asset": "coins", "quantity": 5}
    assert api.call("POST", f"/accounts/{ALICE}/{kind}", body, admin=True).status == 201
    rejected(
        api, 409, "movement_id_reused", "POST", f"/accounts/{ALICE}/{kind}", {**body, **change}, admin=True
    )


def test_withdrawal_id_reused_over_the_balance_is_still_a_reuse(fresh: World) -> None:
    """A withdrawal id reused for more than is available is the reuse (409 movement_id_reused)."""
    api = fresh.api
    body = {"withdrawalId": "w-1", "asset": "coins", "quantity": 5}
    assert api.call("POST", f"/accounts/{ALICE}/withdrawals", body, admin=True).status == 201
    bigger = {**body, "quantity": ALICE_COINS * 2}
    rejected(api, 409, "movement_id_reused", "POST", f"/accounts/{ALICE}/withdrawals", bigger, admin=True)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"minute": 11}, id="minute"),
        pytest.param({"matchId": "m-2"}, id="match"),
    ],
)
def test_event_id_reused_with_a_different_goal_is_409(fresh: World, change: dict[str, Any]) -> None:
    api = fresh.api
    assert api.call("POST", "/events/goals", GOAL, admin=True).status == 202
    rejected(api, 409, "event_id_reused", "POST", "/events/goals", {**GOAL, **change}, admin=True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"material": "wheat", "kind": "commodity", "name": "Durum"}, id="name"),
        pytest.param({"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 300}, id="fee"),
        pytest.param(
            {
                "material": "wheat",
                "kind": "footballer",
                "name": "Wheat",
                "team": "Kansas",
                "personId": 7,
                "baseValue": 10,
                "goalValue": 1,
            },
            id="kind",
        ),
        pytest.param(
            {
                "material": MESSI,
                "kind": "footballer",
                "name": "Lionel Messi",
                "team": "Argentina",
                "personId": 44,
                "baseValue": 1000,
                "goalValue": 200,
            },
            id="footballer-goal-value",
        ),
    ],
)
def test_listing_an_existing_material_differently_is_409(world: World, body: dict[str, Any]) -> None:
    message = rejected(world.api, 409, "market_exists", "POST", "/markets", body, admin=True)
    assert body["material"] in message


# --------------------------------------------------------------------------------------------------
# 413 body_too_large
# --------------------------------------------------------------------------------------------------

TOO_LARGE: Final = padded(ORDER, MAX_BODY_BYTES + 1)


@pytest.mark.parametrize(
    ("call", "raw"),
    [
        pytest.param({"player": ALICE}, TOO_LARGE, id="trade-token"),
        pytest.param({}, TOO_LARGE, id="no-token"),
        pytest.param({"token": "garbage"}, TOO_LARGE, id="garbage-token"),
        pytest.param({"admin": True}, TOO_LARGE, id="wrong-scope"),
        pytest.param({"player": ALICE}, b"x" * (MAX_BODY_BYTES + 1), id="malformed-too"),
        pytest.param({"player": ALICE}, b"\xff" * (MAX_BODY_BYTES + 1), id="invalid-utf8-base64-path"),
        pytest.param(
            {"player": ALICE},
            json.dumps(order_body(clientOrderId="c", note="é" * 2100), ensure_ascii=False).encode(),
            id="bytes-not-characters",
        ),
    ],
)
def test_body_over_4_kib_is_413_before_anything_else(world: World, call: dict[str, Any], raw: bytes) -> None:
    assert len(raw) > MAX_BODY_BYTES
    message = rejected(world.api, 413, "body_too_large", "POST", "/orders", raw=raw, **call)
    assert str(len(raw)) in message


@pytest.mark.parametrize(
    "path",
    [
        f"/accounts/{ALICE}/deposits",
        "/markets",
        "/events/goals",
        "/orders/0190163d-8694-739b-aea5-966c26c8971c",
    ],
)
def test_body_over_4_kib_is_413_on_every_route(world: World, path: str) -> None:
    rejected(world.api, 413, "body_too_large", "POST", path, raw=TOO_LARGE, admin=True)


def test_body_over_4_kib_is_413_even_on_a_public_read(world: World) -> None:
    rejected(world.api, 413, "body_too_large", "GET", "/markets", raw=TOO_LARGE)


def test_body_of_exactly_4_kib_is_accepted(fresh: World) -> None:
    raw = padded(order_body(clientOrderId="exactly-4k"), MAX_BODY_BYTES)
    assert len(raw) == MAX_BODY_BYTES
    reply = fresh.api.call("POST", "/orders", raw=raw, player=ALICE)
    assert reply.status == 202, reply.body


# --------------------------------------------------------------------------------------------------
# 422
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(order_body(quantity=0), "quantity", id="quantity-zero"),
        pytest.param(order_body(quantity=-1), "quantity", id="quantity-negative"),
        pytest.param(order_body(quantity=1_000_000_001), "quantity", id="quantity-over-max"),
        pytest.param(order_body(pricePerUnit=0), "pricePerUnit", id="price-zero"),
        pytest.param(order_body(pricePerUnit=1_000_000_000_000), "pricePerUnit", id="price-one-trillion"),
        pytest.param(order_body(quantity=10.5), "quantity", id="quantity-fraction"),
        pytest.param(order_body(quantity=10.0), "quantity", id="quantity-whole-float"),
        pytest.param(order_body(pricePerUnit=7.25), "pricePerUnit", id="price-fraction"),
        pytest.param(order_body(quantity="10"), "quantity", id="quantity-string"),
        pytest.param(order_body(pricePerUnit="7"), "pricePerUnit", id="price-string"),
        pytest.param(order_body(quantity=True), "quantity", id="quantity-boolean"),
        pytest.param(order_body(quantity=None), "quantity", id="quantity-missing"),
        pytest.param(order_body(pricePerUnit=None), "pricePerUnit", id="price-missing"),
        pytest.param(order_body(type=None), "type", id="type-missing"),
        pytest.param(order_body(material=None), "material", id="material-missing"),
        pytest.param(order_body(colour="red"), "colour", id="unknown-field"),
        pytest.param(order_body(price_per_unit=7), "price_per_unit", id="snake-case-spelling"),
        pytest.param(order_body(type="buy"), "type", id="type-lower-case"),
        pytest.param(order_body(type="Bid"), "type", id="type-unknown"),
        pytest.param(order_body(material="Wheat"), "material", id="material-bad-pattern"),
        pytest.param(order_body(material=""), "material", id="material-empty"),
        pytest.param(order_body(timeInForce="DAY"), "timeInForce", id="time-in-force-unknown"),
        pytest.param(order_body(clientOrderId="has space"), "clientOrderId", id="client-order-id-pattern"),
        pytest.param(order_body(clientOrderId="x" * 65), "clientOrderId", id="client-order-id-too-long"),
        pytest.param(order_body(expiresAt=4_102_444_800), "expiresAt", id="expiry-unix-seconds"),
        pytest.param(order_body(expiresAt="2099-01-01T00:00:00"), "expiresAt", id="expiry-no-timezone"),
        pytest.param(order_body(expiresAt="tomorrow"), "expiresAt", id="expiry-not-a-date"),
        pytest.param(
            order_body(timeInForce="IOC", expiresAt="2099-01-01T00:00:00Z"), "expiresAt", id="expiry-on-ioc"
        ),
    ],
)
def test_invalid_order_field_is_422_naming_it(world: World, body: dict[str, Any], field: str) -> None:
    message = rejected(world.api, 422, "invalid_field", "POST", "/orders", body, player=ALICE)
    assert field in message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"Buy"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"{}", id="empty-object"),
    ],
)
def test_json_that_is_not_an_order_object_is_422(world: World, raw: bytes) -> None:
    rejected(world.api, 422, "invalid_field", "POST", "/orders", raw=raw, player=ALICE)


def test_order_with_an_expiry_in_the_past_is_422(world: World) -> None:
    body = order_body(expiresAt="2000-01-01T00:00:00Z")
    message = rejected(world.api, 422, "expiry_in_past", "POST", "/orders", body, player=ALICE)
    assert "expiresAt" in message


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        pytest.param("/markets/wheat/book", {"depth": "0"}, "depth", id="depth-0"),
        pytest.param("/markets/wheat/book", {"depth": "101"}, "depth", id="depth-101"),
        pytest.param("/markets/wheat/book", {"depth": "ten"}, "depth", id="depth-word"),
        pytest.param("/markets/wheat/book", {"depth": "1.5"}, "depth", id="depth-fraction"),
        pytest.param("/markets/wheat/trades", {"limit": "0"}, "limit", id="trades-limit-0"),
        pytest.param("/markets/wheat/trades", {"limit": "201"}, "limit", id="trades-limit-201"),
        pytest.param("/markets/wheat/trades", {"limit": "-5"}, "limit", id="trades-limit-negative"),
    ],
)
def test_invalid_market_query_is_422_naming_it(
    world: World, path: str, query: dict[str, str], field: str
) -> None:
    message = rejected(world.api, 422, "invalid_field", "GET", path, query=query)
    assert field in message


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "101"}, "limit", id="limit-101"),
        pytest.param({"limit": "many"}, "limit", id="limit-word"),
        # what Python's int() and pydantic read as numbers, and no client means to send
        pytest.param({"limit": "1_0"}, "limit", id="limit-underscore"),
        pytest.param({"limit": "+5"}, "limit", id="limit-plus"),
        pytest.param({"limit": " 5"}, "limit", id="limit-space"),
        pytest.param({"status": "bogus"}, "status", id="status-unknown"),
        pytest.param({"status": "OPEN"}, "status", id="status-upper-case"),
        pytest.param({"cursor": "c" * 1025}, "cursor", id="cursor-too-long"),
    ],
)
def test_invalid_orders_query_is_422_naming_it(world: World, query: dict[str, str], field: str) -> None:
    message = rejected(world.api, 422, "invalid_field", "GET", "/orders", query=query, player=ALICE)
    assert field in message


def test_a_cursor_the_api_never_returned_is_422(world: World) -> None:
    rejected(world.api, 422, "bad_cursor", "GET", "/orders", query={"cursor": "bogus"}, player=ALICE)


def encoded(value: Any) -> str:
    """``value`` as the API encodes a cursor: URL-safe base64 of its JSON."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(encoded([]), id="array"),
        pytest.param(encoded(5), id="number"),
        pytest.param(encoded("ORDER#x"), id="string"),
        pytest.param(encoded(None), id="null"),
    ],
)
def test_a_cursor_that_is_json_but_not_a_key_is_422(world: World, cursor: str) -> None:
    rejected(world.api, 422, "bad_cursor", "GET", "/orders", query={"cursor": cursor}, player=ALICE)


def test_another_players_cursor_shows_none_of_their_orders(fresh: World) -> None:
    """Alice's cursor names her partition; handed to Bob's query it must not page through her orders.
    (moto answers an empty page; DynamoDB itself refuses a start key outside the key condition.)"""
    api = fresh.api
    for _ in range(2):
        assert api.order(ALICE, "Buy", 1, 1).status == 202
    page = api.call("GET", "/orders", query={"limit": "1"}, player=ALICE)
    assert page.status == 200
    assert page.body["nextCursor"]
    hers = {order["orderId"] for order in api.call("GET", "/orders", player=ALICE).body["orders"]}
    before = api.snapshot()
    reply = api.call("GET", "/orders", query={"cursor": page.body["nextCursor"]}, player=BOB)
    assert api.snapshot() == before
    if reply.status == 200:
        assert not hers & {order["orderId"] for order in reply.body["orders"]}
    else:
        assert_error(reply, 422, "bad_cursor")


NOT_UUID: Final = [
    pytest.param("not-a-uuid", id="word"),
    pytest.param("123", id="number"),
    pytest.param(new_order_id().replace("-", ""), id="no-hyphens"),
]
OTHER_UUID: Final = [
    pytest.param("3f2504e0-4f89-41d3-9a0c-0305e82c3301", id="uuid4"),
    pytest.param("00000000-0000-0000-0000-000000000000", id="nil"),
    pytest.param(new_order_id().upper(), id="upper-case-uuid7"),
]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("order_id", NOT_UUID)
def test_an_order_id_that_is_not_a_uuid_is_422(world: World, method: str, order_id: str) -> None:
    rejected(world.api, 422, "invalid_field", method, f"/orders/{order_id}", player=ALICE)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("order_id", OTHER_UUID)
def test_a_uuid_intake_never_assigned_is_an_unknown_order(world: World, method: str, order_id: str) -> None:
    """DESIGN §5: an unknown id is a 404; a UUID of another version, or in upper case, is one (a
    black-box client testing "unknown" with ``uuid4()`` met a 422)."""
    rejected(world.api, 404, "order_not_found", method, f"/orders/{order_id}", player=ALICE)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param("GET", "/orders/not-a-uuid", None, "orderId", id="order-id"),
        pytest.param("POST", "/accounts/not%20a%20player/deposits", DEPOSIT, "playerId", id="player-id"),
    ],
)
def test_invalid_path_parameter_message_names_the_wire_field(
    world: World, method: str, path: str, body: Any, field: str
) -> None:
    is_admin = method == "POST"
    reply = world.api.call(method, path, body, player=None if is_admin else ALICE, admin=is_admin)
    assert field in assert_error(reply, 422, "invalid_field")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param("/deposits", {**DEPOSIT, "quantity": 0}, "quantity", id="deposit-zero"),
        pytest.param("/deposits", {**DEPOSIT, "quantity": 10**18 + 1}, "quantity", id="deposit-over-max"),
        pytest.param("/deposits", {**DEPOSIT, "quantity": 5.0}, "quantity", id="deposit-float"),
        pytest.param("/deposits", {**DEPOSIT, "asset": "Coins"}, "asset", id="deposit-asset-pattern"),
        pytest.param("/deposits", {"asset": "coins", "quantity": 5}, "depositId", id="deposit-id-missing"),
        pytest.param(
            "/deposits", {**DEPOSIT, "withdrawalId": "w"}, "withdrawalId", id="deposit-unknown-field"
        ),
        pytest.param("/withdrawals", {**WITHDRAWAL, "quantity": -5}, "quantity", id="withdrawal-negative"),
        pytest.param("/withdrawals", DEPOSIT, "withdrawalId", id="withdrawal-with-deposit-body"),
    ],
)
def test_invalid_movement_field_is_422_naming_it(
    world: World, path: str, body: dict[str, Any], field: str
) -> None:
    message = rejected(world.api, 422, "invalid_field", "POST", f"/accounts/{ALICE}{path}", body, admin=True)
    assert field in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({**LISTING, "material": "coins"}, "material", id="material-coins"),
        pytest.param({**LISTING, "material": "Corn"}, "material", id="material-pattern"),
        pytest.param({**LISTING, "kind": "stock"}, "kind", id="kind-unknown"),
        pytest.param({**LISTING, "feeBps": 10_001}, "feeBps", id="fee-over-100-percent"),
        pytest.param({**LISTING, "name": "  "}, "name", id="name-blank"),
        pytest.param({**LISTING, "kind": "footballer"}, "team", id="footballer-without-team"),
    ],
)
def test_invalid_listing_field_is_422_naming_it(world: World, body: dict[str, Any], field: str) -> None:
    message = rejected(world.api, 422, "invalid_field", "POST", "/markets", body, admin=True)
    assert field in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({**GOAL, "minute": 151}, "minute", id="minute-151"),
        pytest.param({**GOAL, "minute": -1}, "minute", id="minute-negative"),
        pytest.param({**GOAL, "minute": "10"}, "minute", id="minute-string"),
        pytest.param({**GOAL, "eventId": ""}, "eventId", id="event-id-empty"),
    ],
)
def test_invalid_goal_field_is_422_naming_it(world: World, body: dict[str, Any], field: str) -> None:
    message = rejected(world.api, 422, "invalid_field", "POST", "/events/goals", body, admin=True)
    assert field in message


def test_goal_for_a_commodity_is_422(world: World) -> None:
    message = rejected(
        world.api, 422, "not_a_footballer", "POST", "/events/goals", {**GOAL, "material": "wheat"}, admin=True
    )
    assert "wheat" in message


# --------------------------------------------------------------------------------------------------
# Idempotency: the success side of the same rules
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resend",
    [
        pytest.param(order_body(clientOrderId="c-1"), id="same-body"),
        pytest.param(dict(reversed(list(order_body(clientOrderId="c-1").items()))), id="keys-reordered"),
        pytest.param(order_body(clientOrderId="c-1", timeInForce="GTC"), id="default-spelled-out"),
    ],
)
def test_same_client_order_id_and_body_returns_the_original_order(
    fresh: World, resend: dict[str, Any]
) -> None:
    api = fresh.api
    first = api.call("POST", "/orders", order_body(clientOrderId="c-1"), player=ALICE)
    assert first.status == 202
    reserved = RESERVED + 2 * 7
    assert api.balances(ALICE)["coins"] == {"available": ALICE_COINS - reserved, "reserved": reserved}
    before = api.snapshot()
    again = api.call("POST", "/orders", resend, player=ALICE)
    assert (again.status, again.body) == (200, first.body)
    assert api.snapshot() == before
    listed = api.call("GET", "/orders", player=ALICE).body["orders"]
    assert [order["orderId"] for order in listed].count(first.body["orderId"]) == 1
    assert len(listed) == 2


def test_replay_returns_the_original_even_when_it_no_longer_fits_or_is_cancelled(fresh: World) -> None:
    """The resend is answered from the record: not re-reserved (no 409), not a second order."""
    api = fresh.api
    body = order_body(clientOrderId="c-all", quantity=ALICE_COINS - RESERVED, pricePerUnit=1)
    first = api.call("POST", "/orders", body, player=ALICE)
    assert first.status == 202
    assert api.balances(ALICE)["coins"]["available"] == 0
    again = api.call("POST", "/orders", body, player=ALICE)
    assert (again.status, again.body["orderId"]) == (200, first.body["orderId"])
    assert api.call("DELETE", f"/orders/{first.body['orderId']}", player=ALICE).status == 200
    before = api.snapshot()
    after_cancel = api.call("POST", "/orders", body, player=ALICE)
    assert (after_cancel.status, after_cancel.body["orderId"]) == (200, first.body["orderId"])
    assert after_cancel.body["status"] == "cancelled"
    assert api.snapshot() == before


@pytest.mark.parametrize("kind", ["deposits", "withdrawals"])
def test_same_movement_id_twice_moves_once(fresh: World, kind: str) -> None:
    api = fresh.api
    key = "depositId" if kind == "deposits" else "withdrawalId"
    body = {key: "m-twice", "asset": "coins", "quantity": 25}
    first = api.call("POST", f"/accounts/{ALICE}/{kind}", body, admin=True)
    assert first.status == 201
    expected = ALICE_COINS - RESERVED + (25 if kind == "deposits" else -25)
    assert first.body["balances"]["coins"] == {"available": expected, "reserved": RESERVED}
    before = api.snapshot()
    second = api.call("POST", f"/accounts/{ALICE}/{kind}", body, admin=True)
    assert (second.status, second.body) == (200, first.body)
    assert api.snapshot() == before


def test_same_goal_event_twice_is_accepted_once(fresh: World) -> None:
    api = fresh.api
    first = api.call("POST", "/events/goals", GOAL, admin=True)
    assert (first.status, first.body) == (202, GOAL)
    before = api.snapshot()
    second = api.call("POST", "/events/goals", GOAL, admin=True)
    assert (second.status, second.body) == (200, GOAL)
    assert api.snapshot() == before


def test_listing_the_same_market_twice_is_a_no_op(world: World) -> None:
    before = world.api.snapshot()
    again = world.api.list_market("wheat")
    assert (again.status, again.body["material"], again.body["name"]) == (200, "wheat", "Wheat")
    assert world.api.snapshot() == before


# --------------------------------------------------------------------------------------------------
# A replay after the original's expiry (needs a clock the test moves)
# --------------------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clocked(backend: Backend) -> tuple[Api, Clock]:
    clock = Clock(datetime(2030, 1, 1, tzinfo=UTC))
    return backend.api(clock), clock


def test_replay_after_the_expiry_passed_returns_the_original_order(clocked: tuple[Api, Clock]) -> None:
    api, clock = clocked
    assert api.list_market("wheat").status == 201
    assert api.deposit(ALICE, "coins", 100).status == 201
    body = order_body(clientOrderId="c-exp", expiresAt="2030-01-01T00:01:00Z")
    first = api.call("POST", "/orders", body, player=ALICE)
    assert first.status == 202
    clock.now += timedelta(minutes=2)
    before = api.snapshot()
    again = api.call("POST", "/orders", body, player=ALICE)
    assert (again.status, again.body["orderId"]) == (200, first.body["orderId"]), again.body
    assert api.snapshot() == before


@pytest.mark.parametrize("movement", ["deposits", "withdrawals"])
@pytest.mark.parametrize("name", ["me", "ME", "House.lionel-messi"])
def test_no_player_is_called_me_or_like_the_house(world: World, movement: str, name: str) -> None:
    """``/accounts/me`` is the caller's own account, so a player called ``me`` could be credited by
    the game server but never read back through ``GET /accounts/{playerId}`` (a reviewer's find):
    ``me`` is refused as a player id, in an admin route and as a token's subject, in any case, as is a
    name that would pass for the house's on a leaderboard (``House.lionel-messi``)."""
    key = "depositId" if movement == "deposits" else "withdrawalId"
    body = {key: "me-1", "asset": "coins", "quantity": 5}

    rejected(world.api, 403, "reserved_player", "POST", f"/accounts/{name}/{movement}", body, admin=True)
    rejected(world.api, 403, "reserved_player", "GET", "/orders", token=sign(claims(sub=name)))


def _footballer(**change: Any) -> dict[str, Any]:
    body = {
        "material": "new-striker",
        "kind": "footballer",
        "name": "New Striker",
        "team": "Anywhere",
        "baseValue": 1000,
        "goalValue": 100,
    }
    return body | change


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(_footballer(personId=10**38), "personId", id="person-id-dynamodb-cannot-store"),
        pytest.param(_footballer(personId=2**53), "personId", id="person-id-past-json-safe"),
        pytest.param(_footballer(house={"spread_bps": 10}), "house", id="house-by-python-name"),
        pytest.param(_footballer(name="Evil\x1b]0;pwned\x07"), "name", id="escape-sequence-in-name"),
        pytest.param(_footballer(team="Tab\tTeam"), "team", id="control-character-in-team"),
        pytest.param(_footballer(name="Evil\u009d0;pwned\u009c"), "name", id="c1-osc-in-name"),
        pytest.param(_footballer(name="Messi\u202eodanoD"), "name", id="bidi-override-in-name"),
        pytest.param(_footballer(team="\ufeff"), "team", id="only-a-byte-order-mark"),
        pytest.param(_footballer(name="\u3164"), "name", id="only-a-hangul-filler"),
        pytest.param(_footballer(name="x\u061cy"), "name", id="arabic-letter-mark"),
        pytest.param(
            {"material": "new-grain", "kind": "commodity", "name": "Grain\x00"}, "name", id="nul-in-name"
        ),
    ],
)
def test_a_listing_a_reviewer_crafted_is_422_naming_the_field(
    world: World, body: dict[str, Any], field: str
) -> None:
    """A reviewer's finds: a ``personId`` of 39 digits answered 500 (DynamoDB stores at most 38; the
    memory engine took it, so the engines disagreed); ``house`` took Python's snake_case names where
    every other field takes only the wire's; a name could carry an escape sequence that retitled the
    terminal of whoever ran ``mercato markets``. Each is a 422 naming the field, and nothing changes."""
    message = rejected(world.api, 422, "invalid_field", "POST", "/markets", body, admin=True)
    assert field in message


@pytest.mark.parametrize(
    ("name", "named"),
    [("Grain\u200b", "U+200B"), ("Evil\x1b]0;pwned\x07", "U+0007, U+001B"), ("Evil\u009dx", "U+009D")],
    ids=["zero-width-space", "escape-sequence", "c1-control"],
)
def test_a_name_s_hidden_characters_are_named_in_the_message_not_a_pattern(
    world: World, name: str, named: str
) -> None:
    """A reviewer's find: a name with a C0 or C1 control was refused with pydantic's pattern message,
    about 230 characters of escaped regular expression; a game server re-listing a market stored
    before the rule could not tell what to change. The message names the characters."""
    body = {"material": "grain-hidden", "kind": "commodity", "name": name}
    message = rejected(world.api, 422, "invalid_field", "POST", "/markets", body, admin=True)
    assert f"invisible characters ({named})" in message
    assert "pattern" not in message


def test_the_largest_person_id_and_a_name_with_unicode_are_listed(fresh: World) -> None:
    body = _footballer(personId=2**53 - 1, name="Lionel Andrés Messi ⚽", house={"spreadBps": 10})
    body["team"] = "England 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # tags: a flag
    assert fresh.api.call("POST", "/markets", body, admin=True).status == 201
