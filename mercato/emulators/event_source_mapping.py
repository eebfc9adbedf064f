"""A Kinesis event source mapping for a local handler, after AWS's documented semantics.

- Each shard is read in order from the starting position. With ``ParallelizationFactor`` P, a
  shard's records are spread over P lanes by partition key, so records of one key stay in order and
  never run in two batches at once, while different keys proceed side by side.
- A lane invokes the handler with up to ``BatchSize`` records in the Kinesis event shape.
- ``ReportBatchItemFailures``: the lane checkpoints just before the lowest failed sequence number
  and redelivers from there (records after it, even ones that succeeded, come again).
- A function error (an exception, or every record reported failed) retries the batch; with
  ``BisectBatchOnFunctionError`` the batch is split in two first.
- A batch whose records were retried ``MaximumRetryAttempts`` times, or whose oldest record is
  older than ``MaximumRecordAgeInSeconds``, goes to the on-failure queue as AWS's invocation record
  (shard, first and last sequence numbers) and the lane moves past it.

:meth:`drain` runs everything to quiescence deterministically, one lane at a time.
"""

import base64
import json
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mercato.pipes.definition import MATCHER_SOURCE, MatcherSourceSpec

Handler = Callable[[dict[str, Any], Any], dict[str, Any] | None]
SHARD_REFRESH_SECONDS = 5.0


@dataclass
class _Lane:
    records: deque[dict[str, Any]] = field(default_factory=deque)
    attempts: int = 0
    next_size: int | None = None
    """After a bisect, the size of the next batch."""


