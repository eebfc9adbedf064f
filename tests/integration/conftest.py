"""Intake on moto: tables built from the same specs the CDK app uses, the handler called with real
function URL events."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.emulators.function_url import function_url_event, response_body
from mercato.intake.app import build_handler
from mercato.intake.auth import Scope, issue_token
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.storage.names import TableNames
from mercato.storage.tables import create_tables

SECRET = "test-secret-with-at-least-32-bytes!!"
ADMIN = "game-server"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str:
        """The error's code; a reply that is not an error fails here with what it was instead."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        assert error is not None, f"not an error: {self.status} {self.body}"
        return str(self.body["error"]["code"])


class Api:
    """Calls the intake handler the way a function URL would."""

    def __init__(self, handler: Any, client: Any, tables: TableNames) -> None:
        self.handler = handler
        self.client = client
        self.tables = tables

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        player: str | None = None,
        admin: bool = False,
        token: str | None = None,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is None and (player or admin):
            token = issue_token(SECRET, player or ADMIN, Scope.ADMIN if admin else Scope.TRADE)
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if payload is not None:
            sent.setdefault("content-type", "application/json")
        response = self.handler(
            function_url_event(method, path, query=query, headers=sent, body=payload), None
        )
        text = response_body(response)
        return Reply(
            response["statusCode"], json.loads(text) if text else None, response.get("headers") or {}
        )

    # -- fixtures of state ----------------------------------------------------------------------

    def list_market(self, material: str = "wheat", **extra: Any) -> Reply:
        body = {"material": material, "kind": "commodity", "name": material.title()} | extra
        return self.call("POST", "/markets", body, admin=True)

    def list_footballer(self, material: str = "lionel-messi", **extra: Any) -> Reply:
        body: dict[str, Any] = {
            "material": material,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "personId": 44,
            "baseValue": 1000,
            "goalValue": 100,
        } | extra
        return self.call("POST", "/markets", body, admin=True)

    def deposit(self, player: str, asset: str, quantity: int, deposit_id: str | None = None) -> Reply:
        body = {
            "depositId": deposit_id or f"d-{player}-{asset}-{quantity}",
            "asset": asset,
            "quantity": quantity,
        }
        return self.call("POST", f"/accounts/{player}/deposits", body, admin=True)

    def order(
        self, player: str, side: str, quantity: int, price: int, material: str = "wheat", **extra: Any
    ) -> Reply:
        body = {"type": side, "material": material, "quantity": quantity, "pricePerUnit": price} | extra
        return self.call("POST", "/orders", body, player=player)

    def balances(self, player: str) -> dict[str, dict[str, int]]:
        reply = self.call("GET", "/accounts/me", player=player)
        assert reply.status == 200
        return dict(reply.body["balances"])

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, to show a rejected request changed nothing."""
        state = {}
        for name in vars(self.tables).values():
            items: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"TableName": name}
            while True:
                page = self.client.scan(**kwargs)
                items.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            state[name] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        return state


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    moto_atomic.install()
    with mock_aws():
        yield boto3.resource("dynamodb").meta.client


@pytest.fixture
def tables(dynamodb: Any) -> TableNames:
    return create_tables(dynamodb, "test")


@pytest.fixture
def api(dynamodb: Any, tables: TableNames) -> Api:
    handler = build_handler(Intake(DynamoIntakeStore(dynamodb, tables)), lambda: SECRET)
    return Api(handler, dynamodb, tables)


class SecretsClock:
    """Powertools' parameter cache, with its clock moved forward by hand: a test says how long a
    value read through ``get_secret(..., max_age=...)`` is kept, without waiting for it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aws_lambda_powertools.utilities import parameters
        from aws_lambda_powertools.utilities.parameters import base

        self.offset = timedelta(0)
        clock = self

        class Shifted(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> "Shifted":
                moment = datetime.now(tz) + clock.offset
                return cls.fromtimestamp(moment.timestamp(), tz)

        monkeypatch.setattr(base, "datetime", Shifted)
        parameters.clear_caches()  # type: ignore[no-untyped-call]  # nothing read before the test

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
