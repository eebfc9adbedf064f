"""The house's ladder (DESIGN §6): the bounds that make its loss per goal a known number."""

from hypothesis import given
from hypothesis import strategies as st

from mercato.matcher.house import Quote, ladder
from mercato.models.markets import HouseParams
from mercato.models.money import MAX_PRICE
from mercato.models.orders import Side

params = st.builds(
    HouseParams,
    levels=st.integers(1, 10),
    size=st.integers(1, 500),
    spread_bps=st.integers(0, 5_000),
    step_bps=st.integers(1, 5_000),
    inventory=st.integers(0, 2_000),
    max_inventory=st.integers(0, 4_000),
    budget=st.integers(0, 10**9),
)


@given(st.integers(1, 10**7), params, st.integers(0, 4_000), st.integers(0, 10**9))
def test_the_house_never_sells_below_f_buys_above_it_or_quotes_beyond_its_means(
    fundamental: int, house: HouseParams, shares: int, coins: int
) -> None:
    quotes = ladder(fundamental, house, shares, coins)

    asks = [q for q in quotes if q.side is Side.SELL]
    bids = [q for q in quotes if q.side is Side.BUY]
    assert all(fundamental <= q.price <= MAX_PRICE for q in asks)
    assert all(1 <= q.price <= fundamental for q in bids)
    assert not asks or not bids or max(q.price for q in bids) < min(q.price for q in asks), "never crossed"
    assert sum(q.quantity for q in asks) <= shares
    assert shares + sum(q.quantity for q in bids) <= max(house.max_inventory, shares)
    assert sum(q.price * q.quantity for q in bids) <= coins
    assert len(asks) <= house.levels
    assert len(bids) <= house.levels
    assert all(0 < q.quantity <= house.size for q in quotes)


def test_the_default_ladder_around_1000() -> None:
    quotes = ladder(1_000, HouseParams(), shares=100, coins=500_000)

    assert quotes == [
        Quote(Side.SELL, 1_010, 10),
        Quote(Side.SELL, 1_015, 10),
        Quote(Side.SELL, 1_020, 10),
        Quote(Side.BUY, 990, 10),
        Quote(Side.BUY, 985, 10),
        Quote(Side.BUY, 980, 10),
    ]


def test_a_house_long_of_its_inventory_leans_down_and_one_short_leans_up() -> None:
    long = ladder(1_000, HouseParams(), shares=150, coins=500_000)
    short = ladder(1_000, HouseParams(), shares=50, coins=500_000)

    assert min(q.price for q in long if q.side is Side.SELL) < 1_010
    assert min(q.price for q in short if q.side is Side.SELL) > 1_010
    assert max(q.price for q in long if q.side is Side.BUY) < 990
    assert max(q.price for q in short if q.side is Side.BUY) > 990


def test_the_worst_case_per_goal_is_max_inventory_times_the_goal_value() -> None:
    assert HouseParams().worst_case_loss(goal_value=100) == 20_000
