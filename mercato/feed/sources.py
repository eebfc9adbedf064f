"""Where goals come from: football-data.org's scorers endpoint, or a recorded match replayed.

A source answers one question, "how many goals has each player scored so far?", as a snapshot of
cumulative counts. The job turns rises in that count into goal events; a source never has to
remember what it reported before.
"""

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Protocol

SCORERS_URL = "https://api.football-data.org/v4/competitions/{competition}/scorers?limit=200"


class FeedError(Exception):
    """The source could not give a usable snapshot this time (network, status, shape)."""


@dataclass(frozen=True)
class Snapshot:
    """Cumulative goals per player, keyed by what the source knows the player by."""

    goals: dict[str, int]
    by_person_id: bool
    """True: keys are football-data.org person ids; False: keys are material ids."""
    match_id: str
    """The match, or the competition's season, the counts are of: the job keeps its counts per
    ``match_id`` and names its events by it, so another competition or season starts from nought."""
    minutes: dict[tuple[str, int], int] = field(default_factory=dict)
    """(player, goal number) -> the minute, when the source knows it."""
    skipped: int = 0
    """Rows of the answer with no usable player id or goal count (football-data.org sends ``null``
    for what it does not know yet): left out, so one such row holds up nobody else's goals."""


class Source(Protocol):
    def fetch(self) -> Snapshot: ...


@dataclass
class ScorersSource:
    """``GET /v4/competitions/{competition}/scorers`` with the ``X-Auth-Token`` header."""

    api_key: str
    competition: str = "WC"
    timeout_seconds: float = 10.0
    opener: Callable[..., Any] = urllib.request.urlopen

    def fetch(self) -> Snapshot:
        request = urllib.request.Request(
            SCORERS_URL.format(competition=self.competition), headers={"X-Auth-Token": self.api_key}
        )
        try:
            with self.opener(request, timeout=self.timeout_seconds) as response:
                payload = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as error:
            # HTTPException: a body cut short (IncompleteRead) or a broken status line (a reviewer's
            # find: it escaped the poll and failed the Lambda instead of counting SourceFailed)
            raise FeedError(f"football-data.org did not answer: {error!r}") from error
        except ValueError as error:
            raise FeedError(f"football-data.org sent something that is not JSON: {error}") from error
        season = parse_season(payload)
        counts, skipped = parse_scorers(payload)
        return Snapshot(
            counts, by_person_id=True, match_id=f"{self.competition}-{season}-scorers", skipped=skipped
        )


def parse_season(payload: Any) -> str:
    """The year the answer's season started (``{"season": {"startDate": "2026-06-11", ...}}`` ->
    ``"2026"``): a new season of a competition counts its goals from nought under new event ids."""
    try:
        start = payload["season"]["startDate"]
    except (KeyError, TypeError) as error:
        raise FeedError(f"the scorers response names no season: {error!r}") from error
    if not isinstance(start, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
        raise FeedError(f"the scorers response's season has a bad startDate: {start!r}")
    return start[:4]


def parse_scorers(payload: Any) -> tuple[dict[str, int], int]:
    """``{"scorers": [{"player": {"id": 44, ...}, "goals": 3, ...}]}`` -> ``({"44": 3}, 0)``: the
    counts, and how many rows had no usable player id or goal count (``null``, negative, not a whole
    number), which are left out. An answer without a list of scorers, or whose every row is left out,
    is a :class:`FeedError`."""
    scorers = payload.get("scorers") if isinstance(payload, dict) else None
    if not isinstance(scorers, list):
        raise FeedError(f"the scorers response has no list of scorers: {str(payload)[:200]!r}")
    counts: dict[str, int] = {}
    skipped = 0
    for row in scorers:
        player = row.get("player") if isinstance(row, dict) else None
        person = player.get("id") if isinstance(player, dict) else None
        goals = row.get("goals") if isinstance(row, dict) else None
        if (
            isinstance(person, bool)
            or not isinstance(person, int)
            or isinstance(goals, bool)
            or not isinstance(goals, int)
            or goals < 0
        ):
            skipped += 1
            continue
        counts[str(person)] = goals
    if scorers and not counts:  # not one row read: a changed format, not a few unknowns (an outage
        # that counted only RowSkipped, and no alarm watches that: a reviewer's find)
        raise FeedError(
            f"no row of the scorers answer has a usable id and goal count: {str(scorers[0])[:200]!r}"
        )
    return counts, skipped


@dataclass(frozen=True)
class ReplayGoal:
    minute: int
    scorer: str
    """The scorer's material id."""


@dataclass
class ReplaySource:
    """A recorded match played back: ``speed`` match minutes per real second from ``started``."""

    match_id: str
    goals: list[ReplayGoal]
    speed: float = 1.0
    clock: Callable[[], float] = time.monotonic
    started: float = field(default_factory=time.monotonic)
    from_minute: float = 0.0
    """The match minute it was at when ``started`` (0: the kick-off; see :meth:`resumed`)."""

    @classmethod
    def wc2022_final(cls, speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> "ReplaySource":
        data = final_data()
        goals = [ReplayGoal(goal["minute"], goal["scorer"]) for goal in data["goals"]]
        return cls(data["match"], goals, speed, clock, clock())

    def minute(self) -> float:
        return self.from_minute + (self.clock() - self.started) * self.speed

    def resumed(self, posted: Mapping[str, int]) -> "ReplaySource":
        """The replay going on from the last goal of it already ``posted`` (scorer -> goals stored),
        as a restarted ``mercato up --data`` does: from minute 0 it reported fewer goals than stored
        for every scorer until it caught up, each poll a warning, for as long as the match lasts (a
        reviewer's find). Goals of the minute it resumes at that were not posted are still posted."""
        counts: Counter[str] = Counter()
        resume = 0
        for goal in sorted(self.goals, key=lambda g: g.minute):
            counts[goal.scorer] += 1
            if counts[goal.scorer] <= posted.get(goal.scorer, 0):
                resume = goal.minute
        return replace(self, started=self.clock(), from_minute=resume)

    def fetch(self) -> Snapshot:
        now = self.minute()
        counts: Counter[str] = Counter()
        minutes: dict[tuple[str, int], int] = {}
        for goal in sorted(self.goals, key=lambda g: g.minute):
            if goal.minute <= now:
                counts[goal.scorer] += 1
                minutes[(goal.scorer, counts[goal.scorer])] = goal.minute
        return Snapshot(dict(counts), by_person_id=False, match_id=self.match_id, minutes=minutes)

    def finished(self) -> bool:
        return self.minute() > max((goal.minute for goal in self.goals), default=0)


def final_data() -> dict[str, Any]:
    """The 2022 World Cup final as shipped in ``mercato/feed/data``."""
    text = resources.files("mercato.feed").joinpath("data/wc2022_final.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
