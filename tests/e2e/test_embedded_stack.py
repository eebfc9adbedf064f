"""The embedded stack over real HTTP on 127.0.0.1: `mercato up` as a process, the pytest fixture
games use, and the demo."""

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from typing import Literal

import pytest

from mercato.intake.auth import Scope, issue_token
from mercato.local.cli import build_parser
from mercato.local.client import ApiError, Client
from mercato.local.demo import run_demo
from mercato.local.stack import EmbeddedStack

pytest_plugins = ["mercato.local.testing"]
SECRET = "an-e2e-secret-that-is-long-enough-0123456789"


def wait_for_trade(client: Client, material: str, timeout: float = 90.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trades: list[dict[str, object]] = client.trades(material)["trades"]
        if trades:
            return trades
        time.sleep(0.05)
    raise AssertionError("no trade within the timeout")


def test_mercato_up_serves_matches_and_stops_cleanly() -> None:
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET)
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        try:
            line = process.stdout.readline()
            assert line.startswith("Mercato is up at http://127.0.0.1:"), line
            url = line.split()[4]
            port = int(url.rsplit(":", 1)[1])
            # the in-memory exchange unless --engine or --data says otherwise, and it says so
            state = process.stdout.readline()
            assert state.startswith("State: in memory (the in-memory exchange)"), state
            admin = Client(url, issue_token(SECRET, "game-server", Scope.ADMIN))
            admin.deposit("alice", "coins", 1_000, "d-1")
            admin.deposit("bob", "wheat", 10, "d-2")
            Client(url, issue_token(SECRET, "bob")).place("Sell", "wheat", 10, 20)
            Client(url, issue_token(SECRET, "alice")).place("Buy", "wheat", 10, 25)

            (trade,) = wait_for_trade(Client(url), "wheat")

            assert (trade["price"], trade["quantity"]) == (20, 10)
            alice = Client(url, issue_token(SECRET, "alice")).balances()["balances"]
            assert alice["wheat"]["available"] == 10
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=20)
        assert process.returncode == 0
        assert "Mercato stopped" in output
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_mercato_up_refuses_to_start_without_a_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MERCATO_AUTH_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "MERCATO_AUTH_SECRET" in result.stderr


def test_the_fixture_gives_a_game_a_stack_it_can_drain(mercato: EmbeddedStack) -> None:
    admin = mercato.client("game-server", admin=True)
    admin.deposit("bob", "wheat", 10, "grant-1")
    admin.deposit("alice", "coins", 1_000, "grant-2")
    mercato.client("bob").place("Sell", "wheat", 10, 20)
    mercato.client("alice").place("Buy", "wheat", 10, 20)

    mercato.drain()

    assert mercato.client("bob").balances()["balances"]["coins"]["available"] == 196
    assert mercato.url.startswith("http://127.0.0.1:")
    with pytest.raises(ApiError) as refused:
        mercato.client("alice").place("Buy", "wheat", 10_000, 20)
    assert refused.value.code == "insufficient_balance"


def test_the_demo_needs_two_traders_to_open_its_markets() -> None:
    with pytest.raises(ValueError, match="two traders"):
        run_demo(seconds=1, traders=1, out=io.StringIO())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--traders", "1"])


@pytest.mark.parametrize(
    "engine",
    ["memory", pytest.param("moto", marks=pytest.mark.slow)],  # make soak: about 25 s on moto
)
def test_the_demo_trades_and_ends_with_the_invariants_holding(engine: Literal["memory", "moto"]) -> None:
    out = io.StringIO()

    figures = run_demo(seconds=6, traders=3, out=out, engine=engine)

    assert figures.engine == engine
    assert figures.problems == []
    assert figures.accepted > 0  # how many depends on the machine's speed: no throughput asserted here
    # The rate is over the trading time: until the last trader stopped (its last think, up to 0.12 s,
    # and request may end past the 6 s), not the progress loop's next one-second tick (7 s or more).
    assert figures.seconds >= 6
    if engine == "memory":  # on moto a request still out at the end can take seconds
        assert figures.seconds < 6.9
    assert figures.fills >= 3, "each commodity opens with a trade, however slow the machine"
    assert "invariants hold" in out.getvalue()
    # The figures are taken after the whole replay: every goal of the final, applied.
    assert "lionel-messi: 2 goals" in out.getvalue()
    assert "kylian-mbappe: 3 goals" in out.getvalue()
    # Moto counts the DynamoDB requests the trading cost; the in-memory exchange makes none.
    assert ("DynamoDB requests" in out.getvalue()) == (engine == "moto")
    assert (figures.dynamodb_requests is None) == (engine == "memory")


def test_a_stack_on_auto_whose_dynamodb_local_fails_to_start_runs_on_moto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``engine="auto"`` takes DynamoDB Local where it can start: with Java and the jar present but
    the start failing (an older Java, say), the stack raised instead of running on moto (a
    reviewer's find). A stack asked for DynamoDB Local by name still raises."""
    from mercato.emulators.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailable

    def fails(self: DynamoDBLocal, **_: object) -> DynamoDBLocal:
        raise DynamoDBLocalUnavailable("DynamoDB Local exited at start: UnsupportedClassVersionError")

    monkeypatch.setattr(DynamoDBLocal, "start", fails)
    monkeypatch.setattr("mercato.emulators.dynamodb_local.available", lambda: True)

    # (moto's tables are the process's: a prefix of its own keeps them from the next stack's)
    prefix = f"auto-{secrets.token_hex(4)}"
    with EmbeddedStack(engine="auto", catalog=False, prefix=prefix) as stack:
        assert stack.storage == "moto"
        assert stack.client("alice").balances()["balances"] == {}
    named = EmbeddedStack(engine="dynamodb-local", catalog=False, prefix=f"{prefix}-named")
    with pytest.raises(DynamoDBLocalUnavailable), named:
        pass
