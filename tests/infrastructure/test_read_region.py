"""`-c readRegion=`: the read models as global tables with a replica in the read region, and a
read-only intake there that can write nothing but its own rate-limit buckets. And, on both stacks,
every function's environment satisfies its settings model."""

import json
import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template
from pydantic import BaseModel

from mercato.feed.settings import FeedSettings
from mercato.intake.limits import RouteClass, limit_env_var
from mercato.intake.settings import IntakeSettings
from mercato.leaderboard.settings import LeaderboardSettings
from mercato.matcher.settings import MatcherSettings
from mercato.resources import ALL_TABLES, LIMITS, TABLES
from tests.infrastructure.synthesis import build

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")

CONTEXT: dict[str, object] = {
    "region": "us-east-1",
    "readRegion": "eu-west-1",
    "writeUrl": "https://home.example",
}
WRITES = ("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "dynamodb:BatchWrite")


@pytest.fixture(scope="module")
def stacks() -> tuple[Template, Template]:
    app = build(CONTEXT)
    home = Template.from_stack(app.node.find_child("Mercato-dev"))  # type: ignore[arg-type]
    reads = Template.from_stack(app.node.find_child("MercatoRead-dev"))  # type: ignore[arg-type]
    return home, reads


def names(template: Template, kind: str) -> set[str]:
    return {r["Properties"]["TableName"] for r in template.find_resources(kind).values()}


def test_the_read_models_are_global_tables_replicated_to_the_read_region(
    stacks: tuple[Template, Template],
) -> None:
    home, _ = stacks
    replicated = {spec.name("mercato-dev") for spec in ALL_TABLES if spec is not LIMITS}
    assert names(home, "AWS::DynamoDB::GlobalTable") == replicated
    assert names(home, "AWS::DynamoDB::Table") == {"mercato-dev-limits"}
    for table in home.find_resources("AWS::DynamoDB::GlobalTable").values():
        regions = {replica["Region"] for replica in table["Properties"]["Replicas"]}
        assert regions == {"us-east-1", "eu-west-1"}
        assert all(
            replica["DeletionProtectionEnabled"] is True for replica in table["Properties"]["Replicas"]
        )
    book = next(
        t["Properties"]
        for t in home.find_resources("AWS::DynamoDB::GlobalTable").values()
        if t["Properties"]["TableName"] == "mercato-dev-book"
    )
    assert book["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_signing_secret_is_replicated_to_the_read_region(stacks: tuple[Template, Template]) -> None:
    home, _ = stacks
    secrets = [r["Properties"] for r in home.find_resources("AWS::SecretsManager::Secret").values()]
    signing = next(s for s in secrets if s["Name"] == "mercato-dev/auth-signing-secret")
    assert signing["ReplicaRegions"] == [{"Region": "eu-west-1"}]


def test_the_read_region_runs_only_a_read_only_intake(stacks: tuple[Template, Template]) -> None:
    _, reads = stacks
    (function,) = [r["Properties"] for r in reads.find_resources("AWS::Lambda::Function").values()]
    variables = function["Environment"]["Variables"]
    assert function["Handler"] == "mercato.intake.handler.handler"
    assert variables["MERCATO_READ_REGION"] == "eu-west-1"
    assert variables["MERCATO_WRITE_URL"] == "https://home.example"
    assert variables["MERCATO_BOOK_TABLE"] == "mercato-dev-book"  # the replica has the same name
    for kind in (
        "AWS::Pipes::Pipe",
        "AWS::Kinesis::Stream",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Events::Rule",
    ):
        assert reads.find_resources(kind) == {}, kind
    assert names(reads, "AWS::DynamoDB::Table") == {"mercato-dev-limits"}  # its own buckets
    (url,) = [r["Properties"] for r in reads.find_resources("AWS::Lambda::Url").values()]
    assert url["Cors"]["AllowMethods"] == ["GET", "POST", "DELETE"], "a page must see the 421"
    assert "Mercato-Write-Url" in url["Cors"]["ExposeHeaders"]
    assert "Retry-After" in url["Cors"]["ExposeHeaders"]


def test_the_read_intake_may_write_only_its_own_rate_limit_table(stacks: tuple[Template, Template]) -> None:
    _, reads = stacks
    statements: list[dict[str, Any]] = []
    for policy in reads.find_resources("AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    writing = [s for s in statements if any(str(a).startswith(WRITES) for a in _list(s["Action"]))]
    assert writing, "it does write its rate-limit buckets"
    for statement in writing:
        text = json.dumps(statement["Resource"])
        assert "Limits" in text
        assert "mercato-dev-book" not in text
    read = json.dumps([s["Resource"] for s in statements])
    assert ":dynamodb:eu-west-1:" in read
    assert ":dynamodb:us-east-1:" not in read
    assert not [a for s in statements for a in _list(s["Action"]) if str(a).startswith("kinesis:")]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_without_a_read_region_nothing_is_global() -> None:
    app = build()
    assert [child.node.id for child in app.node.children] == ["Mercato-dev"]


@pytest.mark.parametrize(
    "context",
    [{"readRegion": "eu-west-1"}, {"region": "eu-west-1", "readRegion": "eu-west-1"}, {"readRegion": "mars"}],
)
def test_a_read_region_needs_a_different_home_region(context: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="region"):
        build(context)


# -- every function starts: its environment satisfies its settings model (both stacks) ----------

SETTINGS: dict[str, type[BaseModel]] = {
    "mercato.intake.handler.handler": IntakeSettings,
    "mercato.matcher.entry.handler": MatcherSettings,
    "mercato.feed.handler.handler": FeedSettings,
    "mercato.leaderboard.handler.handler": LeaderboardSettings,
}
"""Each entry point's settings model."""
READ_BESIDE_THE_MODEL: dict[type[BaseModel], set[str]] = {
    IntakeSettings: {LIMITS.env_var, *(limit_env_var(kind) for kind in RouteClass)},
}
"""Variables a model reads through a nested reader (intake's rate limits)."""


@pytest.fixture(scope="module")
def functions(stacks: tuple[Template, Template]) -> list[tuple[str, dict[str, Any]]]:
    """``(stack, function properties)`` for each Mercato function of both stacks."""
    found = []
    for stack, template in zip(("Mercato-dev", "MercatoRead-dev"), stacks, strict=True):
        properties = [
            resource["Properties"] for resource in template.find_resources("AWS::Lambda::Function").values()
        ]
        found += [(stack, p) for p in properties if str(p.get("Handler", "")).startswith("mercato.")]
    return found


def deployed(variables: dict[str, Any]) -> dict[str, str]:
    """The environment as the function would see it: a reference (a table's or a secret's name,
    resolved by CloudFormation) stands in as a name."""
    return {
        name: value if isinstance(value, str) else "resolved-at-deploy" for name, value in variables.items()
    }


def read_by(model: type[BaseModel]) -> set[str]:
    aliases = {field.validation_alias for field in model.model_fields.values()}
    tables = {spec.env_var for spec in TABLES} if "tables" in model.model_fields else set()
    return (
        {alias for alias in aliases if isinstance(alias, str)}
        | tables
        | READ_BESIDE_THE_MODEL.get(model, set())
    )


def test_every_function_has_a_settings_model_its_environment_satisfies(
    functions: list[tuple[str, dict[str, Any]]],
) -> None:
    started = []
    for stack, function in functions:
        model = SETTINGS[function["Handler"]]  # a new function needs its model here
        env = deployed(function["Environment"]["Variables"])

        model.from_env(env)  # type: ignore[attr-defined]  # raises SettingsError naming what is wrong

        assert {name for name in env if name.startswith("MERCATO_")} <= read_by(model), stack
        started.append((stack, model.__name__))
    assert sorted(started) == [
        ("Mercato-dev", "FeedSettings"),
        ("Mercato-dev", "IntakeSettings"),
        ("Mercato-dev", "LeaderboardSettings"),
        ("Mercato-dev", "MatcherSettings"),
        ("MercatoRead-dev", "IntakeSettings"),
    ]


def test_the_check_refuses_an_environment_the_model_cannot_start_with(
    functions: list[tuple[str, dict[str, Any]]],
) -> None:
    feed = next(
        function for _, function in functions if function["Handler"] == "mercato.feed.handler.handler"
    )
    env = deployed(feed["Environment"]["Variables"])
    del env["MERCATO_FEED_API_KEY_ARN"]

    with pytest.raises(ValueError, match="MERCATO_FEED_API_KEY_ARN: missing"):
        FeedSettings.from_env(env)
    assert "MERCATO_FEED_SOMETHING" not in read_by(FeedSettings)
