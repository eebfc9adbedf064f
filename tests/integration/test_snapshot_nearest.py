"""A leaderboard window's baseline is the snapshot taken nearest its start, on both stores: a tie
goes to the earlier, a lone snapshot serves every window, and a snapshot keyed in the start's hour
but taken late in it loses to the previous hour's taken just before the start (a reviewer's find:
only the last keyed at or before the start and the first after it were compared)."""

from typing import Any

import pytest

from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.ports import Snapshot
from mercato.memory.support import MemoryLeaderboardStore
from mercato.storage.tables import create_support_tables

H = 3_600_000
T = 1_800_000_000_000 - 1_800_000_000_000 % H  # an hour's start


@pytest.fixture(params=["memory", "dynamo"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryLeaderboardStore(exchange=None)  # type: ignore[arg-type]  # snapshots only
    dynamodb = request.getfixturevalue("dynamodb")
    table = create_support_tables(dynamodb, "lb")["leaderboard"]
    return DynamoLeaderboardStore(dynamodb, table, None)  # type: ignore[arg-type]


def put(store: Any, hour: int, taken: int) -> None:
    store.put_snapshot(hour, Snapshot(taken, {"alice": taken}, {}), 2_000_000_000)


def test_equidistant_picks_the_earlier(store: Any) -> None:
    put(store, T, T + 10 * 60_000)
    put(store, T + H, T + H + 10 * 60_000)
    snapshot = store.snapshot_from(T + 40 * 60_000)  # 30 min from either
    assert snapshot is not None
    assert snapshot.taken_ms == T + 10 * 60_000


def test_one_snapshot_on_a_fresh_exchange(store: Any) -> None:
    put(store, T, T + 5)
    for start in (T - 7 * 24 * H, T, T + 10 * H):
        snapshot = store.snapshot_from(start)
        assert snapshot is not None
        assert snapshot.taken_ms == T + 5


def test_a_snapshot_keyed_in_the_start_s_hour_but_taken_late_loses_to_the_nearer_one_before(
    store: Any,
) -> None:
    """Runs at HH:59: the snapshot keyed 10:00 was taken at 10:59, the one keyed 09:00 at 09:59. For
    a window starting at 10:01 the nearest is 09:59's, 2 minutes before, not 10:59's, 58 after."""
    put(store, T - H, T - 60_000)
    put(store, T, T + H - 60_000)
    put(store, T + H, T + 2 * H - 60_000)
    snapshot = store.snapshot_from(T + 60_000)
    assert snapshot is not None
    assert snapshot.taken_ms == T - 60_000, f"picked {(snapshot.taken_ms - T) // 60_000} min after the hour"
