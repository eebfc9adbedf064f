"""The goal feed: scorers diffed into goal events exactly once; bad input changes nothing."""

import http.client
import importlib
import io
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.feed.dynamo import DynamoFeedStore
from mercato.feed.job import FeedJob
from mercato.feed.settings import API_KEY_ARN_ENV
from mercato.feed.sources import FeedError, ReplaySource, ScorersSource, Snapshot, parse_scorers
from mercato.local.pipeline import LocalPipeline
from mercato.resources import TABLES
from mercato.storage.names import TableNames
from tests.integration.conftest import SECRET, Api, SecretsClock

MESSI = "lionel-messi"


@dataclass
class Scripted:
    """A source that answers from a script: snapshots, or errors to raise."""

    answers: list[dict[str, int] | Exception] = field(default_factory=list)
    season: str = "WC-2026-scorers"

    def fetch(self) -> Snapshot:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Snapshot(answer, by_person_id=True, match_id=self.season)


@pytest.fixture
def world() -> Iterator[tuple[Api, LocalPipeline]]:
    moto_atomic.install()
    with mock_aws():
        pipeline = LocalPipeline.create(boto3.Session(), "test", SECRET)
        api = Api(pipeline.intake, pipeline.dynamodb, pipeline.tables)
        api.list_footballer(MESSI)  # personId 44
        yield api, pipeline


def job(pipeline: LocalPipeline, source: Any, counted: list[str] | None = None) -> FeedJob:
    sink = counted if counted is not None else []
    return FeedJob(
        source,
        DynamoFeedStore(pipeline.dynamodb, pipeline.tables),
        pipeline.service,
        lambda n, _: sink.append(n),
    )


def goals(api: Api) -> int:
    pipeline_goals: int = api.call("GET", f"/markets/{MESSI}").body["goals"]
    return pipeline_goals


def test_a_rise_of_n_goals_posts_n_events_named_by_competition_person_and_number(
    world: tuple[Api, LocalPipeline],
) -> None:
    api, pipeline = world
    feed = job(pipeline, Scripted([{"44": 2}, {"44": 2}, {"44": 3}]))

    first, again, third = feed.poll(), feed.poll(), feed.poll()
    pipeline.drain()

    assert first.posted == ["WC-2026-scorers:44:1", "WC-2026-scorers:44:2"]
    assert again.posted == [], "a re-poll of the same counts posts nothing"
    assert third.posted == ["WC-2026-scorers:44:3"]
    assert goals(api) == 3
    assert api.call("GET", f"/markets/{MESSI}").body["fundamentalValue"] == 1_300


def test_a_crash_between_posting_and_storing_only_repeats_ids_that_are_refused(
    world: tuple[Api, LocalPipeline],
) -> None:
    api, pipeline = world
    feed = job(pipeline, Scripted([{"44": 1}, {"44": 1}]))
    feed.poll()
    pipeline.dynamodb.update_item(  # as if the count had never been stored
        TableName=pipeline.tables.markets,
        Key={"material": MESSI},
        UpdateExpression="REMOVE #count",
        ExpressionAttributeNames={"#count": "feedGoals:WC-2026-scorers"},
    )

    repeat = feed.poll()
    pipeline.drain()

    # posted again under the same id, stored once, and not reported as a new goal (a reviewer's find:
    # FeedGoalsPosted counted the repeat)
    assert (repeat.posted, repeat.repeated) == ([], ["WC-2026-scorers:44:1"])
    assert goals(api) == 1


def test_a_new_season_or_competition_counts_its_goals_from_nought(world: tuple[Api, LocalPipeline]) -> None:
    # Given 8 goals counted in the 2022 World Cup
    api, pipeline = world
    assert len(job(pipeline, Scripted([{"44": 8}], "WC-2022-scorers")).poll().posted) == 8
    # When the 2026 World Cup's scorers say 2, and then another competition's say 1
    season = job(pipeline, Scripted([{"44": 2}], "WC-2026-scorers")).poll()
    other = job(pipeline, Scripted([{"44": 1}], "CL-2026-scorers")).poll()
    pipeline.drain()
    # Then each posts its own goals, under its own ids, and all eleven count
    assert season.posted == ["WC-2026-scorers:44:1", "WC-2026-scorers:44:2"]
    assert other.posted == ["CL-2026-scorers:44:1"]
    assert goals(api) == 11


