"""The lanes themselves: each test starts from empty state, and a write is seen by both ports."""

from tests.contract.conftest import Backend
from tests.contract.values import AT, a_deposit


def test_each_test_starts_from_an_empty_exchange(backend: Backend) -> None:
    assert backend.intake.list_markets() == []
    assert backend.intake.balances("alice") == {}
    assert backend.intake.deposit("alice", a_deposit("d-1", "coins", 5), at=AT)


def test_a_deposit_through_intake_is_what_the_matcher_holds(backend: Backend) -> None:
    assert backend.intake.balances("alice") == {}
    assert backend.intake.deposit("alice", a_deposit("d-1", "coins", 5), at=AT)
    assert backend.matcher.holdings("alice", ("coins", "wheat")) == (5, 0)
