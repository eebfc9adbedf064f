"""Bearer tokens: HS256 JWTs signed with the secret the game server holds (DESIGN §5).

Claims: ``sub`` (the player id), ``scope`` (``trade`` or ``admin``) and ``exp``. Which scope a route
needs is decided here, in one place, from its method and path, so that authentication and the scope
check happen before a body is even validated.
"""

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import jwt

from mercato.matcher.house import HOUSE_PREFIX
from mercato.models.errors import Forbidden, Unauthenticated
from mercato.models.ids import TOKEN_PATTERN

ALGORITHM: Final = "HS256"
_REQUIRED_CLAIMS: Final = ["exp", "sub", "scope"]
_PLAYER = re.compile(TOKEN_PATTERN)
_ADMIN_READ = re.compile(r"^/accounts/[^/]+(/orders)?$")


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


def authenticate(authorization: str | None, secret: str) -> Principal:
    """The principal a ``Authorization: Bearer …`` header proves; :class:`Unauthenticated` otherwise."""
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer token is required", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="malformed_token")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=[ALGORITHM], options={"require": _REQUIRED_CLAIMS}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired", code="expired_token") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("the token's signature does not verify", code="bad_signature") from None
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"the token is not valid: {error}", code="invalid_token") from None
    subject, scope = claims.get("sub"), claims.get("scope")
    if not isinstance(subject, str) or not _PLAYER.fullmatch(subject):
        raise Unauthenticated("the token's sub is not a player id", code="invalid_token")
    if subject.startswith(HOUSE_PREFIX):
        raise Forbidden("the house's accounts are the exchange's own", code="reserved_player")
    if scope not in (Scope.TRADE, Scope.ADMIN):
        raise Unauthenticated("the token's scope must be 'trade' or 'admin'", code="invalid_token")
    return Principal(subject, Scope(str(scope)))


def required_scope(method: str, path: str) -> Scope | None:
    """The scope a request needs, or ``None`` for the public reads."""
    method = method.upper()
    public = path in ("/", "/openapi.json", "/markets", "/leaderboard") or path.startswith(
        ("/markets/", "/web/")
    )
    if method == "GET" and public:
        return None
    if method == "POST" and (path == "/markets" or path == "/events/goals" or path.startswith("/accounts/")):
        return Scope.ADMIN
    if method == "GET" and _ADMIN_READ.match(path) and path != "/accounts/me":
        return Scope.ADMIN  # the game server reads a player's balances and orders
    return Scope.TRADE


def authorize(principal: Principal, needed: Scope) -> None:
    """Admin tokens are the game server's and may not trade; trade tokens may not administer."""
    if principal.scope is not needed:
        raise Forbidden(f"this needs a token with scope '{needed}'", code="wrong_scope")
