"""Which token a CLI command uses, and the client's answer to something that is not Mercato: an
``ApiError``, never a traceback from the JSON decoder."""

import argparse
import http.server
import threading
from collections.abc import Iterator

import pytest

from mercato.intake.auth import Scope, authenticate, issue_token
from mercato.local.cli import build_parser
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
def test_a_token_the_flags_leave_in_doubt_is_refused(
    argv: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_AUTH_SECRET", SECRET)
    with pytest.raises(SystemExit, match=message):
        _client(parsed(*argv))


class _NotMercato(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path.startswith("/markets") else 502
        page = b"<html>a proxy's page</html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def not_mercato() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotMercato)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("path", "status"), [("/markets", 200), ("/accounts/me", 502)])
def test_an_answer_that_is_not_json_is_an_api_error_with_its_text(
    not_mercato: str, path: str, status: int
) -> None:
    with pytest.raises(ApiError) as raised:
        Client(not_mercato).request("GET", path)

    assert (raised.value.status, raised.value.code) == (status, "")
    assert raised.value.body == "<html>a proxy's page</html>"
