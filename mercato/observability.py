"""Logs, metrics and traces for every function, built here and nowhere else.

Each Lambda entry point asks for its service's Powertools ``Logger``, ``Tracer`` and ``Metrics``
by name; each is built once per process (the same object for every module of one function that
asks), with the namespace ``Mercato``. Levels and switches are Powertools' own environment
variables (``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_TRACE_DISABLED``, ``POWERTOOLS_METRICS_DISABLED``),
which the CDK app sets with the service name.

The order spans of :mod:`mercato.tracing` go to X-Ray through the same Tracer:
:func:`trace_orders` points them there when the function's Tracer is on (inside Lambda).
"""

from functools import cache
from pathlib import Path
from typing import Final, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from mercato import tracing

NAMESPACE: Final = "Mercato"
"""The CloudWatch namespace of every metric."""

Service = Literal["intake", "matcher", "feed", "leaderboard"]
"""A function, as its logs, metrics and traces name it (the CDK app names the functions the same)."""


@cache
def logger(service: Service) -> Logger:
    return Logger(service=service)


@cache
def tracer(service: Service) -> Tracer:
    """Powertools' Tracer: off outside Lambda or with ``POWERTOOLS_TRACE_DISABLED=true``."""
    return Tracer(service=service)


@cache
def metrics(service: Service) -> Metrics:
    """Metrics flushed by ``@metrics.log_metrics`` at the end of each invocation."""
    return Metrics(namespace=NAMESPACE, service=service)


def count_now(service: Service, name: str) -> None:
    """One count of a rare event, flushed at once rather than at the end of the invocation."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=service)


def trace_orders(service: Service, trace_file: Path | None) -> None:
    """Where the order spans of :mod:`mercato.tracing` go: a JSON-lines file when one is given (a
    local run), and X-Ray subsegments of this function's Tracer when that Tracer is on."""
    exporters = [tracing.JsonLinesExporter(trace_file)] if trace_file is not None else []
    xray = tracer(service)
    tracing.configure(*exporters, xray=None if xray.disabled else xray)
