"""The deployed sweep over a catalog too large for one invocation: it puts each slice's wake-ups
before looking at the next, stops when its time runs short, and starts each minute's sweep a slice
further on, so every market is looked at within a few sweeps (a reviewer computed that thousands of
markets outran the function's 30 s before the first wake-up was put: they were put at the end)."""

from typing import Any

from mercato.matcher.ports import PendingGoal
from mercato.matcher.sweep import SWEEP_SLICE, SWEEP_TIME_LEFT_MS, wake_due_markets

MINUTE = 60_000


class Catalog:
    """A matcher store with ``size`` markets; every seventh has an order due."""

    def __init__(self, size: int) -> None:
        self.names = [f"m{n:05d}" for n in range(size)]

    def materials(self) -> list[str]:
        return list(self.names)

    def due(self, material: str, now: int) -> list[str]:
        return ["key"] if int(material[1:]) % 7 == 0 else []

    def best_price(self, material: str, buy: bool) -> int | None:
        return None

    def pending_goals(self, material: str) -> list[PendingGoal]:
        return []

    def market(self, material: str) -> None:
        return None  # commodities with empty books: never woken for a lost listing


class Kinesis:
    def __init__(self) -> None:
        self.puts: list[list[str]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.puts.append([record["PartitionKey"] for record in Records])
        return {"FailedRecordCount": 0}


def test_a_sweep_short_of_time_puts_what_it_found_and_stops() -> None:
    catalog, kinesis = Catalog(3 * SWEEP_SLICE), Kinesis()
    left = iter([SWEEP_TIME_LEFT_MS + 1, SWEEP_TIME_LEFT_MS - 1])  # time for one slice

    swept = wake_due_markets(catalog, 0, kinesis, "s", left.__next__)  # type: ignore[arg-type]

    first = catalog.names[:SWEEP_SLICE]
    assert (swept.looked_at, swept.markets) == (SWEEP_SLICE, 3 * SWEEP_SLICE)
    assert kinesis.puts == [[m for m in first if int(m[1:]) % 7 == 0]], "put before time ran out"
    assert swept.woken == kinesis.puts[0]


def test_each_minute_s_sweep_starts_a_slice_further_so_every_market_is_looked_at() -> None:
    catalog = Catalog(3 * SWEEP_SLICE + 17)
    seen: set[str] = set()
    for minute in range(4):
        kinesis = Kinesis()
        left = iter([SWEEP_TIME_LEFT_MS + 1, 0])
        swept = wake_due_markets(catalog, minute * MINUTE, kinesis, "s", left.__next__)  # type: ignore[arg-type]
        assert swept.looked_at == SWEEP_SLICE
        seen |= set(swept.woken)
    assert seen == {m for m in catalog.names if int(m[1:]) % 7 == 0}


def test_with_time_enough_one_sweep_looks_at_the_whole_catalog() -> None:
    catalog, kinesis = Catalog(2 * SWEEP_SLICE + 3), Kinesis()

    swept = wake_due_markets(catalog, 5 * MINUTE, kinesis, "s")  # type: ignore[arg-type]

    assert swept.looked_at == swept.markets == 2 * SWEEP_SLICE + 3
    assert sorted(swept.woken) == [m for m in catalog.names if int(m[1:]) % 7 == 0]
