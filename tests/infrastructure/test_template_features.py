"""Template assertions for the leaderboard rollup, the rate-limit table and tracing."""

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from tests.infrastructure.test_template import (
    actions,
    function,
    policy_statements,
    resources,
    synth,
    table_of,
    written_resources,
)

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")


@pytest.fixture(scope="module")
def template() -> Template:
    return synth({"leaderboardMinutes": "15", "rateLimitOrders": "40/10", "rateLimitAdmin": "500/100"})


def test_the_limits_and_leaderboard_tables_expire_items_by_time_to_live(template: Template) -> None:
    tables = {
        props["TableName"]: props
        for props in (r["Properties"] for r in resources(template, "AWS::DynamoDB::Table").values())
    }
    for name in ("mercato-dev-limits", "mercato-dev-leaderboard"):
        assert tables[name]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert "TimeToLiveSpecification" not in tables["mercato-dev-book"]


def test_intake_is_configured_with_its_rate_limits_and_reads_the_leaderboard(template: Template) -> None:
    variables = function(template, "mercato.intake.handler.handler")["Environment"]["Variables"]
    assert variables["MERCATO_LIMIT_ORDERS"] == "40/10"
    assert variables["MERCATO_LIMIT_READS"] == "60/20"
    assert variables["MERCATO_LIMIT_ADMIN"] == "500/100"
    assert "MERCATO_LIMITS_TABLE" in variables
    assert "MERCATO_LEADERBOARD_TABLE" in variables
    written = {table_of(w) for w in written_resources(policy_statements(template, "IntakeFunction"))}
    assert "limits" in written
    assert "leaderboard" not in written  # intake only reads boards


def test_admin_traffic_is_exempt_unless_configured() -> None:
    variables = function(synth(), "mercato.intake.handler.handler")["Environment"]["Variables"]
    assert "MERCATO_LIMIT_ADMIN" not in variables
    assert variables["MERCATO_LIMIT_ORDERS"] == "20/5"


def test_the_rollup_runs_on_its_schedule_and_writes_only_the_leaderboard(template: Template) -> None:
    rules = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()]
    rollup = next(rule for rule in rules if "LeaderboardFunction" in json.dumps(rule["Targets"]))
    assert rollup["ScheduleExpression"] == "rate(15 minutes)"
    statements = policy_statements(template, "LeaderboardFunction")
    assert {table_of(w) for w in written_resources(statements)} == {"leaderboard"}
    assert not {a for a in actions(statements) if a.startswith(("kinesis:", "secretsmanager:"))}
    variables = function(template, "mercato.leaderboard.handler.handler")["Environment"]["Variables"]
    assert "MERCATO_LEADERBOARD_TABLE" in variables


def test_every_function_traces_with_x_ray(template: Template) -> None:
    functions = [r["Properties"] for r in resources(template, "AWS::Lambda::Function").values()]
    ours = [f for f in functions if str(f.get("Handler", "")).startswith("mercato.")]
    assert len(ours) == 4
    assert all(f["TracingConfig"] == {"Mode": "Active"} for f in ours)
