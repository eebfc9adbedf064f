"""``mercato bench stack --json`` on a small run: client processes over HTTP against two stacks side
by side, the figures the issue asks for, each round's figure, and medians that are the rounds'."""

import json
import statistics
import subprocess
import sys

import pytest


def test_bench_stack_json_reports_the_medians_of_rounds_taking_turns() -> None:
    command = [sys.executable, "-m", "mercato.local.cli", "bench", "stack", "--json"]
    command += ["--small", "20", "--large", "300", "--orders", "48", "--rounds", "3"]
    command += ["--offered", "100", "--latency-seconds", "0.4"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    required = {"orders_per_s_small", "orders_per_s_large", "slowdown", "order_to_fill_p50_ms"}
    assert required | {"order_to_fill_p99_ms"} <= figures.keys()
    assert (figures["stored_small"], figures["stored_large"], figures["rounds"]) == (20, 300, 3)
    assert figures["orders_per_run"] == 48  # 4 clients x 6 crossing pairs
    small, large = figures["rounds_small"], figures["rounds_large"]
    assert len(small) == len(large) == 3
    assert all(rate > 0 for rate in small + large)
    assert figures["orders_per_s_small"] == pytest.approx(statistics.median(small), abs=0.1)
    assert figures["orders_per_s_large"] == pytest.approx(statistics.median(large), abs=0.1)
    ratios = [s / b for s, b in zip(small, large, strict=True)]
    assert figures["slowdown"] == pytest.approx(statistics.median(ratios), abs=0.011)
    assert figures["latency_orders"] == 40  # 100 orders/s for 0.4 s
    assert 0 <= figures["order_to_fill_p50_ms"] <= figures["order_to_fill_p99_ms"]
