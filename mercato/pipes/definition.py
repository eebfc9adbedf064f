"""The pipe and the matcher's event source mapping, defined once (DESIGN §1 principle 7).

The CDK app synthesises these into ``AWS::Pipes::Pipe`` and ``AWS::Lambda::EventSourceMapping``; the
local pipe runner and event-source-mapping emulator run on exactly these values.
"""

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from mercato.resources import BOOK
from mercato.storage.items import KIND_GOAL, KIND_LISTING, KIND_ORDER

StartingPosition = Literal["LATEST", "TRIM_HORIZON"]

PIPE_FILTER: Final[dict[str, Any]] = {
    "eventName": ["INSERT"],
    "dynamodb": {
        "NewImage": {
            "kind": {"S": [KIND_ORDER, KIND_GOAL, KIND_LISTING]},
            "origin": {"S": [{"exists": False}]},
        }
    },
}
"""Only new orders and new market events (a goal, a footballer's listing) wake the matcher. Its own
writes are MODIFYs and REMOVEs of those items, and the house quotes it posts carry ``origin`` (the
``exists`` test sits on the leaf, as EventBridge requires), so settling never wakes it again."""


@dataclass(frozen=True)
class PipeSpec:
    name: str = "book-to-kinesis"
    source_table: str = BOOK.logical_name
    filter_pattern: str = json.dumps(PIPE_FILTER, sort_keys=True)
    partition_key_path: str = "$.dynamodb.Keys.material.S"
    """The material: every record of one material lands on one shard, in order."""
    batch_size: int = 100
    starting_position: StartingPosition = "TRIM_HORIZON"
    maximum_batching_window_seconds: int = 0


@dataclass(frozen=True)
class MatcherSourceSpec:
    """The matcher's Kinesis event source mapping."""

    batch_size: int = 1_000
    """A record is only a wake-up and each material is uncrossed once per batch, so a bigger batch
    means fewer idle re-reads in a spike (``mercato bench spike``); 1,000 records of about 1 KB stay
    well inside Lambda's 6 MB payload (Kinesis allows up to 10,000)."""
    maximum_batching_window_seconds: int = 0
    parallelization_factor: int = 10
    """Up to 10 batches per shard at once, but never two of one partition key (one material)."""
    starting_position: StartingPosition = "TRIM_HORIZON"
    bisect_batch_on_function_error: bool = True
    maximum_retry_attempts: int = 10
    maximum_record_age_seconds: int = 3600
    report_batch_item_failures: bool = True
    on_failure_queue: str = "matcher-dlq"


@dataclass(frozen=True)
class StreamSpec:
    """The Kinesis stream between the pipe and the matcher (on-demand on AWS)."""

    logical_name: str = "book-events"

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}"


PIPE: Final = PipeSpec()
MATCHER_SOURCE: Final = MatcherSourceSpec()
STREAM: Final = StreamSpec()


def partition_key(record: dict[str, Any], path: str = PIPE.partition_key_path) -> str:
    """Evaluate a ``$.a.b.c`` JSON path, the subset Pipes' ``PartitionKey`` uses."""
    value: Any = record
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return str(value)
