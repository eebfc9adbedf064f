"""Crash at every storage call, exhaustively: for each scenario, the matcher (and separately intake)
dies just before, or just after, its k-th DynamoDB call, for every k its uncrashed run makes; the
interrupted work is redelivered (the mapping resends the batch, the game resends the request) and
the final tables must equal the uncrashed run's, with every invariant of DESIGN §8 holding."""

import pytest

from mercato.local.faults import Fault, crash_at
from tests.sim.crash import Scenario, Target, run
from tests.sim.scenarios import SCENARIOS, cancel, order, wheat

CRASHES = (Fault.CRASH_BEFORE, Fault.CRASH_AFTER)


@pytest.mark.parametrize("target", ["matcher", "intake"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_crash_at_any_call_then_redelivery_ends_exactly_as_the_uncrashed_run(
    scenario: Scenario, target: Target
) -> None:
    clean = run(scenario, target)
    assert clean.problems == []
    assert clean.calls > 0, "the target made storage calls to crash at"
    failures = []
    for fault in CRASHES:
        for k in range(1, clean.calls + 1):
            crashed = run(scenario, target, crash_at(k, fault))
            assert crashed.crashes == 1, f"{fault} at call {k} fired once"
            if crashed.problems or crashed.state != clean.state:
                failures.append((str(fault), k, crashed.problems[:2]))
    assert failures == [], f"{len(failures)} of {2 * clean.calls} crash runs ended elsewhere"


def test_a_cancel_landing_before_any_call_of_a_settlement_leaves_one_serial_outcome() -> None:
    # Given bob's resting sell and alice's crossing buy, about to be matched
    requests = [order("s1", "bob", "Sell", 10, 20), order("b1", "alice", "Buy", 4, 20)]
    cancel_first = run(Scenario("cancel first", wheat, [*requests[:1], cancel("s1", "bob"), requests[1]]))
    fill_first = run(Scenario("fill first", wheat, [*requests, cancel("s1", "bob")], drain_between=True))
    assert cancel_first.state != fill_first.state
    settling = run(Scenario("race", wheat, requests), "matcher")
    outcomes = set()
    for j in range(1, settling.calls + 2):  # calls + 1: after the last one
        # When bob's cancel lands just before the matcher's j-th call
        raced = run(Scenario("race", wheat, requests), "matcher", race=cancel("s1", "bob"), race_at=j)
        # Then the book settled as if one came wholly first: never both, never a mix
        assert raced.problems == [], j
        assert raced.state in (cancel_first.state, fill_first.state), f"cancel before call {j}"
        outcomes.add(raced.state == fill_first.state)
    assert outcomes == {True, False}, "the race went both ways across the calls"
