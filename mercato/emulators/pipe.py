"""The local EventBridge Pipe: DynamoDB stream -> filter -> Kinesis, keyed by material.

It follows the service's documented behaviour: it reads every shard of the table's stream from the
starting position, keeps only records that match the filter pattern (evaluated by moto's EventBridge
pattern matcher, the same semantics as the real filter), sends each as the JSON of the stream record
(Pipes' default payload) with ``PartitionKey`` taken from the record by the definition's path, and
checkpoints a shard only after Kinesis accepted the records. Delivery is at least once: a failed
``PutRecords`` entry is sent again, and a crash before the checkpoint re-sends the whole batch.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.events.models import EventPattern

from mercato import tracing
from mercato.pipes.definition import PIPE, PipeSpec, partition_key

MAX_PUT_ATTEMPTS = 10
SHARD_REFRESH_SECONDS = 5.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _trace_forwarded(traced: list[tuple[tracing.SpanContext, dict[str, Any]]]) -> None:
    """One span per traced record: from its stream record's creation to Kinesis accepting it."""
    for context, event in traced:
        created = event["dynamodb"].get("ApproximateCreationDateTime")
        start = int(float(created) * 1e9) if created is not None else None
        keys = event["dynamodb"].get("Keys", {})
        with tracing.span(
            "stream+pipe",
            context,
            start_ns=start,
            material=keys.get("material", {}).get("S", ""),
            sk=keys.get("sk", {}).get("S", ""),
        ):
            pass


@dataclass
class PipeRunner:
    streams: Any
    """A low-level ``dynamodbstreams`` client (typed attribute values, as Pipes receives them)."""
    kinesis: Any
    stream_arn: str
    kinesis_stream: str
    spec: PipeSpec = PIPE
    region: str = "us-east-1"
    on_checkpoint: Callable[[dict[str, str]], None] | None = None
    """Called with every shard's checkpoint after Kinesis accepted a batch (Pipes keeps its
    checkpoint durably; the local stack with ``--data`` keeps it in a file)."""
    _pattern: EventPattern = field(init=False)
    _checkpoints: dict[str, str] = field(default_factory=dict, init=False)
    _iterators: dict[str, str] = field(default_factory=dict, init=False)
    _shard_ids: list[str] = field(default_factory=list, init=False)
    _finished: set[str] = field(default_factory=set, init=False)
    _shards_read_at: float = field(default=0.0, init=False)
    forwarded: int = field(default=0, init=False)
    filtered_out: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._pattern = EventPattern.load(self.spec.filter_pattern)

    def resume(self, checkpoints: dict[str, str]) -> None:
        """Start each shard after its sequence number in ``checkpoints`` (a restart), not at the
        starting position; shards it does not name start at the starting position."""
        self._checkpoints = dict(checkpoints)
        self._iterators.clear()

    def start_at_latest(self) -> None:
        """Read each open shard from its end: what the table already holds is not forwarded (a copy
        of a settled catalog). Call it before anything new is written."""
        for shard in self._shards():
            self._iterators[shard] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType="LATEST"
            )["ShardIterator"]

    def _shards(self) -> list[str]:
        """The stream's shards, looked up again every few seconds (shards split and close)."""
        if not self._shard_ids or time.monotonic() - self._shards_read_at > SHARD_REFRESH_SECONDS:
            description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            self._shard_ids = [shard["ShardId"] for shard in description["Shards"]]
            self._shards_read_at = time.monotonic()
        return self._shard_ids

    def _iterator(self, shard: str) -> str:
        """The iterator the last read returned, or one from the checkpoint (a fresh start)."""
        if shard in self._iterators:
            return self._iterators[shard]
        checkpoint = self._checkpoints.get(shard)
        if checkpoint is None:
            response = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType=self.spec.starting_position
            )
        else:
            response = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=checkpoint,
            )
        iterator: str = response["ShardIterator"]
        return iterator

    def poll(self) -> int:
        """Move one batch per shard; return how many stream records were read."""
        read = 0
        for shard in self._shards():
            if shard in self._finished:
                continue
            try:
                response = self.streams.get_records(
                    ShardIterator=self._iterator(shard), Limit=self.spec.batch_size
                )
            except (
                self.streams.exceptions.ExpiredIteratorException,
                self.streams.exceptions.TrimmedDataAccessException,
            ):
                # An iterator that expired (or that DynamoDB Local took on an empty shard and then
                # calls trimmed): start again from the checkpoint on the next poll.
                self._iterators.pop(shard, None)
                continue
            records = response["Records"]
            if not records:
                self._next(shard, response)
                continue
            read += len(records)
            entries = []
            traced: list[tuple[tracing.SpanContext, dict[str, Any]]] = []
            for record in records:
                event = json.loads(json.dumps(record, default=_jsonable))
                event.setdefault("eventSourceARN", self.stream_arn)
                event.setdefault("awsRegion", self.region)
                if self._pattern.matches_event(event):
                    context = tracing.of_image(event["dynamodb"].get("NewImage", {}))
                    if context is not None:
                        traced.append((context, event))
                    entries.append(
                        {
                            "Data": json.dumps(event).encode(),
                            "PartitionKey": partition_key(event, self.spec.partition_key_path),
                        }
                    )
                else:
                    self.filtered_out += 1
            try:
                self._put(entries)
            except Exception:
                self._iterators.pop(shard, None)  # resume from the checkpoint: at least once
                raise
            _trace_forwarded(traced)
            self._checkpoints[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            if self.on_checkpoint is not None:
                self.on_checkpoint(dict(self._checkpoints))
            self._next(shard, response)
        return read

    def _next(self, shard: str, response: dict[str, Any]) -> None:
        """Keep the next iterator; a closed shard read to its end has none and is done."""
        following = response.get("NextShardIterator")
        if following is None:
            self._iterators.pop(shard, None)
            self._finished.add(shard)
            self._shard_ids = []  # a closed shard has a child: look the shards up again
        else:
            self._iterators[shard] = following

    def _put(self, entries: list[dict[str, Any]]) -> None:
        for _ in range(MAX_PUT_ATTEMPTS):
            if not entries:
                return
            response = self.kinesis.put_records(StreamName=self.kinesis_stream, Records=entries)
            failed = [
                entry
                for entry, result in zip(entries, response["Records"], strict=True)
                if "ErrorCode" in result
            ]
            self.forwarded += len(entries) - len(failed)
            entries = failed
        raise RuntimeError(f"Kinesis refused {len(entries)} records {MAX_PUT_ATTEMPTS} times")

    def drain(self) -> int:
        """Poll until the stream has nothing new; return how many records were read."""
        total = 0
        while read := self.poll():
            total += read
        return total
