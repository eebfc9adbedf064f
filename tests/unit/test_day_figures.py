"""The 24-hour figures from the hours the matcher keeps (``roll_hours``) and the one hour of trades
read at the window's start (``day_figures_of``), against the figures worked out from every trade,
and the invariant that keeps the stored hours honest."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.models.history import (
    HOUR_MS,
    KEPT_HOURS,
    DayFigures,
    HourFigures,
    day_figures_of,
    day_window,
    roll_hours,
)
from mercato.models.ids import new_order_id
from mercato.models.orders import Side
from mercato.models.trades import Trade
from mercato.storage.names import TableNames
from mercato.testing.invariants import problems

T0 = 1_781_200_800_000  # 2026-06-11T18:00:00Z

Settled = tuple[int, list[tuple[int, int]]]
"""One settlement: when (ms) and its trades (price, quantity) in the order they filled."""


def trade(at_ms: int, price: int, quantity: int, n: int) -> Trade:
    return Trade(
        trade_id=f"t{n}",
        material="wheat",
        price=price,
        quantity=quantity,
        taker_side=Side.BUY,
        executed_at=datetime.fromtimestamp(at_ms / 1000, tz=UTC),
        buy_order_id=new_order_id(),
        sell_order_id=new_order_id(),
        buyer_id="alice",
        seller_id="bob",
        fee=0,
    )


def settle(settlements: list[Settled]) -> tuple[tuple[HourFigures, ...], list[tuple[int, int, int]]]:
    """Roll the hours settlement by settlement, as the matcher does; and every trade as (ms, price,
    quantity), in the order it settled."""
    hours: tuple[HourFigures, ...] = ()
    every: list[tuple[int, int, int]] = []
    for at_ms, trades in settlements:
        hours = roll_hours(hours, at_ms, trades)
        every += [(at_ms, price, quantity) for price, quantity in trades]
    return hours, every


def read_at(hours: tuple[HourFigures, ...], every: list[tuple[int, int, int]], now: int) -> DayFigures | None:
    """What intake answers at ``now``: the hours, and the trades of the window's first hour."""
    start, edge = day_window(now)
    edge_trades = [
        trade(at, price, quantity, n)
        for n, (at, price, quantity) in enumerate(every)
        if start <= at < edge + HOUR_MS
    ]
    return day_figures_of(hours, edge_trades, now)


def by_hand(every: list[tuple[int, int, int]], now: int) -> DayFigures | None:
    """The figures of every trade executed in the 24 hours up to ``now``, in settlement order."""
    inside = [(price, quantity) for at, price, quantity in every if now - 24 * HOUR_MS <= at <= now]
    if not inside:
        return None
    prices = [price for price, _ in inside]
    return DayFigures(prices[-1] - prices[0], max(prices), min(prices), sum(q for _, q in inside))


trades_of_a_settlement = st.lists(
    st.tuples(st.integers(1, 1_000), st.integers(1, 50)), min_size=1, max_size=4
)


@st.composite
def a_day_of_settlements(draw: st.DrawFn) -> list[Settled]:
    """Settlements at non-decreasing times (one material's single writer) over up to three days,
    with gaps from a millisecond to a day and a half."""
    at = T0 + draw(st.integers(0, HOUR_MS))
    settlements = []
    for _ in range(draw(st.integers(0, 40))):
        at += draw(
            st.one_of(st.integers(0, 5_000), st.integers(0, 4 * HOUR_MS), st.integers(0, 36 * HOUR_MS))
        )
        settlements.append((at, draw(trades_of_a_settlement)))
    return settlements


@st.composite
def a_moment_after(draw: st.DrawFn, settlements: list[Settled]) -> int:
    """Any time up to 30 hours after the last settlement, or about a day after one of them, so the
    window often starts inside an hour that has trades."""
    near_a_day_later = draw(st.booleans())
    if settlements and near_a_day_later:
        at = draw(st.sampled_from(settlements))[0]
        return max(settlements[-1][0], at + draw(st.integers(23 * HOUR_MS, 25 * HOUR_MS)))
    return (settlements[-1][0] if settlements else T0) + draw(st.integers(0, 30 * HOUR_MS))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), settlements=a_day_of_settlements())
def test_the_day_figures_equal_those_worked_from_every_trade(
    data: st.DataObject, settlements: list[Settled]
) -> None:
    hours, every = settle(settlements)
    now = data.draw(a_moment_after(settlements))

    assert read_at(hours, every, now) == by_hand(every, now)
    assert len(hours) <= KEPT_HOURS


def test_the_window_starts_mid_hour_and_reads_only_that_hour_s_trades() -> None:
    """Trades at 18:00:10, 18:00:40, 18:01:05, 19:15 and 00:30; at 18:00:30 the next day the window
    holds all but the first. The hours hold 18:00 (three trades), 19:00 and 00:00; only the 18:00
    hour is read trade by trade."""
    minute, second = 60_000, 1_000
    settlements: list[Settled] = [
        (T0 + 10 * second, [(20, 10)]),
        (T0 + 40 * second, [(22, 5)]),
        (T0 + minute + 5 * second, [(19, 3)]),
        (T0 + HOUR_MS + 15 * minute, [(25, 7)]),
        (T0 + 6 * HOUR_MS + 30 * minute, [(18, 2)]),
    ]
    hours, every = settle(settlements)
    now = T0 + 24 * HOUR_MS + 30 * second

    assert [h.hour_ms for h in hours] == [T0, T0 + HOUR_MS, T0 + 6 * HOUR_MS]
    assert hours[0] == HourFigures(T0, 20, 22, 19, 19, 18, T0 + 10 * second, T0 + minute + 5 * second)
    assert day_window(now) == (T0 + 30 * second, T0)
    assert read_at(hours, every, now) == DayFigures(18 - 22, 25, 18, 17)
    assert read_at(hours, every, T0 + 7 * HOUR_MS) == DayFigures(18 - 20, 25, 18, 27)
    assert read_at(hours, every, T0 + 31 * HOUR_MS) is None


