"""Invariant 8: each footballer counts exactly the goals applied to it, and a drained pipeline
leaves no goal pending (a goal counted twice, or never applied, is seen by the checker)."""

from typing import Any

import pytest

from mercato.storage.tables import table_names
from mercato.testing.invariants import problems

TABLES = table_names("t")


def tables(goals_counted: int, applied: list[bool]) -> dict[str, list[dict[str, Any]]]:
    market = {"material": "lionel-messi", "kind": "footballer", "goals": goals_counted, "hours": []}
    events = [
        {"material": "lionel-messi", "sk": f"EVENT#g{n}", "kind": "goal", "applied": done}
        for n, done in enumerate(applied)
    ]
    return {
        TABLES.accounts: [],
        TABLES.book: events,
        TABLES.orders: [],
        TABLES.trades: [],
        TABLES.fills: [],
        TABLES.markets: [market, {"material": "wheat", "kind": "commodity", "hours": []}],
    }


@pytest.mark.parametrize(
    ("counted", "applied", "drained", "found"),
    [
        (2, [True, True], True, []),
        (1, [True, False], False, []),
        (2, [True], True, ["goals: lionel-messi counts 2 but 1 are applied"]),
        (0, [True], False, ["goals: lionel-messi counts 0 but 1 are applied"]),
        (1, [True, False], True, ["goals: lionel-messi has goal EVENT#g1 still pending when drained"]),
    ],
    ids=["counted", "pending-mid-flight", "counted-twice", "never-counted", "pending-when-drained"],
)
def test_a_footballers_goal_count_is_its_applied_goals(
    counted: int, applied: list[bool], drained: bool, found: list[str]
) -> None:
    stored = tables(counted, applied)

    assert problems(stored.__getitem__, TABLES, drained=drained) == found
