"""The scheduled leaderboard rollup (EventBridge schedule on AWS, a background thread locally).

Each run recomputes every window from the tables alone, so a missed or failed run is healed by the
next one. A run writes each window's board as a new version and only then flips the window's pointer
to it; a run killed halfway leaves the previous board served and its partial version unreferenced
(deleted by time to live). Nothing here runs on the trading path.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from mercato.leaderboard.ports import BoardPointer, ExchangeReader, LeaderboardStore, Snapshot
from mercato.leaderboard.ranking import WINDOWS, Movement, Window, gains, marks, net_moved, rank, values
from mercato.matcher.house import is_house

log = logging.getLogger("mercato.leaderboard")

HOUR_MS: Final = 3_600_000
BOARD_TTL_SECONDS: Final = 7 * 86_400
"""A board no run has replaced for a week expires."""
SNAPSHOT_TTL_SECONDS: Final = 8 * 86_400
"""Snapshots outlive the week window."""


@dataclass(frozen=True)
class RollupResult:
    version: int
    players: int
    snapshot_taken: bool


@dataclass
class Rollup:
    exchange: ExchangeReader
    store: LeaderboardStore
    clock_ms: Callable[[], int]
    windows: tuple[Window, ...] = field(default=WINDOWS)

    def run(self) -> RollupResult:
        now = self.clock_ms()
        ledger = self.exchange.ledger()
        marked = marks(self.exchange.markets())
        holdings = {player: assets for player, assets in ledger.holdings.items() if not is_house(player)}
        movements = [m for m in ledger.movements if not is_house(m.player_id)]
        value_now = values(holdings, marked)
        hour = now - now % HOUR_MS
        snapshot_taken = not self.store.has_snapshot(hour)
        if snapshot_taken:
            self.store.put_snapshot(
                hour, Snapshot(now, value_now, net_moved(movements)), now // 1000 + SNAPSHOT_TTL_SECONDS
            )
        for window in self.windows:
            self._publish(window, now, value_now, movements, marked)
        log.info("leaderboard rolled up", extra={"version": now, "players": len(value_now)})
        return RollupResult(version=now, players=len(value_now), snapshot_taken=snapshot_taken)

    def _publish(
        self,
        window: Window,
        now: int,
        value_now: dict[str, int],
        movements: list[Movement],
        marked: dict[str, int],
    ) -> None:
        since: int | None = None
        scores = value_now
        if window.length is not None:
            start = now - int(window.length.total_seconds() * 1000)
            baseline = self.store.snapshot_from(start)
            base = baseline or Snapshot(now, value_now, net_moved(movements))
            since = base.taken_ms
            scores = gains(value_now, base.values, movements, marked, since, base.moved)
        read = self.store.pointer(window)
        self.store.write_board(window, now, rank(scores, value_now), now // 1000 + BOARD_TTL_SECONDS)
        new = BoardPointer(
            version=now, generated_ms=now, since_ms=since, previous=read.version if read else None
        )
        if not self.store.flip(window, new, read):
            log.info("a newer board is served already", extra={"window": window, "version": now})
            return
        if read is not None and read.previous is not None:
            self.store.delete_board(window, read.previous)
