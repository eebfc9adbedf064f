"""The rate limiter's bucket store, on every lane: each write is one condition, and each condition
refuses what it must and leaves the bucket as it was (``mercato/intake/dynamo_limits.py``; the
in-memory store mirrors it). A refused write answers the bucket as it was, read with the condition
(DynamoDB's ``ReturnValuesOnConditionCheckFailure``), which is what the limiter's Retry-After and its
choice between the busy and the idle path are computed from."""

import time

import pytest

from mercato.intake.auth import Principal, Scope
from mercato.intake.limits import (
    MILLI,
    Bucket,
    BucketStore,
    LimitSettings,
    RateLimiter,
    RouteClass,
    Seen,
    Step,
)
from mercato.models.errors import Throttled

ALICE = Principal("alice", Scope.TRADE)
NOW_MS = time.time_ns() // 1_000_000
"""Now, not a fixed instant: DynamoDB Local deletes items whose time to live has passed (a bucket
stamped in the past by a minute or more is full again, so deleting it is right, but not here)."""


ORDERS = Bucket(capacity=2, per_second=1)


def test_a_spend_from_a_full_bucket_is_refused_and_changes_nothing(buckets: BucketStore) -> None:
    # Given alice's bucket of 2 emptied at one instant
    step = Step.at(NOW_MS, ORDERS)
    assert buckets.restart("alice", RouteClass.ORDERS, step) is None
    assert buckets.advance("alice", RouteClass.ORDERS, step) is None
    # When a third request at the same instant spends from it
    seen = buckets.advance("alice", RouteClass.ORDERS, step)
    # Then it is refused, and the TAT stays where the two requests left it; a second later one fits
    assert seen == Seen(step.now + 2 * MILLI, since=step.now)
    assert buckets.advance("alice", RouteClass.ORDERS, Step.at(NOW_MS + 1_000, ORDERS)) is None


def test_an_idle_bucket_is_never_advanced_from_its_past(buckets: BucketStore) -> None:
    """Advancing a TAT left a minute behind would leave it behind now: every request after it would
    fit, and the bucket would admit sixty at once, not two."""
    assert buckets.restart("alice", RouteClass.ORDERS, Step.at(NOW_MS, ORDERS)) is None
    later = Step.at(NOW_MS + 60_000, ORDERS)
    assert buckets.advance("alice", RouteClass.ORDERS, later) == Seen(
        Step.at(NOW_MS, ORDERS).now + MILLI, Step.at(NOW_MS, ORDERS).now
    )
    assert buckets.restart("alice", RouteClass.ORDERS, later) is None
    assert buckets.advance("alice", RouteClass.ORDERS, later) is None
    assert buckets.advance("alice", RouteClass.ORDERS, later) == Seen(later.now + 2 * MILLI, since=later.now)


def test_a_bucket_kept_at_another_rate_is_counted_afresh(buckets: BucketStore) -> None:
    """Ticks are milliseconds times the rate: a TAT counted at 100 a second, read at 1 a second, is a
    hundred times too far ahead, so a deployment that lowered the rate would find every bucket full
    for ever, were it not restarted."""
    fast = Bucket(capacity=2, per_second=100)
    assert buckets.restart("alice", RouteClass.ORDERS, Step.at(NOW_MS, fast)) is None
    step = Step.at(NOW_MS, ORDERS)
    assert buckets.advance("alice", RouteClass.ORDERS, step) == Seen(None)
    assert buckets.restart("alice", RouteClass.ORDERS, step) is None  # counted afresh at its rate
    assert buckets.advance("alice", RouteClass.ORDERS, step) is None
    assert buckets.advance("alice", RouteClass.ORDERS, step) == Seen(step.now + 2 * MILLI, since=step.now)


def test_a_restart_of_a_busy_bucket_is_refused(buckets: BucketStore) -> None:
    """Two requests both found alice's bucket idle; the second's restart must not reset the TAT
    the first (and any after it) advanced, or each such pair spends a token twice."""
    step = Step.at(NOW_MS, ORDERS)
    assert buckets.restart("alice", RouteClass.ORDERS, step) is None
    assert buckets.advance("alice", RouteClass.ORDERS, step) is None
    assert buckets.restart("alice", RouteClass.ORDERS, step) == Seen(step.now + 2 * MILLI, since=step.now)
    assert buckets.advance("alice", RouteClass.ORDERS, step) == Seen(step.now + 2 * MILLI, since=step.now)


@pytest.mark.parametrize("ahead_ms", [1_000, 4_000, 10_000])
def test_a_clock_behind_the_last_writer_takes_from_a_long_busy_bucket(
    buckets: BucketStore, ahead_ms: int
) -> None:
    """A reviewer's find: only a restart stamped the bucket's clock, so a player sending at exactly the
    sustained rate to an instance seconds ahead (the bucket never idle) was refused on another with
    19 of 20 tokens left, for as long as that traffic lasted. Every write now stamps it."""
    bucket = Bucket(capacity=20, per_second=5)
    settings = LimitSettings(table="limits", orders=bucket)
    real = [NOW_MS]
    ahead = RateLimiter(settings, buckets, lambda: real[0] + ahead_ms)
    behind = RateLimiter(settings, buckets, lambda: real[0])
    for _ in range(60):  # 5 a second for 12 s on the instance ahead: 19 of 20 tokens left throughout
        ahead.admit(ALICE, "POST")
        real[0] += 200
    for _ in range(19):
        behind.admit(ALICE, "POST")
    with pytest.raises(Throttled):
        behind.admit(ALICE, "POST")
