"""The intake Lambda's entry point: settings, clients and observability built once per cold start."""

import functools
import time
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import get_secret
from botocore.config import Config

from mercato import observability
from mercato.intake.app import build_handler, logger
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.dynamo_limits import DynamoBucketStore
from mercato.intake.limits import RateLimiter
from mercato.intake.regions import read_only
from mercato.intake.service import Intake
from mercato.intake.settings import IntakeSettings
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.pipes.wake import wake_up as _wake_up

tracer = observability.tracer("intake")
settings = IntakeSettings.from_env()
observability.trace_orders("intake", settings.trace_file)
client = boto3.resource("dynamodb").meta.client


SECRET_MAX_AGE_SECONDS = 300
"""How long a warm instance verifies tokens with the signing secret it read (Powertools' cache). A
secret rotated (after a leak, say) stops tokens signed with the old one within this long, on every
instance: a reviewer found a process-wide cache in front of Powertools' keeping the old secret, and
refusing tokens signed with the new one, for as long as an instance lived."""


def _secret() -> str:
    """The signing secret, read on each request: from the environment, or from Secrets Manager
    through Powertools' cache (at most one ``GetSecretValue`` per :data:`SECRET_MAX_AGE_SECONDS`)."""
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value()
    assert settings.auth_secret_arn is not None
    return str(get_secret(settings.auth_secret_arn, max_age=SECRET_MAX_AGE_SECONDS))


def _count(name: str) -> None:
    """Rare events (the limiter failing open), flushed at once rather than per invocation."""
    observability.count_now("intake", name)


_FAIL_FAST = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1)
"""For a call a request must not wait on: the limiter fails open, so a throttled or slow limits table
must cost a request one short try, not intake's retries and 60 s timeouts; a cancel's wake-up too."""
_limiter = (
    RateLimiter(
        settings.limits,
        DynamoBucketStore(boto3.resource("dynamodb", config=_FAIL_FAST).meta.client, settings.limits.table),
        clock_ms=lambda: time.time_ns() // 1_000_000,
        count=_count,
    )
    if settings.limits is not None
    else None
)
_boards = (
    DynamoLeaderboardStore(client, settings.leaderboard_table, settings.tables)
    if settings.leaderboard_table
    else None
)
_stream = settings.stream_name
_wake = (
    # after a cancel: a wake-up on the stream, so the matcher refreshes the market's ticker. The
    # cancel is done before it: a slow or throttled Kinesis must cost it one short try, not boto3's
    # retries and 60 s timeouts past the function's own 30 s (a reviewer's find)
    functools.partial(_wake_up, boto3.client("kinesis", config=_FAIL_FAST), _stream)
    if _stream is not None
    else None
)
_handle = build_handler(
    Intake(DynamoIntakeStore(client, settings.tables), leaderboard=_boards, wake=_wake),
    _secret,
    _limiter,
)
if settings.read_region is not None:
    _handle = read_only(_handle, region=settings.read_region, write_url=settings.write_url)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handle(event, context)
