"""Verified tokens are remembered (a client sends the same token with every request), but a
remembered token still expires, and a refused one is never remembered."""

import time

import pytest

from mercato.intake import auth
from mercato.intake.auth import Principal, Scope, authenticate, issue_token
from mercato.models.errors import Unauthenticated

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a token for ten seconds, verified once (and so remembered)
    token = issue_token(SECRET, "alice", Scope.TRADE, ttl_seconds=10)
    assert authenticate(f"Bearer {token}", SECRET) == Principal("alice", Scope.TRADE)

    # When the clock passes its expiry
    later = time.time() + 11
    monkeypatch.setattr(time, "time", lambda: later)

    # Then it is refused as expired, though its verification is remembered
    with pytest.raises(Unauthenticated) as refused:
        authenticate(f"Bearer {token}", SECRET)
    assert refused.value.code == "expired_token"


def test_a_token_verified_under_one_secret_is_not_accepted_under_another() -> None:
    token = issue_token(SECRET, "alice", Scope.TRADE)
    assert authenticate(f"Bearer {token}", SECRET).player_id == "alice"

    with pytest.raises(Unauthenticated) as refused:
        authenticate(f"Bearer {token}", "another-secret-of-at-least-thirty-two-bytes")
    assert refused.value.code == "bad_signature"


def test_a_refused_token_is_not_remembered() -> None:
    forged = issue_token("another-secret-of-at-least-thirty-two-bytes", "alice", Scope.TRADE)
    kept = auth._verified_claims.cache_info().currsize

    for _ in range(2):
        with pytest.raises(Unauthenticated):
            authenticate(f"Bearer {forged}", SECRET)

    assert auth._verified_claims.cache_info().currsize == kept


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c", "!!.??.##"])
def test_a_token_that_is_no_jwt_is_told_so_in_the_api_s_words(token: str) -> None:
    """PyJWT's "Not enough segments" reached the client (a reviewer's find)."""
    with pytest.raises(Unauthenticated) as refused:
        authenticate(f"Bearer {token}", SECRET)
    assert (refused.value.code, str(refused.value)) == (
        "invalid_token",
        "the token is not a JWT (three base64url parts separated by dots)",
    )
