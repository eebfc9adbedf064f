"""The EventBridge Pipe: the book table's stream, filtered, into Kinesis keyed by material.

The stable CDK module has only ``CfnPipe`` (the L2 is alpha); its role gets exactly the grants the
source and the target need.
"""

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_pipes as pipes
from constructs import Construct

from cdk.capabilities.tables import AnyTable
from mercato.pipes.definition import PIPE


class BookPipe(Construct):
    def __init__(
        self, scope: Construct, id: str, *, prefix: str, book: AnyTable, stream: kinesis.Stream
    ) -> None:
        super().__init__(scope, id)
        self.name = f"{prefix}-{PIPE.name}"
        """The pipe's name: its metrics' ``PipeName`` dimension."""
        stack = Stack.of(self)
        # only this account's pipe of this name may use the role (the confused deputy: a reviewer's note)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "pipes.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="pipes", resource="pipe", resource_name=self.name
                        )
                    },
                },
            ),
        )
        book.grant_stream_read(self.role)
        stream.grant_write(self.role)
        assert book.table_stream_arn is not None
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            name=self.name,
            role_arn=self.role.role_arn,
            source=book.table_stream_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                    starting_position=PIPE.starting_position,
                    batch_size=PIPE.batch_size,
                    maximum_batching_window_in_seconds=PIPE.maximum_batching_window_seconds,
                ),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=PIPE.filter_pattern)]
                ),
            ),
            target=stream.stream_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                kinesis_stream_parameters=pipes.CfnPipe.PipeTargetKinesisStreamParametersProperty(
                    partition_key=PIPE.partition_key_path
                )
            ),
        )
        self.pipe.node.add_dependency(self.role)
