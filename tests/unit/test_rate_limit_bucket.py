"""The token bucket's arithmetic, in ticks (no I/O), and the limiter's rounds over the in-memory
store: the generic cell rate algorithm admits exactly what a token bucket of the same capacity and
rate, refilled continuously, admits."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.intake.auth import Principal, Scope
from mercato.intake.limits import (
    MILLI,
    WRITE_ROUNDS,
    Bucket,
    LimitSettings,
    RateLimiter,
    RouteClass,
    Seen,
    Step,
    next_tat,
    route_class,
)
from mercato.memory.support import MemoryBucketStore
from mercato.models.errors import Throttled

BUCKET = Bucket(capacity=3, per_second=2)
ALICE = Principal("alice", Scope.TRADE)


def test_a_bucket_never_seen_is_full_and_gives_one_request() -> None:
    step = Step.at(5_000, BUCKET)
    assert step.now == 10_000  # ticks: ms x per_second
    assert next_tat(None, step) == 10_000 + MILLI


def test_three_at_once_then_the_fourth_waits_one_interval() -> None:
    step = Step.at(0, BUCKET)
    tat = None
    for _ in range(3):
        tat = next_tat(tat, step)
        assert tat is not None
    assert next_tat(tat, step) is None
    assert tat == 3 * MILLI
    assert step.wait_ms(tat) == 500  # 2 a second: one every 500 ms
    assert Step.at(200, BUCKET).wait_ms(tat) == 300
    assert next_tat(tat, Step.at(500, BUCKET)) == 4 * MILLI


def test_an_idle_bucket_refills_to_its_capacity_and_no_further() -> None:
    tat = 0  # emptied long ago
    step = Step.at(60_000, BUCKET)
    for _ in range(3):
        tat = next_tat(tat, step)  # type: ignore[assignment]
        assert tat is not None
    assert next_tat(tat, step) is None


def test_the_item_expires_only_after_the_bucket_is_full_again() -> None:
    """Time to live deletes an item a minute after its bucket would be full; deleted early, the
    bucket would be full before its time."""
    step = Step.at(1_000_000, BUCKET)  # the TAT after this request is at most 1,000,000 + 1,500 ms
    assert step.expires_at * 1000 > 1_001_500
    assert step.expires_at <= 1_001_500 // 1000 + 1 + 60


def test_a_request_stamped_in_the_past_never_moves_the_bucket_back_in_time() -> None:
    """Two Lambda instances whose clocks disagree by 5 s: the slow clock's request must not rewind
    the bucket, or the fast clock's next request refills those 5 s a second time."""
    bucket = Bucket(capacity=20, per_second=5)
    tat: int | None = None
    admitted = 0
    for now in [10_000] * 19 + [5_000] + [10_000] * 25:  # one request from the clock 5 s behind
        after = next_tat(tat, Step.at(now, bucket))
        if after is not None:
            tat, admitted = after, admitted + 1
    assert admitted == 20  # the capacity, at one instant