def _legacy_count(pipeline: LocalPipeline, goals: int) -> None:
    """The one count per footballer that a version before per-source counts kept."""
    pipeline.dynamodb.update_item(
        TableName=pipeline.tables.markets,
        Key={"material": MESSI},
        UpdateExpression="SET feedGoals = :goals",
        ExpressionAttributeValues={":goals": goals},
    )


def test_an_older_versions_count_carries_on_under_a_source_that_has_reached_it(
    world: tuple[Api, LocalPipeline],
) -> None:
    # Given 2 goals posted by a version that kept one count per footballer (`feedGoals`)
    _, pipeline = world
    _legacy_count(pipeline, 2)
    # When this version's feed first sees 3 (the same competition, upgraded mid-way), then a new
    # season sees 1
    first = job(pipeline, Scripted([{"44": 3}])).poll()
    after = job(pipeline, Scripted([{"44": 1}], "WC-2030-scorers")).poll()
    # Then only the third goal is posted (the first two are not posted again under new ids), and
    # the new season starts from nought
    assert first.posted == ["WC-2026-scorers:44:3"]
    assert after.posted == ["WC-2030-scorers:44:1"]


def test_an_older_versions_count_above_what_a_source_reports_is_another_seasons(
    world: tuple[Api, LocalPipeline],
) -> None:
    # Given 8 goals counted by an older version (last season's), and a new season at 2
    api, pipeline = world
    _legacy_count(pipeline, 8)
    # When the feed polls, and again at 3
    first = job(pipeline, Scripted([{"44": 2}])).poll()
    then = job(pipeline, Scripted([{"44": 3}])).poll()
    pipeline.drain()
    # Then the new season's goals are posted from its first, not held back behind the old count
    assert first.posted == ["WC-2026-scorers:44:1", "WC-2026-scorers:44:2"]
    assert then.posted == ["WC-2026-scorers:44:3"]
    assert goals(api) == 3


def test_a_player_two_footballers_follow_gets_no_goals_and_says_so(world: tuple[Api, LocalPipeline]) -> None:
    # Given a second market listed with Messi's personId (a renamed footballer listed again)
    api, pipeline = world
    assert api.list_footballer("leo-messi").status == 201
    counted: list[str] = []
    # When the scorers say 1 for person 44
    polled = job(pipeline, Scripted([{"44": 1}]), counted).poll()
    pipeline.drain()
    # Then neither market gets a goal by guesswork, and the reason is counted
    assert (polled.posted, dict(polled.rejected), counted) == (
        [],
        {"AmbiguousPlayer": 1},
        ["AmbiguousPlayer"],
    )
    assert goals(api) == 0


def test_a_goal_count_that_goes_down_is_ignored_and_the_last_good_count_kept(
    world: tuple[Api, LocalPipeline],
) -> None:
    api, pipeline = world
    feed = job(pipeline, Scripted([{"44": 2}, {"44": 1}, {"44": 3}]))

    feed.poll()
    down = feed.poll()
    up = feed.poll()
    pipeline.drain()

    assert (down.posted, dict(down.rejected)) == ([], {"GoalsWentDown": 1})
    assert up.posted == ["WC-2026-scorers:44:3"], "counted from the last good snapshot"
    assert goals(api) == 3


# -- the sources ------------------------------------------------------------------------------


