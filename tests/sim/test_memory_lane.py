"""``mercato sim --store memory``: the same sessions on the in-memory exchange break no invariant with
every fault kind that applies there injected, and find a condition dropped from the exchange."""

import json
from datetime import datetime
from typing import Any

import pytest

from mercato.intake.app import logger as intake_logger
from mercato.intake.service import Intake
from mercato.local.cli import main
from mercato.local.memory_lane import table_items
from mercato.local.sim import OTHER_FAULTS, STORAGE_FAULTS, STREAM_FAULTS, kind_of, simulate
from mercato.matcher.handler import logger as matcher_logger
from mercato.memory.exchange import InMemoryExchange
from mercato.models.accounts import Deposit
from mercato.models.markets import CommodityListing
from mercato.models.orders import OrderRequest
from mercato.storage.tables import table_names
from mercato.testing.invariants import problems
from tests.contract.values import a_deposit


@pytest.fixture(autouse=True)
def _quiet() -> None:
    for logger in (matcher_logger, intake_logger):
        logger.setLevel("CRITICAL")


def test_memory_sessions_with_every_fault_kind_break_no_invariant_and_replay() -> None:
    figures = simulate(7, sessions=4, steps=60, fault_rate=0.1, store="memory")

    assert figures.failure is None
    assert figures.invariant_violations == 0
    assert figures.orders > 100
    every_kind = {str(kind) for kind in STORAGE_FAULTS} | set(STREAM_FAULTS) | set(OTHER_FAULTS)
    assert every_kind <= set(figures.faults_injected), every_kind - set(figures.faults_injected)
    again = simulate(7, sessions=4, steps=60, fault_rate=0.1, store="memory")
    assert (again.orders, again.faults_injected) == (figures.orders, figures.faults_injected)


def _deposit_without_its_put_if_absent(
    self: InMemoryExchange, player_id: str, deposit: Deposit, *, at: datetime
) -> bool:
    """A seeded bug: the deposit is credited without checking its id is new, so a deposit resent
    after a crash that followed its write is credited twice (the moto lane's seeded bug, here)."""
    with self.lock:
        self._credit(player_id, deposit.deposit_id, deposit.asset, deposit.quantity, at)
        return True


def test_a_condition_dropped_from_the_in_memory_exchange_is_found_and_replays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(InMemoryExchange, "deposit", _deposit_without_its_put_if_absent)

    found = simulate(1, store="memory")  # the default run: 4 sessions of 60 steps

    assert found.failure is not None, "the memory lane finds the dropped condition"
    assert "conservation" in found.failure
    session = int(found.failure.split(" session ")[1].split()[0])
    replayed = simulate(1, sessions=1, first_session=session, store="memory")
    assert replayed.failure == found.failure


def test_the_checks_read_the_exchange_state_as_tables_and_see_a_broken_escrow() -> None:
    exchange = InMemoryExchange()
    service = Intake(exchange)
    service.list_market(
        CommodityListing.model_validate(
            {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 150}
        )
    )
    service.deposit("p1", a_deposit("d1", "coins", 1_000))
    request = {"type": "Buy", "material": "wheat", "quantity": 3, "pricePerUnit": 100}
    service.place_order("p1", OrderRequest.model_validate(request))
    tables = table_names("memory")

    def read(table: str) -> list[dict[str, Any]]:
        return table_items(exchange, tables)[table]

    assert problems(read, tables, drained=True) == []
    assert [item["remaining"] for item in read(tables.book)] == [3]
    held = exchange.state.balances["p1"]["coins"]
    exchange.state.balances["p1"]["coins"] = held.model_copy(update={"reserved": held.reserved + 1})
    assert [kind_of(problem) for problem in problems(read, tables, drained=True)] == [
        "conservation",
        "escrow",
    ]


def test_the_command_runs_the_memory_lane_and_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--store", "memory", "--seed", "2", "--sessions", "2", "--steps", "30", "--json"])

    figures = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(figures) == {
        "orders",
        "faults_injected",
        "invariant_violations",
        "price_time_compared",
        "sweeps",
        "seconds",
    }
    assert figures["invariant_violations"] == 0
    assert figures["orders"] > 10
    assert figures["faults_injected"]


@pytest.mark.slow
def test_a_long_memory_simulation_breaks_no_invariant() -> None:
    figures = simulate(11, sessions=200, steps=100, store="memory")

    assert figures.failure is None
    assert figures.invariant_violations == 0
    assert figures.orders > 8_000


def test_the_simulated_sweep_leaves_no_due_order_resting_and_one_that_wakes_nothing_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep runs inside the simulation as on AWS (its reads through the faulty storage, its
    wake-ups through the faulty mapping): after each finished sweep's drain no order that was due at
    the sweep rests. A sweep that wakes nothing, which ``make test`` never saw before, breaks that
    within the same run."""
    figures = simulate(1, sessions=12, steps=100, store="memory")
    assert (figures.failure, figures.invariant_violations) == (None, 0)
    assert figures.sweeps > 10

    monkeypatch.setattr("mercato.local.sim.due_markets", lambda materials, due, now: [])
    broken = simulate(1, sessions=12, steps=100, store="memory")
    assert broken.failure is not None
    assert "sweep_left_due" in broken.failure, broken.failure