def _token_bucket(bucket: Bucket, times: list[int]) -> list[int | None]:
    """The reference: a bucket of ``capacity`` tokens refilled continuously at ``per_second``, exact
    (fractions). Per request, ``None`` when admitted, else the whole ms until a token is there."""
    level, last = Fraction(bucket.capacity), times[0]
    outcomes: list[int | None] = []
    for now in times:
        level = min(Fraction(bucket.capacity), level + Fraction((now - last) * bucket.per_second, 1000))
        last = now
        if level >= 1:
            level -= 1
            outcomes.append(None)
        else:
            wait = (1 - level) * 1000 / bucket.per_second
            outcomes.append(int(-(-wait // 1)))
    return outcomes


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 6),
    per_second=st.integers(1, 7),
    gaps=st.lists(st.integers(0, 1_500), min_size=1, max_size=40),
)
def test_the_limiter_admits_exactly_what_a_continuous_token_bucket_admits(
    capacity: int, per_second: int, gaps: list[int]
) -> None:
    bucket = Bucket(capacity=capacity, per_second=per_second)
    times = [1_700_000_000_000 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    now = [times[0]]
    limiter = RateLimiter(LimitSettings(table="limits", orders=bucket), MemoryBucketStore(), lambda: now[0])
    outcomes: list[int | None] = []
    for at in times:
        now[0] = at
        try:
            limiter.admit(ALICE, "POST")
            outcomes.append(None)
        except Throttled as refused:
            outcomes.append(refused.retry_after_seconds)
    expected = [wait if wait is None else max(1, -(-wait // 1000)) for wait in _token_bucket(bucket, times)]
    assert outcomes == expected


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


class _Racing(MemoryBucketStore):
    """A bucket store on which another request of the player restarts the idle bucket just before
    each of the first ``losses`` restarts (so each is refused), counting this request's writes."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses
        self.writes = 0

    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        self.writes += 1
        return super().advance(player_id, kind, step)

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        self.writes += 1
        if self.losses:
            self.losses -= 1
            super().restart(player_id, kind, step)  # the other request's restart lands first
        return super().restart(player_id, kind, step)


def test_one_request_on_a_busy_bucket_is_one_write() -> None:
    store = _Racing(losses=0)
    limiter = RateLimiter(LimitSettings(table="limits", orders=BUCKET), store, lambda: 10_000)
    limiter.admit(ALICE, "POST")  # the bucket is new: the busy path is refused, then the idle one
    assert store.writes == 2
    limiter.admit(ALICE, "POST")
    limiter.admit(ALICE, "POST")
    assert store.writes == 4, "no read, no retry: one conditional write a request"


def test_a_restart_lost_to_another_request_takes_from_the_bucket_it_restarted() -> None:
    store = _Racing(losses=1)
    limiter = RateLimiter(LimitSettings(table="limits", orders=BUCKET), store, lambda: 10_000)
    limiter.admit(ALICE, "POST")
    # advance (no bucket), restart (lost: the other request's landed), advance (taken)
    assert store.writes == 3
    assert store.advance("alice", RouteClass.ORDERS, Step.at(10_000, BUCKET)) is None  # the third token
    assert store.advance("alice", RouteClass.ORDERS, Step.at(10_000, BUCKET)) is not None  # none left


class _AlwaysIdleAgain(MemoryBucketStore):
    """A bucket every advance finds idle and every restart finds busy: what only clocks far out of
    step with each other could produce."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        self.rounds += 1
        return Seen(step.now - 1)

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        return Seen(step.now)


def test_a_request_that_loses_every_round_is_refused_after_the_last_and_counted() -> None:
    store = _AlwaysIdleAgain()
    counted: list[str] = []
    limiter = RateLimiter(LimitSettings(table="limits", orders=BUCKET), store, lambda: 10_000, counted.append)
    with pytest.raises(Throttled, match="too many concurrent requests") as refused:
        limiter.admit(ALICE, "POST")
    assert refused.value.retry_after_seconds == 1
    assert store.rounds == WRITE_ROUNDS
    assert counted == ["RateLimiterContended"]


@pytest.mark.parametrize("behind_ms", [1_000, 4_000, 60_000])
def test_a_clock_behind_the_one_that_started_the_bucket_takes_from_it_at_that_instant(behind_ms: int) -> None:
    """A reviewer's find: one request on an intake whose clock ran 4 s ahead, then one on another
    instance, and the second was refused with 19 of 20 tokens left: its clock saw the TAT 4 s too far
    ahead. The token bucket before refilled nothing for a clock behind, and refused nothing either."""
    store = MemoryBucketStore()
    bucket = Bucket(capacity=20, per_second=5)
    settings = LimitSettings(table="limits", orders=bucket)
    ahead = RateLimiter(settings, store, lambda: 1_800_000_000_000 + behind_ms)
    behind = RateLimiter(settings, store, lambda: 1_800_000_000_000)
    ahead.admit(ALICE, "POST")
    for _ in range(19):
        behind.admit(ALICE, "POST")  # the 19 left, at the instant the bucket was started
    with pytest.raises(Throttled) as refused:
        behind.admit(ALICE, "POST")  # and not one more
    # until this clock reaches the instant the bucket was started, then one token's refill (200 ms)
    assert refused.value.retry_after_seconds == -(-(behind_ms + 200) // 1000)
