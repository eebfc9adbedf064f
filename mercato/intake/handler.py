"""The Lambda entry point: configuration and clients are built once per cold start."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import get_secret

from mercato.intake.app import build_handler, logger
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.intake.settings import IntakeSettings

settings = IntakeSettings.from_env()


@cache
def _secret() -> str:
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value()
    assert settings.auth_secret_arn is not None
    return str(get_secret(settings.auth_secret_arn, max_age=300))


_handle = build_handler(
    Intake(DynamoIntakeStore(boto3.resource("dynamodb").meta.client, settings.tables)), _secret
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handle(event, context)
