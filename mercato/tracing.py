"""One trace per order: W3C trace context carried from the intake request to the matcher's
settlement, and spans a developer can read.

The intake request's ``traceparent`` header (or its ``X-Amzn-Trace-Id``, whose root is the same
128-bit id in X-Ray's spelling) starts or continues a trace. Intake writes the span context of its
own span into the order's book item (attribute ``traceparent``); the book's stream record carries the
item's image, the pipe copies that record into Kinesis, and the matcher reads the context back out of
the record, so its settlement spans join the order's trace. No service on the way needs to propagate
anything: the context rides in the data.

Spans go to an exporter: locally a JSON-lines file (``MERCATO_TRACE_FILE``); on Lambda each span is
also an X-Ray subsegment of Powertools' Tracer, annotated with the order's ``trace_id``, so one X-Ray
search (``annotation.trace_id = "…"``) finds every segment of one order, whichever function ran it.
"""

import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

TRACEPARENT: Final = "traceparent"
"""The request header and the book item attribute."""
TRACE_FILE_ENV: Final = "MERCATO_TRACE_FILE"
"""Where a local run appends its spans as JSON lines."""
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_XRAY_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")


@dataclass(frozen=True)
class SpanContext:
    trace_id: str
    span_id: str

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    @property
    def xray_trace_id(self) -> str:
        return f"1-{self.trace_id[:8]}-{self.trace_id[8:]}"

    @classmethod
    def parse(cls, traceparent: str | None) -> "SpanContext | None":
        """A W3C ``traceparent``; ``None`` for anything else (an all-zero id included)."""
        found = _TRACEPARENT.match((traceparent or "").strip().lower())
        if not found or set(found[1]) == {"0"} or set(found[2]) == {"0"}:
            return None
        return cls(found[1], found[2])

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "SpanContext | None":
        """The caller's context: ``traceparent``, else the root of ``X-Amzn-Trace-Id``."""
        lowered = {key.lower(): value for key, value in headers.items()}
        context = cls.parse(lowered.get(TRACEPARENT))
        if context is None:
            root = _XRAY_ROOT.search(lowered.get("x-amzn-trace-id", ""))
            if root:
                context = cls(root[1] + root[2], _span_id())
        return context


_ids = random.Random()
"""Trace and span ids, as OpenTelemetry's ``RandomIdGenerator`` makes them: from the ``random``
module, seeded from the system's entropy once. Ids need to be unique, not secret, and
``secrets`` makes a system call per id, which gives up the interpreter lock on every request."""


def _span_id() -> str:
    return f"{_ids.getrandbits(64):016x}"


def _trace_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


class Exporter(Protocol):
    def export(self, span: dict[str, Any]) -> None: ...


class JsonLinesExporter:
    """Each finished span as one JSON object per line, appended to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, span: dict[str, Any]) -> None:
        line = json.dumps(span, sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


_exporters: list[Exporter] = []
_xray: list[Any] = []
"""Powertools' Tracer, inside Lambda with tracing on."""
_current: ContextVar[SpanContext | None] = ContextVar("mercato_span", default=None)


def configure(*exporters: Exporter, xray: Any = None) -> None:
    """Where finished spans go, and the Powertools Tracer to record them on (replacing both)."""
    _exporters[:] = exporters
    _xray[:] = [xray] if xray is not None else []


def configure_from_env(env: Mapping[str, str] = os.environ) -> None:
    """``MERCATO_TRACE_FILE``: spans to a JSON-lines file (the local server; a Lambda function configures
    its spans with :func:`mercato.observability.trace_orders`, which adds X-Ray)."""
    trace_file = env.get(TRACE_FILE_ENV)
    configure(*([JsonLinesExporter(Path(trace_file))] if trace_file else []))


def current() -> SpanContext | None:
    """The span the running code is inside (per thread and per request)."""
    return _current.get()


@contextmanager
def span(
    name: str, parent: SpanContext | None = None, *, start_ns: int | None = None, **attributes: Any
) -> Iterator[SpanContext]:
    """A span, child of ``parent`` (else of the current span, else a new trace), current inside the
    block. ``start_ns`` backdates its start (a wait measured from a timestamp in a record)."""
    parent = parent or _current.get()
    context = SpanContext(parent.trace_id if parent else _trace_id(), _span_id())
    token = _current.set(context)
    started = start_ns if start_ns is not None else time.time_ns()
    try:
        if _xray:
            with _xray[0].provider.in_subsegment(f"## {name}") as subsegment:
                subsegment.put_annotation("trace_id", context.trace_id)
                for key, value in attributes.items():
                    if isinstance(value, str | int | bool):
                        subsegment.put_annotation(key, value)
                yield context
        else:
            yield context
    finally:
        _current.reset(token)
        if _exporters:
            record = {
                "name": name,
                "traceId": context.trace_id,
                "spanId": context.span_id,
                "parentSpanId": parent.span_id if parent else None,
                "startNs": started,
                "endNs": time.time_ns(),
                "attributes": attributes,
            }
            for exporter in _exporters:
                exporter.export(record)


def enabled() -> bool:
    """Whether spans go anywhere: with tracing off, records carry no context and stay as they were."""
    return bool(_exporters or _xray)


def stamp(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with the current span's ``traceparent`` (when tracing is on), for the records that
    carry a trace on."""
    context = _current.get()
    return item if context is None or not enabled() else item | {TRACEPARENT: context.traceparent}


def of_image(image: Mapping[str, Any]) -> SpanContext | None:
    """The context in a stream record's image (DynamoDB's typed JSON), if it carries one."""
    value = image.get(TRACEPARENT)
    return SpanContext.parse(value.get("S") if isinstance(value, Mapping) else None)
