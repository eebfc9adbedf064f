"""The event-source-mapping emulator keeps AWS's Kinesis semantics (on moto's Kinesis and SQS)."""

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators.event_source_mapping import EventSourceMapping
from mercato.pipes.definition import MATCHER_SOURCE

SPEC = replace(MATCHER_SOURCE, batch_size=10, maximum_retry_attempts=2)


class Recorder:
    """A handler that remembers what it saw and fails as scripted."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.poison: set[str] = set()
        self.fail_once: set[str] = set()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        batch = [(r["kinesis"]["partitionKey"], r["kinesis"]["sequenceNumber"]) for r in event["Records"]]
        self.batches.append(batch)
        datas = [json.loads(__import__("base64").b64decode(r["kinesis"]["data"])) for r in event["Records"]]
        if any(d["n"] in self.poison for d in datas):
            raise RuntimeError("poison")
        failures = []
        for record, data in zip(event["Records"], datas, strict=True):
            if data["n"] in self.fail_once:
                self.fail_once.discard(data["n"])
                failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
        return {"batchItemFailures": failures}


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        kinesis, sqs = boto3.client("kinesis"), boto3.client("sqs")
        kinesis.create_stream(StreamName="s", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        yield kinesis, sqs, sqs.create_queue(QueueName="dlq")["QueueUrl"]


def put(kinesis: Any, records: list[tuple[str, str]]) -> dict[str, str]:
    """Put (key, n) records; return n -> sequence number."""
    sequence = {}
    for key, n in records:
        response = kinesis.put_record(StreamName="s", Data=json.dumps({"n": n}).encode(), PartitionKey=key)
        sequence[n] = response["SequenceNumber"]
    return sequence


def mapping(aws: tuple[Any, Any, str], handler: Recorder, **kwargs: Any) -> EventSourceMapping:
    kinesis, sqs, queue = aws
    return EventSourceMapping(kinesis, "s", handler, spec=SPEC, sqs=sqs, on_failure_queue_url=queue, **kwargs)


def failure_messages(aws: tuple[Any, Any, str]) -> list[dict[str, Any]]:
    _, sqs, queue = aws
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_each_key_is_processed_in_order_and_never_in_two_batches_at_once(aws: tuple[Any, Any, str]) -> None:
    handler = Recorder()
    keys = ["wheat", "copper", "iron", "messi", "mbappe"]
    sequence = put(aws[0], [(keys[n % 5], f"r{n}") for n in range(60)])
    esm = mapping(aws, handler)

    esm.drain()

    seen: dict[str, list[str]] = defaultdict(list)
    for batch in handler.batches:
        for key, seq in batch:
            seen[key].append(seq)
    assert sum(len(v) for v in seen.values()) == 60, "every record once"
    for key, seqs in seen.items():
        assert seqs == sorted(seqs, key=int), f"{key} out of order"
    assert esm.max_keys_in_flight == 1
    assert all(len(batch) <= SPEC.batch_size for batch in handler.batches)
    assert set(sequence)


def test_a_reported_failure_redelivers_from_the_lowest_failed_record(aws: tuple[Any, Any, str]) -> None:
    handler = Recorder()
    handler.fail_once = {"r3"}
    put(aws[0], [("wheat", f"r{n}") for n in range(6)])
    esm = mapping(aws, handler)

    esm.drain()

    first, second = handler.batches
    assert [seq for _, seq in first] == sorted(seq for _, seq in first)
    assert len(first) == 6
    assert second == first[3:], "checkpoint before r3; r3, r4, r5 come again"
    assert failure_messages(aws) == []


def test_a_function_error_bisects_until_the_poison_record_is_alone_then_sends_it_away(
    aws: tuple[Any, Any, str],
) -> None:
    handler = Recorder()
    handler.poison = {"r5"}
    sequence = put(aws[0], [("wheat", f"r{n}") for n in range(8)])
    esm = mapping(aws, handler)

    esm.drain()

    sizes = [len(batch) for batch in handler.batches]
    assert sizes[:5] == [8, 4, 4, 2, 1], "a failing batch is halved; each half is then a batch of its own"
    delivered_ok = {seq for batch in handler.batches for _, seq in batch}
    assert delivered_ok == set(sequence.values())
    (message,) = failure_messages(aws)
    info = message["KinesisBatchInfo"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence["r5"]
    assert esm.sent_to_failure_queue == 1
    last_batches = [seq for batch in handler.batches[-3:] for _, seq in batch]
    assert sequence["r7"] in last_batches, "records after the poison are processed once it is gone"


def test_records_older_than_the_maximum_age_go_to_the_failure_queue_unprocessed(
    aws: tuple[Any, Any, str],
) -> None:
    handler = Recorder()
    put(aws[0], [("wheat", "r0"), ("wheat", "r1")])
    esm = mapping(aws, handler, clock=lambda: 4_000_000_000.0)

    esm.drain()

    assert handler.batches == []
    (message,) = failure_messages(aws)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["KinesisBatchInfo"]["batchSize"] == 2
