"""The matcher Lambda: a Kinesis batch in, each material uncrossed once, partial failures out.

Stream semantics this relies on (STYLE rule 7): Powertools' ``BatchProcessor`` keeps going after a
failed record and reports every failed record; Lambda then checkpoints at the *lowest* failed
sequence number and redelivers everything after it, including records of materials that succeeded.
That is harmless here, because a record is only a wake-up and uncrossing a settled book does nothing.
Each material is settled at most once per batch, by the first of its records; its other records
share that outcome.
"""

import json
from collections import defaultdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from mercato.matcher.service import Matcher, Settled
from mercato.models.orders import TimeInForce

logger = Logger(service="matcher")


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


def handle_batch(matcher: Matcher, event: dict[str, Any]) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    hints = hints_of(records)
    outcomes: dict[str, Settled | Exception] = {}

    def settle_material(record: KinesisStreamRecord) -> None:
        material = record.kinesis.partition_key
        if material not in outcomes:
            try:
                outcomes[material] = settled = matcher.settle(material, hints.get(material, ()))
                logger.info("settled", material=material, fills=settled.fills, cancels=settled.cancels)
            except Exception as error:  # reported per record below; Lambda retries from the lowest
                logger.exception("settlement failed", material=material)
                outcomes[material] = error
        outcome = outcomes[material]
        if isinstance(outcome, Exception):
            raise outcome

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    result = process_partial_response(event=event, record_handler=settle_material, processor=processor)
    return dict(result)
