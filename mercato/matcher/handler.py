"""The matcher Lambda: a Kinesis batch in, each material uncrossed once, partial failures out.

Stream semantics this relies on (STYLE rule 7): Powertools' ``BatchProcessor`` keeps going after a
failed record and reports every failed record; Lambda then checkpoints at the *lowest* failed
sequence number and redelivers everything after it, including records of materials that succeeded.
That is harmless here, because a record is only a wake-up and uncrossing a settled book does nothing.
Each material is settled at most once per batch, by the first of its records; its other records
share that outcome.
"""

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from mercato import observability, tracing
from mercato.matcher.service import Matcher, Settled
from mercato.models.orders import TimeInForce

logger = observability.logger("matcher")


def hints_of(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Book keys of IOC and FOK arrivals per material: they may not cross, but must not rest."""
    hints: dict[str, list[str]] = defaultdict(list)
    for raw in records:
        record = KinesisStreamRecord(raw)
        try:
            change = json.loads(record.kinesis.data_as_bytes())
            image = change["dynamodb"]["NewImage"]
            if image.get("timeInForce", {}).get("S") in (TimeInForce.IOC, TimeInForce.FOK):
                hints[record.kinesis.partition_key].append(image["sk"]["S"])
        except (ValueError, KeyError, TypeError):
            continue  # not an order record: a wake-up all the same
    return hints


@dataclass(frozen=True)
class TracedRecord:
    """A record whose book item carried a trace context (an order or a goal from intake)."""

    context: tracing.SpanContext
    key: str
    arrived_ns: int


def traces_of(records: list[dict[str, Any]]) -> dict[str, list[TracedRecord]]:
    """Per material, the trace contexts the batch's records carry in their images."""
    traces: dict[str, list[TracedRecord]] = defaultdict(list)
    for raw in records:
        record = KinesisStreamRecord(raw)
        try:
            change = json.loads(record.kinesis.data_as_bytes())
            image = change["dynamodb"]["NewImage"]
            context = tracing.of_image(image)
            if context is not None:
                arrived = int(record.kinesis.approximate_arrival_timestamp * 1e9)
                traces[record.kinesis.partition_key].append(TracedRecord(context, image["sk"]["S"], arrived))
        except (ValueError, KeyError, TypeError):
            continue
    return traces


def _trace_settlement(material: str, traced: list[TracedRecord], started_ns: int, settled: Settled) -> None:
    """The settlement that served each traced record, in that record's trace."""
    for record in traced:
        with tracing.span(
            "matcher.settle",
            record.context,
            start_ns=started_ns,
            material=material,
            sk=record.key,
            fills=settled.fills,
            cancels=settled.cancels,
            transactions=settled.transactions,
        ):
            pass


def handle_batch(matcher: Matcher, event: dict[str, Any]) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    hints = hints_of(records)
    traces = traces_of(records)
    for material, traced in traces.items():  # each record's wait in Kinesis, up to this invocation
        for record in traced:
            with tracing.span(
                "kinesis", record.context, start_ns=record.arrived_ns, material=material, sk=record.key
            ):
                pass
    outcomes: dict[str, Settled | Exception] = {}

    def settle_material(record: KinesisStreamRecord) -> None:
        material = record.kinesis.partition_key
        if material not in outcomes:
            try:
                started = time.time_ns()
                outcomes[material] = settled = matcher.settle(material, hints.get(material, ()))
                logger.info("settled", material=material, fills=settled.fills, cancels=settled.cancels)
                _trace_settlement(material, traces.get(material, []), started, settled)
            except Exception as error:  # reported per record below; Lambda retries from the lowest
                logger.exception("settlement failed", material=material)
                outcomes[material] = error
        outcome = outcomes[material]
        if isinstance(outcome, Exception):
            raise outcome

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    result = process_partial_response(event=event, record_handler=settle_material, processor=processor)
    return dict(result)
