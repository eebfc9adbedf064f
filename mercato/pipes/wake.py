"""A wake-up put on the stream directly: a record keyed by a material, for a change the pipe does not
forward (the pipe takes only new orders, goals and listings). The matcher reads nothing from a record
but its partition key (DESIGN §1), so the material's one reader of the stream settles it, as it
settles everything else: the scheduled sweep wakes markets where an order has come due, intake wakes
a market after a cancel (its ticker may have named the cancelled order)."""

import json
from typing import Any, Final

WAKE_UP: Final = json.dumps({"wake": True}).encode()
"""The data of a wake-up record."""
PUT_RECORDS_MAX: Final = 500
"""Records one ``PutRecords`` call takes (Kinesis's limit)."""


def put_wake_ups(kinesis: Any, stream_name: str, materials: list[str]) -> int:
    """One record per material on the stream, keyed by it; raises if Kinesis refuses any. Returns how
    many were put."""
    for start in range(0, len(materials), PUT_RECORDS_MAX):
        chunk = materials[start : start + PUT_RECORDS_MAX]
        answer = kinesis.put_records(
            StreamName=stream_name,
            Records=[{"Data": WAKE_UP, "PartitionKey": material} for material in chunk],
        )
        if answer.get("FailedRecordCount"):
            raise RuntimeError(f"Kinesis refused {answer['FailedRecordCount']} of {len(chunk)} wake-ups")
    return len(materials)


def wake_up(kinesis: Any, stream_name: str, material: str) -> None:
    """One material's wake-up."""
    put_wake_ups(kinesis, stream_name, [material])
