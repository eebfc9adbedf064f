"""One trace per order, end to end on the embedded stack: `mercato up` with its span file, an order
posted over HTTP with a W3C traceparent, and that order's spans followed from intake through the
book's stream, the pipe and Kinesis to the matcher's settlement."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mercato.intake.auth import Scope, issue_token
from mercato.local.client import Client

SECRET = "an-e2e-secret-that-is-long-enough-0123456789"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def post_order(url: str, player: str, body: dict[str, Any], traceparent: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/orders",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {issue_token(SECRET, player, Scope.TRADE)}",
            "Content-Type": "application/json",
            "traceparent": traceparent,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        answered = response.headers["traceparent"]
        assert answered.startswith(f"00-{TRACE_ID}-")  # the answer names the intake span
        return dict(json.loads(response.read()))


def settled(path: Path, order_id: str, timeout: float = 20.0) -> None:
    """Until the matcher has settled the wake-up of ``order_id``'s book write."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                span = json.loads(line) if line.strip() else {}
                if span.get("name") == "matcher.settle" and span["attributes"]["sk"].endswith(order_id):
                    return
        time.sleep(0.05)
    raise AssertionError(f"no settlement span for order {order_id} within {timeout} s")


def spans_of(path: Path, trace_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The trace's spans once the matcher's settlement has been recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            spans = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            mine = [span for span in spans if span["traceId"] == trace_id]
            if any(span["name"] == "matcher.settle" and span["attributes"]["fills"] for span in mine):
                return mine
        time.sleep(0.1)
    raise AssertionError(f"no settlement span for trace {trace_id} within {timeout} s")


@pytest.mark.parametrize(
    ("engine", "hops"),
    [
        pytest.param("moto", {"stream+pipe", "kinesis"}, id="moto"),
        # no stream or pipe in memory: the wait in the wake-up queue stands for Kinesis's
        pytest.param("memory", {"kinesis"}, id="memory"),
    ],
)
def test_one_orders_spans_follow_it_from_intake_to_the_matchers_settlement(
    tmp_path: Path, engine: str, hops: set[str]
) -> None:
    trace_file = tmp_path / "spans.jsonl"
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET, MERCATO_TRACE_FILE=str(trace_file))
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--replay-speed", "0"]
    command += ["--engine", engine]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        try:
            url = process.stdout.readline().split()[4]
            admin = Client(url, issue_token(SECRET, "game-server", Scope.ADMIN))
            admin.deposit("alice", "coins", 1_000, "d-1")
            admin.deposit("bob", "wheat", 10, "d-2")
            sell = Client(url, issue_token(SECRET, "bob")).place("Sell", "wheat", 10, 20)
            # Bob's sell settled first: a settlement of his wake-up still running when alice's order
            # lands would cross hers in his trace, and hers would find nothing left to fill.
            settled(trace_file, sell["orderId"])
            order = post_order(
                url,
                "alice",
                {"type": "Buy", "material": "wheat", "quantity": 10, "pricePerUnit": 25},
                f"00-{TRACE_ID}-{CALLER_SPAN}-01",
            )

            spans = spans_of(trace_file, TRACE_ID)
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)

    by_name = {span["name"]: span for span in spans}
    assert set(by_name) == {"intake", "matcher.settle", *hops}
    intake = by_name["intake"]
    assert intake["parentSpanId"] == CALLER_SPAN  # it continued the caller's trace
    assert (intake["attributes"]["method"], intake["attributes"]["path"]) == ("POST", "/orders")
    for name in (*sorted(hops), "matcher.settle"):
        span = by_name[name]
        assert span["parentSpanId"] == intake["spanId"], name  # the context rode in the book item
        assert span["attributes"]["material"] == "wheat"
        assert span["attributes"]["sk"].endswith(order["orderId"])
        assert span["startNs"] <= span["endNs"]
    settle = by_name["matcher.settle"]
    assert settle["attributes"]["fills"] == 1
    # in time order: accepted, then (streamed and piped, then) waited in Kinesis, then settled
    if "stream+pipe" in hops:
        assert intake["startNs"] <= by_name["stream+pipe"]["endNs"] <= by_name["kinesis"]["endNs"]
    assert intake["startNs"] <= by_name["kinesis"]["endNs"] <= settle["endNs"]
