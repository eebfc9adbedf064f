"""The web market view in headless Chromium against the embedded stack over HTTP."""

import pytest

from mercato.local.stack import EmbeddedStack
from tests.e2e.node_tools import ARTIFACTS, TS, chromium, node, run_json

pytest_plugins = ["mercato.local.testing"]


def trade(mercato: EmbeddedStack, material: str, quantity: int, price: int) -> None:
    mercato.client("seller").place("Sell", material, quantity, price)
    mercato.client("buyer").place("Buy", material, quantity, price)


def test_the_page_shows_a_trade_placed_through_the_api_within_seconds(
    mercato: EmbeddedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    browser, runtime = chromium(), node()
    admin = mercato.client("game-server", admin=True)
    admin.deposit("seller", "wheat", 1_000, "web-wheat")
    admin.deposit("buyer", "coins", 1_000_000, "web-coins")
    for quantity, price in ((3, 30), (4, 34), (2, 32)):
        trade(mercato, "wheat", quantity, price)
    mercato.client("seller").place("Sell", "wheat", 5, 45)
    mercato.client("buyer").place("Buy", "wheat", 6, 25)
    goal = {"eventId": "web:messi:1", "material": "lionel-messi", "matchId": "final", "minute": 23}
    admin.request("POST", "/events/goals", goal)
    mercato.drain()
    mercato.rollup()
    board = [s["playerId"] for s in mercato.client("anyone").leaderboard("all", 10)["standings"]]
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "web-view.png"

    seen = run_json(
        [runtime, str(TS / "web-check.mjs"), mercato.url + "/", str(screenshot)],
        {
            "CHROMIUM": browser,
            "MERCATO_SELLER_TOKEN": mercato.token("seller"),
            "MERCATO_BUYER_TOKEN": mercato.token("buyer"),
            "MERCATO_MATERIAL": "wheat",
            "MERCATO_PRICE": "37",
            "MERCATO_QUANTITY": "7",
        },
        timeout=120,
    )

    with capsys.disabled():
        print(
            f"\nweb view screenshot: {screenshot}; the trade was in the API after"
            f" {seen.get('secondsInApi')} s and on the page after {seen.get('secondsToShow')} s"
        )
    assert seen["ok"], seen
    assert seen["problems"] == []
    assert seen["tradeRows"] == seen["tradeRowsBefore"] + 1 == 4
    assert seen["marketTitle"] == "Wheat (wheat)"
    assert seen["bookRows"] == 1
    assert seen["candles"] >= 1
    assert seen["markets"] == len(mercato.client("anyone").markets())
    assert seen["footballers"] > 0
    assert [line.split()[0] for line in seen["timeline"]] == ["23'"]
    assert "Messi" in seen["timeline"][0]
    # the leaderboard as rolled up before the page opened (the trade it watched moves no one past the
    # next rollup, 10 s away), and the week's board read when its button is pressed
    assert {"buyer", "seller"} <= set(board)
    assert seen["leaderboard"] == board
    assert seen["leaderboardRanks"] == [str(rank) for rank in range(1, len(board) + 1)]
    assert {"buyer", "seller"} <= set(seen["leaderboardWeek"])
    assert "UTC" in seen["leaderboardNote"]
    assert screenshot.stat().st_size > 10_000
