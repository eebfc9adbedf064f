"""One seeded session played twice: through the services on the in-memory exchange (each order's
wake-up handed to the matcher at once) and through the whole pipeline on moto (the stream, the pipe,
Kinesis and the event-source mapping, drained at random points). Both must end in the same balances,
orders, trades and book."""

import contextlib
import itertools
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.intake.service import Intake
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.house import house_player, is_house
from mercato.matcher.service import Matcher
from mercato.memory.exchange import InMemoryExchange, book_key
from mercato.models.errors import Conflict
from mercato.models.events import GoalEvent
from mercato.models.markets import CommodityListing, FootballerListing
from mercato.models.orders import OrderRequest, TimeInForce
from tests.contract.values import a_deposit
from tests.integration.conftest import SECRET
from tests.sim.crash import uuid7

PLAYERS = ("p1", "p2", "p3", "p4", "p5")
OPENED = datetime(2026, 6, 1, 12, tzinfo=UTC)
OPENED_MS = int(OPENED.timestamp() * 1000)


def _ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: uuid7(OPENED_MS, next(counter))


def play(
    seed: int, service: Intake, wake: Callable[[str | None], None], drain: Callable[[], None]
) -> dict[str, Any]:
    """The session of ``seed``; ``wake`` is called after each order (with its book key if it is IOC or
    FOK, which the matcher must see even if it does not cross), ``drain`` before each cancel and at
    random points. Returns everything the services read at the end."""
    actions, drains = random.Random(seed), random.Random(seed + 1_000)
    service.list_market(
        CommodityListing.model_validate(
            {"material": "wheat", "kind": "commodity", "name": "Wheat", "feeBps": 150}
        )
    )
    for player in PLAYERS:
        service.deposit(player, a_deposit("coins", "coins", 1_000_000))
        service.deposit(player, a_deposit("wheat", "wheat", 10_000))
    placed: list[tuple[str, str]] = []
    cancels: list[bool] = []
    for _ in range(60):
        if placed and actions.random() < 0.15:
            drain()
            player, order_id = placed.pop(actions.randrange(len(placed)))
            try:
                service.cancel(player, order_id)
                cancels.append(True)
            except Conflict:
                cancels.append(False)
            continue
        player = actions.choice(PLAYERS)
        request = OrderRequest.model_validate(
            {
                "type": actions.choice(["Buy", "Sell"]),
                "material": "wheat",
                "quantity": actions.randint(1, 20),
                "pricePerUnit": actions.randint(95, 105),
                "timeInForce": actions.choice(["GTC", "GTC", "GTC", "GTC", "IOC", "FOK"]),
            }
        )
        order, _ = service.place_order(player, request)
        placed.append((player, order.order_id))
        wake(book_key(order) if order.time_in_force is not TimeInForce.GTC else None)
        if drains.random() < 0.3:
            drain()
    drain()
    every_order = sorted({(p, o) for p, o in placed} | set(_all_orders(service)))
    return {
        "balances": {player: service.account(player).balances for player in PLAYERS},
        "orders": [service.order(player, order_id) for player, order_id in every_order],
        "trades": service.store.trades_between("wheat", 0, 2 * OPENED_MS, None),
        "book": service.book("wheat", 100),
        "cancels": cancels,
        "market": service.market("wheat"),
    }


def _all_orders(service: Intake) -> list[tuple[str, str]]:
    return [(p, o.order_id) for p in PLAYERS for o in service.orders(p, None, 500, None).orders]


def on_memory(seed: int) -> dict[str, Any]:
    exchange = InMemoryExchange()
    service = Intake(exchange, clock=lambda: OPENED, new_id=_ids())
    matcher = Matcher(exchange, clock=lambda: OPENED_MS + 1)

    def wake(hint: str | None) -> None:
        matcher.settle("wheat", [hint] if hint else [])

    return play(seed, service, wake, lambda: None)


@contextlib.contextmanager
def _pipeline_on_moto() -> Iterator[LocalPipeline]:
    """The whole pipeline on moto, with the clocks and intake's ids the memory lane uses."""
    moto_atomic.install()
    with mock_aws():
        yield LocalPipeline.create(
            boto3.Session(),
            "agree",
            SECRET,
            intake_clock=lambda: OPENED,
            new_id=_ids(),
            matcher_clock=lambda: OPENED_MS + 1,
        )


