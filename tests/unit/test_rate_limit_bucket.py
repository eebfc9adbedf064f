"""The token bucket's arithmetic, in thousandths of a request (no I/O)."""

import random

import pytest

from mercato.intake.auth import Principal, Scope
from mercato.intake.limits import (
    MILLI,
    WRITE_ATTEMPTS,
    Bucket,
    BucketState,
    LimitSettings,
    RateLimiter,
    RouteClass,
    full_again_ms,
    refilled,
    retry_pause,
    route_class,
    take,
)
from mercato.memory.support import MemoryBucketStore
from mercato.models.errors import Throttled

BUCKET = Bucket(capacity=3, per_second=2)


def test_a_bucket_never_seen_is_full_and_gives_one_request() -> None:
    assert refilled(None, BUCKET, now_ms=5_000) == 3 * MILLI
    assert take(None, BUCKET, now_ms=5_000) == BucketState(level=2 * MILLI, updated_ms=5_000)


def test_an_empty_bucket_says_how_long_until_the_next_request() -> None:
    empty = BucketState(level=0, updated_ms=1_000)
    assert take(empty, BUCKET, now_ms=1_000) == 500  # 2 a second: one every 500 ms
    assert take(empty, BUCKET, now_ms=1_200) == 300
    assert take(empty, BUCKET, now_ms=1_500) == BucketState(level=0, updated_ms=1_500)


def test_refilling_stops_at_capacity() -> None:
    state = BucketState(level=0, updated_ms=0)
    assert refilled(state, BUCKET, now_ms=60_000) == 3 * MILLI
    assert full_again_ms(state, BUCKET) == 1_500


def test_a_clock_that_steps_back_refills_nothing() -> None:
    state = BucketState(level=MILLI // 2, updated_ms=10_000)
    assert refilled(state, BUCKET, now_ms=9_000) == MILLI // 2


def test_three_at_once_then_the_fourth_waits() -> None:
    state: BucketState | None = None
    for _ in range(3):
        outcome = take(state, BUCKET, now_ms=0)
        assert isinstance(outcome, BucketState)
        state = outcome
    assert take(state, BUCKET, now_ms=0) == 500


def test_route_classes() -> None:
    alice, admin = Principal("alice", Scope.TRADE), Principal("game", Scope.ADMIN)
    assert route_class(alice, "POST") is RouteClass.ORDERS
    assert route_class(alice, "delete") is RouteClass.ORDERS
    assert route_class(alice, "GET") is RouteClass.READS
    assert route_class(admin, "POST") is RouteClass.ADMIN


def test_settings_from_the_environment() -> None:
    assert LimitSettings.from_env({}) is None
    settings = LimitSettings.from_env(
        {
            "MERCATO_LIMITS_TABLE": "x-limits",
            "MERCATO_LIMIT_ORDERS": "40/10",
            "MERCATO_LIMIT_ADMIN": "500/100",
        }
    )
    assert settings is not None
    assert settings.orders == Bucket(capacity=40, per_second=10)
    assert settings.reads == Bucket(capacity=60, per_second=20)
    assert settings.bucket(RouteClass.ADMIN) == Bucket(capacity=500, per_second=100)
    assert LimitSettings(table="x-limits").bucket(RouteClass.ADMIN) is None  # exempt by default


@pytest.mark.parametrize("text", ["20", "20/0", "0/5", "a/b", "20/5/1"])
def test_a_bucket_that_is_not_capacity_slash_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's and int()'s errors are both ValueErrors
        LimitSettings.from_env({"MERCATO_LIMITS_TABLE": "x-limits", "MERCATO_LIMIT_ORDERS": text})


def test_a_request_stamped_in_the_past_never_moves_the_bucket_back_in_time() -> None:
    """Two Lambda instances whose clocks disagree by 5 s: the slow clock's request must not rewind
    the bucket, or the fast clock's next request refills those 5 s a second time."""
    bucket = Bucket(capacity=20, per_second=5)
    state: BucketState | int | None = None
    admitted = 0
    for now in [10_000] * 19 + [5_000] + [10_000] * 25:  # one request from the clock 5 s behind
        outcome = take(state if isinstance(state, BucketState) else None, bucket, now_ms=now)
        if isinstance(outcome, BucketState):
            state, admitted = outcome, admitted + 1
    assert admitted == 20  # the capacity, at one instant


class _Contended(MemoryBucketStore):
    """A bucket store whose first ``losses`` writes lose their race (another request wrote first)."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses
        self.writes = 0

    def write(
        self, player_id: str, kind: RouteClass, new: BucketState, read: BucketState | None, expires_at: int
    ) -> bool:
        self.writes += 1
        if self.writes <= self.losses:
            return False
        return super().write(player_id, kind, new, read, expires_at)


@pytest.mark.parametrize("losses", [1, 3, WRITE_ATTEMPTS - 1])
def test_a_lost_race_is_retried_after_a_random_pause_that_doubles_per_loss(
    losses: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer's find: the pauses that keep a burst's requests from retrying in step had no test
    (removing them left every limiter test green; then a constant or zero pause still passed)."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    pauses: list[float] = []
    store = _Contended(losses)
    limiter = RateLimiter(
        LimitSettings(table="limits", orders=BUCKET), store, lambda: 10_000, sleep=pauses.append
    )

    limiter.admit(Principal("alice", Scope.TRADE), "POST")

    assert store.writes == losses + 1
    assert len(pauses) == losses
    assert all(0 <= pause <= retry_pause(n) for n, pause in enumerate(pauses))
    assert drawn == [(0, retry_pause(n)) for n in range(losses)], "each pause drawn from 0 to its bound"
    assert pauses == [high for _, high in drawn], "and slept as drawn"
    assert [retry_pause(n) for n in range(3)] == [0.005, 0.01, 0.02]
    assert retry_pause(20) == 0.1, "at most 100 ms"


def test_after_its_last_lost_race_a_request_is_refused_at_once() -> None:
    pauses: list[float] = []
    limiter = RateLimiter(
        LimitSettings(table="limits", orders=BUCKET),
        _Contended(WRITE_ATTEMPTS),
        lambda: 10_000,
        sleep=pauses.append,
    )

    with pytest.raises(Throttled, match="too many concurrent requests"):
        limiter.admit(Principal("alice", Scope.TRADE), "POST")
    assert len(pauses) == WRITE_ATTEMPTS - 1, "no pause after the last attempt"