class Response(io.BytesIO):
    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_the_scorers_source_asks_football_data_with_the_key_and_reads_the_counts() -> None:
    asked: list[Any] = []

    def opener(request: Any, timeout: float) -> Response:
        asked.append((request.full_url, request.get_header("X-auth-token"), timeout))
        payload = {
            "season": {"id": 1382, "startDate": "2026-06-11", "endDate": "2026-07-19"},
            "scorers": [{"player": {"id": 44, "name": "Lionel Messi"}, "goals": 7}],
        }
        return Response(json.dumps(payload).encode())

    snapshot = ScorersSource("key-1", "WC", opener=opener).fetch()

    assert snapshot.goals == {"44": 7}
    assert snapshot.match_id == "WC-2026-scorers", "the counts are the 2026 season's"
    assert asked == [("https://api.football-data.org/v4/competitions/WC/scorers?limit=200", "key-1", 10.0)]


SEASON = b'{"season": {"startDate": "2026-06-11"}, '


@pytest.mark.parametrize(
    "answer",
    [
        urllib.error.URLError("unreachable"),
        TimeoutError("timed out"),
        b"<html>busy</html>",
        http.client.IncompleteRead(b'{"season": {"startDate": "2026-', 4000),
        b'{"errorCode": 429}',
        b'{"scorers": [{"player": {"id": 44}, "goals": 1}]}',
        b'{"season": {"startDate": "26-06-11"}, "scorers": []}',
        SEASON + b'"scorers": [{"player": {"id": 44}, "goals": null}, {"player": {"id": 45}, "goals": "3"}]}',
    ],
    ids=[
        "unreachable",
        "timeout",
        "not-json",
        "cut-short",
        "wrong-shape",
        "no-season",
        "bad-season",
        "no-row-read",
    ],
)
def test_a_failing_or_malformed_scorers_response_is_a_feed_error(answer: Exception | bytes) -> None:
    def opener(request: Any, timeout: float) -> Response:
        if isinstance(answer, Exception):
            raise answer
        return Response(answer)

    with pytest.raises(FeedError):
        ScorersSource("key", opener=opener).fetch()


def test_parse_scorers_reads_every_row() -> None:
    payload = {"scorers": [{"player": {"id": 1}, "goals": 8}, {"player": {"id": 2}, "goals": 0}]}

    assert parse_scorers(payload) == ({"1": 8, "2": 0}, 0)


def test_a_row_with_no_usable_id_or_count_is_left_out_and_the_rest_are_read() -> None:
    """football-data.org sends null for what it does not know yet: one such row once failed the whole
    answer, so every other scorer's goals waited behind it (a reviewer's find)."""
    rows = [
        {"player": {"id": 44}, "goals": 3, "assists": None, "penalties": None},
        {"player": {"id": 99}, "goals": None},
        {"player": {"id": 98}, "goals": -1},
        {"player": {"id": 97}, "goals": True},
        {"player": {}, "goals": 1},
        {"player": {"id": "45"}, "goals": 1},
        "not a row",
    ]

    assert parse_scorers({"scorers": rows}) == ({"44": 3}, 6)


def test_rows_left_out_are_counted_and_the_others_goals_posted(world: tuple[Api, LocalPipeline]) -> None:
    api, pipeline = world
    counted: list[str] = []
    source = Scripted()
    source.fetch = lambda: Snapshot({"44": 1}, by_person_id=True, match_id="WC-2026-scorers", skipped=2)  # type: ignore[method-assign]

    result = job(pipeline, source, counted).poll()
    pipeline.drain()

    assert (result.posted, dict(result.rejected)) == (["WC-2026-scorers:44:1"], {"RowSkipped": 2})
    assert counted == ["RowSkipped"]
    assert goals(api) == 1


def test_players_the_catalog_does_not_follow_are_one_log_line_and_one_count_a_poll(
    world: tuple[Api, LocalPipeline], caplog: pytest.LogCaptureFixture
) -> None:
    """A competition's every scorer but the few the catalog follows: 200 warnings a minute before (a
    reviewer's find, with the default catalog, which follows nobody by person id)."""
    _, pipeline = world
    counted: list[str] = []
    snapshot = {str(person): 1 for person in range(1_000, 1_200)}

    with caplog.at_level("INFO", logger="mercato.feed"):
        result = job(pipeline, Scripted([snapshot]), counted).poll()

    assert dict(result.rejected) == {"UnknownPlayer": 200}
    assert counted == ["UnknownPlayer"]
    unknown = [r for r in caplog.records if "does not list" in r.getMessage()]
    assert len(unknown) == 1
    assert unknown[0].levelname == "INFO"


