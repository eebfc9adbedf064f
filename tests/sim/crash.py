"""Running one scenario on a fresh exchange with a fault plan on the matcher's or intake's client,
redelivering whatever a crash interrupted, and reading the final state in a form two runs can be
compared in (time held fixed, ids deterministic)."""

import json
import os
import pickle
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.local.faults import Crash, Fault, FaultPlan, StorageCalls, no_faults
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.house import is_house
from mercato.testing.invariants import problems, scan_tables
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


IDS_PER_REQUEST = 1_000


@dataclass
class Ids:
    """Order ids from a counter; each request starts at its own block, so a request sent again after
    a crash draws the ids it drew before, whatever the first attempt drew."""

    millis: int
    n: int = 0

    def __call__(self) -> str:
        self.n += 1
        return uuid7(self.millis, self.n)

    def start(self, request: int) -> None:
        self.n = request * IDS_PER_REQUEST


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
    intake_sweep: bool = False
    """Crash intake too: one scenario per kind of request (orders, a cancel, a goal) is enough."""


@dataclass
class Outcome:
    state: str
    calls: int
    """How many calls the target made: a crash run sweeps k over 1..calls."""
    crashes: int
    problems: list[str] = field(default_factory=list)
    branches: list[tuple[Fault, int, "Outcome"]] = field(default_factory=list)
    """For a :class:`Branching` run: each crashed run forked from it, by fault and call."""


def _drain(pipeline: LocalPipeline) -> int:
    """Drain, redelivering after every crash, as Lambda and the mapping would; return the crashes."""
    for crashes in range(MAX_REDELIVERIES):
        try:
            pipeline.drain()
            return crashes
        except Crash:
            continue
    raise RuntimeError("the pipeline kept crashing")


def canonical(pipeline: LocalPipeline, items: dict[str, list[dict[str, Any]]]) -> str:
    """Every table, sorted, with the house's order ids (drawn by the matcher, so a redelivered run
    may draw others) named by their content, trade ids (derived from order ids) dropped, and the
    market's settlement counter dropped (a plan cut by a crash commits in more transactions)."""
    tables = {name: [dict(item) for item in items[table]] for name, table in vars(pipeline.tables).items()}
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


@dataclass
class Branching:
    """A fault plan that forks the run at each of its calls, once per fault: the child gets the
    fault there (its only one) and runs to the end, reporting its outcome; the parent waits for it
    and goes on unfaulted. The child is in exactly the state a run with ``crash_at(k, fault)`` from
    the set-up would reach at call k (the runs are deterministic), so the sweep gets the same runs
    without repeating each one's first k - 1 calls."""

    faults: tuple[Fault, ...]
    outcomes: list[tuple[Fault, int, "Outcome"]] = field(default_factory=list)
    faulted: bool = False
    """True in a child: it has had its fault and branches no further."""

    def __call__(self, call: int, operation: str) -> Fault | None:
        if self.faulted:
            return None
        for fault in self.faults:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                os.close(_REPORT_TO[0])  # the uncrashed run's pipe is its own to write
                self.faulted = True
                _REPORT_TO[:] = [write]
                return fault
            os.close(write)
            # a run that failed is an outcome with the failure as its problem, never an exception
            # here, inside a storage call, where the exchange's own error handling would take it
            result = _result_from(read, pid)
            if isinstance(result, str):
                result = Outcome("", 0, 0, [f"the run failed:\n{result}"])
            self.outcomes.append((fault, call, result))
        return None


@dataclass(frozen=True)
class Run:
    """One run of a scenario: a fault plan on a target's client, and maybe a request landing just
    before the target's ``race_at``-th call."""

    target: Target | None = None
    plan: FaultPlan = no_faults
    race: Request | None = None
    race_at: int = 0