@dataclass
class EventSourceMapping:
    kinesis: Any
    stream_name: str
    handler: Handler
    spec: MatcherSourceSpec = MATCHER_SOURCE
    sqs: Any = None
    on_failure_queue_url: str | None = None
    region: str = "us-east-1"
    clock: Callable[[], float] = time.time
    _iterators: dict[str, str] = field(default_factory=dict, init=False)
    _lanes: dict[tuple[str, int], _Lane] = field(default_factory=dict, init=False)
    invocations: int = field(default=0, init=False)
    sent_to_failure_queue: int = field(default=0, init=False)
    max_keys_in_flight: int = field(default=0, init=False)
    """The most batches of one partition key seen running at once (the tests assert it stays 1)."""
    _in_flight: dict[str, int] = field(default_factory=dict, init=False)
    _description: dict[str, Any] | None = field(default=None, init=False)
    _described_at: float = field(default=0.0, init=False)

    # -- reading the stream --------------------------------------------------------------------

    def _stream(self) -> dict[str, Any]:
        description: dict[str, Any] = self.kinesis.describe_stream(StreamName=self.stream_name)[
            "StreamDescription"
        ]
        return description

    def fetch(self) -> int:
        """Read what is new on every shard into its lanes; return how many records arrived."""
        stream = self._stream()
        arrived = 0
        for shard in stream["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.kinesis.get_shard_iterator(
                    StreamName=self.stream_name,
                    ShardId=shard_id,
                    ShardIteratorType=self.spec.starting_position,
                )["ShardIterator"]
            response = self.kinesis.get_records(ShardIterator=self._iterators[shard_id], Limit=10_000)
            self._iterators[shard_id] = response["NextShardIterator"]
            for record in response["Records"]:
                lane = zlib.crc32(record["PartitionKey"].encode()) % self.spec.parallelization_factor
                self._lanes.setdefault((shard_id, lane), _Lane()).records.append(
                    self._event_record(record, shard_id, stream["StreamARN"])
                )
            arrived += len(response["Records"])
        return arrived

    def _event_record(self, record: dict[str, Any], shard_id: str, stream_arn: str) -> dict[str, Any]:
        arrival = record["ApproximateArrivalTimestamp"]
        return kinesis_event_record(
            partition_key=record["PartitionKey"],
            sequence_number=record["SequenceNumber"],
            data=record["Data"],
            arrival=arrival.timestamp() if hasattr(arrival, "timestamp") else arrival,
            shard_id=shard_id,
            stream_arn=stream_arn,
            region=self.region,
        )

    # -- invoking ------------------------------------------------------------------------------

    def step(self) -> int:
        """Run at most one batch on every lane that has records; return how many batches ran."""
        ran = 0
        for (shard_id, _), lane in list(self._lanes.items()):
            if lane.records:
                self._run(shard_id, lane)
                ran += 1
        return ran

    def drain(self, max_steps: int = 10_000) -> None:
        """Fetch and invoke until the stream is read and every lane is empty."""
        for _ in range(max_steps):
            arrived = self.fetch()
            if not self.step() and not arrived:
                return
        raise RuntimeError("the event source mapping did not drain")

    def pending(self) -> int:
        return sum(len(lane.records) for lane in self._lanes.values())

    def _run(self, shard_id: str, lane: _Lane) -> None:
        size = min(self.spec.batch_size, lane.next_size or self.spec.batch_size)
        batch = [lane.records[i] for i in range(min(size, len(lane.records)))]
        oldest = batch[0]["kinesis"]["approximateArrivalTimestamp"]
        if self.clock() - oldest > self.spec.maximum_record_age_seconds:
            self._give_up(shard_id, lane, batch, "RecordAgeExceeded")
            return
        keys = {record["kinesis"]["partitionKey"] for record in batch}
        for key in keys:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            self.max_keys_in_flight = max(self.max_keys_in_flight, self._in_flight[key])
        try:
            self.invocations += 1
            response = self.handler({"Records": batch}, None)
        except Exception:
            self._failed(shard_id, lane, batch)
            return
        finally:
            for key in keys:
                self._in_flight[key] -= 1
        failures = [f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])]
        if not failures:
            self._advance(lane, len(batch))
            return
        sequence = [record["kinesis"]["sequenceNumber"] for record in batch]
        lowest = min(sequence.index(f) if f in sequence else 0 for f in failures)
        if lowest == 0 and len(failures) == len(batch):
            self._failed(shard_id, lane, batch)
            return
        self._advance(lane, lowest)
        lane.attempts += 1
        if lane.attempts > self.spec.maximum_retry_attempts:
            self._give_up(shard_id, lane, [lane.records[0]], "RetryAttemptsExhausted")

    def _failed(self, shard_id: str, lane: _Lane, batch: list[dict[str, Any]]) -> None:
        lane.attempts += 1
        if lane.attempts > self.spec.maximum_retry_attempts:
            self._give_up(shard_id, lane, batch, "RetryAttemptsExhausted")
        elif self.spec.bisect_batch_on_function_error and len(batch) > 1:
            lane.next_size = len(batch) // 2

    def _advance(self, lane: _Lane, count: int) -> None:
        for _ in range(count):
            lane.records.popleft()
        if count:
            lane.attempts = 0
            lane.next_size = None

    def _give_up(self, shard_id: str, lane: _Lane, batch: list[dict[str, Any]], condition: str) -> None:
        if self.sqs is not None and self.on_failure_queue_url is not None:
            first, last = batch[0]["kinesis"], batch[-1]["kinesis"]
            self.sqs.send_message(
                QueueUrl=self.on_failure_queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {
                            "condition": condition,
                            "approximateInvokeCount": lane.attempts,
                            "functionArn": "arn:aws:lambda:local:000000000000:function:matcher",
                        },
                        "version": "1.0",
                        "timestamp": self.clock(),
                        "KinesisBatchInfo": {
                            "shardId": shard_id,
                            "startSequenceNumber": first["sequenceNumber"],
                            "endSequenceNumber": last["sequenceNumber"],
                            "approximateArrivalOfFirstRecord": first["approximateArrivalTimestamp"],
                            "approximateArrivalOfLastRecord": last["approximateArrivalTimestamp"],
                            "batchSize": len(batch),
                            "streamArn": batch[0]["eventSourceARN"],
                        },
                    }
                ),
            )
        self.sent_to_failure_queue += len(batch)
        self._advance(lane, len(batch))


def kinesis_event_record(
    *,
    partition_key: str,
    sequence_number: str,
    data: bytes,
    arrival: float,
    shard_id: str,
    stream_arn: str,
    region: str,
) -> dict[str, Any]:
    """One record of the Kinesis event Lambda hands a function, as AWS documents its shape."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/matcher",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }
