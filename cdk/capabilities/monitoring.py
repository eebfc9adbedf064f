"""Alarms on what breaks the promise first, and one dashboard."""

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.capabilities.tables import AnyTable
from mercato.feed.job import SOURCE_FAILED
from mercato.intake.limits import FAIL_OPEN_METRIC
from mercato.observability import NAMESPACE, Service
from mercato.resources import ALL_TABLES

PIPES_NAMESPACE: Final = "AWS/EventBridge/Pipes"
PIPE_FAILURES: Final = ("ExecutionFailed", "TargetStageFailed")
"""Pipes' counts of failed executions and failed target stages (dimension ``PipeName``; 0 when none
failed): while the pipe is stuck, intake still answers 202 and the matcher's iterator age stays 0."""

FEED_SOURCE_FAILED: Final = f"Feed{SOURCE_FAILED}"
"""As the feed Lambda emits it (``mercato/feed/handler.py`` prefixes the job's counts with ``Feed``)."""
FEED_FAILED_POLLS: Final = 5
"""The feed polls once a minute: this many failed polls in as many minutes is a source that fails
every time (a wrong API key, a changed API), not one bad answer."""


def service_metric(service: Service, name: str, period: Duration) -> cloudwatch.Metric:
    """A count a function emits through :mod:`mercato.observability`: namespace ``Mercato``, and the
    one dimension ``service`` Powertools adds (CloudWatch matches the dimensions exactly)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=period,
    )


def alarm_topic(scope: Construct, prefix: str, email: str | None) -> sns.Topic:
    """Where every alarm of a stack goes, when it fires and when it clears: an SNS topic, with an
    e-mail subscription when ``-c alarmEmail=`` is given (AWS asks that address to confirm it). An
    alarm with no action notifies no one (a reviewer's find: none had one)."""
    topic = sns.Topic(scope, "Alarms", topic_name=f"{prefix}-alarms")
    if email is not None:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


def notify(alarm: cloudwatch.Alarm, topic: sns.ITopic) -> cloudwatch.Alarm:
    action = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm


def fail_open_alarm(scope: Construct, id: str) -> cloudwatch.Alarm:
    """Any request intake let through because its rate limiter could not reach the limits table."""
    return cloudwatch.Alarm(
        scope,
        id,
        metric=service_metric("intake", FAIL_OPEN_METRIC, Duration.minutes(1)),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description="intake's rate limiter failed open: requests went through unlimited",
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        functions: dict[str, lambda_.Function],
        matcher: lambda_.Function,
        on_failure: sqs.Queue,
        tables: dict[str, AnyTable],
        iterator_age_ms: int,
        errors_threshold: int,
        pipe_name: str,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        period = Duration.minutes(1)
        self.topic = alarm_topic(self, prefix, alarm_email)
        self.alarms: list[cloudwatch.Alarm] = []
        iterator_age = matcher.metric("IteratorAge", statistic="Maximum", period=period)
        self._alarm("MatcherIteratorAge", iterator_age, iterator_age_ms, "the matcher is falling behind")
        depth = on_failure.metric_approximate_number_of_messages_visible(period=period)
        self._alarm("OnFailureQueueDepth", depth, 1, "batches the matcher gave up on")
        for name, function in functions.items():
            self._alarm(
                f"{name.title()}Errors",
                function.metric_errors(period=period),
                errors_threshold,
                f"{name} errors",
            )
            self._alarm(
                f"{name.title()}Throttles", function.metric_throttles(period=period), 1, f"{name} throttled"
            )
        pipe_failures = [
            cloudwatch.Metric(
                namespace=PIPES_NAMESPACE,
                metric_name=name,
                dimensions_map={"PipeName": pipe_name},
                statistic="Sum",
                period=period,
            )
            for name in PIPE_FAILURES
        ]
        for metric in pipe_failures:
            self._alarm(f"Pipe{metric.metric_name}", metric, 1, f"the book pipe: {metric.metric_name}")
        feed_failures = service_metric("feed", FEED_SOURCE_FAILED, Duration.minutes(FEED_FAILED_POLLS))
        self._alarm(
            "FeedSourceFailed",
            feed_failures,
            FEED_FAILED_POLLS,
            f"the goal feed's source failed every poll for {FEED_FAILED_POLLS} minutes (API key?)",
        )
        self.alarms.append(notify(fail_open_alarm(self, "RateLimiterFailOpen"), self.topic))
        fail_open = self.alarms[-1].metric
        throttle_metrics = []
        indexes = {spec.logical_name: [index.name for index in spec.indexes] for spec in ALL_TABLES}
        for name, table in tables.items():
            # a table's metric leaves out its indexes' throttles, and an index throttled on writes
            # throttles the table's writes (a hot material on book/by-expiry refuses orders): each
            # index has its own alarms (a reviewer's find)
            for index in [None, *indexes.get(name, [])]:
                dimensions = {"TableName": table.table_name} | (
                    {"GlobalSecondaryIndexName": index} if index else {}
                )
                what = f"{name} table" + (f" index {index}" if index else "")
                for event in ("ReadThrottleEvents", "WriteThrottleEvents"):
                    metric = cloudwatch.Metric(
                        namespace="AWS/DynamoDB",
                        metric_name=event,
                        dimensions_map=dimensions,
                        statistic="Sum",
                        period=period,
                    )
                    throttle_metrics.append(metric)
                    alarm_id = name.title() + "".join(p.title() for p in (index or "").split("-"))
                    self._alarm(f"{alarm_id}{event}", metric, 1, f"{what} {event}")
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=prefix)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Matcher iterator age (ms)", left=[iterator_age]),
            cloudwatch.GraphWidget(title="On-failure queue", left=[depth]),
            cloudwatch.GraphWidget(
                title="Invocations and errors",
                left=[f.metric_invocations(period=period) for f in functions.values()],
                right=[f.metric_errors(period=period) for f in functions.values()],
            ),
            cloudwatch.GraphWidget(title="DynamoDB throttles", left=throttle_metrics),
            cloudwatch.GraphWidget(title="Book pipe failures", left=pipe_failures),
            cloudwatch.GraphWidget(
                title="Feed source failures, rate limiter fail-open", left=[feed_failures, fail_open]
            ),
        )

    def _alarm(self, id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        self.alarms.append(
            notify(
                cloudwatch.Alarm(
                    self,
                    id,
                    metric=metric,
                    threshold=threshold,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=description,
                ),
                self.topic,
            )
        )