def _act(pipeline: LocalPipeline, ids: Ids, scenario: Scenario, spec: Run) -> Outcome:
    api = Api(pipeline.intake, pipeline.dynamodb, pipeline.tables)
    calls = StorageCalls(pipeline.dynamodb, spec.plan)
    answers: dict[str, str] = {}
    raced: list[int] = []

    def land_race(call: int, operation: str) -> None:
        if spec.race is not None and call == spec.race_at and not raced:
            raced.append(call)
            spec.race(api, answers)

    calls.before = land_race
    if spec.target == "matcher":
        pipeline.matcher.store = DynamoMatcherStore(calls, pipeline.tables)
    elif spec.target == "intake":
        pipeline.service.store = DynamoIntakeStore(calls, pipeline.tables)
    crashes = 0
    for n, request in enumerate(scenario.requests, start=1):
        for _ in range(MAX_REDELIVERIES):
            ids.start(n)
            try:
                request(api, answers)
                break
            except Crash:
                crashes += 1  # the game sends the same request again
        if scenario.drain_between:
            crashes += _drain(pipeline)
    crashes += _drain(pipeline)
    if spec.race is not None and not raced:  # the target made fewer calls: the race comes last
        spec.race(api, answers)
        crashes += _drain(pipeline)
    calls.enabled = False
    items = scan_tables(pipeline.dynamodb, pipeline.tables)  # one read for the state and the invariants
    branches = spec.plan.outcomes if isinstance(spec.plan, Branching) and not spec.plan.faulted else []
    found = problems(items.__getitem__, pipeline.tables)
    return Outcome(canonical(pipeline, items), calls.calls, crashes, found, branches)


_REPORT_TO: list[int] = []
"""Where this forked process writes its outcome: the pipe its parent reads (a :class:`Branching`
child points it at its own pipe, for it returns through the same frames as the run it forked from)."""


def _forked(act: Callable[[], Outcome]) -> Outcome:
    """``act()`` in a child process, which starts from this process's state exactly (the set-up
    exchange) and throws its own away: each run costs only what it does after the set-up."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        _REPORT_TO[:] = [write]
        try:
            result: Outcome | str = act()
        except BaseException:
            result = traceback.format_exc()
        with os.fdopen(_REPORT_TO[0], "wb") as out:
            pickle.dump(result, out)
        os._exit(0)
    os.close(write)
    return _outcome_from(read, pid)


def _outcome_from(read: int, pid: int) -> Outcome:
    """The outcome the forked child ``pid`` writes to ``read``'s pipe, once it has ended."""
    result = _result_from(read, pid)
    if isinstance(result, str):
        raise AssertionError(f"the run failed:\n{result}")
    return result


def _result_from(read: int, pid: int) -> "Outcome | str":
    """What the forked child ``pid`` writes to ``read``'s pipe (its outcome, or the traceback of
    what it raised), once it has ended; a child that ends without writing is a failure too."""
    with os.fdopen(read, "rb") as answer:
        try:
            result: Outcome | str = pickle.load(answer)
        except EOFError:
            result = "the run ended without reporting an outcome"
    _, status = os.waitpid(pid, 0)
    if status and not isinstance(result, str):
        result = f"the run reported an outcome, then exited with status {status}"
    return result


def run_all(scenario: Scenario, runs: list[Run]) -> list[Outcome]:
    """Set ``scenario`` up once on a fresh exchange, then each run from that same state."""
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
        scenario.setup(Api(pipeline.intake, pipeline.dynamodb, pipeline.tables))
        pipeline.drain()
        return [_forked(lambda spec=spec: _act(pipeline, ids, scenario, spec)) for spec in runs]  # type: ignore[misc]


def sweep(scenario: Scenario, target: Target, faults: tuple[Fault, ...]) -> Outcome:
    """The uncrashed run of ``scenario``, with (in ``branches``) a run for each fault at each call
    ``target`` makes: every crash-at-one-call run of the sweep, each forked where its fault lands."""
    return run_all(scenario, [Run(target, Branching(faults))])[0]


def run(
    scenario: Scenario, target: Target | None = None, plan: FaultPlan = no_faults, **race: Any
) -> Outcome:
    """One run of ``scenario`` (see :class:`Run`)."""
    return run_all(scenario, [Run(target, plan, **race)])[0]
