"""A seeded bug found by ``mercato sim`` shrinks to a short schedule that still breaks the same
invariant, and that schedule replays to the same failure."""

import random
from collections.abc import Callable
from typing import Any

import pytest

from mercato.intake.app import logger as intake_logger
from mercato.local.faults import FaultPlan, StorageCalls
from mercato.local.sim import NOTHING, Choices, MotoStorage, kind_of, shrink, simulate
from mercato.matcher.handler import logger as matcher_logger
from mercato.storage.items import DEPOSIT_PREFIX


class MovementGuardDropped:
    """A seeded bug: the client writes a deposit's movement record without its put-if-absent
    condition, so a deposit resent after a crash that followed its write is credited twice."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def transact_write_items(self, **request: Any) -> Any:
        for action in request["TransactItems"]:
            put = action.get("Put")
            if put is not None and str(put["Item"].get("sk", "")).startswith(DEPOSIT_PREFIX):
                put.pop("ConditionExpression", None)
        return self.client.transact_write_items(**request)


@pytest.fixture
def seeded_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def counted(
        self: MotoStorage, plan: FaultPlan, before: Callable[[int, str], None] | None
    ) -> StorageCalls:
        return StorageCalls(MovementGuardDropped(self.client), plan, before=before)

    monkeypatch.setattr(MotoStorage, "counted", counted)
    for logger in (matcher_logger, intake_logger):
        logger.setLevel("CRITICAL")


SEED, STEPS, FAULT_RATE = 3, 12, 0.1


@pytest.mark.slow  # about 15 session runs: 20 s on a quiet machine, 2-3 minutes under load
def test_a_seeded_bug_shrinks_to_fewer_faults_and_the_short_schedule_fails_the_same_way(
    seeded_bug: None,
) -> None:
    found = simulate(SEED, sessions=1, steps=STEPS, fault_rate=FAULT_RATE)
    assert found.failure is not None, "the simulation finds the seeded bug"

    shrunk = shrink(SEED, 0, STEPS, FAULT_RATE, max_runs=40)

    assert shrunk is not None
    assert found.problem is not None
    assert kind_of(shrunk.problem) == kind_of(found.problem)
    assert shrunk.faults < shrunk.original_faults
    assert shrunk.steps <= shrunk.original_steps
    again = simulate(SEED, sessions=1, steps=shrunk.steps, fault_rate=FAULT_RATE, replay=shrunk.draws)
    assert again.failure == shrunk.failure
    assert sum(again.faults_injected.values()) == shrunk.faults


@pytest.mark.slow
def test_without_the_bug_the_same_schedule_breaks_nothing() -> None:
    for logger in (matcher_logger, intake_logger):
        logger.setLevel("CRITICAL")
    figures = simulate(SEED, sessions=1, steps=STEPS, fault_rate=FAULT_RATE)

    assert figures.failure is None
    assert figures.invariant_violations == 0


def test_recorded_draws_are_those_of_random_random_and_replay_exactly() -> None:
    plain, recorded = random.Random("3/0"), Choices("3/0")
    made = [(r.random(), r.randint(1, 12), r.choice("abc"), r.sample(range(9), 3)) for r in (plain, recorded)]
    assert made[0] == made[1]

    replayed = Choices("another seed", replay=recorded.drawn)
    assert (
        replayed.random(),
        replayed.randint(1, 12),
        replayed.choice("abc"),
        replayed.sample(range(9), 3),
    ) == made[0]
    assert replayed.drawn == recorded.drawn


def test_a_schedule_past_its_end_injects_nothing_and_takes_first_choices() -> None:
    short = Choices("3/0", replay=[0.01])

    assert short.random() == 0.01
    assert (short.random(), short.choice("abc"), short.randint(5, 9)) == (NOTHING, "a", 5)
