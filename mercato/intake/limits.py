"""Per-player rate limits: a token bucket per player and route class (DESIGN §5's ``429``).

A bucket holds up to ``capacity`` requests and refills at ``per_second``; a request takes one. It is
kept as the generic cell rate algorithm keeps it: one number, the bucket's *theoretical arrival
time* (TAT), the moment it would be full again if nothing more were taken. A request at ``now`` is
admitted when ``max(TAT, now) + one request's interval`` is no later than ``now + capacity``
intervals, and moves TAT there. Times are counted in *ticks*, milliseconds × ``per_second``, so one
request's interval is exactly :data:`MILLI` ticks and everything is integer arithmetic.

The state lives in the limits table (one item per player and class). A request makes one
conditional write, no read: on a busy bucket (TAT not before now) it adds one interval to TAT under
the condition that the result still fits; on an idle one (TAT before now, or no item) it sets TAT
to now plus one interval, under the condition that the bucket is still idle. Concurrent requests of
one player therefore never spend the same token and never wait on each other's reads. The limiter
fails open: if its table errors, the request goes through and the failure is counted, because a
limiter outage must never refuse a valid order.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

from mercato.intake.auth import Principal, Scope
from mercato.models.errors import Throttled
from mercato.resources import LIMITS

log = logging.getLogger("mercato.intake.limits")

MILLI: Final = 1000
"""Ticks per request: a request's interval, ``1000 / per_second`` ms, in ticks of 1/``per_second`` ms."""
WRITE_ROUNDS: Final = 4
"""Rounds of writes one request tries. A round is one write on a busy bucket, or two when the bucket
was idle (the busy path refused, then the idle one). A round is lost only when another request of
the player restarted the idle bucket between the two: the next round then takes from the bucket it
restarted. Losing every round takes a clock far out of step with another intake's."""
IDLE_GRACE_SECONDS: Final = 60
"""How long after a bucket would be full again its item may be deleted by time to live."""


class RouteClass(StrEnum):
    ORDERS = "orders"
    """``POST /orders`` and ``DELETE /orders/{orderId}``: what writes to the book."""
    READS = "reads"
    """A player's own reads (``GET /orders``, ``GET /accounts/me``, …)."""
    ADMIN = "admin"
    """The game server (admin tokens), limited separately from players or exempt."""


def limit_env_var(kind: RouteClass) -> str:
    """The variable that sets a route class's bucket (``MERCATO_LIMIT_ORDERS``, …)."""
    return f"MERCATO_LIMIT_{kind.upper()}"


def route_class(principal: Principal, method: str) -> RouteClass:
    if principal.scope is Scope.ADMIN:
        return RouteClass.ADMIN
    return RouteClass.ORDERS if method.upper() in ("POST", "DELETE") else RouteClass.READS


