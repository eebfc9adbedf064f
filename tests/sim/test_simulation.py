"""``mercato sim`` in the test suite: a short seeded run with faults at every level breaks no
invariant and replays identically; the long run is a soak (``make soak``)."""

import pytest

from mercato.local.sim import STORAGE_FAULTS, simulate
from mercato.matcher.handler import logger


@pytest.fixture(autouse=True)
def _quiet_matcher() -> None:
    logger.setLevel("CRITICAL")


def test_a_seeded_simulation_with_faults_at_every_level_breaks_no_invariant_and_replays() -> None:
    figures = simulate(7, sessions=2, steps=20, fault_rate=0.1)

    assert figures.failure is None
    assert figures.invariant_violations == 0
    assert figures.price_time_compared > 0, "price-time priority was compared with the reference"
    assert figures.orders > 20
    assert {str(kind) for kind in STORAGE_FAULTS} <= set(figures.faults_injected)
    again = simulate(7, sessions=2, steps=20, fault_rate=0.1)
    assert (again.orders, again.faults_injected) == (figures.orders, figures.faults_injected)


@pytest.mark.slow
def test_a_long_simulation_breaks_no_invariant() -> None:
    figures = simulate(11, sessions=40, steps=100)

    assert figures.failure is None
    assert figures.invariant_violations == 0
