"""Which token a CLI command uses, and the client's answer to something that is not Mercato: an
``ApiError``, never a traceback from the JSON decoder."""

import argparse
import http.client
import http.server
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import pytest

from mercato.intake.auth import Scope, authenticate, issue_token
from mercato.local.cli import build_parser, main
from mercato.local.client import ApiError, Client
from mercato.local.commands import _client

SECRET = "s" * 40


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["balances", *argv])


def who(client: Client) -> tuple[str, Scope]:
    principal = authenticate(f"Bearer {client.token}", SECRET)
    return principal.player_id, principal.scope


def test_player_typed_on_the_command_line_wins_over_the_environments_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MERCATO_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MERCATO_TOKEN", issue_token(SECRET, "alice", Scope.TRADE))

    assert who(_client(parsed("--player", "bob"))) == ("bob", Scope.TRADE)
    assert who(_client(parsed("--player", "gs", "--admin"))) == ("gs", Scope.ADMIN)
    assert who(_client(parsed())) == ("alice", Scope.TRADE), "without --player, the environment's"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--player", "bob", "--token", "t"), "not both"),
        (("--admin",), "give --player too"),
    ],
)
def test_a_token_the_flags_leave_in_doubt_is_a_usage_error(
    argv: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MERCATO_AUTH_SECRET", SECRET)
    with pytest.raises(SystemExit) as exit_:
        _client(parsed(*argv))

    assert exit_.value.code == 2  # as argparse exits for the arguments it refuses
    assert message in capsys.readouterr().err


class _Fake(http.server.BaseHTTPRequestHandler):
    """A server that is not Mercato's: :meth:`_send` one answer, logging nothing."""

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port; its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _NotMercato(_Fake):
    def do_GET(self) -> None:
        status = 200 if self.path.startswith("/markets") else 502
        self._send(status, "text/html", b"<html>a proxy's page</html>")


@pytest.fixture
def not_mercato() -> Iterator[str]:
    with serving(_NotMercato) as url:
        yield url


@pytest.mark.parametrize(("path", "status"), [("/markets", 200), ("/accounts/me", 502)])
def test_an_answer_that_is_not_json_is_an_api_error_with_its_text(
    not_mercato: str, path: str, status: int
) -> None:
    with pytest.raises(ApiError) as raised:
        Client(not_mercato).request("GET", path)

    assert (raised.value.status, raised.value.code) == (status, "")
    assert raised.value.body == "<html>a proxy's page</html>"


class _Recorder(_Fake):
    """Answers ``{}`` to anything and keeps each request's method, raw path and body."""

    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append((self.command, self.path, self.rfile.read(length)))
        self._send(200, "application/json", b"{}")

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def recorder() -> Iterator[tuple[Client, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []
    with serving(type("Recording", (_Recorder,), {"seen": seen})) as url:
        yield Client(url), seen


def test_ids_and_materials_are_sent_as_one_path_segment_each(
    recorder: tuple[Client, list[tuple[str, str, bytes]]],
) -> None:
    """A space once raised ``http.client.InvalidURL``, and ``bob/orders`` reached another route."""
    client, seen = recorder

    client.order("a b/c?d#e")
    client.book("wh eat", depth=3)
    client.account("bob/orders")
    client.cancel("..")

    assert [path for _, path, _ in seen] == [
        "/orders/a%20b%2Fc%3Fd%23e",
        "/markets/wh%20eat/book?depth=3",
        "/accounts/bob%2Forders",
        "/orders/..",
    ]


def test_the_client_has_a_method_for_the_goals_the_leaderboard_and_a_players_orders(
    recorder: tuple[Client, list[tuple[str, str, bytes]]],
) -> None:
    client, seen = recorder

    client.goals("lionel-messi")
    client.leaderboard("week", limit=5)
    client.player_orders("bob", status="open", limit=10)

    assert [(method, path) for method, path, _ in seen] == [
        ("GET", "/markets/lionel-messi/goals"),
        ("GET", "/leaderboard?window=week&limit=5"),
        ("GET", "/accounts/bob/orders?status=open&limit=10"),
    ]


def test_an_empty_option_is_sent_for_the_server_to_judge_not_dropped(
    recorder: tuple[Client, list[tuple[str, str, bytes]]],
) -> None:
    """``clientOrderId=""`` was silently left out, so the order went without the id the caller gave."""
    client, seen = recorder

    client.place("Buy", "wheat", 1, 10, clientOrderId="", expiresAt=None)

    body = json.loads(seen[0][2])
    assert body["clientOrderId"] == ""
    assert "expiresAt" not in body


@pytest.mark.parametrize("url", ["notaurl", "http://[::1"])
def test_a_url_that_cannot_be_sent_to_is_one_line(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MERCATO_AUTH_SECRET", SECRET)

    status = main(["markets", "--url", url])

    errors = capsys.readouterr().err
    assert status == 2
    assert errors.startswith(f"mercato: cannot send a request to {url!r}")
    assert len(errors.strip().splitlines()) == 1


class _Refuses(_Fake):
    def do_GET(self) -> None:
        body = json.dumps({"error": {"code": "insufficient_balance", "message": "not enough coins"}}).encode()
        self._send(409, "application/json", body)


@pytest.mark.parametrize(
    ("json_flag", "said"),
    [
        ((), "mercato: 409 insufficient_balance: not enough coins"),
        (("--json",), '{"error": {"code": "insufficient_balance", "message": "not enough coins"}}'),
    ],
    ids=["text", "json"],
)
def test_a_refusal_is_one_line_and_exit_1(
    json_flag: tuple[str, ...], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``--json`` the line is the answer alone, so a script parses it (a reviewer found it
    prefixed with ``mercato: ``, which no JSON parser takes)."""
    with serving(_Refuses) as url:
        status = main(["markets", "--url", url, *json_flag])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [said]


class _NoToken(_Fake):
    def do_GET(self) -> None:
        body = json.dumps({"error": {"code": "missing_token", "message": "a token is required"}}).encode()
        self._send(401, "application/json", body)


def test_a_refusal_the_command_line_can_cure_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    with serving(_NoToken) as url:
        status = main(["balances", "--url", url])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "mercato: 401 missing_token: a token is required",
        "mercato: give --player NAME (signs a token with $MERCATO_AUTH_SECRET), --token TOKEN, "
        "or set $MERCATO_TOKEN",
    ]


class _Page(_Fake):
    def do_GET(self) -> None:
        page = b"<!doctype html>\n<html>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>\n"
        self._send(404, "text/html", page)


def test_an_error_page_that_is_not_mercato_s_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong ``--url`` (another server's HTML error page) printed all 13 lines of the page."""
    with serving(_Page) as url:
        status = main(["markets", "--url", url])

    errors = capsys.readouterr().err.splitlines()
    assert status == 1
    assert errors == ["mercato: 404 : <!doctype html> <html> <body> <h1>Not Found</h1> </body> </html>"]


class _OldNames(_Fake):
    def do_GET(self) -> None:
        market: dict[str, object] = {"material": "old", "name": "Old\x1b]0;pwned\x07Striker\u202e"}
        market["kind"] = "commodity"
        market |= {"bestBid": None, "bestAsk": None, "lastPrice": None, "change24h": None, "volume": 0}
        self._send(200, "application/json", json.dumps([market]).encode())


def test_a_stored_name_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """A reviewer's find: markets listed before names refused control characters are served as
    stored, and ``mercato markets`` printed an escape sequence that retitled the terminal. Control and
    format characters are printed escaped."""
    with serving(_OldNames) as url:
        status = main(["markets", "--url", url])

    out = capsys.readouterr().out
    assert status == 0
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "Old\\x1b]0;pwned\\x07Striker\\u202e" in out


HIDDEN = "\x9b2J\u202e\u2028\ud800"
"""A C1 control sequence introducer, a right-to-left override, a line separator and a lone surrogate
(legal in JSON as ``\\ud800``, and not encodable as UTF-8: printing it raised)."""
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


class _OtherVersion(_Fake):
    """A server of another version, echoing hidden characters in a title, a cell and an error."""

    def do_GET(self) -> None:
        if self.path.startswith("/markets/bad"):
            error = {"error": {"code": "not_found", "message": f"no market{HIDDEN}"}}
            self._send(404, "application/json", json.dumps(error).encode())
            return
        book = {"material": f"m{HIDDEN}", "bids": [], "asks": []}
        market: dict[str, object] = {"material": "fam", "kind": "commodity", "name": f"{FAMILY} {HIDDEN}"}
        market |= {"bestBid": None}
        market |= {"bestAsk": None, "lastPrice": None, "change24h": None, "volume": 0}
        body = book if "/book" in self.path else [market]
        self._send(200, "application/json", json.dumps(body).encode())


@pytest.mark.parametrize(
    "argv",
    [("book", "m"), ("markets",), ("markets", "--json"), ("book", "bad"), ("book", "bad", "--json")],
    ids=["title", "cell", "json", "error-line", "json-error"],
)
def test_hidden_characters_are_escaped_wherever_the_cli_prints_them(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer's find: the tables' cells were escaped, but not the titles, the error line or
    ``--json`` (C1 controls, bidirectional overrides), and a lone surrogate crashed the command with
    ``UnicodeEncodeError``. What ``--json`` prints still parses to what the server sent; the joiners
    of a name that may carry them print as they are."""
    with serving(_OtherVersion) as url:
        status = main([*argv, "--url", url])

    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert status == (1 if "bad" in argv else 0)
    for c in "\x9b\u202e\u2028\ud800":
        assert c not in printed, f"U+{ord(c):04X} printed raw"
    printed.encode("utf-8")  # no lone surrogate left to make the terminal's encoder raise
    if "--json" in argv:
        sent = json.loads(captured.out or captured.err)
        assert HIDDEN in json.dumps(sent, ensure_ascii=False)
    if argv == ("markets",):
        assert FAMILY in captured.out


@contextmanager
def _not_http(answer: bytes) -> Iterator[str]:
    """A TCP server that answers every request with ``answer``, which is not an HTTP response."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["text", "json"])
def test_an_answer_that_is_not_http_is_one_escaped_line_and_exit_2(
    json_flag: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer's find: a status line that is not HTTP (a wrong port, a hostile server) raised
    ``BadStatusLine`` past every handler, and the traceback's last line carried its escape sequence
    to the terminal."""
    with _not_http(b"\x1b]0;pwned\x07\r\n\r\n") as url:
        status = main(["markets", "--url", url, *json_flag])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err.startswith(f"mercato: cannot reach {url}: ")
    assert "\x1b" not in captured.err
    assert "\x07" not in captured.err
    assert len(captured.err.splitlines()) == 1


@pytest.mark.parametrize("error", [ConnectionResetError(), http.client.HTTPException()])
def test_an_error_without_a_message_is_named_by_its_kind(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OS or HTTP error whose text is empty (a reset connection) once printed "cannot reach URL: "
    and nothing after it; the line names the error's kind instead."""

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    url = "http://127.0.0.1:9"
    status = main(["markets", "--url", url])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert str(error) == ""
    assert captured.err == f"mercato: cannot reach {url}: {type(error).__name__}\n"
