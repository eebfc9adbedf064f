"""Alarms on what breaks the promise first, and one dashboard."""

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.capabilities.tables import AnyTable


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
    ) -> None:
        super().__init__(scope, id)
        period = Duration.minutes(1)
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
        throttle_metrics = []
        for name, table in tables.items():
            for event in ("ReadThrottleEvents", "WriteThrottleEvents"):
                metric = cloudwatch.Metric(
                    namespace="AWS/DynamoDB",
                    metric_name=event,
                    dimensions_map={"TableName": table.table_name},
                    statistic="Sum",
                    period=period,
                )
                throttle_metrics.append(metric)
                self._alarm(f"{name.title()}{event}", metric, 1, f"{name} table {event}")
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
        )

    def _alarm(self, id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )
