"""The crash runs' scenarios: one per matching rule of DESIGN §3, a cancel on each side of a fill,
and a goal among fans' orders. Every order carries a ``clientOrderId`` so a game may resend it after
a crash (intake answers the replay with the original order)."""

from typing import Any

from tests.integration.conftest import Api
from tests.sim.crash import INTAKE_TIME, Request, Scenario

MESSI = "lionel-messi"


def order(
    name: str, player: str, side: str, quantity: int, price: int, material: str = "wheat", **extra: Any
) -> Request:
    def send(api: Api, answers: dict[str, str]) -> None:
        reply = api.order(player, side, quantity, price, material, clientOrderId=name, **extra)
        assert reply.status in (200, 202), reply.body
        answers[name] = reply.body["orderId"]

    return send


def cancel(name: str, player: str) -> Request:
    def send(api: Api, answers: dict[str, str]) -> None:
        reply = api.call("DELETE", f"/orders/{answers[name]}", player=player)
        assert reply.status in (200, 409), reply.body  # 409: a resent cancel finds it cancelled

    return send


def goal(event_id: str) -> Request:
    def send(api: Api, answers: dict[str, str]) -> None:
        body = {"eventId": event_id, "material": MESSI, "matchId": "final", "minute": 36}
        assert api.call("POST", "/events/goals", body, admin=True).status in (200, 202)

    return send


def wheat(api: Api) -> None:
    assert api.list_market("wheat", feeBps=150).status == 201
    for player in ("alice", "bob", "carol"):
        api.deposit(player, "coins", 10_000)
        api.deposit(player, "wheat", 100)


def messi(api: Api) -> None:
    assert api.list_footballer(MESSI).status == 201
    for n in range(6):
        api.deposit(f"fan-{n}", "coins", 10_000)
    api.deposit("seller", MESSI, 50)


def _expires() -> str:
    return (INTAKE_TIME.replace(second=10)).isoformat()


SCENARIOS = [
    Scenario(
        "price improvement",
        wheat,
        [order("s1", "bob", "Sell", 10, 20), order("b1", "alice", "Buy", 10, 25)],
        intake_sweep=True,
    ),
    Scenario(
        "a buy through three levels, the last partly",
        wheat,
        [
            order("s1", "bob", "Sell", 5, 20),
            order("s2", "carol", "Sell", 5, 21),
            order("s3", "bob", "Sell", 5, 22),
            order("b1", "alice", "Buy", 12, 22),
        ],
    ),
    Scenario(
        "self-trade cancels the newer",
        wheat,
        [
            order("s1", "alice", "Sell", 5, 20),
            order("b1", "alice", "Buy", 5, 21),
            order("s2", "bob", "Sell", 3, 21),
            order("b2", "carol", "Buy", 4, 21),
        ],
    ),
    Scenario(
        "IOC trades what it can and cancels the rest",
        wheat,
        [order("s1", "bob", "Sell", 5, 20), order("b1", "alice", "Buy", 8, 20, timeInForce="IOC")],
    ),
    Scenario(
        "FOK all or nothing",
        wheat,
        [
            order("s1", "bob", "Sell", 5, 20),
            order("b1", "alice", "Buy", 8, 20, timeInForce="FOK"),
            order("b2", "carol", "Buy", 5, 20, timeInForce="FOK"),
        ],
    ),
    Scenario(
        "an expired order never trades and is released",
        wheat,
        [
            order("s1", "bob", "Sell", 5, 20, expiresAt=_expires()),
            order("s2", "carol", "Sell", 5, 21),
            order("b1", "alice", "Buy", 5, 21),
        ],
    ),
    Scenario(
        "a cancel before the fill",
        wheat,
        [
            order("s1", "bob", "Sell", 10, 20),
            order("b1", "alice", "Buy", 4, 20),
            cancel("s1", "bob"),
            order("b2", "carol", "Buy", 3, 21),
        ],
    ),
    Scenario(
        "a cancel after a partial fill",
        wheat,
        [order("s1", "bob", "Sell", 10, 20), order("b1", "alice", "Buy", 4, 20), cancel("s1", "bob")],
        drain_between=True,
        intake_sweep=True,
    ),
    Scenario(
        "a goal among fans' orders",
        messi,
        [
            order("s1", "seller", "Sell", 20, 1_120, MESSI),
            order("f0", "fan-0", "Buy", 3, 1_050, MESSI),
            order("f1", "fan-1", "Buy", 5, 1_150, MESSI),
            goal("wc:44:1"),
            order("f2", "fan-2", "Buy", 4, 1_130, MESSI),
            order("f3", "fan-3", "Buy", 8, 1_200, MESSI),
        ],
        intake_sweep=True,
    ),
]
