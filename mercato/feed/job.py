"""The feed job: turn each rise in a player's cumulative goals into goal events, exactly once.

Each poll reads a snapshot from the source and, per footballer, compares it with the last count it
stored on the market item for the snapshot's match or season (``feedGoals:{matchId}``, so another
competition or a new season counts from nought). A rise of n yields n goal events whose ids are
derived from that match or season, the player and the goal number, posted through the same domain
function as ``POST /events/goals`` (so a re-poll, or a crash between posting and storing, can only
repeat an id, which is refused as a duplicate). Then it stores the new count, conditional on the old.

Bad input changes nothing: a source error, a row with no usable id or count, a player the catalog does
not know, or a count that went down is logged and counted, nothing is posted for it, the last good
count stays, and the next poll carries on. A goal taken back upstream (a count that went down, or a
goal moved to a team-mate) is not taken back here: goals only raise F.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from mercato.feed.sources import FeedError, Snapshot, Source
from mercato.intake.service import Intake
from mercato.models.errors import ExchangeError
from mercato.models.events import GoalEvent

log = logging.getLogger("mercato.feed")

SOURCE_FAILED: Final = "SourceFailed"
"""The rejection (and, prefixed by the Lambda, the metric) of a poll whose source failed: counted once
a poll, so a source that keeps failing (a wrong API key, a changed API) counts once a minute."""


@dataclass(frozen=True)
class Followed:
    material: str
    person_id: int | None
    feed_goals: int
    """The cumulative count this job last stored for the player, for the source asked about."""
    legacy: int | None = None
    """The one count an older version kept per footballer, while no source has its own: the count
    of the source it was posting for, which may be this one (an upgrade mid-competition) or not."""


class FeedStore(Protocol):
    def followed(self, source: str) -> list[Followed]:
        """Every footballer, with the count stored for ``source`` (a snapshot's ``match_id``)."""
        ...

    def save(self, material: str, source: str, *, was: int, now: int, inherited: bool = False) -> bool:
        """Store the new count for ``source`` if the stored one is still ``was`` (``inherited``: the
        legacy count is, and the source has none yet); ``False`` if it moved."""
        ...


@dataclass
class PollResult:
    posted: list[str] = field(default_factory=list)
    """Goal events this poll stored."""
    repeated: list[str] = field(default_factory=list)
    """Goal events it posted that were stored already (a crash between posting and storing the count)."""
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass
class FeedJob:
    source: Source
    store: FeedStore
    intake: Intake
    count: Callable[[str, int], None] = lambda name, n: None
    """Where rejections are counted (the Lambda wires Powertools Metrics here)."""

    def poll(self) -> PollResult:
        result = PollResult()
        try:
            snapshot = self.source.fetch()
        except FeedError as error:
            log.warning("feed source failed; keeping the last good snapshot", extra={"error": str(error)})
            self._reject(result, SOURCE_FAILED)
            return result
        if snapshot.skipped:
            log.warning(
                "the feed sent scorer rows with no usable player id or goal count; left out",
                extra={"rows": snapshot.skipped},
            )
            self._reject(result, "RowSkipped", snapshot.skipped)
        followed = self.store.followed(snapshot.match_id)
        index: dict[str, list[Followed]] = {}
        for f in followed:
            if not snapshot.by_person_id or f.person_id is not None:
                index.setdefault(str(f.person_id) if snapshot.by_person_id else f.material, []).append(f)
        unknown: list[str] = []
        for key, goals in sorted(snapshot.goals.items()):
            players = index.get(key, [])
            if not players:
                unknown.append(key)
                continue
            if len(players) > 1:  # which market scored is a guess: none gets the goals until one is
                log.warning(
                    "more than one footballer follows this player; none gets its goals",
                    extra={"player": key, "materials": sorted(p.material for p in players)},
                )
                self._reject(result, "AmbiguousPlayer")
                continue
            (player,) = players
            # An older version's count is this source's only if the source has reached it (counts
            # never go down within a competition's season): then its goals so far were posted, and
            # only the rise is. Below it, it was another season's or competition's: count from nought.
            inherited = player.legacy is not None and goals >= player.legacy
            stored = player.legacy if inherited and player.legacy is not None else player.feed_goals
            if goals < stored:
                log.warning(
                    f"the feed's goal count for {key} went down ({goals} < {stored}); ignored",
                    extra={"player": key, "stored": stored, "reported": goals},
                )
                self._reject(result, "GoalsWentDown")
                continue
            if goals == stored:
                continue
            self._post(snapshot, key, player, (stored, goals, inherited), result)
        if unknown:  # one line a poll: a competition's every scorer the catalog does not follow is many
            log.info(
                "the feed names players the catalog does not list",
                extra={"players": len(unknown), "first": unknown[:5]},
            )
            self._reject(result, "UnknownPlayer", len(unknown))
        return result

    def _post(
        self, snapshot: Snapshot, key: str, player: Followed, rise: tuple[int, int, bool], result: PollResult
    ) -> None:
        stored, goals, inherited = rise
        for number in range(stored + 1, goals + 1):
            event = GoalEvent.model_validate(
                {
                    "eventId": f"{snapshot.match_id}:{key}:{number}",
                    "material": player.material,
                    "matchId": snapshot.match_id,
                    "minute": snapshot.minutes.get((key, number), 0),
                }
            )
            try:
                _, stored_now = self.intake.post_goal(event)
            except ExchangeError as error:
                log.warning("a goal was refused", extra={"event": event.event_id, "error": error.message})
                self._reject(result, "GoalRefused")
                return
            (result.posted if stored_now else result.repeated).append(event.event_id)
        self.store.save(player.material, snapshot.match_id, was=stored, now=goals, inherited=inherited)

    def _reject(self, result: PollResult, reason: str, n: int = 1) -> None:
        result.rejected[reason] += n
        self.count(reason, n)
