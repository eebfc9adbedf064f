"""The demo's order-to-fill figure: a player's crossing order's wait, never a house quote's."""

from typing import Any

from mercato.local.demo import order_to_fill
from mercato.matcher.house import house_player


def _order(order_id: str, created_at: int) -> dict[str, Any]:
    return {"sk": f"ORDER#{order_id}", "orderId": order_id, "createdAt": created_at}


def test_order_to_fill_is_the_takers_wait_and_leaves_out_the_house_taking() -> None:
    orders: list[dict[str, Any]] = [
        _order("alice-buy", 1_000),
        _order("bob-sell", 900),
        _order("carol-sell", 2_000),
        _order("house-buy", 5_000),  # posted after a goal and filled in the same settlement
        {"sk": "MARKER#x", "playerId": "alice"},  # not an order record
    ]
    trades = [
        # alice's buy crossed bob's resting sell 40 ms after she sent it
        {
            "takerSide": "Buy",
            "buyerId": "alice",
            "buyOrderId": "alice-buy",
            "sellerId": "bob",
            "sellOrderId": "bob-sell",
            "executedAt": 1_040,
        },
        # carol's sell crossed the house's fresh bid 7 ms after she sent it
        {
            "takerSide": "Sell",
            "buyerId": house_player("lionel-messi"),
            "buyOrderId": "house-buy",
            "sellerId": "carol",
            "sellOrderId": "carol-sell",
            "executedAt": 2_007,
        },
        # the house's new bid took carol's resting ask in the settlement that posted it: 0 ms
        {
            "takerSide": "Buy",
            "buyerId": house_player("lionel-messi"),
            "buyOrderId": "house-buy",
            "sellerId": "carol",
            "sellOrderId": "carol-sell",
            "executedAt": 5_000,
        },
    ]

    assert order_to_fill(trades, orders) == [7, 40]
