"""Template assertions for every property Mercato's guarantees rest on, and a check that the local
stack and the deployment read the same definitions."""

import ast
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template

from cdk import assets
from mercato.matcher.settings import STREAM_NAME_ENV
from mercato.matcher.sweep import SWEEP_EVENT
from mercato.pipes.definition import MATCHER_SOURCE, PIPE
from mercato.resources import ALL_TABLES, BOOK, TABLES
from tests.infrastructure.synthesis import build

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")


def synth(context: dict[str, object] | None = None) -> Template:
    app = build(context)
    stage = (context or {}).get("stage", "dev")
    return Template.from_stack(app.node.find_child(f"Mercato-{stage}"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


def resources(template: Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def function(template: Template, handler: str) -> dict[str, Any]:
    """The properties of the function whose handler is ``handler``."""
    return next(
        r["Properties"]
        for r in resources(template, "AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == handler
    )


def stream_puts(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements that let a role put records on Kinesis."""
    return [s for s in statements if {a for a in actions([s]) if a.startswith("kinesis:Put")}]


def only(template: Template, kind: str) -> dict[str, Any]:
    (resource,) = resources(template, kind).values()
    properties: dict[str, Any] = resource["Properties"]
    return properties


def policy_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if role_fragment in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        found.update([value] if isinstance(value, str) else value)
    return found


# -- tables -----------------------------------------------------------------------------------


def test_every_table_is_on_demand_with_point_in_time_recovery_deletion_protection_and_the_shared_keys(
    template: Template,
) -> None:
    tables = {
        props["TableName"]: props
        for props in (r["Properties"] for r in resources(template, "AWS::DynamoDB::Table").values())
    }
    assert set(tables) == {spec.name("mercato-dev") for spec in ALL_TABLES}
    for spec in ALL_TABLES:
        table = tables[spec.name("mercato-dev")]
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["DeletionProtectionEnabled"] is True  # no DeleteTable drops the balances
        keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
        assert keys == {spec.partition_key: "HASH"} | ({spec.sort_key: "RANGE"} if spec.sort_key else {})
        indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {index.name for index in spec.indexes}


def test_the_book_table_streams_new_and_old_images(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": BOOK.name("mercato-dev"),
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
    )


# -- the pipe ---------------------------------------------------------------------------------


def test_the_pipe_filters_keys_and_targets_exactly_as_the_local_runner(template: Template) -> None:
    pipe = only(template, "AWS::Pipes::Pipe")
    source = pipe["SourceParameters"]
    assert json.loads(source["FilterCriteria"]["Filters"][0]["Pattern"]) == json.loads(PIPE.filter_pattern)
    assert source["DynamoDBStreamParameters"] == {
        "StartingPosition": PIPE.starting_position,
        "BatchSize": PIPE.batch_size,
        "MaximumBatchingWindowInSeconds": PIPE.maximum_batching_window_seconds,
    }
    assert pipe["TargetParameters"] == {
        "KinesisStreamParameters": {"PartitionKey": "$.dynamodb.Keys.material.S"}
    }
    assert "StreamArn" in json.dumps(pipe["Source"])
    assert "Book" in json.dumps(pipe["Source"])
    assert "BookEventsStream" in json.dumps(pipe["Target"])


def test_only_this_account_s_pipe_may_assume_the_pipe_role(template: Template) -> None:
    (role,) = [
        r["Properties"]
        for logical_id, r in resources(template, "AWS::IAM::Role").items()
        if logical_id.startswith("PipeRole")
    ]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}
    assert set(statement["Condition"]["StringEquals"]) == {"aws:SourceAccount"}
    source = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":pipes:" in source
    assert "pipe/mercato-dev-" in source


def test_the_pipe_role_may_read_the_book_stream_and_write_kinesis_only(template: Template) -> None:
    granted = actions(policy_statements(template, "PipeRole"))
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "kinesis:PutRecords"} <= granted
    assert not {
        a
        for a in granted
        if a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "kinesis:Get"))
    }


# -- the matcher's event source ---------------------------------------------------------------


def test_the_event_source_mapping_has_the_shared_settings(template: Template) -> None:
    mapping = only(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["ParallelizationFactor"] == MATCHER_SOURCE.parallelization_factor
    assert mapping["BisectBatchOnFunctionError"] is MATCHER_SOURCE.bisect_batch_on_function_error
    assert mapping["MaximumRetryAttempts"] == MATCHER_SOURCE.maximum_retry_attempts
    assert mapping["MaximumRecordAgeInSeconds"] == MATCHER_SOURCE.maximum_record_age_seconds
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == MATCHER_SOURCE.batch_size
    assert mapping["StartingPosition"] == MATCHER_SOURCE.starting_position
    destination = json.dumps(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert "MatcherOnFailure" in destination


def test_the_kinesis_stream_is_on_demand_by_default_and_sized_by_context() -> None:
    provisioned = synth({"stage": "load", "shardCount": "4", "parallelizationFactor": "3"})

    only_stream = only(provisioned, "AWS::Kinesis::Stream")
    assert only_stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert only_stream["ShardCount"] == 4
    assert only(provisioned, "AWS::Lambda::EventSourceMapping")["ParallelizationFactor"] == 3


def test_the_default_stream_is_on_demand(template: Template) -> None:
    assert only(template, "AWS::Kinesis::Stream")["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}


# -- functions --------------------------------------------------------------------------------


def test_the_function_url_is_public_and_the_function_checks_tokens_itself(template: Template) -> None:
    url = only(template, "AWS::Lambda::Url")
    assert url["AuthType"] == "NONE"
    assert url["Cors"]["AllowOrigins"] == ["*"]
    # traceparent continues a browser's trace; Last-Event-ID lets a browser resume an event stream (local)
    assert set(url["Cors"]["AllowHeaders"]) == {
        "Authorization",
        "Content-Type",
        "Last-Event-ID",
        "traceparent",
    }
    # a page on another origin reads a 429's wait, a 421's write URL, a 405's methods, a 401's
    # challenge and the trace; a browser keeps a pre-flight's answer ten minutes
    assert set(url["Cors"]["ExposeHeaders"]) == {
        "Retry-After",
        "Mercato-Write-Url",
        "Mercato-Region",
        "Allow",
        "WWW-Authenticate",
        "traceparent",
    }
    assert url["Cors"]["MaxAge"] == 600
    intake = function(template, "mercato.intake.handler.handler")
    assert "MERCATO_AUTH_SECRET_ARN" in intake["Environment"]["Variables"]
    assert "MERCATO_AUTH_SECRET" not in intake["Environment"]["Variables"], "no secret in the template"


def test_every_function_is_arm64_python311_with_json_logs(template: Template) -> None:
    functions = [r["Properties"] for r in resources(template, "AWS::Lambda::Function").values()]
    handlers = {f["Handler"] for f in functions}
    assert {
        "mercato.intake.handler.handler",
        "mercato.matcher.entry.handler",
        "mercato.feed.handler.handler",
    } <= handlers
    for function in functions:
        if function["Handler"].startswith("mercato."):
            assert function["Architectures"] == ["arm64"]
            assert function["Runtime"] == "python3.11"
            assert function["LoggingConfig"]["LogFormat"] == "JSON"
            assert function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]


def test_intake_only_puts_wake_ups_on_kinesis_and_reads_the_signing_secret(template: Template) -> None:
    granted = actions(policy_statements(template, "IntakeFunction"))
    kinesis = {a for a in granted if a.startswith("kinesis:")}
    assert kinesis <= {"kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"}
    assert "kinesis:PutRecords" in kinesis
    assert "secretsmanager:GetSecretValue" in granted


def written_resources(statements: list[dict[str, Any]]) -> set[str]:
    """Logical ids of the resources a policy lets its role write (DynamoDB writes)."""
    written: set[str] = set()
    for statement in statements:
        granted = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if any(
            a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "dynamodb:BatchWrite"))
            for a in granted
        ):
            text = json.dumps(statement["Resource"])
            written |= {part for part in text.split('"') if part.startswith("Tables") or part.endswith("Arn")}
    return {w for w in written if w.startswith("Tables")}


def table_of(logical_id: str) -> str:
    return next(
        spec.logical_name
        for spec in ALL_TABLES
        if logical_id.startswith(f"Tables{spec.logical_name.title()}")
    )


def test_the_matcher_reads_kinesis_writes_only_the_tables_it_settles_and_never_the_secret(
    template: Template,
) -> None:
    statements = policy_statements(template, "MatcherFunction")
    granted = actions(statements)

    assert not {a for a in granted if a.startswith("secretsmanager:")}
    assert {"kinesis:GetRecords", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= granted
    # its sweep's wake-ups go on the exchange's one stream, nowhere else
    puts = stream_puts(statements)
    assert puts
    assert all("BookEventsStream" in json.dumps(s["Resource"]) for s in puts)
    assert {table_of(w) for w in written_resources(statements)} == {
        "book",
        "orders",
        "accounts",
        "fills",
        "trades",
        "markets",
    }


def test_intake_writes_every_table_but_trades_fills_and_the_leaderboard(template: Template) -> None:
    statements = policy_statements(template, "IntakeFunction")
    written = {table_of(w) for w in written_resources(statements)}

    assert written == {"book", "orders", "accounts", "markets", "limits"}
    # a cancel's wake-up goes on the exchange's one stream, nowhere else; intake reads no stream
    puts = stream_puts(statements)
    assert puts
    assert all("BookEventsStream" in json.dumps(s["Resource"]) for s in puts)
    assert not {a for a in actions(statements) if a.startswith("kinesis:Get")}
    intake = function(template, "mercato.intake.handler.handler")
    assert STREAM_NAME_ENV in intake["Environment"]["Variables"]


def test_the_matcher_sweeps_every_minute_through_the_stream(template: Template) -> None:
    """A quiet market's due orders are expired within a minute: the schedule invokes the matcher with
    the sweep's event, and the matcher knows the stream to put its wake-ups on."""
    rule = next(
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "MatcherFunction" in json.dumps(r["Properties"]["Targets"])
    )
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    [target] = rule["Targets"]
    assert json.loads(target["Input"]) == SWEEP_EVENT
    matcher = function(template, "mercato.matcher.entry.handler")
    assert STREAM_NAME_ENV in matcher["Environment"]["Variables"]


def test_the_feed_runs_every_minute_and_may_only_touch_markets_and_book(template: Template) -> None:
    rule = next(
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "FeedFunction" in json.dumps(r["Properties"]["Targets"])
    )
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert "FeedFunction" in json.dumps(rule["Targets"])
    statements = policy_statements(template, "FeedFunction")
    assert {table_of(w) for w in written_resources(statements)} == {"markets", "book"}
    assert not {a for a in actions(statements) if a.startswith("kinesis:")}
    feed = function(template, "mercato.feed.handler.handler")
    assert feed["Environment"]["Variables"]["MERCATO_FEED_COMPETITION"] == "WC"
    assert "MERCATO_FEED_API_KEY_ARN" in feed["Environment"]["Variables"]


def test_the_feed_is_granted_exactly_the_calls_a_poll_makes(template: Template) -> None:
    """A poll that stores a count and posts a goal (and one that finds its goal stored already), on
    moto, with every DynamoDB call recorded: each is granted on its table, and nothing else is."""
    import boto3
    from moto import mock_aws

    from mercato.emulators import moto_atomic
    from mercato.feed.dynamo import DynamoFeedStore
    from mercato.feed.job import FeedJob
    from mercato.local.pipeline import LocalPipeline
    from tests.integration.conftest import SECRET, Api
    from tests.integration.test_feed import Scripted

    called: set[tuple[str, str]] = set()

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        called.add((f"dynamodb:{model.name}", params.get("TableName", "")))

    moto_atomic.install()
    with mock_aws():
        pipeline = LocalPipeline.create(boto3.Session(), "grants", SECRET)
        Api(pipeline.intake, pipeline.dynamodb, pipeline.tables).list_footballer(
            "lionel-messi"
        )  # personId 44
        feed = FeedJob(
            Scripted([{"44": 1}, {"44": 1}]),
            DynamoFeedStore(pipeline.dynamodb, pipeline.tables),
            pipeline.service,
        )
        pipeline.dynamodb.meta.events.register("before-parameter-build.dynamodb", record)
        feed.poll()
        pipeline.dynamodb.update_item(  # as if the count had never been stored: the goal is posted again
            TableName=pipeline.tables.markets,
            Key={"material": "lionel-messi"},
            UpdateExpression="REMOVE #count",
            ExpressionAttributeNames={"#count": "feedGoals:WC-2026-scorers"},
        )
        called.discard(("dynamodb:UpdateItem", pipeline.tables.markets))  # the test's own, not the feed's
        feed.poll()
        tables = {getattr(pipeline.tables, spec.logical_name): spec.logical_name for spec in TABLES}
    needed = {(action, tables[table]) for action, table in called}

    granted: set[tuple[str, str]] = set()
    for statement in policy_statements(template, "FeedFunction"):
        on = {
            table_of(part)
            for part in json.dumps(statement["Resource"]).split('"')
            if part.startswith("Tables")
        }
        granted |= {(action, table) for action in actions([statement]) for table in on}
    assert needed == granted, (
        f"called, not granted: {needed - granted}; granted, not called: {granted - needed}"
    )


# -- alarms -----------------------------------------------------------------------------------


def test_alarms_watch_the_iterator_age_the_failure_queue_errors_throttles_and_dynamodb(
    template: Template,
) -> None:
    alarms = [r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()]
    metrics = {(a.get("Namespace"), a.get("MetricName")) for a in alarms}
    assert ("AWS/Lambda", "IteratorAge") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/Lambda", "Errors") in metrics
    assert ("AWS/Lambda", "Throttles") in metrics
    assert ("AWS/DynamoDB", "WriteThrottleEvents") in metrics
    assert ("AWS/DynamoDB", "ReadThrottleEvents") in metrics

    def index_of(alarm: dict[str, Any]) -> str | None:
        named = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == "GlobalSecondaryIndexName"]
        return named[0] if named else None

    for event in ("ReadThrottleEvents", "WriteThrottleEvents"):
        watched = {index_of(a) for a in alarms if a.get("MetricName") == event} - {None}
        assert watched == {"by-expiry", "by-status", "by-time"}, "an index's throttles are not its table's"
    iterator = next(a for a in alarms if a.get("MetricName") == "IteratorAge")
    assert iterator["Threshold"] == 60_000
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": Match.string_like_regexp("matcher-dlq$")}
    )


# -- the code assets --------------------------------------------------------------------------


def third_party_imports(package_root: Path, module: str, seen: set[str] | None = None) -> set[str]:
    """Top-level non-Mercato modules imported, transitively through Mercato's own modules."""
    seen = seen if seen is not None else set()
    if module in seen:
        return set()
    seen.add(module)
    path = package_root / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = package_root / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module]
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            else []
        )
        for name in names:
            if name.startswith("mercato"):
                parts = name.split(".")
                for end in range(2, len(parts) + 1):
                    found |= third_party_imports(package_root, ".".join(parts[:end]), seen)
            else:
                found.add(name.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("function", "entry"),
    [
        ("intake", "mercato.intake.handler"),
        ("matcher", "mercato.matcher.entry"),
        ("feed", "mercato.feed.handler"),
        ("leaderboard", "mercato.leaderboard.handler"),
    ],
)
def test_each_asset_holds_a_linux_arm64_pydantic_core_and_everything_its_code_imports(
    template: Template, function: str, entry: str
) -> None:
    layer = assets.dependencies(function) / "python"
    cores = list((layer / "pydantic_core").glob("_pydantic_core.*.so"))
    assert [core.name for core in cores] == ["_pydantic_core.cpython-311-aarch64-linux-gnu.so"]
    source = assets.source(function)
    assert not any((source / never).exists() for never in assets.NEVER_SHIPPED)
    imported = third_party_imports(source, entry)
    provided_by_lambda = {"boto3", "botocore"}
    missing = {
        name
        for name in imported - set(sys.stdlib_module_names) - provided_by_lambda
        if not (layer / name).exists() and not (layer / f"{name}.py").exists()
    }
    assert missing == set()
    assert "moto" not in imported


HANDLERS = {
    "intake": "mercato.intake.handler",
    "matcher": "mercato.matcher.entry",
    "feed": "mercato.feed.handler",
    "leaderboard": "mercato.leaderboard.handler",
}
"""Each function's handler module, as its ``handler`` setting names it."""

IMPORT_PROBE = """
import importlib, json, sys
asset, entry, site_dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path[:0] = [asset, *site_dirs]
importlib.import_module(entry)
mercato = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()
           if name == "mercato" or name.startswith("mercato.")}
print(json.dumps({"mercato": mercato, "top_level": sorted({name.split(".")[0] for name in sys.modules})}))
"""
"""Run by ``python -I -S -B``: no site (so no editable install of Mercato), no PYTHONPATH, no current
folder, only the asset and the installed third-party packages on the path; and no bytecode written
into the asset, which the next synth ships."""


def import_from_asset(
    asset: Path, entry: str, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Import ``entry`` in a fresh interpreter that sees only ``asset`` of Mercato."""
    site_dirs = [path for path in site.getsitepackages() if Path(path).is_dir()]
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", IMPORT_PROBE, str(asset), entry, *site_dirs],
        capture_output=True,
        text=True,
        cwd=asset,
        env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", **environment},
        timeout=120,
        check=False,
    )


def function_environment(template: Template, function: str) -> dict[str, str]:
    """The environment the stack gives ``function``, a placeholder for each value set at deploy time."""
    (variables,) = [
        resource["Properties"]["Environment"]["Variables"]
        for resource in resources(template, "AWS::Lambda::Function").values()
        if resource["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == function
    ]
    return {
        name: value if isinstance(value, str) else f"deploy-time-{name.lower()}"
        for name, value in variables.items()
    }


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_each_handler_imports_from_its_allow_listed_asset_alone(template: Template, function: str) -> None:
    # Given the function's source asset and the environment the stack gives it
    asset = assets.source(function)
    environment = function_environment(template, function)
    # When its handler module is imported with no other Mercato file reachable
    probe = import_from_asset(asset, HANDLERS[function], environment)
    # Then it imports, every Mercato module came from the asset, and nothing local came along
    assert probe.returncode == 0, probe.stderr
    loaded = json.loads(probe.stdout)
    outside = {name: file for name, file in loaded["mercato"].items() if not str(file).startswith(str(asset))}
    assert outside == {}
    assert {"moto", "pytest", "hypothesis"}.isdisjoint(loaded["top_level"])
    never = tuple(path.replace("/", ".") for path in assets.NEVER_SHIPPED)
    assert [name for name in loaded["mercato"] if name.startswith(never)] == []


def test_a_module_missing_from_an_allow_list_fails_the_import(template: Template, tmp_path: Path) -> None:
    # The check above can fail: the intake asset without one module it imports does not import.
    asset = tmp_path / "asset"
    shutil.copytree(assets.source("intake"), asset)
    (asset / "mercato" / "storage" / "pages.py").unlink()
    probe = import_from_asset(asset, HANDLERS["intake"], function_environment(template, "intake"))
    assert probe.returncode != 0
    assert "No module named 'mercato.storage.pages'" in probe.stderr


def test_each_function_has_its_own_code_asset_and_the_handler_the_probe_imports(template: Template) -> None:
    functions = {
        resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: resource["Properties"]
        for resource in resources(template, "AWS::Lambda::Function").values()
        if "POWERTOOLS_SERVICE_NAME" in resource["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert set(functions) == set(HANDLERS)
    code = {json.dumps(properties["Code"], sort_keys=True) for properties in functions.values()}
    assert len(code) == len(HANDLERS)
    modules = {name: properties["Handler"].rpartition(".")[0] for name, properties in functions.items()}
    assert modules == HANDLERS
