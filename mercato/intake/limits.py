"""Per-player rate limits: a token bucket per player and route class (DESIGN §5's ``429``).

A bucket holds up to ``capacity`` requests and refills at ``per_second``; a request takes one. Levels
are kept in thousandths of a request so that refilling is integer arithmetic: ``elapsed_ms ×
per_second`` thousandths. The state lives in the limits table (one item per player and class), read
and written back conditionally on what was read, so concurrent requests of one player cannot both
spend the same token. The limiter fails open: if its table errors, the request goes through and the
failure is counted, because a limiter outage must never refuse a valid order.
"""

import logging
import random
import time
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
"""Thousandths of a request per request."""
WRITE_ATTEMPTS: Final = 32
"""Writes one request tries while its bucket still holds a token. Each race it loses is another
request of the same player taking a token (progress, not a stall), so a burst of up to this many
concurrent requests within the bucket's capacity is admitted whole (a reviewer saw 8 concurrent reads
against 19 tokens answered 429 when it was 5)."""
RETRY_PAUSE_SECONDS: Final[tuple[float, float]] = (0.005, 0.1)
"""After the n-th lost race a request waits up to ``first × 2**n`` seconds, at most ``most``: about a
DynamoDB round trip at first, so a burst spreads over a few round trips rather than retrying in step."""
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
class BucketState:
    level: int
    """Thousandths of a request left."""
    updated_ms: int


def refilled(state: BucketState | None, bucket: Bucket, now_ms: int) -> int:
    """The level at ``now_ms``: a bucket never seen is full."""
    full = bucket.capacity * MILLI
    if state is None:
        return full
    elapsed = max(0, now_ms - state.updated_ms)
    return min(full, state.level + elapsed * bucket.per_second)


def take(state: BucketState | None, bucket: Bucket, now_ms: int) -> BucketState | int:
    """The state after taking one request, or how many milliseconds until one is there."""
    level = refilled(state, bucket, now_ms)
    if level >= MILLI:  # a clock behind the last request's never moves the bucket back in time
        return BucketState(level=level - MILLI, updated_ms=max(now_ms, state.updated_ms if state else now_ms))
    behind = max(0, state.updated_ms - now_ms) if state else 0  # refilling starts at updated_ms
    return behind - ((level - MILLI) // bucket.per_second)  # + ceil((MILLI - level) / per_second)


def full_again_ms(state: BucketState, bucket: Bucket) -> int:
    """When the bucket would be full if nothing more were taken."""
    missing = bucket.capacity * MILLI - state.level
    return state.updated_ms + -(-missing // bucket.per_second)


FAIL_OPEN_METRIC: Final = "RateLimiterFailOpen"
"""The count of requests let through because the limits table could not be used (alarmed on)."""


def retry_pause(lost: int) -> float:
    """The longest pause, in seconds, after the ``lost``-th race lost in a row (0: the first)."""
    first, most = RETRY_PAUSE_SECONDS
    return min(most, first * 2.0**lost)


class LimiterUnavailable(Exception):
    """The limits table could not be read or written (not a condition failure)."""


class BucketStore(Protocol):
    def read(self, player_id: str, kind: RouteClass) -> BucketState | None: ...

    def write(
        self, player_id: str, kind: RouteClass, new: BucketState, read: BucketState | None, expires_at: int
    ) -> bool:
        """Store ``new`` if the item still holds ``read``; ``False`` if another request changed it."""
        ...


@dataclass
class RateLimiter:
    settings: LimitSettings
    store: BucketStore
    clock_ms: Callable[[], int]
    count: Callable[[str], None] = field(default=lambda name: None)
    """Where fail-open events are counted (the Lambda wires a Powertools metric here)."""
    sleep: Callable[[float], None] = field(default=time.sleep)
    """Waits between a lost race and the next attempt (:data:`RETRY_PAUSE_SECONDS`)."""

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
        for attempt in range(WRITE_ATTEMPTS):
            read = self.store.read(player_id, kind)
            now = self.clock_ms()
            outcome = take(read, bucket, now)
            if isinstance(outcome, int):
                seconds = max(1, -(-outcome // 1000))
                raise Throttled(
                    f"rate limit for {kind}: {bucket.capacity} at once, {bucket.per_second} a second;"
                    f" retry in {seconds} s",
                    code="rate_limited",
                    retry_after_seconds=seconds,
                )
            expires_at = full_again_ms(outcome, bucket) // 1000 + IDLE_GRACE_SECONDS
            if self.store.write(player_id, kind, outcome, read, expires_at):
                return
            if attempt + 1 < WRITE_ATTEMPTS:
                # lost to another of the player's requests: wait a random while, growing with each
                # loss, so a burst's requests stop reading and writing in step (each lockstep round is
                # one write won and one lost by every other: a reviewer counted 199 writes for 32)
                self.sleep(random.uniform(0, retry_pause(attempt)))
        # only the player's own concurrent requests write this item: they are a burst themselves
        self.count("RateLimiterContended")
        raise Throttled(
            f"too many concurrent requests for {kind}; retry in 1 s",
            code="rate_limited",
            retry_after_seconds=1,
        )
