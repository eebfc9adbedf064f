"""Where goals come from: football-data.org's scorers endpoint, or a recorded match replayed.

A source answers one question, "how many goals has each player scored so far?", as a snapshot of
cumulative counts. The job turns rises in that count into goal events; a source never has to
remember what it reported before.
"""

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
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise FeedError(f"football-data.org did not answer: {error}") from error
        except ValueError as error:
            raise FeedError(f"football-data.org sent something that is not JSON: {error}") from error
        season = parse_season(payload)
        return Snapshot(
            parse_scorers(payload), by_person_id=True, match_id=f"{self.competition}-{season}-scorers"
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


def parse_scorers(payload: Any) -> dict[str, int]:
    """``{"scorers": [{"player": {"id": 44, ...}, "goals": 3, ...}]}`` -> ``{"44": 3}``."""
    try:
        scorers = payload["scorers"]
        counts: dict[str, int] = {}
        for row in scorers:
            person, goals = row["player"]["id"], row["goals"]
            if (
                not isinstance(person, int)
                or isinstance(goals, bool)
                or not isinstance(goals, int)
                or goals < 0
            ):
                raise FeedError(f"a scorer row with a bad id or goal count: {row!r}")
            counts[str(person)] = goals
        return counts
    except (KeyError, TypeError) as error:
        raise FeedError(f"the scorers response has an unexpected shape: {error!r}") from error


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
