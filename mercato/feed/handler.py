"""The feed Lambda, run each minute by a schedule: one poll of football-data.org's scorers."""

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters import get_secret

from mercato import observability
from mercato.feed.dynamo import DynamoFeedStore
from mercato.feed.job import FeedJob
from mercato.feed.settings import FeedSettings
from mercato.feed.sources import ScorersSource
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake

logger = observability.logger("feed")
tracer = observability.tracer("feed")
metrics = observability.metrics("feed")
settings = FeedSettings.from_env()
client = boto3.resource("dynamodb").meta.client


API_KEY_MAX_AGE_SECONDS = 60
"""How long a poll reuses the key it read (Powertools' cache, across warm invocations). The stack
creates the secret with a generated value and the README has the operator put the real key after the
first deploy: the poll after that uses it, a minute later at most. The schedule polls once a minute,
so this is about one ``GetSecretValue`` a poll. (A reviewer's find: a process-wide cache in front of
this one kept the generated key for as long as the schedule kept the environment warm.)"""


def _api_key() -> str:
    return str(get_secret(settings.api_key_arn, max_age=API_KEY_MAX_AGE_SECONDS))


def _count(name: str, n: int) -> None:
    metrics.add_metric(name=f"Feed{name}", unit=MetricUnit.Count, value=n)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = FeedJob(
        ScorersSource(_api_key(), settings.competition),
        DynamoFeedStore(client, settings.tables),
        Intake(DynamoIntakeStore(client, settings.tables)),
        _count,
    )
    result = job.poll()
    metrics.add_metric(name="FeedGoalsPosted", unit=MetricUnit.Count, value=len(result.posted))
    logger.info("polled", posted=result.posted, repeated=result.repeated, rejected=dict(result.rejected))
    return {"posted": result.posted, "repeated": result.repeated, "rejected": dict(result.rejected)}
