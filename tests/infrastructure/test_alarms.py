"""Alarms on what fails without an error: the pipe (a stuck pipe leaves intake answering 202 and the
matcher idle), the feed's source (a wrong API key is a rejection, not a Lambda error) and intake's
rate limiter failing open. An alarm on an application metric must name exactly the metric the code
emits, namespace and dimensions included (CloudWatch matches dimensions exactly), so the expected
metric is read from what the deployed entry points print, not typed again here."""

import importlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from mercato.feed.sources import FeedError, Snapshot
from mercato.intake.auth import Principal, Scope
from mercato.intake.limits import LimiterUnavailable, RouteClass, Seen, Step
from mercato.resources import TABLES
from tests.infrastructure.synthesis import build

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")

PREFIX = "mercato-dev"
CONTEXT: dict[str, object] = {"region": "us-east-1", "readRegion": "eu-west-1"}


@pytest.fixture(scope="module")
def stacks() -> tuple[Template, Template]:
    app = build(CONTEXT)
    home = Template.from_stack(app.node.find_child("Mercato-dev"))  # type: ignore[arg-type]
    reads = Template.from_stack(app.node.find_child("MercatoRead-dev"))  # type: ignore[arg-type]
    return home, reads


def alarms(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()]


def watched(alarm: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    return alarm.get("Namespace", ""), alarm.get("MetricName", ""), dimensions


def emitted(lines: str) -> list[tuple[str, str, dict[str, str]]]:
    """Every metric in the CloudWatch embedded metric format lines printed (logs are JSON lines too)."""
    metrics = []
    for line in lines.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            (dimension_set,) = directive["Dimensions"]
            dimensions = {name: document[name] for name in dimension_set}
            metrics += [(directive["Namespace"], m["Name"], dimensions) for m in directive["Metrics"]]
    return metrics


def cold_start(module: str) -> Any:
    sys.modules.pop(module, None)
    return importlib.import_module(module)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, spec.name(PREFIX))
    with mock_aws():
        yield


class Context:
    function_name = "f"
    memory_limit_in_mb = 512
    aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"


class FailingSource:
    def fetch(self) -> Snapshot:
        raise FeedError("HTTP 403 from the scorers endpoint")


class UnreachableBuckets:
    def advance(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        raise LimiterUnavailable("the limits table is throttled")

    def restart(self, player_id: str, kind: RouteClass, step: Step) -> Seen | None:
        raise LimiterUnavailable("the limits table is throttled")


def feed_source_failure(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """What the feed's entry point emits for one scheduled poll whose source fails."""
    arn = boto3.client("secretsmanager").create_secret(Name=f"{PREFIX}/api-key", SecretString="k")["ARN"]
    monkeypatch.setenv("MERCATO_FEED_API_KEY_ARN", arn)
    monkeypatch.setenv("MERCATO_FEED_COMPETITION", "WC")
    feed = cold_start("mercato.feed.handler")
    monkeypatch.setattr(feed, "ScorersSource", lambda *args, **kwargs: FailingSource())
    capsys.readouterr()
    event = {"id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events"}
    assert feed.handler(event, Context())["rejected"] == {"SourceFailed": 1}
    return emitted(capsys.readouterr().out)


def test_the_feed_source_failure_alarm_watches_the_metric_the_feed_emits(
    stacks: tuple[Template, Template],
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    failures = [m for m in feed_source_failure(monkeypatch, capsys) if m[1].endswith("SourceFailed")]
    assert len(failures) == 1, failures
    (metric,) = failures
    home, _ = stacks
    (alarm,) = [a for a in alarms(home) if watched(a) == metric]
    # a feed that fails every poll: its once-a-minute polls, all failed, for five minutes
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert alarm["Threshold"] == 5
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_fail_open_alarm_watches_the_metric_intake_emits_in_each_region(
    stacks: tuple[Template, Template],
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MERCATO_AUTH_SECRET", "s" * 48)
    monkeypatch.setenv("MERCATO_LIMITS_TABLE", f"{PREFIX}-limits")
    intake = cold_start("mercato.intake.handler")
    intake._limiter.store = UnreachableBuckets()  # the deployed limiter, wired as at a cold start
    capsys.readouterr()
    intake._limiter.admit(Principal("alice", Scope.TRADE), "POST")  # let through, and counted
    (metric,) = emitted(capsys.readouterr().out)
    for template in stacks:
        (alarm,) = [a for a in alarms(template) if watched(a) == metric]
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 60
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_pipe_has_alarms_on_failed_executions_and_failed_target_stages(
    stacks: tuple[Template, Template],
) -> None:
    home, _ = stacks
    (pipe,) = home.find_resources("AWS::Pipes::Pipe").values()
    name = pipe["Properties"]["Name"]
    for metric in ("ExecutionFailed", "TargetStageFailed"):
        (alarm,) = [
            a for a in alarms(home) if watched(a) == ("AWS/EventBridge/Pipes", metric, {"PipeName": name})
        ]
        assert alarm["Statistic"] == "Sum"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_the_dashboard_graphs_the_pipe_feed_and_limiter_failures(stacks: tuple[Template, Template]) -> None:
    home, _ = stacks
    (dashboard,) = home.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("ExecutionFailed", "TargetStageFailed", "FeedSourceFailed", "RateLimiterFailOpen"):
        assert f'\\"{metric}\\"' in body, metric
    assert "AWS/EventBridge/Pipes" in body


def test_every_alarm_notifies_the_stack_s_topic_when_it_fires_and_when_it_clears(
    stacks: tuple[Template, Template],
) -> None:
    """A reviewer's find: not one alarm had an action, so none notified anyone."""
    for template in stacks:
        (topic,) = template.find_resources("AWS::SNS::Topic")
        alarms = template.find_resources("AWS::CloudWatch::Alarm")
        assert alarms
        for name, alarm in alarms.items():
            properties = alarm["Properties"]
            assert properties["AlarmActions"] == [{"Ref": topic}], name
            assert properties["OKActions"] == [{"Ref": topic}], name


def test_an_alarm_email_subscribes_to_the_topic_in_each_region() -> None:
    app = build({**CONTEXT, "alarmEmail": "ops@example.com"})
    for stack in ("Mercato-dev", "MercatoRead-dev"):
        template = Template.from_stack(app.node.find_child(stack))  # type: ignore[arg-type]
        template.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
        )


def test_without_an_alarm_email_the_topic_has_no_subscription(stacks: tuple[Template, Template]) -> None:
    for template in stacks:
        template.resource_count_is("AWS::SNS::Subscription", 0)
