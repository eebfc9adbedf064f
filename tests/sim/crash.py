"""Running one scenario on a fresh exchange with a fault plan on the matcher's or intake's client,
redelivering whatever a crash interrupted, and reading the final state in a form two runs can be
compared in (time held fixed, ids deterministic)."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3
from moto import mock_aws

from mercato.intake.dynamo import DynamoIntakeStore
from mercato.local import moto_atomic
from mercato.local.faults import Crash, FaultPlan, StorageCalls, no_faults
from mercato.local.invariants import scan, violations
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.house import is_house
from tests.integration.conftest import SECRET, Api

INTAKE_TIME = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MATCHER_TIME = INTAKE_TIME + timedelta(seconds=30)
"""Time stands still in a crash run: intake always at noon, the matcher 30 s later (past the GTD
expiries the scenarios set), so a redelivered run cannot expire anything the first would not."""
MAX_REDELIVERIES = 50
Target = Literal["matcher", "intake"]


def uuid7(millis: int, n: int) -> str:
    """A valid UUIDv7 that sorts by ``n`` within one millisecond."""
    value = (millis << 80) | (0x7 << 76) | ((n >> 62) & 0xFFF) << 64 | (0b10 << 62) | (n & (2**62 - 1))
    return str(uuid.UUID(int=value))


@dataclass
class Ids:
    """Order ids from a counter; a retried request rewinds it, so it gets the id it got before."""

    millis: int
    n: int = 0
    marked: int = 0

    def __call__(self) -> str:
        self.n += 1
        return uuid7(self.millis, self.n)

    def mark(self) -> None:
        self.marked = self.n

    def rewind(self) -> None:
        self.n = self.marked


Request = Callable[[Api, dict[str, str]], Any]
"""One request of a scenario; the dict holds what earlier requests answered (order ids by name)."""


@dataclass
class Scenario:
    name: str
    setup: Callable[[Api], None]
    """Listings and deposits, drained without faults."""
    requests: list[Request]
    """What the scenario is about: sent in order (each retried whole if intake crashes)."""
    drain_between: bool = False
    """Drain after each request (a cancel that must meet a settled book)."""


@dataclass
class Outcome:
    state: str
    calls: int
    """How many calls the target made: a crash run sweeps k over 1..calls."""
    crashes: int
    problems: list[str] = field(default_factory=list)


def _drain(pipeline: LocalPipeline) -> int:
    """Drain, redelivering after every crash, as Lambda and the mapping would; return the crashes."""
    for crashes in range(MAX_REDELIVERIES):
        try:
            pipeline.drain()
            return crashes
        except Crash:
            continue
    raise RuntimeError("the pipeline kept crashing")


def canonical(pipeline: LocalPipeline) -> str:
    """Every table, sorted, with the house's order ids (drawn by the matcher, so a redelivered run
    may draw others) named by their content, trade ids (derived from order ids) dropped, and the
    market's settlement counter dropped (a plan cut by a crash commits in more transactions)."""
    tables = {name: scan(pipeline.dynamodb, table) for name, table in vars(pipeline.tables).items()}
    house = sorted(
        (r for r in tables["orders"] if is_house(r["playerId"]) and "orderId" in r),
        key=lambda r: json.dumps(
            {k: v for k, v in r.items() if k not in ("orderId", "sk", "statusKey")},
            sort_keys=True,
            default=str,
        ),
    )
    for item in tables["trades"]:
        item.pop("tradeId", None)
    for item in tables["markets"]:
        item.pop("version", None)
    text = json.dumps(
        {
            name: sorted(json.dumps(i, sort_keys=True, default=str) for i in items)
            for name, items in tables.items()
        },
        sort_keys=True,
    )
    for n, record in enumerate(house):
        text = text.replace(record["orderId"], f"house-order-{n}")
    return text


def run(
    scenario: Scenario,
    target: Target | None = None,
    plan: FaultPlan = no_faults,
    *,
    race: Request | None = None,
    race_at: int = 0,
) -> Outcome:
    """The scenario on a fresh exchange, with ``plan`` on ``target``'s client; ``race`` is sent
    through intake just before the target's ``race_at``-th call."""
    moto_atomic.install()
    with mock_aws():
        millis = int(INTAKE_TIME.timestamp() * 1000)
        ids = Ids(millis)
        pipeline = LocalPipeline.create(
            boto3.Session(),
            "crash",
            SECRET,
            intake_clock=lambda: INTAKE_TIME,
            new_id=ids,
            matcher_clock=lambda: int(MATCHER_TIME.timestamp() * 1000),
        )
        pipeline.matcher.new_id = Ids(millis + 1)
        pipeline.matcher.sleep = lambda seconds: None
        api = Api(pipeline.intake, pipeline.dynamodb, pipeline.tables)
        scenario.setup(api)
        pipeline.drain()
        calls = StorageCalls(pipeline.dynamodb, plan)
        answers: dict[str, str] = {}
        raced: list[int] = []

        def land_race(call: int, operation: str) -> None:
            if race is not None and call == race_at and not raced:
                raced.append(call)
                race(api, answers)

        calls.before = land_race
        if target == "matcher":
            pipeline.matcher.store = DynamoMatcherStore(calls, pipeline.tables)
        elif target == "intake":
            pipeline.service.store = DynamoIntakeStore(calls, pipeline.tables)
        crashes = 0
        for request in scenario.requests:
            ids.mark()
            for _ in range(MAX_REDELIVERIES):
                try:
                    request(api, answers)
                    break
                except Crash:
                    crashes += 1
                    ids.rewind()  # the game sends the same request again
            if scenario.drain_between:
                crashes += _drain(pipeline)
        crashes += _drain(pipeline)
        if race is not None and not raced:  # the target made fewer calls: the race comes last
            race(api, answers)
            crashes += _drain(pipeline)
        calls.enabled = False
        return Outcome(
            canonical(pipeline), calls.calls, crashes, violations(pipeline.dynamodb, pipeline.tables)
        )