def test_the_2022_final_replays_its_goals_at_the_chosen_speed() -> None:
    now = [0.0]
    replay = ReplaySource.wc2022_final(speed=10.0, clock=lambda: now[0])

    now[0] = 8.5  # minute 85
    at_85 = replay.fetch()
    now[0] = 12.5  # minute 125
    at_end = replay.fetch()

    assert at_85.goals == {"lionel-messi": 1, "angel-di-maria": 1, "kylian-mbappe": 2}
    assert at_end.goals == {"lionel-messi": 2, "angel-di-maria": 1, "kylian-mbappe": 3}
    assert at_end.minutes[("kylian-mbappe", 3)] == 118
    assert replay.finished()


class _ScheduleContext:
    function_name = "feed"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:feed"
    aws_request_id = "req-1"


def test_the_deployed_feed_uses_the_api_key_put_after_the_first_deploy(
    tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer's find: the stack creates the key's secret with a generated value and the README
    has the operator put the real key after the first deploy, but a process-wide cache kept the
    generated key for as long as the every-minute schedule kept the environment warm: every poll was
    refused (403) and no goal was ever posted. A key put is used once Powertools' cache expires,
    ``API_KEY_MAX_AGE_SECONDS`` (60) after it was read."""
    clock = SecretsClock(monkeypatch)
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="mercato-test/football-data-api-key", SecretString="GENERATED")["ARN"]
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, getattr(tables, spec.logical_name))
    monkeypatch.setenv(API_KEY_ARN_ENV, arn)
    sys.modules.pop("mercato.feed.handler", None)
    feed = importlib.import_module("mercato.feed.handler")
    sent: list[str | None] = []

    def refused(request: urllib.request.Request, timeout: float) -> Any:
        sent.append(request.get_header("X-auth-token"))
        raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", Message(), None)

    monkeypatch.setattr(
        feed, "ScorersSource", lambda key, competition: ScorersSource(key, competition, opener=refused)
    )
    assert feed.handler({"detail-type": "Scheduled Event"}, _ScheduleContext())["rejected"] == {
        "SourceFailed": 1
    }
    secrets.put_secret_value(SecretId=arn, SecretString="REAL-KEY")
    for seconds in (59, 2):  # a minute after the key was read, a poll reads it again
        clock.advance(seconds)
        feed.handler({"detail-type": "Scheduled Event"}, _ScheduleContext())

    assert sent == ["GENERATED", "GENERATED", "REAL-KEY"]


def test_a_replay_resumed_on_posted_goals_goes_on_after_the_last_of_them() -> None:
    """A restarted ``mercato up --data`` replayed from minute 0, reporting fewer goals than stored for
    every scorer until it caught up (a warning each poll for the match's length: a reviewer's find).
    Resumed, it reports at least what was posted, and the goals after it as they come."""
    now = [100.0]
    replay = ReplaySource.wc2022_final(speed=10.0, clock=lambda: now[0])
    posted = {"lionel-messi": 1, "angel-di-maria": 1, "kylian-mbappe": 1}  # the goals up to minute 80

    resumed = replay.resumed(posted)

    assert resumed.minute() == 80
    assert resumed.fetch().goals == posted
    now[0] += 0.15  # minute 81.5: Mbappé's second
    assert resumed.fetch().goals == posted | {"kylian-mbappe": 2}
    assert replay.resumed({}).minute() == 0, "nothing posted: from the kick-off"
    everything = replay.resumed({"lionel-messi": 2, "angel-di-maria": 1, "kylian-mbappe": 3})
    assert everything.minute() == 118
    assert everything.fetch().goals == {"lionel-messi": 2, "angel-di-maria": 1, "kylian-mbappe": 3}
