"""``mercato bench core --json``: the figures come out as one JSON object, measured on a small run."""

import json

import pytest

from mercato.bench.core import generate
from mercato.local.cli import main
from mercato.matcher.book import BookOrder
from mercato.models.orders import TimeInForce


def test_bench_core_json_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "core", "--orders", "3000", "--runs", "1", "--reference-orders", "500", "--json"])

    figures = json.loads(capsys.readouterr().out)
    assert status == 0
    assert figures["orders"] == 3000
    assert figures["orders_per_s"] > 0
    assert figures["reference_orders_per_s"] > 0
    expected = figures["engine_orders_per_s_on_reference_slice"] / figures["reference_orders_per_s"]
    assert figures["ratio"] == pytest.approx(expected, rel=0.01)


def test_the_generated_flow_is_a_realistic_mix() -> None:
    ops = generate(20_000, seed=3)

    orders = [op for op in ops if isinstance(op, BookOrder)]
    cancels = len(ops) - len(orders)
    assert 0.2 < cancels / len(ops) < 0.3
    assert [o.order_id for o in orders] == sorted(o.order_id for o in orders), "ids sort by arrival"
    assert {o.time_in_force for o in orders} == set(TimeInForce)
    assert generate(20_000, seed=3) == ops, "the same seed gives the same flow"
