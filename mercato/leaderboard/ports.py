"""What the rollup and the readers need from storage, in the leaderboard's own words."""

from dataclasses import dataclass
from typing import Protocol

from mercato.leaderboard.ranking import Movement, Standing, Window
from mercato.models.markets import Market


@dataclass(frozen=True)
class BoardPointer:
    """Which board version a window serves, when it was computed, and from which baseline."""

    version: int
    generated_ms: int
    since_ms: int | None
    previous: int | None = None
    """The version served before this one: kept until the next flip, for readers still on it."""


@dataclass(frozen=True)
class Snapshot:
    taken_ms: int
    values: dict[str, int]
    moved: dict[str, dict[str, int]] | None = None
    """Each player's net deposits less withdrawals per asset, read by the same scan as ``values``
    (``None``: a snapshot written before this was kept; its movements are told apart by time)."""


@dataclass(frozen=True)
class Ledger:
    """Everything the accounts table says about players: holdings and movements."""

    holdings: dict[str, dict[str, int]]
    movements: list[Movement]


class ExchangeReader(Protocol):
    def ledger(self) -> Ledger: ...

    def markets(self) -> list[Market]: ...


class LeaderboardReader(Protocol):
    def pointer(self, window: Window) -> BoardPointer | None: ...

    def standings(self, window: Window, version: int, limit: int) -> list[Standing]: ...

    def standing_of(self, window: Window, version: int, player_id: str) -> Standing | None: ...


class LeaderboardStore(LeaderboardReader, Protocol):
    def write_board(
        self, window: Window, version: int, standings: list[Standing], expires_at: int
    ) -> None: ...

    def flip(self, window: Window, new: BoardPointer, read: BoardPointer | None) -> bool:
        """Point ``window`` at ``new`` unless a newer version is served already."""
        ...

    def delete_board(self, window: Window, version: int) -> None: ...

    def has_snapshot(self, hour_ms: int) -> bool: ...

    def put_snapshot(self, hour_ms: int, snapshot: Snapshot, expires_at: int) -> None: ...

    def snapshot_from(self, start_ms: int) -> Snapshot | None:
        """The window's baseline: the complete snapshot taken nearest ``start_ms`` (the earlier on a
        tie); ``None`` when there is none. Snapshots are keyed by the hour they were taken in, so it
        is one of the last two keyed at or before the start and the first keyed after it. Nearest,
        not simply the last before: after a gap in the runs that one can be days old, and a day's
        board would rank days of gains (a reviewer's find)."""
        ...
