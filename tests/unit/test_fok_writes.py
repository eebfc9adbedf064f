"""The engine's FOK limit counts exactly what the planner writes: a FOK whose fills fit one
transaction fills, one whose fills do not is cancelled in its turn (once the planner found them one
per plan, and eleven in one batch froze their market)."""

import pytest

from mercato.local.sim import uuid7
from mercato.matcher.book import BookOrder, Cancel, Fill, Maker, uncross
from mercato.matcher.house import house_player
from mercato.matcher.settlement import MAX_WRITES, Planner, Post, fok_writes
from mercato.matcher.transactions import Ticker
from mercato.models.orders import CancelReason, Side, TimeInForce

HOUSE = house_player("wheat")


def _book(sellers: list[str]) -> list[BookOrder]:
    """One-unit asks at 10, one per seller, then a FOK bid for all of them."""
    asks = [BookOrder(uuid7(1_000, n), player, Side.SELL, 10, 1) for n, player in enumerate(sellers, start=1)]
    taker = BookOrder(uuid7(1_000, len(sellers) + 1), "fan", Side.BUY, 10, len(sellers), TimeInForce.FOK)
    return [*asks, taker]


@pytest.mark.parametrize(
    "sellers",
    [
        [f"seller-{n}" for n in range(11)],
        [f"seller-{n}" for n in range(12)],
        ["seller"] * 18,
        ["seller"] * 19,
        [HOUSE] * 6 + [f"seller-{n}" for n in range(6)],
        [HOUSE] * 30,
    ],
    ids=["11 players", "12 players", "18 from one", "19 from one", "6 house, 6 players", "30 house"],
)
def test_the_count_is_what_the_planner_folds(sellers: list[str]) -> None:
    orders = _book(sellers)
    taker = orders[-1]
    fills = [e for e in uncross(orders, fee_bps=0, now=0).events if isinstance(e, Fill)]
    makers = [Maker(o.order_id, o.player_id) for o in orders[:-1]]
    planner = Planner("wheat", {o.order_id: o for o in orders}, 0)

    assert fok_writes(taker, makers) == planner._alone(list(fills)).size()


@pytest.mark.parametrize(("players", "fills"), [(11, True), (12, False)])
def test_a_fok_fills_up_to_the_limit_and_is_cancelled_past_it(players: int, fills: bool) -> None:
    orders = _book([f"seller-{n}" for n in range(players)])

    def fits(order: BookOrder, makers: list[Maker]) -> bool:
        return fok_writes(order, makers) <= MAX_WRITES

    events = uncross(orders, fee_bps=0, now=0, fok_fits=fits).events

    if fills:
        assert sum(isinstance(e, Fill) for e in events) == players
    else:
        assert events == [
            Cancel(orders[-1].order_id, "fan", Side.BUY, 10, players, CancelReason.FOK_UNFILLED)
        ]


def test_a_fok_meeting_a_quote_posted_in_the_same_plan_is_planned() -> None:
    """A house quote posted by the settlement is one of the FOK's makers: an up-front size check
    looked it up before the posts were folded and raised KeyError (a reviewer's find)."""
    ask = BookOrder(uuid7(1_000, 1), "bob", Side.SELL, 10, 1)
    quote = BookOrder(
        uuid7(1_000, 2), house_player("lionel-messi"), Side.SELL, 10, 1
    )  # posted by this settlement
    fok = BookOrder(uuid7(1_000, 3), "fan", Side.BUY, 10, 2, TimeInForce.FOK)
    events = uncross([ask, fok, quote], fee_bps=0, now=0).events
    planner = Planner("lionel-messi", {o.order_id: o for o in (ask, fok)}, 0)  # as the matcher builds it

    plan = planner.plan([Post(quote), *events], Ticker(None, None, True, True))

    assert sum(len(s.trades) for s in plan) == 2