class Bucket(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: int = Field(ge=1, le=1_000_000)
    """The burst: requests a full bucket allows at once."""
    per_second: int = Field(ge=1, le=1_000_000)
    """The sustained rate the bucket refills at."""

    @classmethod
    def parse(cls, text: str) -> "Bucket":
        """``"20/5"``: capacity 20, refilled at 5 a second."""
        capacity, slash, rate = text.partition("/")
        if not slash:
            raise ValueError(f"a bucket is CAPACITY/PER_SECOND, e.g. 20/5, not {text!r}")
        return cls(capacity=int(capacity), per_second=int(rate))


class LimitSettings(BaseModel):
    """Per deployment: the limits table and a bucket per route class (``admin=None``: exempt)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str = Field(min_length=3)
    orders: Bucket = Bucket(capacity=20, per_second=5)
    reads: Bucket = Bucket(capacity=60, per_second=20)
    admin: Bucket | None = None

    def bucket(self, kind: RouteClass) -> Bucket | None:
        return {RouteClass.ORDERS: self.orders, RouteClass.READS: self.reads, RouteClass.ADMIN: self.admin}[
            kind
        ]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LimitSettings | None":
        """``MERCATO_LIMITS_TABLE`` turns limiting on; ``MERCATO_LIMIT_ORDERS``, ``_READS`` and
        ``_ADMIN`` (``CAPACITY/PER_SECOND``; admin unset: exempt) override the defaults. A bucket
        that does not parse is a :class:`ValueError` naming its variable."""
        table = env.get(LIMITS.env_var)
        if not table:
            return None
        given: dict[str, object] = {"table": table}
        for kind in RouteClass:
            name = limit_env_var(kind)
            if text := env.get(name):
                try:
                    given[kind.value] = Bucket.parse(text)
                except ValueError as error:
                    raise ValueError(f"{name}: {error}") from None
        return cls.model_validate(given)


@dataclass(frozen=True)
class Step:
    """One request's write to a bucket: everything its condition and its new value depend on."""

    per_second: int
    """The rate the bucket's ticks are counted at; a bucket kept at another rate is started afresh."""
    now: int
    """The request's time in ticks (ms × ``per_second``)."""
    latest: int
    """The latest TAT one more request fits on: ``now + (capacity - 1) × MILLI``."""
    expires_at: int
    """Epoch seconds after which the bucket's item may be deleted (it is full by then)."""

    @classmethod
    def at(cls, now_ms: int, bucket: "Bucket") -> "Step":
        now = now_ms * bucket.per_second
        latest = now + (bucket.capacity - 1) * MILLI
        full_ms = -(-(latest + MILLI) // bucket.per_second)  # the TAT after this request, at most
        return cls(bucket.per_second, now, latest, full_ms // 1000 + 1 + IDLE_GRACE_SECONDS)

    def wait_ms(self, tat: int) -> int:
        """How long until a bucket whose TAT is ``tat`` (past :attr:`latest`) admits one more."""
        return -(-(tat - self.latest) // self.per_second)


def next_tat(tat: int | None, step: Step) -> int | None:
    """The pure rule: the bucket's TAT after admitting the request, or ``None`` if it is refused.
    ``tat`` is ``None`` for a bucket never seen (or kept at another rate): full."""
    start = step.now if tat is None else max(tat, step.now)
    return start + MILLI if start <= step.latest else None


FAIL_OPEN_METRIC: Final = "RateLimiterFailOpen"
"""The count of requests let through because the limits table could not be used (alarmed on)."""


class LimiterUnavailable(Exception):
    """The limits table could not be read or written (not a condition failure)."""


@dataclass(frozen=True)
class Seen:
    """What a refused write found in the bucket."""

    tat: int | None
    """Its TAT, or ``None`` when there is no bucket kept at the request's rate."""
    since: int | None = None
    """The ``now`` (ticks) of the last request that wrote it. A request whose clock is behind that
    takes from the bucket at that instant instead (a clock behind refills nothing, and refuses
    nothing the bucket holds): the last writer's, not only the restarter's, or a player sending at
    the sustained rate to an instance seconds ahead is refused on the others (a reviewer's find)."""


class BucketStore(Protocol):
    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        """A busy bucket: add ``MILLI`` to its TAT (and set its ``since`` to ``step.now``) if
        ``step.now <= TAT <= step.latest`` and ``since <= step.now``. ``None`` when written, else
        what the bucket holds."""
        ...

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        """An idle bucket: set its TAT to ``step.now + MILLI`` (and its ``since`` to ``step.now``) if
        it has none, is kept at another rate, or ``TAT < step.now``. ``None`` when written, else what
        the bucket holds."""
        ...


@dataclass
class RateLimiter:
    settings: LimitSettings
    store: BucketStore
    clock_ms: Callable[[], int]
    count: Callable[[str], None] = field(default=lambda name: None)
    """Where fail-open events are counted (the Lambda wires a Powertools metric here)."""

    def admit(self, principal: Principal | None, method: str) -> None:
        """Take one request from the caller's bucket, or raise :class:`Throttled` with the wait."""
        if principal is None:
            return  # public reads carry no player to limit
        kind = route_class(principal, method)
        bucket = self.settings.bucket(kind)
        if bucket is None:
            return
        try:
            self._take(principal.player_id, kind, bucket)
        except LimiterUnavailable as error:
            log.warning("rate limiter unavailable; admitting", extra={"error": str(error), "class": kind})
            self.count(FAIL_OPEN_METRIC)

    def _take(self, player_id: str, kind: RouteClass, bucket: Bucket) -> None:
        floor_ms = 0
        for _ in range(WRITE_ROUNDS):
            now_ms = self.clock_ms()
            step = Step.at(max(now_ms, floor_ms), bucket)
            seen = self.store.advance(player_id, kind, step)
            if seen is None:
                return
            if seen.tat is not None and seen.since is not None and seen.since > step.now:
                # our clock is behind the one that restarted the bucket: the TAT looks further ahead
                # than it is, so take from it at that clock's instant. A clock behind refills nothing
                # (until it passes that instant) and refuses nothing a bucket holds (a reviewer saw a
                # request 4 s behind refused with 19 of 20 tokens left)
                floor_ms = -(-seen.since // bucket.per_second)
                continue
            if seen.tat is not None and seen.tat >= step.now:  # busy, and one more does not fit
                # on our clock: until it reaches the instant we took from, then the refill
                seconds = max(1, -(-(step.wait_ms(seen.tat) + max(0, floor_ms - now_ms)) // 1000))
                raise Throttled(
                    f"rate limit for {kind}: {bucket.capacity} at once, {bucket.per_second} a second;"
                    f" retry in {seconds} s",
                    code="rate_limited",
                    retry_after_seconds=seconds,
                )
            if self.store.restart(player_id, kind, step) is None:
                return
            # another of the player's requests restarted the idle bucket first: take from it as busy
        self.count("RateLimiterContended")
        raise Throttled(
            f"too many concurrent requests for {kind}; retry in 1 s",
            code="rate_limited",
            retry_after_seconds=1,
        )
