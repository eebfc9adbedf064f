"""The API with the whole pipeline behind it, on either engine.

The matching rules (DESIGN §3), escrow, fees and the house's goal step are the services' behaviour,
so their tests run on the in-memory exchange, wake-ups handed to the matcher in-process: the same
intake handler and matcher, the storage the contract tests prove equal to moto's and DynamoDB
Local's. What only the moto pipeline has (the table's stream, the pipe, Kinesis lanes, the
event-source mapping, records redelivered in any shape) is tested there.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import boto3
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.local.memory_lane import MemoryPipeline, MemoryStorage
from mercato.local.pipeline import LocalPipeline
from mercato.testing.invariants import problems, scan
from tests.integration.conftest import SECRET, Api

Engine = Literal["memory", "moto"]


class PipelineApi(Api):
    """Calls intake as a function URL would, drains the pipeline behind it, and reads its tables
    (on the in-memory exchange, its state rendered as the adapters' items)."""

    def __init__(self, pipeline: LocalPipeline | MemoryPipeline) -> None:
        super().__init__(pipeline.intake, getattr(pipeline, "dynamodb", None), pipeline.tables)
        self.pipeline = pipeline

    @property
    def moto(self) -> LocalPipeline:
        assert isinstance(self.pipeline, LocalPipeline), "this test needs the moto pipeline"
        return self.pipeline

    def read(self, table: str) -> list[dict[str, Any]]:
        if isinstance(self.pipeline, MemoryPipeline):
            return MemoryStorage(self.pipeline).read(table)
        return scan(self.client, table)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        if isinstance(self.pipeline, MemoryPipeline):  # the whole state, not only what read renders
            with self.pipeline.exchange.lock:
                return {"exchange": [dataclasses.asdict(self.pipeline.exchange.state)]}
        return super().snapshot()

    def drain(self) -> None:
        self.pipeline.drain()
        assert problems(self.read, self.tables) == []


@contextmanager
def pipeline_on(engine: Engine, **clocks: Any) -> Iterator[LocalPipeline | MemoryPipeline]:
    """A fresh pipeline on ``engine``; ``clocks`` are the pipelines' own (``intake_clock``,
    ``new_id``, ``matcher_clock``)."""
    if engine == "memory":
        yield MemoryPipeline.create(SECRET, **clocks)
        return
    moto_atomic.install()
    with mock_aws():
        yield LocalPipeline.create(boto3.Session(), "test", SECRET, **clocks)