def test_an_hour_older_than_the_kept_ones_is_dropped_and_a_late_one_lands_in_its_own_hour() -> None:
    """A settlement stamped earlier than the latest (another matcher's clock) joins its own hour while
    that hour is kept, and only the 25 hours ending with the latest are kept."""
    hours = roll_hours((), T0 + 30 * HOUR_MS, [(10, 1)])
    hours = roll_hours(hours, T0 + 29 * HOUR_MS, [(12, 2)])
    hours = roll_hours(hours, T0 + 30 * HOUR_MS + 5, [(11, 3)])

    assert hours == (
        HourFigures(T0 + 29 * HOUR_MS, 12, 12, 12, 12, 2, T0 + 29 * HOUR_MS, T0 + 29 * HOUR_MS),
        HourFigures(T0 + 30 * HOUR_MS, 10, 11, 10, 11, 4, T0 + 30 * HOUR_MS, T0 + 30 * HOUR_MS + 5),
    )
    assert roll_hours(hours, T0 + 54 * HOUR_MS, [(9, 1)])[0].hour_ms == T0 + 30 * HOUR_MS
    assert roll_hours(hours, T0 + 4 * HOUR_MS, [(9, 1)]) == hours


def test_a_settlement_stamped_earlier_in_its_hour_moves_the_open_not_the_close() -> None:
    """Another instance's clock a few milliseconds behind: its settlement lands after the other's
    but executed earlier, so the hour opens at its price and still closes at the latest trade's,
    as the candles and the invariant order them (by execution time)."""
    hours = roll_hours((), T0 + 10, [(10, 1)])
    hours = roll_hours(hours, T0 + 5, [(12, 2), (13, 1)])
    hours = roll_hours(hours, T0 + 10, [(11, 1)])  # the same millisecond as the latest: settled after it

    assert hours == (HourFigures(T0, 12, 13, 10, 11, 5, T0 + 5, T0 + 10),)
    trades = [(T0 + 10, 10, 1), (T0 + 5, 12, 2), (T0 + 5, 13, 1), (T0 + 10, 11, 1)]
    assert hour_problems([list(hours[0])], trades) == []


# -- the invariant ---------------------------------------------------------------------------------

TABLES = TableNames(book="b", orders="o", accounts="a", trades="t", markets="m", fills="f")


def stored(hours: list[list[int]], trades: list[tuple[int, int, int]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "b": [],
        "o": [],
        "a": [],
        "f": [],
        "m": [{"material": "wheat", "feesAccrued": 0, "hours": hours}],
        "t": [
            {
                "tradeId": f"t{n}",
                "material": "wheat",
                "buyOrderId": f"b{n}",
                "sellOrderId": f"s{n}",
                "buyerId": "house.wheat-buyer",  # the house keeps no fill records
                "sellerId": "house.wheat-seller",
                "price": price,
                "quantity": quantity,
                "fee": 0,
                "takerSide": "Buy",
                "executedAt": at,
            }
            for n, (at, price, quantity) in enumerate(trades)
        ],
    }


def hour_problems(hours: list[list[int]], trades: list[tuple[int, int, int]]) -> list[str]:
    tables = stored(hours, trades)
    return [p for p in problems(tables.__getitem__, TABLES) if "hour" in p]


TRADES = [(T0 + 5, 20, 1), (T0 + 9, 25, 2), (T0 + 9, 21, 1), (T0 + 3 * HOUR_MS, 30, 4)]
TRUE_HOURS = [
    [T0, 20, 25, 20, 21, 4, T0 + 5, T0 + 9],
    [T0 + 3 * HOUR_MS, 30, 30, 30, 30, 4, *[T0 + 3 * HOUR_MS] * 2],
]


def test_the_invariant_accepts_hours_equal_to_the_trades_either_order_within_a_millisecond() -> None:
    assert hour_problems(TRUE_HOURS, TRADES) == []
    assert hour_problems([[T0, 20, 25, 20, 25, 4, T0 + 5, T0 + 9], TRUE_HOURS[1]], TRADES) == []
    assert hour_problems([], []) == []


def test_the_invariant_reports_hours_that_disagree_with_the_trades() -> None:
    wrong_volume = [[T0, 20, 25, 20, 21, 3, T0 + 5, T0 + 9], TRUE_HOURS[1]]
    wrong_close = [[T0, 20, 25, 20, 20, 4, T0 + 5, T0 + 9], TRUE_HOURS[1]]
    wrong_last = [[T0, 20, 25, 20, 21, 4, T0 + 5, T0 + 8], TRUE_HOURS[1]]
    missing_hour = [TRUE_HOURS[0]]
    stale_hour = [[T0 - 30 * HOUR_MS, 5, 5, 5, 5, 1, T0 - 30 * HOUR_MS, T0 - 30 * HOUR_MS], *TRUE_HOURS]
    far_later = [*TRADES, (T0 + 40 * HOUR_MS, 8, 1)]

    for hours in (wrong_volume, wrong_close, wrong_last, missing_hour, stale_hour):
        assert len(hour_problems(hours, TRADES)) == 1, hours
    last_hour = [T0 + 40 * HOUR_MS, 8, 8, 8, 8, 1, T0 + 40 * HOUR_MS, T0 + 40 * HOUR_MS]
    assert hour_problems([*TRUE_HOURS, last_hour], far_later) != []
    assert hour_problems([last_hour], far_later) == []  # 37 hours on
