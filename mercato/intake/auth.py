"""Bearer tokens: HS256 JWTs signed with the secret the game server holds (DESIGN §5).

Claims: ``sub`` (the player id), ``scope`` (``trade`` or ``admin``) and ``exp``. Which scope a route
needs is declared with the route (:mod:`mercato.intake.access`); the gate authenticates and checks
the scope before a body is even validated.
"""

import functools
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from mercato.models.errors import Forbidden, Unauthenticated
from mercato.models.ids import TOKEN_PATTERN, reserved

ALGORITHM: Final = "HS256"
_REQUIRED_CLAIMS: Final = ["exp", "sub", "scope"]
_PLAYER = re.compile(TOKEN_PATTERN)
CLOCK_SKEW_SECONDS: Final = 30
"""How far ahead of the exchange's clock a token's ``iat`` (and ``nbf``) may be: the game server signs
on its own machine, and a clock a second ahead made every fresh token a 401 (a reviewer's find).
Expiry gets no such grace: ``authenticate`` checks ``exp`` against the clock itself."""
VERIFIED_TOKENS: Final = 4096
"""Verified tokens remembered per process (each a few hundred bytes)."""


class Scope(StrEnum):
    TRADE = "trade"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    player_id: str
    scope: Scope


def issue_token(secret: str, player_id: str, scope: Scope = Scope.TRADE, ttl_seconds: int = 3600) -> str:
    """What the game server does: sign a token for a player (``mercato token`` uses this)."""
    now = int(time.time())
    claims = {"sub": player_id, "scope": str(scope), "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


_NOT_A_JWT: Final = "the token is not a JWT (three base64url parts separated by dots)"


def _header_reads(token: str) -> bool:
    try:
        jwt.get_unverified_header(token.strip())
    except jwt.InvalidTokenError:
        return False
    return True


def authenticate(authorization: str | None, secret: str) -> Principal:
    """The principal a ``Authorization: Bearer …`` header proves; :class:`Unauthenticated` otherwise."""
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer token is required", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="malformed_token")
    try:
        claims = _verified_claims(token.strip(), secret)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired", code="expired_token") from None
    except jwt.InvalidSignatureError:
        message = (
            "the token's signature does not verify: it was signed with another secret than this server's"
        )
        raise Unauthenticated(message, code="bad_signature") from None
    except jwt.DecodeError as error:
        # a token that is no JWT at all gets words a client can act on, not PyJWT's ("Not enough
        # segments"); one whose header reads but whose claims do not keep PyJWT's, which name the claim
        message = f"the token is not valid: {error}" if _header_reads(token) else _NOT_A_JWT
        raise Unauthenticated(message, code="invalid_token") from None
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"the token is not valid: {error}", code="invalid_token") from None
    if claims["exp"] <= time.time():  # a cached verification still expires with its token
        raise Unauthenticated("the token has expired", code="expired_token")
    subject, scope = claims.get("sub"), claims.get("scope")
    if not isinstance(subject, str) or not _PLAYER.fullmatch(subject):
        raise Unauthenticated("the token's sub is not a player id", code="invalid_token")
    if (why := reserved(subject)) is not None:
        raise Forbidden(why, code="reserved_player")
    if scope not in (Scope.TRADE, Scope.ADMIN):
        raise Unauthenticated("the token's scope must be 'trade' or 'admin'", code="invalid_token")
    return Principal(subject, Scope(str(scope)))


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified_claims(token: str, secret: str) -> dict[str, Any]:
    """The claims of a token whose signature and claims verify, remembered: a game client sends the
    same token with every request, and checking an HS256 signature costs more than the rest of a
    read. Only verified tokens are remembered (a refusal raises, and is checked again next time)."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={"require": _REQUIRED_CLAIMS},
        leeway=CLOCK_SKEW_SECONDS,
    )
    if not isinstance(claims["exp"], int | float):
        raise jwt.InvalidTokenError("exp must be a number")
    return claims


def required_scope(method: str, path: str) -> Scope | None:
    """The scope a request needs (``None``: public), as the intake's routes declare it, for callers
    outside a handler such as a test client (the gate asks its own app, :mod:`mercato.intake.access`)."""
    from mercato.intake.app import declared_access  # the app imports this module

    return declared_access().needed(method, path)


def authorize(principal: Principal, needed: Scope) -> None:
    """Admin tokens are the game server's and may not trade; trade tokens may not administer."""
    if principal.scope is not needed:
        raise Forbidden(f"this needs a token with scope '{needed}'", code="wrong_scope")
