"""The matcher function with its Kinesis event source mapping (settings from the shared definition)."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.capabilities.functions import python_function
from cdk.capabilities.tables import Tables
from mercato.matcher.settings import STREAM_NAME_ENV
from mercato.matcher.sweep import SWEEP_EVENT
from mercato.pipes.definition import MATCHER_SOURCE

_START = {"TRIM_HORIZON": lambda_.StartingPosition.TRIM_HORIZON, "LATEST": lambda_.StartingPosition.LATEST}


class MatcherFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        tables: Tables,
        stream: kinesis.Stream,
        parallelization_factor: int,
    ) -> None:
        super().__init__(scope, id)
        spec = MATCHER_SOURCE
        self.on_failure = sqs.Queue(
            self,
            "OnFailure",
            queue_name=f"{prefix}-{spec.on_failure_queue}",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        self.function = python_function(
            self,
            "Function",
            name="matcher",
            handler="mercato.matcher.entry.handler",
            environment={**tables.environment(), STREAM_NAME_ENV: stream.stream_name},
            memory=1024,
        )
        for table in tables.exchange.values():
            table.grant_read_write_data(self.function)
        # Every minute the function wakes each market with an order come due (a quiet market's
        # expired good-till-date orders), by a record on the stream keyed by the material: the
        # settlement stays with the material's one reader of the stream.
        stream.grant_write(self.function)
        self.sweep = events.Rule(
            self,
            "Sweep",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[
                targets.LambdaFunction(
                    self.function, event=events.RuleTargetInput.from_object(dict(SWEEP_EVENT))
                )
            ],
        )
        self.function.add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=_START[spec.starting_position],
                batch_size=spec.batch_size,
                max_batching_window=Duration.seconds(spec.maximum_batching_window_seconds),
                parallelization_factor=parallelization_factor,
                bisect_batch_on_error=spec.bisect_batch_on_function_error,
                retry_attempts=spec.maximum_retry_attempts,
                max_record_age=Duration.seconds(spec.maximum_record_age_seconds),
                report_batch_item_failures=spec.report_batch_item_failures,
                on_failure=sources.SqsDlq(self.on_failure),
            )
        )
