"""What a reviewer breaking this round's messages and tools found: a well-formed JWT with a bad claim
told it is no JWT, a listing's fields named after the union's tag, raw regexes in messages, a fixture
whose repr raised after a failed start, a request target the local server could not read left
unanswered, and list-catalog stopping at its first refusal."""

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mercato.intake.auth import authenticate
from mercato.local.cli import main
from mercato.local.stack import EmbeddedStack, PortInUse
from mercato.models.errors import Unauthenticated
from tests.e2e.test_http_framing import exchange

SECRET = "a-review-secret-that-is-long-enough-0123456789"
NOT_A_JWT = "the token is not a JWT (three base64url parts separated by dots)"


# -- 2fe9490: jwt.DecodeError is wider than "not three base64url parts" ---------------------------


def _signed(claims: Any) -> str:
    """A token signed with the server's own secret, its payload exactly ``claims`` (any JSON)."""

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    mac = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(mac)}"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice", "scope": "trade", "exp": "tomorrow"}, id="exp-not-a-number"),
        pytest.param(
            {"sub": "alice", "scope": "trade", "exp": int(time.time()) + 600, "nbf": "soon"},
            id="nbf-not-a-number",
        ),
        pytest.param(["alice", "trade"], id="payload-a-json-array"),
    ],
)
def test_a_well_formed_jwt_with_a_bad_claim_is_not_told_it_is_no_jwt(claims: Any) -> None:
    token = _signed(claims)
    assert token.count(".") == 2  # three base64url parts, signed with this server's secret
    with pytest.raises(Unauthenticated) as refused:
        authenticate(f"Bearer {token}", SECRET)
    assert refused.value.code == "invalid_token"
    # PyJWT raises DecodeError for a claim like these too: only an unreadable header is "not a JWT"
    assert str(refused.value) != NOT_A_JWT


# -- fd31912/2fe9490: _problem's wire names ------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as running:
        running.client("game-server", admin=True).list_market(
            {"material": "wheat", "kind": "commodity", "name": "Wheat"}
        )
        yield running


def _refusal(stack: EmbeddedStack, method: str, path: str, body: Any = None, admin: bool = False) -> str:
    from mercato.local.client import ApiError

    client = stack.client("game-server", admin=True) if admin else stack.client("alice")
    with pytest.raises(ApiError) as refused:
        client.request(method, path, body)
    assert refused.value.status == 422, refused.value.body
    return str(refused.value.body["error"]["message"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"kind": "commodity"}, "material", id="commodity"),
        pytest.param({"kind": "footballer", "material": "x", "name": "X"}, "team", id="footballer"),
    ],
)
def test_a_listing_s_missing_field_is_named_by_its_wire_name(
    stack: EmbeddedStack, body: Any, field: str
) -> None:
    message = _refusal(stack, "POST", "/markets", body, admin=True)
    # pydantic heads the field's location with the union's tag; the wire name has none
    assert f"{body['kind']}." not in message, message


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/markets/WHEAT", id="material"),
        pytest.param("/accounts/alice%2Cbob", id="player"),
        pytest.param("/fills?after=0%2C1", id="after-with-a-comma"),
    ],
)
def test_no_validation_message_is_a_raw_regex(stack: EmbeddedStack, path: str) -> None:
    """2fe9490 replaced the orderId's regex message; the same leak stays on every other pattern."""
    message = _refusal(stack, "GET", path, admin=path.startswith("/accounts"))
    assert "should match pattern '^" not in message, message


def test_a_repeated_parameter_and_a_comma_in_one_value_are_each_told_what_they_are(
    stack: EmbeddedStack,
) -> None:
    """Powertools tells the two apart (by the raw query string), so each gets its own message."""
    assert _refusal(stack, "GET", "/fills?after=0&after=1") == "after: given more than once; give it once"
    assert _refusal(stack, "GET", "/fills?after=0%2C1") == (
        "after: not a fills cursor: send 0, or the cursor the last answer gave"
    )


# -- 2fe9490: EmbeddedStack.__repr__ -------------------------------------------------------------


def test_the_repr_of_a_stack_whose_port_was_taken_does_not_raise() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = EmbeddedStack(engine="memory", port=port, catalog=False)
        with pytest.raises(PortInUse):
            stack.start()
        # start() had set _started before its server could be made
        text = repr(stack)
    assert "memory" in text


# -- c80309a: a request the local server cannot read gets no answer at all -----------------------


def test_an_absolute_form_target_urlsplit_refuses_is_answered_400(stack: EmbeddedStack) -> None:
    # urlsplit raises on it ("Invalid IPv6 URL"): the connection was dropped without an answer
    received = exchange(stack, b"GET http://[::1/markets HTTP/1.1\r\nHost: x\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400 "), received


# -- 2056cd1: list-catalog stops at the first listing the stage has differently ---------------------


def test_list_catalog_lists_the_rest_when_one_material_is_listed_differently(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mercato.local.catalog import DEFAULT_CATALOG

    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stage:
        # a deployed stage where the game already listed wheat its own way
        admin = stage.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 50})
        monkeypatch.setenv("MERCATO_AUTH_SECRET", stage.secret)
        monkeypatch.setenv("MERCATO_URL", stage.url)
        status = main(["list-catalog", "--player", "game-server", "--admin"])
        _, err = capsys.readouterr()
        listed = {market["material"] for market in admin.request("GET", "/markets")}
    # the other 40 are listed; wheat's refusal is printed, and the command fails naming it
    assert listed == {listing.material for listing in DEFAULT_CATALOG}, sorted(listed)
    assert status == 1
    assert err.splitlines()[0].startswith("mercato: wheat: 409 market_exists: ")
    assert err.splitlines()[-1] == (
        "mercato: 409 market_exists: 1 of 41 listings refused (wheat); the rest are listed"
    )
