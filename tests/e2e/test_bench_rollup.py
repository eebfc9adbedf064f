"""``mercato bench rollup --json`` on a small run: both layouts hold the same players and fills, and
only the earlier layout's accounts scan reads the fills."""

import json

import pytest

from mercato.emulators import dynamodb_local
from mercato.local.cli import main
from tests.e2e.node_tools import missing


def test_bench_rollup_json_times_both_layouts_on_the_same_data(capsys: pytest.CaptureFixture[str]) -> None:
    if (absent := dynamodb_local.missing()) is not None:
        missing(f"DynamoDB Local cannot run: {absent}")

    status = main(["bench", "rollup", "--players", "20", "--fills", "300", "--runs", "1", "--json"])

    figures = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (figures["players"], figures["fills"]) == (20, 300)
    # three items a player (two balances, a deposit); before, the fills and each fill counter too
    assert figures["accounts_items_fills_table"] == 60
    assert figures["accounts_items_fills_in_accounts"] == 60 + 300 + 20
    for name in ("ledger_s_fills_table", "rollup_s_fills_table", "ledger_s_fills_in_accounts"):
        assert figures[name] > 0
    assert figures["rollup_ratio"] == pytest.approx(
        figures["rollup_s_fills_in_accounts"] / figures["rollup_s_fills_table"], rel=0.05
    )
