"""The embedded stack's support stores over an :class:`InMemoryExchange`: the feed's goal counts,
the leaderboard's boards and the rate limiter's buckets, with the DynamoDB adapters' semantics (a
conditional write that finds the state moved returns ``False`` and changes nothing)."""

import threading
from dataclasses import dataclass, field

from mercato.feed.job import Followed
from mercato.intake.limits import MILLI, RouteClass, Seen, Step
from mercato.leaderboard.ports import BoardPointer, Ledger, Snapshot
from mercato.leaderboard.ranking import Movement, Standing, Window
from mercato.memory.exchange import InMemoryExchange
from mercato.models.markets import FootballerMarket, Market


class MemoryFeedStore:
    """The feed's per-footballer goal counts, kept on the exchange's market rows."""

    def __init__(self, exchange: InMemoryExchange) -> None:
        self._exchange = exchange

    def followed(self, source: str) -> list[Followed]:
        with self._exchange.lock:
            rows = list(self._exchange.state.markets.values())
            return [
                Followed(row.market.material, row.market.person_id, row.feed_goals.get(source, 0))
                for row in rows
                if isinstance(row.market, FootballerMarket)
            ]

    def save(self, material: str, source: str, *, was: int, now: int, inherited: bool = False) -> bool:
        """(No version of the memory engine kept a legacy count: ``inherited`` never comes.)"""
        with self._exchange.lock:
            row = self._exchange.state.markets.get(material)
            if row is None or row.feed_goals.get(source, 0) != was:
                return False
            row.feed_goals[source] = now
            return True


class MemoryBucketStore:
    """The rate limiter's token buckets, one per player and route class, with the DynamoDB adapter's
    conditions (time to live is moot here): (rate, TAT, since) per bucket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, RouteClass], tuple[int, int, int]] = {}

    def _seen(self, key: tuple[str, RouteClass], step: Step) -> Seen:
        held = self._buckets.get(key)
        if held is None or held[0] != step.per_second:
            return Seen(None)
        return Seen(held[1], held[2])

    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        key = (player_id, kind)
        with self._lock:
            held = self._buckets.get(key)
            # whatever its rate, as DynamoDB's condition
            if held is None or not step.now <= held[1] <= step.latest or held[2] > step.now:
                return self._seen(key, step)
            self._buckets[key] = (held[0], held[1] + MILLI, step.now)
            return None

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        key = (player_id, kind)
        with self._lock:
            seen = self._seen(key, step)
            if seen.tat is not None and seen.tat >= step.now:
                return seen
            self._buckets[key] = (step.per_second, step.now + MILLI, step.now)
            return None


@dataclass
class MemoryLeaderboardStore:
    """The exchange as the rollup reads it, and the boards it writes: versions, pointers, snapshots."""

    exchange: InMemoryExchange
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _boards: dict[tuple[Window, int], list[Standing]] = field(default_factory=dict)
    _pointers: dict[Window, BoardPointer] = field(default_factory=dict)
    _snapshots: dict[int, Snapshot] = field(default_factory=dict)

    def ledger(self) -> Ledger:
        with self.exchange.lock:
            state = self.exchange.state
            holdings = {
                player: {asset: balance.total for asset, balance in held.items()}
                for player, held in state.balances.items()
            }
            movements = [
                Movement(player, m.asset, m.quantity, state.deposited_ms[(player, movement_id)])
                for (player, movement_id), m in state.deposits.items()
            ] + [
                Movement(player, m.asset, -m.quantity, state.withdrawn_ms[(player, movement_id)])
                for (player, movement_id), m in state.withdrawals.items()
            ]
        return Ledger(holdings=holdings, movements=movements)

    def markets(self) -> list[Market]:
        return self.exchange.list_markets()

    def pointer(self, window: Window) -> BoardPointer | None:
        with self._lock:
            return self._pointers.get(window)

    def standings(self, window: Window, version: int, limit: int) -> list[Standing]:
        with self._lock:
            return self._boards.get((window, version), [])[:limit]

    def standing_of(self, window: Window, version: int, player_id: str) -> Standing | None:
        with self._lock:
            board = self._boards.get((window, version), [])
            return next((standing for standing in board if standing.player_id == player_id), None)

    def write_board(self, window: Window, version: int, standings: list[Standing], expires_at: int) -> None:
        with self._lock:
            self._boards[(window, version)] = sorted(standings, key=lambda s: (s.rank, s.player_id))

    def flip(self, window: Window, new: BoardPointer, read: BoardPointer | None) -> bool:
        with self._lock:
            served = self._pointers.get(window)
            if served is not None and served.version >= new.version:
                return False
            self._pointers[window] = new
            return True

    def delete_board(self, window: Window, version: int) -> None:
        with self._lock:
            self._boards.pop((window, version), None)

    def has_snapshot(self, hour_ms: int) -> bool:
        with self._lock:
            return hour_ms in self._snapshots

    def put_snapshot(self, hour_ms: int, snapshot: Snapshot, expires_at: int) -> None:
        with self._lock:
            self._snapshots[hour_ms] = snapshot

    def snapshot_from(self, start_ms: int) -> Snapshot | None:
        with self._lock:
            taken = [self._snapshots[hour] for hour in sorted(self._snapshots)]
            return min(taken, key=lambda snapshot: abs(snapshot.taken_ms - start_ms), default=None)
