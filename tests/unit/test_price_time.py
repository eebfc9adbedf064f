"""The simulation's price-time check between drains (invariant 6): it agrees with a correct exchange,
catches a trade at the wrong price, and does not count against the exchange a due order it has not
expired yet (the matcher expires a page of due orders per settlement; the reference, all)."""

from typing import Any

from mercato.storage.tables import table_names
from mercato.testing.price_time import PriceTime

TABLES = table_names("t")
NOW = 1_800_000_000_000


def record(order_id: str, player: str, side: str, price: int, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "sk": f"ORDER#{order_id}",
        "orderId": order_id,
        "playerId": player,
        "material": "wheat",
        "side": side,
        "price": price,
        "quantity": quantity,
        "timeInForce": "GTC",
        **extra,
    }


def resting(order_id: str, remaining: int) -> dict[str, Any]:
    return {"kind": "order", "material": "wheat", "orderId": order_id, "remaining": remaining}


def trade(buy: str, sell: str, price: int, quantity: int, fee: int) -> dict[str, Any]:
    return {
        "tradeId": f"{buy}-{sell}",
        "material": "wheat",
        "buyOrderId": buy,
        "sellOrderId": sell,
        "price": price,
        "quantity": quantity,
        "fee": fee,
    }


def check(checker: PriceTime, orders: list[Any], book: list[Any], trades: list[Any]) -> list[str]:
    tables = {TABLES.orders: orders, TABLES.book: book, TABLES.trades: trades}
    return checker.check(tables.__getitem__, TABLES, NOW)


def test_a_fill_at_the_resting_price_agrees_and_one_at_the_buyers_limit_does_not() -> None:
    sell, buy = record("o1", "ana", "Sell", 100, 5), record("o2", "ben", "Buy", 105, 2)
    for price, fee, found in ((100, 3, False), (105, 3, True)):
        checker = PriceTime({"wheat": 150})
        assert check(checker, [sell], [resting("o1", 5)], []) == []
        problems = check(checker, [sell, buy], [resting("o1", 3)], [trade("o2", "o1", price, 2, fee)])
        assert bool(problems) is found, problems
    assert checker.compared == 2


def test_a_due_order_the_exchange_has_not_expired_yet_is_not_a_violation() -> None:
    checker = PriceTime({"wheat": 150})
    due = record("o1", "ana", "Sell", 200, 5, expiresAt=NOW - 1)
    assert check(checker, [due], [resting("o1", 5)], []) == []
    # A bid that does not cross arrives; the exchange leaves the due sell resting for a later page
    bid = record("o2", "ben", "Buy", 90, 1)
    assert check(checker, [due, bid], [resting("o1", 5), resting("o2", 1)], []) == []
    assert checker.compared == 2
