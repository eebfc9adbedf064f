"""`mercato up` over real HTTP under concurrent load and crafted framing (issue 10): every answer is
about its caller, every accepted order is the caller's and reserved from the caller's funds, identical
concurrent resends answer with one order, and no request is dropped, hangs or answers 5xx."""

import json
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPConnection
from typing import Any

import pytest

from mercato.intake.auth import Scope, issue_token
from tests.e2e.up import mercato_up

SECRET = "a-load-test-secret-that-is-long-enough-42"
PLAYERS = [f"player-{n}" for n in range(8)]
THREADS = 16
RESENDERS = 4


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("memory", id="memory"),  # make test: the HTTP server and handler under load
        pytest.param("moto", id="moto", marks=pytest.mark.slow),  # make soak: the same on moto
    ],
)
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """`mercato up` on each engine: what is under test (the server's threads, the handler, the
    framing) is the same on both, so make test runs the fast one and make soak both."""
    with mercato_up(SECRET, "--engine", request.param) as (process, address):
        yield address
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors, errors


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


@dataclass
class Caller:
    """One keep-alive connection, as one game client's HTTP library would hold it."""

    url: str
    player: str | None
    admin: bool = False
    connection: HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = HTTPConnection(*_address(self.url), timeout=30)
        scope = Scope.ADMIN if self.admin else Scope.TRADE
        self.token = issue_token(SECRET, self.player, scope) if self.player else None

    def __enter__(self) -> "Caller":
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.close()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None


def raw_exchange(url: str, request: bytes, timeout: float = 15.0) -> bytes:
    """Send ``request`` as it is and read until the server closes or answers in full."""
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:") and len(body) >= int(line.split(b":")[1]):
                    return received


def _status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]["code"]


@pytest.mark.parametrize(
    ("length", "sent", "expected"),
    [
        (b"-1", b"{}", (400, "bad_content_length")),
        (b"abc", b"{}", (400, "bad_content_length")),
        (b"99999", b"{}", (413, "body_too_large")),
    ],
)
def test_a_bad_content_length_is_answered_in_the_error_shape(
    url: str, length: bytes, sent: bytes, expected: tuple[int, str]
) -> None:
    request = b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n" + sent
    assert _status_and_code(raw_exchange(url, request)) == expected


