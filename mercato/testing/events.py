"""Event factories: the events Mercato's functions receive, built from the few values a test cares
about instead of pasted JSON. The record shape is the event-source-mapping emulator's own."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mercato.emulators.event_source_mapping import kinesis_event_record

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/book-events"


def kinesis_event(
    records: Sequence[tuple[str, Mapping[str, Any]]], *, first_sequence: int = 49_000
) -> dict[str, Any]:
    """A Kinesis batch as the event source mapping hands it to the matcher, one record per
    (partition key, payload) pair; sequence numbers count up from ``first_sequence``."""
    return {
        "Records": [
            kinesis_event_record(
                partition_key=key,
                sequence_number=str(first_sequence + n),
                data=json.dumps(payload).encode(),
                arrival=1_780_000_000.0,
                shard_id="shardId-000000000000",
                stream_arn=STREAM_ARN,
                region="us-east-1",
            )
            for n, (key, payload) in enumerate(records)
        ]
    }


def stream_insert(material: str, new_image: Mapping[str, str]) -> dict[str, Any]:
    """A book-table stream INSERT as the pipe forwards it: the material's key and string attributes."""
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"material": {"S": material}},
            "NewImage": {name: {"S": value} for name, value in new_image.items()},
        },
    }
