"""The matcher Lambda's entry point: settings, clients and observability built once per cold start."""

from typing import Any

import boto3
from botocore.config import Config

from mercato import observability
from mercato.environment import SettingsError
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.handler import handle_batch, logger
from mercato.matcher.service import Matcher
from mercato.matcher.settings import MatcherSettings
from mercato.matcher.sweep import SWEEP_THREADS, is_sweep, wake_due_markets

tracer = observability.tracer("matcher")
settings = MatcherSettings.from_env()
observability.trace_orders("matcher", settings.trace_file)
# a connection per sweep thread (boto3 keeps 10), so the sweep's parallel queries do not queue for one
dynamodb = boto3.resource("dynamodb", config=Config(max_pool_connections=SWEEP_THREADS)).meta.client
matcher = Matcher(DynamoMatcherStore(dynamodb, settings.tables))
kinesis = boto3.client("kinesis")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_sweep(event):  # the schedule: wake the markets with orders come due, through the stream
        if settings.stream_name is None:
            raise SettingsError("MERCATO_STREAM_NAME is not set: the sweep has no stream to wake")
        swept = wake_due_markets(
            matcher.store,
            matcher.clock(),
            kinesis,
            settings.stream_name,
            context.get_remaining_time_in_millis,
        )
        logger.info("swept", woken=swept.woken, looked_at=swept.looked_at, markets=swept.markets)
        return {"woken": swept.woken, "lookedAt": swept.looked_at, "markets": swept.markets}
    return handle_batch(matcher, event)
