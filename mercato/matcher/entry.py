"""The matcher Lambda's entry point: settings, clients and observability built once per cold start."""

from typing import Any

import boto3

from mercato import observability
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.handler import handle_batch, logger
from mercato.matcher.service import Matcher
from mercato.matcher.settings import MatcherSettings

tracer = observability.tracer("matcher")
settings = MatcherSettings.from_env()
observability.trace_orders("matcher", settings.trace_file)
matcher = Matcher(DynamoMatcherStore(boto3.resource("dynamodb").meta.client, settings.tables))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(matcher, event)
