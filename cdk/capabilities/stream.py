"""The Kinesis stream between the pipe and the matcher."""

from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from mercato.pipes.definition import STREAM


class BookEvents(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, shard_count: int | None) -> None:
        super().__init__(scope, id)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=STREAM.name(prefix),
            stream_mode=kinesis.StreamMode.ON_DEMAND
            if shard_count is None
            else kinesis.StreamMode.PROVISIONED,
            shard_count=shard_count,
            encryption=kinesis.StreamEncryption.MANAGED,
        )
