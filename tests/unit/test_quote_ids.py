"""The house's quote ids after a goal: a UUIDv7 at the goal's instant, the same for the same seed."""

import re

import pytest

from mercato.models.ids import UUID7_PATTERN, new_order_id, order_id_at, order_id_millis


def test_an_id_at_an_instant_is_a_uuid7_carrying_it_and_the_same_for_the_same_seed() -> None:
    at = 1_780_000_000_123
    first = order_id_at(at, "lionel-messi", "wc:44:1", "0")
    assert re.fullmatch(UUID7_PATTERN, first)
    assert order_id_millis(first) == at
    assert order_id_at(at, "lionel-messi", "wc:44:1", "0") == first
    others = {order_id_at(at, "lionel-messi", "wc:44:1", str(n)) for n in range(1, 200)}
    assert first not in others
    assert len(others) == 199


def test_an_id_at_an_earlier_instant_sorts_before_a_fresh_one() -> None:
    fresh = new_order_id()
    assert order_id_at(order_id_millis(fresh) - 1, "m", "g", "0") < fresh
    assert order_id_at(order_id_millis(fresh) + 1, "m", "g", "0") > fresh


def test_ids_at_one_instant_with_a_counter_sort_by_it() -> None:
    """A goal's ladder is posted at the goal's instant: its quotes replay in ladder order, best first,
    so an order resting across them meets the house's best price first."""
    at = 1_780_000_000_123
    ids = [order_id_at(at, "lionel-messi", "wc:44:1", str(n), counter=n) for n in range(200)]

    assert ids == sorted(ids)
    assert all(order_id_millis(i) == at and re.fullmatch(UUID7_PATTERN, i) for i in ids)
    assert len(set(ids)) == 200


@pytest.mark.parametrize("counter", [-1, 1 << 12])
def test_a_counter_beyond_twelve_bits_is_refused(counter: int) -> None:
    with pytest.raises(ValueError, match="12 bits"):
        order_id_at(0, "m", counter=counter)


@pytest.mark.parametrize("millis", [-1, 1 << 48])
def test_an_instant_a_uuid7_cannot_carry_is_refused(millis: int) -> None:
    with pytest.raises(ValueError, match="48 bits"):
        order_id_at(millis, "m")
