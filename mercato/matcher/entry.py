"""The matcher Lambda's entry point: clients and configuration built once per cold start."""

from typing import Any

import boto3
from aws_lambda_powertools import Tracer

from mercato import tracing
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.handler import handle_batch, logger
from mercato.matcher.service import Matcher
from mercato.storage.names import TableNames

tracer = Tracer(service="matcher")
tracing.configure_from_env()
tables = TableNames.from_env()
matcher = Matcher(DynamoMatcherStore(boto3.resource("dynamodb").meta.client, tables))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(matcher, event)
