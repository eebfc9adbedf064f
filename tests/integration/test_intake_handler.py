"""The deployed entry point: configuration read from the environment once, at cold start."""

import importlib
import json
import sys
from typing import Any

import boto3
import pytest

from mercato.emulators.function_url import function_url_event
from mercato.intake.auth import Scope, issue_token
from mercato.intake.settings import IntakeSettings
from mercato.resources import TABLES
from mercato.storage.names import TableNames
from tests.integration.conftest import SecretsClock


def cold_start(tables: TableNames, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """The intake entry point imported afresh, as a cold start, with the tables, a secret and ``env``."""
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, getattr(tables, spec.logical_name))
    monkeypatch.setenv("MERCATO_AUTH_SECRET", "cold-start-secret-of-32-bytes-at-least")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("mercato.intake.handler", None)
    return importlib.import_module("mercato.intake.handler")


def test_the_lambda_handler_reads_its_tables_and_secret_from_the_environment(
    tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = cold_start(tables, monkeypatch)
    token = issue_token("cold-start-secret-of-32-bytes-at-least", "alice", Scope.TRADE)

    response = handler.handler(
        function_url_event("GET", "/accounts/me", headers={"Authorization": f"Bearer {token}"}), _Context()
    )

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"playerId": "alice", "balances": {}}


def test_settings_need_exactly_one_secret_source() -> None:
    env = {spec.env_var: spec.logical_name for spec in TABLES}

    with pytest.raises(ValueError, match="exactly one"):
        IntakeSettings.from_env(env)
    with pytest.raises(ValueError, match="exactly one"):
        IntakeSettings.from_env(env | {"MERCATO_AUTH_SECRET": "s", "MERCATO_AUTH_SECRET_ARN": "arn:x"})
    assert IntakeSettings.from_env(env | {"MERCATO_AUTH_SECRET_ARN": "arn:x"}).auth_secret_arn == "arn:x"


class _Context:
    function_name = "intake"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:intake"
    aws_request_id = "req-1"


def test_the_rate_limiter_has_its_own_client_that_fails_fast(
    tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limiter fails open; with intake's client (default retries, 60 s timeouts) a throttled
    limits table cost every request seconds before it was let through. Its own client tries once
    and waits a second at most."""
    handler = cold_start(tables, monkeypatch, MERCATO_LIMITS_TABLE="mercato-test-limits")

    config = handler._limiter.store._client.meta.config
    assert handler._limiter.store._client is not handler.client
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout <= 1
    assert config.read_timeout <= 1


def test_a_cancels_wake_up_has_a_client_that_fails_fast(
    tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel is done before its wake-up is put: with boto3's defaults (standard retries, 60 s
    timeouts) a Kinesis that accepted connections and never answered held a reviewer's cancel for
    180 s, past the function's 30 s timeout, so the player saw an error for a cancel that stood."""
    handler = cold_start(tables, monkeypatch, MERCATO_STREAM_NAME="mercato-test-book-events")

    kinesis = handler._wake.args[0]
    config = kinesis.meta.config
    assert kinesis.meta.service_model.service_name == "kinesis"
    assert handler._wake.args[1] == "mercato-test-book-events"
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout <= 1
    assert config.read_timeout <= 1


def test_a_rotated_signing_secret_replaces_the_old_one_once_the_cache_expires(
    tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer's find: a process-wide cache in front of Powertools' kept the first secret an
    instance read for its whole life, so after a rotation (a leaked secret, say) old tokens kept
    working and new ones were refused on every warm instance. A rotated secret replaces the old one
    ``SECRET_MAX_AGE_SECONDS`` (300) after it was read."""
    clock = SecretsClock(monkeypatch)
    secrets = boto3.client("secretsmanager")
    old, new = "o" * 48, "n" * 48
    arn = secrets.create_secret(Name="mercato-test/auth-signing-secret", SecretString=old)["ARN"]
    handler = cold_start(tables, monkeypatch, MERCATO_AUTH_SECRET="", MERCATO_AUTH_SECRET_ARN=arn)

    def me(secret: str) -> int:
        token = issue_token(secret, "alice", Scope.TRADE)
        event = function_url_event("GET", "/accounts/me", headers={"Authorization": f"Bearer {token}"})
        return int(handler.handler(event, _Context())["statusCode"])

    assert me(old) == 200
    secrets.put_secret_value(SecretId=arn, SecretString=new)
    clock.advance(299)
    assert me(old) == 200, "within the cache's max age the secret read is kept"
    clock.advance(2)
    assert (me(new), me(old)) == (200, 401)
