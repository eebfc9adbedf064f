"""Invariant 9: each player's fill records are numbered 1 to N without a gap, their sequence says N,
and they are exactly the player's part in the trades (what ``GET /fills?after=`` pages through). A
reviewer noted the checker read no fill record, so a simulation could not see a lost or doubled one."""

from typing import Any

import pytest

from mercato.storage.items import FILL_COUNTER_KEY, fill_key
from mercato.storage.tables import table_names
from mercato.testing.invariants import problems

TABLES = table_names("t")
TRADES = [
    {
        "tradeId": f"t{n}",
        "material": "wheat",
        "buyOrderId": f"b{n}",
        "sellOrderId": f"s{n}",
        "buyerId": "alice",
        "sellerId": "house.wheat" if n == 2 else "bob",
        "price": 10,
        "quantity": 1,
        "fee": 0,
        "takerSide": "Buy",
        "executedAt": 1_781_200_800_000 + n,
    }
    for n in (1, 2)
]


def fill(player: str, seq: int, trade_id: str) -> dict[str, Any]:
    return {"playerId": player, "sk": fill_key(seq), "seq": seq, "tradeId": trade_id}


def counter(player: str, seq: int) -> dict[str, Any]:
    return {"playerId": player, "sk": FILL_COUNTER_KEY, "fillSeq": seq}


WHOLE = [
    fill("alice", 1, "t1"),
    fill("alice", 2, "t2"),
    counter("alice", 2),
    fill("bob", 1, "t1"),
    counter("bob", 1),
]


def found(fills: list[dict[str, Any]]) -> list[str]:
    tables: dict[str, list[dict[str, Any]]] = {
        TABLES.accounts: [],
        TABLES.book: [],
        TABLES.orders: [],
        TABLES.trades: TRADES,
        TABLES.fills: fills,
        TABLES.markets: [],
    }
    return [p for p in problems(tables.__getitem__, TABLES) if p.startswith("fills:")]


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        (WHOLE, []),
        (
            [f for f in WHOLE if f != fill("bob", 1, "t1")],
            ["fills: bob has records [] (0) and sequence 1", "fills: bob has 0 records of trade t1, not 1"],
        ),
        (
            [*WHOLE[:1], fill("alice", 3, "t2"), counter("alice", 3), *WHOLE[3:]],
            ["fills: alice has records [1, 3] (2) and sequence 3"],
        ),
        (
            [*WHOLE[:2], fill("alice", 3, "t2"), counter("alice", 3), *WHOLE[3:]],
            ["fills: alice has 2 records of trade t2, not 1"],
        ),
        (
            [*WHOLE, fill("carol", 1, "t9"), counter("carol", 1)],
            ["fills: carol has 1 records of trade t9, not 0"],
        ),
        (
            [*WHOLE, fill("house.wheat", 1, "t2"), counter("house.wheat", 1)],
            ["fills: house.wheat has 1 records of trade t2, not 0"],
        ),
    ],
    ids=["whole", "a-record-lost", "a-gap", "a-record-twice", "a-trade-that-never-was", "the-house-s"],
)
def test_each_player_s_fills_are_numbered_without_gaps_and_are_their_trades(
    fills: list[dict[str, Any]], expected: list[str]
) -> None:
    assert found(fills) == expected