def on_moto(seed: int) -> dict[str, Any]:
    with _pipeline_on_moto() as pipeline:
        return play(seed, pipeline.service, lambda hint: None, pipeline.drain)


@pytest.mark.parametrize("seed", [1])
def test_the_in_memory_exchange_and_the_pipeline_on_moto_end_alike(seed: int) -> None:
    memory, moto = on_memory(seed), on_moto(seed)
    assert len(memory["trades"]) > 5, "the session traded"
    assert any(memory["cancels"]), "the session cancelled"
    for part in ("balances", "orders", "trades", "book", "cancels", "market"):
        assert memory[part] == moto[part], part


MESSI = "lionel-messi"
GOAL_AT = 20


def play_footballer(seed: int, service: Intake, settle: Callable[[str | None], None]) -> dict[str, Any]:
    """A footballer's session: listed (the house posts its ladder), players buying from the house,
    selling back and trading with each other around F, cancelling, and a goal landing halfway;
    ``settle`` runs after every action (with the book key of an IOC or FOK order), so both lanes
    settle at the same points and the house re-quotes at the same points."""
    actions = random.Random(seed)
    listing = FootballerListing.model_validate(
        {
            "material": MESSI,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1_000,
            "goalValue": 100,
        }
    )
    service.list_market(listing)
    settle(None)
    for player in PLAYERS:
        service.deposit(player, a_deposit("coins", "coins", 1_000_000))
        service.deposit(player, a_deposit(MESSI, MESSI, 50))
    placed: list[tuple[str, str]] = []
    for step in range(50):
        if step == GOAL_AT:
            goal = {"eventId": "goal-1", "material": MESSI, "matchId": "final", "minute": 23}
            service.post_goal(GoalEvent.model_validate(goal))
            settle(None)
            continue
        if placed and actions.random() < 0.15:
            player, order_id = placed.pop(actions.randrange(len(placed)))
            with contextlib.suppress(Conflict):
                service.cancel(player, order_id)
            continue
        player = actions.choice(PLAYERS)
        request = OrderRequest.model_validate(
            {
                "type": actions.choice(["Buy", "Sell"]),
                "material": MESSI,
                "quantity": actions.randint(1, 8),
                "pricePerUnit": actions.randint(940, 1_160),
                "timeInForce": actions.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]),
            }
        )
        order, _ = service.place_order(player, request)
        placed.append((player, order.order_id))
        settle(book_key(order) if order.time_in_force is not TimeInForce.GTC else None)
    holders = (*PLAYERS, house_player(MESSI))
    return {
        "balances": {player: service.account(player).balances for player in holders},
        "orders": [order for player in holders for order in service.orders(player, None, 500, None).orders],
        "trades": service.store.trades_between(MESSI, 0, 2 * OPENED_MS, None),
        "book": service.book(MESSI, 100),
        "market": service.market(MESSI),
        "goals": service.goals(MESSI),
    }


def _house_quote_ids() -> Callable[[], str]:
    """The matcher's ids for the house's quotes: the same sequence on both lanes, after intake's."""
    counter = itertools.count(1)
    return lambda: uuid7(OPENED_MS + 1, next(counter))


def footballer_on_memory(seed: int) -> dict[str, Any]:
    exchange = InMemoryExchange()
    service = Intake(exchange, clock=lambda: OPENED, new_id=_ids())
    matcher = Matcher(exchange, clock=lambda: OPENED_MS + 1, new_id=_house_quote_ids())

    def settle(hint: str | None) -> None:
        matcher.settle(MESSI, [hint] if hint else [])

    return play_footballer(seed, service, settle)


def footballer_on_moto(seed: int) -> dict[str, Any]:
    with _pipeline_on_moto() as pipeline:
        pipeline.matcher.new_id = _house_quote_ids()
        return play_footballer(seed, pipeline.service, lambda hint: pipeline.drain())


@pytest.mark.parametrize("seed", [1])
def test_a_footballers_session_ends_alike_on_the_in_memory_exchange_and_on_moto(seed: int) -> None:
    memory, moto = footballer_on_memory(seed), footballer_on_moto(seed)
    assert any(
        trade.buyer_id == house_player(MESSI) or trade.seller_id == house_player(MESSI)
        for trade in memory["trades"]
    )
    assert any(is_house(order.player_id) for order in memory["orders"]), "the house quoted"
    assert memory["market"].goals == 1
    for part in ("balances", "orders", "trades", "book", "market", "goals"):
        assert memory[part] == moto[part], part