def test_a_body_shorter_than_its_content_length_times_out_with_an_answer(url: str) -> None:
    request = b"GET /markets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
    started = time.monotonic()
    assert _status_and_code(raw_exchange(url, request)) == (408, "body_timeout")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    ("actions_per_thread", "resend_groups"),
    [
        pytest.param(20, 10, id="make-test"),  # 320 mixed requests and 40 resends
        pytest.param(150, 60, id="soak", marks=pytest.mark.slow),  # 2,400 and 240: make soak
    ],
)
def test_concurrent_mixed_load_keeps_every_caller_s_orders_and_funds_their_own(
    url: str, actions_per_thread: int, resend_groups: int
) -> None:
    # Given eight players with coins and wheat
    with Caller(url, "game-server", admin=True) as admin:
        for player in PLAYERS:
            for asset, quantity in (("coins", 10_000_000), ("wheat", 100_000)):
                status, _ = admin.call(
                    "POST",
                    f"/accounts/{player}/deposits",
                    {
                        "depositId": f"load-{actions_per_thread}-{player}-{asset}",
                        "asset": asset,
                        "quantity": quantity,
                    },
                )
                assert status in (200, 201)
    accepted: dict[str, set[str]] = {player: set() for player in PLAYERS}
    statuses: Counter[int] = Counter()
    wrong: list[str] = []
    lock = threading.Lock()

    def record(player: str, status: int, body: Any, what: str) -> None:
        with lock:
            statuses[status] += 1
            if status in (200, 202) and what == "order":
                accepted[player].add(body["orderId"])
            if status in (200, 202) and what == "me" and body["playerId"] != player:
                wrong.append(f"{player} was shown {body['playerId']}'s account")
            if status == 200 and what == "mine" and body["orderId"] not in accepted[player]:
                wrong.append(f"{player} was shown an order it never placed: {body['orderId']}")

    def trader(n: int) -> None:
        rng = random.Random(n)
        player = PLAYERS[n % len(PLAYERS)]
        with Caller(url, player) as caller:
            trade(rng, player, caller, n)

    def trade(rng: random.Random, player: str, caller: Caller, n: int) -> None:
        mine: list[str] = []
        for step in range(actions_per_thread):
            roll = rng.random()
            if roll < 0.45:
                side = rng.choice(["Buy", "Sell"])
                body = {
                    "type": side,
                    "material": "wheat",
                    "quantity": rng.randint(1, 5),
                    "pricePerUnit": rng.randint(95, 105),
                    "clientOrderId": f"t{actions_per_thread}-{n}-{step}",
                }
                status, answer = caller.call("POST", "/orders", body)
                record(player, status, answer, "order")
                if status == 202:
                    mine.append(answer["orderId"])
            elif roll < 0.6 and mine:
                status, answer = caller.call("DELETE", f"/orders/{rng.choice(mine)}")
                record(player, status, answer, "cancel")
                assert status in (200, 409), answer
            elif roll < 0.75 and mine:
                status, answer = caller.call("GET", f"/orders/{rng.choice(mine)}")
                record(player, status, answer, "mine")
            elif roll < 0.9:
                status, answer = caller.call("GET", "/accounts/me")
                record(player, status, answer, "me")
            else:
                status, answer = caller.call("GET", "/orders?status=open&limit=20")
                record(player, status, answer, "open")

    # When sixteen threads trade, cancel and read at once
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(trader, range(THREADS)))

    # And groups of identical requests are resent concurrently
    def resend_group(group: int) -> set[str]:
        player = PLAYERS[group % len(PLAYERS)]
        body = {
            "type": "Buy",
            "material": "wheat",
            "quantity": 1,
            "pricePerUnit": 50,
            "clientOrderId": f"resend-{actions_per_thread}-{group}",
        }
        start = threading.Barrier(RESENDERS)

        def send(_: int) -> tuple[int, Any]:
            with Caller(url, player) as caller:
                start.wait()
                return caller.call("POST", "/orders", body)

        with ThreadPoolExecutor(RESENDERS) as pool:
            answers = list(pool.map(send, range(RESENDERS)))
        for status, answer in answers:
            record(player, status, answer, "order")
            assert status in (200, 202), answer
        assert sum(status == 202 for status, _ in answers) == 1
        return {answer["orderId"] for _, answer in answers}

    with ThreadPoolExecutor(THREADS // RESENDERS) as pool:
        for ids in pool.map(resend_group, range(resend_groups)):
            assert len(ids) == 1

    # Then nothing failed, nothing was about another caller, and no answer was a 5xx
    assert wrong == []
    assert not [status for status in statuses if status >= 500], statuses
    assert sum(statuses.values()) >= THREADS * actions_per_thread
    # And every order a player was told was accepted is that player's, and no one else's
    listed = {}
    for player in PLAYERS:
        with Caller(url, player) as caller:
            listed[player] = {order["orderId"] for order in _orders(caller, "")}
    for player in PLAYERS:
        assert accepted[player] <= listed[player]
        others = set().union(*(accepted[other] for other in PLAYERS if other != player))
        assert not listed[player] & others
    # And once the matcher is quiet, each player's reservation is exactly what its open orders hold
    for player in PLAYERS:
        with Caller(url, player) as caller:
            assert _escrow_settles(caller), player


def _orders(caller: Caller, filters: str) -> list[dict[str, Any]]:
    """Every page of the caller's orders (``filters`` as ``&status=open``, or empty for all)."""
    orders: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = f"/orders?limit=100{filters}" + (f"&cursor={cursor}" if cursor else "")
        answer, page = caller.call("GET", path)
        assert answer == 200
        orders += page["orders"]
        cursor = page.get("nextCursor")
        if not cursor:
            return orders


def _escrow_settles(caller: Caller, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = caller.call("GET", "/accounts/me")[1]["balances"]
        orders = _orders(caller, "&status=open")
        after = caller.call("GET", "/accounts/me")[1]["balances"]
        if before == after:
            coins = sum(o["remainingQuantity"] * o["pricePerUnit"] for o in orders if o["type"] == "Buy")
            wheat = sum(o["remainingQuantity"] for o in orders if o["type"] == "Sell")
            if (after["coins"]["reserved"], after["wheat"]["reserved"]) == (coins, wheat):
                return True
        time.sleep(0.5)
    return False
