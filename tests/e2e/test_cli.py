"""The client commands against the embedded stack over HTTP: tables by default, ``--json`` for scripts,
names printed as they are, paging by cursor, and help for every argument."""

import argparse
import json
from collections.abc import Iterator

import pytest

from mercato.local.cli import build_parser, main
from mercato.local.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(engine="moto", port=0, catalog=False, prefix="cli-test") as stack:
        yield stack


@pytest.fixture
def mercato(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> "Run":
    monkeypatch.setenv("MERCATO_AUTH_SECRET", stack.secret)
    monkeypatch.setenv("MERCATO_URL", stack.url)
    return Run(capsys)


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> str:
        status = main(list(argv))
        out, err = self.capsys.readouterr()
        assert status == 0, err
        return out

    def json(self, *argv: str) -> object:
        return json.loads(self(*argv, "--json"))


ADMIN = ("--player", "game-server", "--admin")


def record(out: str) -> dict[str, str]:
    """A ``name  value`` listing as a dict."""
    return dict(line.split(None, 1) for line in out.splitlines() if line.strip())


def test_a_session_from_the_command_line(stack: EmbeddedStack, mercato: Run) -> None:
    listed = mercato("list-market", "kylian-mbappe", "Kylian Mbappé", "--kind", "footballer", "--team",
                     "France", "--base-value", "1000", "--goal-value", "100", *ADMIN)  # fmt: skip
    mercato("list-market", "wheat", "Blé tendre", *ADMIN)
    mercato("deposit", "bob", "wheat", "50", "--deposit-id", "g1", *ADMIN)
    mercato("deposit", "alice", "coins", "5000", "--deposit-id", "g2", *ADMIN)
    after_withdraw = mercato("withdraw", "alice", "coins", "1000", "--withdrawal-id", "w1", *ADMIN)
    for price in (20, 21, 22):
        mercato("order", "sell", "wheat", "5", str(price), "--player", "bob")
    placed = mercato.json("order", "buy", "wheat", "10", "21", "--player", "alice")
    stack.drain()

    assert "Kylian Mbappé" in listed
    assert "Blé tendre" in mercato("markets")
    assert [line.split() for line in after_withdraw.splitlines()[-1:]] == [["coins", "4000", "0"]]
    assert isinstance(placed, dict)
    shown = record(mercato("order", "show", placed["orderId"], "--player", "alice"))
    assert (shown["status"], shown["filledQuantity"]) == ("filled", "10")
    assert record(mercato("market", "show", "wheat"))["lastPrice"] == "21"
    fills = mercato.json("fills", "--player", "alice")
    assert isinstance(fills, dict)
    assert [(f["price"], f["quantity"]) for f in fills["fills"]] == [(20, 5), (21, 5)]
    assert mercato.json("fills", "--after", fills["cursor"], "--player", "alice") == {
        "fills": [],
        "cursor": "2",
    }
    candles = mercato("candles", "wheat", "--interval", "1d")
    assert candles.splitlines()[-1].split()[1:] == ["20", "21", "20", "21", "10"]
    goal = mercato("goal", "kylian-mbappe", "--event-id", "wc2022:mbappe:1", "--match-id", "final",
                   "--minute", "80", *ADMIN)  # fmt: skip
    assert record(goal)["minute"] == "80"
    goals = mercato("goals", "kylian-mbappe").splitlines()
    assert goals[0] == "kylian-mbappe: 1 goal"
    assert goals[-1].split()[1:4] == ["final", "80", "wc2022:mbappe:1"]
    stack.rollup()
    board = mercato.json("leaderboard", "--limit", "5")
    assert isinstance(board, dict)
    assert [s["playerId"] for s in board["standings"]] == ["alice", "bob"]
    assert mercato("leaderboard", "--window", "day").splitlines()[0].startswith("leaderboard day, as of ")


def test_orders_and_trades_page_with_cursor(stack: EmbeddedStack, mercato: Run) -> None:
    mercato("list-market", "iron", "Iron", *ADMIN)
    mercato("deposit", "carol", "iron", "30", "--deposit-id", "c1", *ADMIN)
    mercato("deposit", "dave", "coins", "5000", "--deposit-id", "d1", *ADMIN)
    for price in (10, 11, 12):
        mercato("order", "sell", "iron", "1", str(price), "--player", "carol")
        mercato("order", "buy", "iron", "1", str(price), "--player", "dave")
        stack.drain()

    first = mercato("orders", "--limit", "2", "--player", "dave")
    cursor = first.splitlines()[-1].removeprefix("more: pass --cursor ")
    rest = mercato.json("orders", "--limit", "2", "--cursor", cursor, "--player", "dave")
    trades = mercato.json("trades", "iron", "--limit", "2")
    older = mercato.json("trades", "iron", "--limit", "2", "--cursor", trades["nextCursor"])  # type: ignore[index]

    assert isinstance(rest, dict)
    assert isinstance(trades, dict)
    assert isinstance(older, dict)
    assert [o["pricePerUnit"] for o in rest["orders"]] == [10]
    assert [t["price"] for t in trades["trades"] + older["trades"]] == [12, 11, 10]


def test_an_api_error_prints_the_error_and_exits_1(
    stack: EmbeddedStack, mercato: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["market", "show", "gold"])

    assert status == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("mercato: 404 unknown_material: ")

    assert main(["market", "show", "gold", "--json"]) == 1
    assert (
        json.loads(capsys.readouterr().err.removeprefix("mercato: "))["error"]["code"] == "unknown_material"
    )


def _every_argument(parser: argparse.ArgumentParser, path: str = "mercato") -> Iterator[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _every_argument(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action.help or ""


def test_help_explains_every_argument_of_the_client_commands() -> None:
    client = ("order", "cancel", "orders", "fills", "balances", "deposit", "withdraw", "markets", "market",
              "book", "trades", "candles", "list-market", "goal", "goals", "leaderboard")  # fmt: skip
    arguments = [
        (path, text)
        for path, text in _every_argument(build_parser())
        if path.split()[1:2] in [[c] for c in client]
    ]

    assert len(arguments) > 60
    assert [path for path, text in arguments if not text] == []


def test_the_default_catalog_is_listed_on_a_url_once_however_often_it_is_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployed stage starts empty; ``list-catalog`` gives it the markets ``mercato up`` has."""
    from mercato.local.catalog import DEFAULT_CATALOG

    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as empty:
        monkeypatch.setenv("MERCATO_AUTH_SECRET", empty.secret)
        monkeypatch.setenv("MERCATO_URL", empty.url)
        run = Run(capsys)
        first = run.json("list-catalog", *ADMIN)
        again = run.json("list-catalog", *ADMIN)
        listed = run.json("markets")

    expected = sorted(listing.material for listing in DEFAULT_CATALOG)
    assert isinstance(first, list)
    assert isinstance(again, list)
    assert isinstance(listed, list)
    assert sorted(market["material"] for market in first) == expected
    assert [market["material"] for market in again] == [market["material"] for market in first]
    assert sorted(market["material"] for market in listed) == expected
    assert len(expected) == 41
