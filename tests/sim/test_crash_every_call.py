"""Crash at every storage call, exhaustively: for each scenario, the matcher (and separately intake)
dies just before, or just after, its k-th DynamoDB call, for every k its uncrashed run makes; the
interrupted work is redelivered (the mapping resends the batch, the game resends the request) and
the final tables must equal the uncrashed run's, with every invariant of DESIGN §8 holding."""

import functools

import pytest

from mercato.local.faults import Fault, crash_at
from tests.sim.crash import Outcome, Run, Scenario, Target, run, run_all, sweep
from tests.sim.scenarios import SCENARIOS, cancel, order, wheat

CRASHES = (Fault.CRASH_BEFORE, Fault.CRASH_AFTER)


CHECKED: tuple[str, Target] = ("price improvement", "matcher")
"""The sweep whose forked runs are also run from the start; it and that check share one worker."""
SWEEPS = [
    pytest.param(
        scenario,
        target,
        id=f"{scenario.name}, {target}",
        marks=[pytest.mark.xdist_group("crash-sweep-checked")] if (scenario.name, target) == CHECKED else [],
    )
    for scenario in SCENARIOS
    for target in ("matcher", "intake")
    if target == "matcher" or scenario.intake_sweep
]


@functools.cache
def swept(name: str, target: Target) -> Outcome:
    """The sweep of one scenario, made once per worker."""
    return sweep(next(s for s in SCENARIOS if s.name == name), target, CRASHES)


@pytest.mark.parametrize(("scenario", "target"), SWEEPS)
def test_a_crash_at_any_call_then_redelivery_ends_exactly_as_the_uncrashed_run(
    scenario: Scenario, target: Target
) -> None:
    clean = swept(scenario.name, target)
    assert clean.problems == []
    assert clean.calls > 0, "the target made storage calls to crash at"
    crashed = clean.branches
    assert [(fault, k) for fault, k, _ in crashed] == [
        (fault, k) for k in range(1, clean.calls + 1) for fault in CRASHES
    ], "a crash before and one after each call"
    failures = [
        (str(fault), k, outcome.problems[:2])
        for fault, k, outcome in crashed
        if outcome.problems or outcome.state != clean.state
    ]
    assert failures == [], f"{len(failures)} of {len(crashed)} crash runs ended elsewhere"
    assert all(outcome.crashes == 1 for _, _, outcome in crashed), "each run crashed exactly once"


@pytest.mark.xdist_group("crash-sweep-checked")
def test_a_run_forked_where_its_crash_lands_is_the_run_crashed_there_from_the_start() -> None:
    # Given a sweep: each crashed run forked from the uncrashed one at the call where it crashes
    clean = swept(*CHECKED)
    ends = [(fault, k, outcome) for fault, k, outcome in clean.branches if k in (1, clean.calls)]
    # When the runs crashing at its first and its last call are also run from the start
    scenario = next(s for s in SCENARIOS if s.name == CHECKED[0])
    alone = run_all(scenario, [Run(CHECKED[1], crash_at(k, fault)) for fault, k, _ in ends])
    # Then both ways give each run the same end, call count and crash count
    assert clean.calls > 1
    assert len(ends) == 2 * len(CRASHES)
    assert [(o.state, o.calls, o.crashes) for _, _, o in ends] == [
        (o.state, o.calls, o.crashes) for o in alone
    ]


def test_a_cancel_landing_before_any_call_of_a_settlement_leaves_one_serial_outcome() -> None:
    # Given bob's resting sell and alice's crossing buy, about to be matched
    sell, buy = order("s1", "bob", "Sell", 10, 20), order("b1", "alice", "Buy", 4, 20)
    cancel_first = run(Scenario("cancel first", wheat, [sell, buy, cancel("s1", "bob")]))
    fill_first = run(Scenario("fill first", wheat, [sell, buy, cancel("s1", "bob")], drain_between=True))
    assert cancel_first.state != fill_first.state
    race = Scenario("race", wheat, [sell, buy])
    settling = run(race, "matcher")
    # When bob's cancel lands just before the matcher's j-th call (after its last, for the last j)
    raced = run_all(
        race,
        [Run("matcher", race=cancel("s1", "bob"), race_at=j) for j in range(1, settling.calls + 2)],
    )
    # Then the book settled as if one came wholly first: never both, never a mix
    assert all(outcome.problems == [] for outcome in raced)
    assert all(outcome.state in (cancel_first.state, fill_first.state) for outcome in raced)
    assert {outcome.state == fill_first.state for outcome in raced} == {True, False}, "both ways"
