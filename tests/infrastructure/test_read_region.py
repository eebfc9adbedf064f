"""`-c readRegion=`: the read models as global tables with a replica in the read region, and a
read-only intake there that can write nothing but its own rate-limit buckets."""

import json
import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from cdk.app import build
from mercato.resources import ALL_TABLES, LIMITS

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
    assert url["Cors"]["AllowMethods"] == ["GET"]


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
