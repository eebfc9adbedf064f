"""The whole pipeline in one process on moto: intake, the pipe, Kinesis, the mapping, the matcher.

Every resource comes from the definitions the CDK app reads. :meth:`LocalPipeline.drain` moves
everything through deterministically, which is what the tests (and games' own tests) use.
"""

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mercato.emulators.event_source_mapping import EventSourceMapping
from mercato.emulators.pipe import PipeRunner
from mercato.intake.app import build_handler
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.dynamo_limits import DynamoBucketStore
from mercato.intake.limits import LimitSettings, RateLimiter
from mercato.intake.service import Intake
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.rollup import Rollup
from mercato.local.state import Redrive, settle_everything
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.handler import handle_batch
from mercato.matcher.service import Matcher
from mercato.pipes.definition import MATCHER_SOURCE, STREAM
from mercato.pipes.wake import wake_up
from mercato.storage.names import TableNames
from mercato.storage.tables import create_support_tables, create_tables, table_names
from mercato.storage.upgrade import upgrade


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class LocalPipeline:
    dynamodb: Any
    """A boto3 DynamoDB *resource* client (``boto3.resource("dynamodb").meta.client``)."""
    tables: TableNames
    intake: Any
    """The function URL handler."""
    service: Intake
    """The domain functions behind it (the feed posts goals through these)."""
    matcher: Matcher
    pipe: PipeRunner
    mapping: EventSourceMapping
    rollup: Rollup
    """The leaderboard rollup: the stack runs it in the background, tests call ``rollup.run()``."""
    limiter: RateLimiter | None = None
    _woken: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    """A wake-up went on Kinesis past the pipe (a cancel's): the next pump reads Kinesis."""

    @classmethod
    def create(
        cls,
        session: Any,
        prefix: str,
        secret: str,
        *,
        intake_clock: Callable[[], datetime] | None = None,
        new_id: Callable[[], str] | None = None,
        matcher_clock: Callable[[], int] | None = None,
        endpoint_url: str | None = None,
        rate_limits: LimitSettings | None = None,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        dynamodb_endpoint_url: str | None = None,
        existing_tables: bool = False,
        upgrade_tables: bool = True,
    ) -> "LocalPipeline":
        """Create every resource on the (moto) endpoint ``session`` talks to, and wire them up.
        DynamoDB and its stream may live elsewhere (``dynamodb_endpoint_url``, DynamoDB Local);
        ``existing_tables`` reuses tables that exist already: kept from an earlier run, they are
        upgraded to this version's shapes first, unless ``upgrade_tables`` is off (tables this code
        just made, such as a shared engine's copy of its catalog, need none). The clocks and the id source can
        be fixed for reproducible runs. ``rate_limits`` turns the per-player limiter on (its
        ``table`` is replaced by the one created here); ``clock_ms`` is the limiter's and the
        leaderboard rollup's clock."""
        dynamodb_url = dynamodb_endpoint_url or endpoint_url
        dynamodb = session.resource("dynamodb", endpoint_url=dynamodb_url).meta.client
        if existing_tables and upgrade_tables:
            upgrade(dynamodb, prefix, create=True)
        if existing_tables:
            tables, support = table_names(prefix), create_support_tables(dynamodb, prefix, missing_only=True)
        else:
            tables, support = create_tables(dynamodb, prefix), create_support_tables(dynamodb, prefix)
        boards = DynamoLeaderboardStore(dynamodb, support["leaderboard"], tables)
        limiter = None
        if rate_limits is not None:
            limits = rate_limits.model_copy(update={"table": support["limits"]})
            limiter = RateLimiter(limits, DynamoBucketStore(dynamodb, limits.table), clock_ms)
        kinesis = session.client("kinesis", endpoint_url=endpoint_url)
        stream_name = STREAM.name(prefix)
        kinesis.create_stream(StreamName=stream_name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        sqs = session.client("sqs", endpoint_url=endpoint_url)
        queue_url = sqs.create_queue(QueueName=f"{prefix}-{MATCHER_SOURCE.on_failure_queue}")["QueueUrl"]
        stream_arn = dynamodb.describe_table(TableName=tables.book)["Table"]["LatestStreamArn"]
        matcher = Matcher(DynamoMatcherStore(dynamodb, tables))
        if matcher_clock is not None:
            matcher.clock = matcher_clock
        intake = Intake(DynamoIntakeStore(dynamodb, tables), leaderboard=boards)
        if intake_clock is not None:
            intake.clock = intake_clock
        if new_id is not None:
            intake.new_id = new_id
        pipeline = cls(
            dynamodb=dynamodb,
            tables=tables,
            intake=build_handler(intake, lambda: secret, limiter),
            service=intake,
            matcher=matcher,
            pipe=PipeRunner(
                session.client("dynamodbstreams", endpoint_url=dynamodb_url), kinesis, stream_arn, stream_name
            ),
            mapping=EventSourceMapping(
                kinesis,
                stream_name,
                lambda event, context: handle_batch(matcher, event),
                sqs=sqs,
                on_failure_queue_url=queue_url,
            ),
            rollup=Rollup(boards, boards, clock_ms),
            limiter=limiter,
        )
        intake.wake = functools.partial(pipeline.wake, kinesis, stream_name)
        return pipeline

    def wake(self, kinesis: Any, stream_name: str, material: str) -> None:
        """A wake-up on Kinesis, as intake puts one after a cancel on AWS."""
        wake_up(kinesis, stream_name, material)
        self._woken.set()

    @property
    def given_up(self) -> int:
        """Records the mapping gave up on after its retries (sent to its on-failure queue): each a
        wake-up lost, for the stack's next sweep to make up for with a full look."""
        return self.mapping.sent_to_failure_queue

    def pump(self, fetch: bool = True) -> bool:
        """One step of the background loop: move what the pipe and the mapping have; return whether
        anything was there to move. Only the pipe and a cancel's wake-up write to Kinesis here, so the
        mapping need not poll Kinesis when neither did (``fetch=False``)."""
        moved = self.pipe.poll()
        # cleared only when seen set, before the fetch: a wake-up set meanwhile put its record first
        woken = self._woken.is_set()
        if woken:
            self._woken.clear()
        arrived = self.mapping.fetch() if moved or fetch or woken else 0
        ran = self.mapping.step()
        return bool(moved or arrived or ran)

    def settle_everything(self, redrive: Redrive) -> int:
        """Settle every material of ``redrive`` once; how many fills that made."""
        return settle_everything(self.matcher, redrive)

    def drain(self, rounds: int = 1_000) -> None:
        """Move everything through the pipe and the matcher until nothing is left to do."""
        for _ in range(rounds):
            moved = self.pipe.drain()
            invoked = self.mapping.invocations
            self.mapping.drain()
            if not moved and self.mapping.invocations == invoked:
                return
        raise RuntimeError("the pipeline did not drain")
