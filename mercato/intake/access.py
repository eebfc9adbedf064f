"""Who may call each route, declared with the route.

Every route registration names its access — public, trade or admin — with :func:`needs` (or through
:func:`~mercato.intake.openapi.doc`, which takes it), so the declaration is part of the route itself.
:meth:`RouteAccess.of` reads the declarations off the resolver's routes and refuses an app where any
route declares none. The gate asks it which scope a request needs before the body is read; the
OpenAPI document writes each operation's security from the same declaration.

A request that no route serves (it will be answered 404 or 405) needs a valid token first (of
either scope: the gate checks no scope for it), so an unauthenticated caller learns nothing about
the routes, except a GET below a public route's fixed prefix (``/markets/…``, ``/web/…``): a
misspelt public read is a 404 with or without a token. :meth:`RouteAccess.needed` names a trade
token for it, the one a test client signs.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Final

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from mercato.intake.auth import Scope

DECLARATION: Final = "x-mercato-access"
"""The key of the declaration among a route's OpenAPI extensions (the document drops it)."""


class Access(StrEnum):
    PUBLIC = "public"
    """Anyone, no token."""
    TRADE = "trade"
    """A player's trade token."""
    ADMIN = "admin"
    """The game server's admin token."""

    @property
    def scope(self) -> Scope | None:
        """The token scope it takes; ``None``: no token."""
        return None if self is Access.PUBLIC else Scope(self.value)


def needs(access: Access, **openapi_extensions: Any) -> dict[str, Any]:
    """A route registration's keyword arguments declaring who may call it (``**needs(Access.ADMIN)``)."""
    return {"openapi_extensions": {**openapi_extensions, DECLARATION: access.value}}


class UndeclaredAccess(ValueError):
    """A route was registered without declaring who may call it."""


@dataclass(frozen=True)
class DeclaredRoute:
    method: str
    path: str
    """As registered: ``/markets/<material>``."""
    rule: re.Pattern[str]
    access: Access

    @property
    def fixed_prefix(self) -> str:
        """The path up to its first parameter (the whole path when it has none)."""
        return self.path.split("<", 1)[0]


@dataclass(frozen=True)
class RouteAccess:
    routes: Sequence[DeclaredRoute]
    """In the order the resolver tries them: fixed paths, then paths with parameters."""

    @classmethod
    def of(cls, app: LambdaFunctionUrlResolver) -> "RouteAccess":
        """Every route's declared access; :class:`UndeclaredAccess` names each route without one."""
        declared, undeclared = [], []
        for route in [*app._static_routes, *app._dynamic_routes]:
            value = (route.openapi_extensions or {}).get(DECLARATION)
            if value not in {access.value for access in Access}:
                undeclared.append(f"{route.method} {route.path}")
                continue
            declared.append(DeclaredRoute(route.method, route.path, route.rule, Access(value)))
        if undeclared:
            raise UndeclaredAccess(
                f"every route declares who may call it (**needs(Access.PUBLIC | TRADE | ADMIN)); "
                f"these do not: {', '.join(undeclared)}"
            )
        return cls(tuple(declared))

    def route(self, method: str, path: str) -> DeclaredRoute | None:
        """The route the resolver will call for the request, if any."""
        return next((r for r in self.routes if r.method == method and r.rule.match(path)), None)

    def methods(self, path: str) -> list[str]:
        """The methods routed for ``path`` (for 404 and for 405's ``Allow``)."""
        return sorted({route.method for route in self.routes if route.rule.match(path)})

    def needed(self, method: str, path: str) -> Scope | None:
        """The scope a request needs, ``None`` for a public one (see the module's note on requests no
        route serves)."""
        found = self.route(method, path)
        if found is not None:
            return found.access.scope
        if method == "GET" and path.startswith(self._public_prefixes):
            return None
        return Scope.TRADE

    @cached_property
    def _public_prefixes(self) -> tuple[str, ...]:
        """The fixed prefixes of the public reads with a parameter (``/markets/``, ``/web/``)."""
        return tuple(
            r.fixed_prefix
            for r in self.routes
            if r.method == "GET" and r.access is Access.PUBLIC and "<" in r.path
        )
