"""What clients in other languages send, found by a reviewer playing one: an order id in upper case
(Swift's ``uuidString``), a player id no URL can carry ("." or ".."), a token signed by a game server
whose clock runs a little ahead. Each failed before its fix."""

import time

import jwt
import pytest

from mercato.intake.auth import ALGORITHM, CLOCK_SKEW_SECONDS, Scope, authenticate
from mercato.models.errors import Unauthenticated
from tests.integration.conftest import SECRET, Api


def test_an_order_id_in_upper_case_names_the_same_order(api: Api) -> None:
    """RFC 9562: a UUID's hex digits are case-insensitive on input; the path pattern accepted upper
    case, then looked the id up as sent and answered 404, so the player could not cancel it."""
    api.list_market("wheat")
    api.deposit("alice", "coins", 1_000)
    placed = api.order("alice", "Buy", 10, 20).body["orderId"]

    read = api.call("GET", f"/orders/{placed.upper()}", player="alice")
    cancelled = api.call("DELETE", f"/orders/{placed.upper()}", player="alice")

    assert (read.status, read.body["orderId"]) == (200, placed)
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")
    assert api.balances("alice")["coins"] == {"available": 1_000, "reserved": 0}


@pytest.mark.parametrize("player", [".", ".."])
def test_a_player_id_that_is_a_dot_segment_is_refused_and_changes_nothing(api: Api, player: str) -> None:
    """Browsers, Node's fetch and the generated TypeScript client drop "." and ".." path segments
    (``%2E`` too): the game server's GET /accounts/./orders reached /accounts/orders, the account of a
    player called "orders", answered 200."""
    api.list_market("wheat")
    before = api.snapshot()

    deposit = api.deposit(player, "coins", 500)
    token = api.call("GET", "/accounts/me", token=_token(player, int(time.time())))

    assert (deposit.status, deposit.body["error"]["code"]) == (403, "reserved_player")
    assert (token.status, token.body["error"]["code"]) == (403, "reserved_player")
    assert api.snapshot() == before


def _token(subject: str, iat: int) -> str:
    claims = {"sub": subject, "scope": "trade", "iat": iat, "exp": iat + 3600}
    return jwt.encode(claims, SECRET, algorithm=ALGORITHM)


def test_a_token_signed_by_a_clock_a_little_ahead_is_accepted() -> None:
    """PyJWT refuses an ``iat`` in the future with no leeway: a game server whose clock ran a second
    ahead of the exchange's had every freshly signed token answered 401."""
    principal = authenticate(f"Bearer {_token('alice', int(time.time()) + 2)}", SECRET)
    assert principal.player_id == "alice"
    assert principal.scope is Scope.TRADE


def test_a_token_signed_further_ahead_than_the_leeway_is_still_refused() -> None:
    with pytest.raises(Unauthenticated, match="not yet valid"):
        authenticate(f"Bearer {_token('bob', int(time.time()) + CLOCK_SKEW_SECONDS + 60)}", SECRET)
