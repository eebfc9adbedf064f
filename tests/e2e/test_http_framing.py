"""The local server's HTTP framing, as a reviewer trying to break it found it: whatever a request
carries, what follows it on the connection is the next request and never a part of this one; a HEAD
answer has no body; a body trickled slower than the timeout is answered; repeated headers and query
parameters reach the function as a function URL passes them; percent-encoded newlines are not id
characters."""

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mercato.emulators.function_url import function_url_event
from mercato.local import stack as stack_module
from mercato.local.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as running:
        listing = {"material": "wheat", "kind": "commodity", "name": "Wheat"}
        running.client("game-server", admin=True).list_market(listing)
        yield running


def exchange(stack: EmbeddedStack, data: bytes, wait: float = 0.5) -> bytes:
    """Send ``data`` as it is; everything the server sends back within ``wait`` of its last byte."""
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(data)
        sock.settimeout(wait)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
        return received


def answers(received: bytes) -> list[int]:
    """The status of every answer in ``received`` (a body's bytes never start a status line)."""
    statuses = []
    rest = received
    while rest.startswith(b"HTTP/1.1 "):
        head, _, rest = rest.partition(b"\r\n\r\n")
        statuses.append(int(head.split()[1]))
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        rest = rest[length:]
    assert not rest, f"bytes after the last answer: {rest[:80]!r}"
    return statuses


def hidden(stack: EmbeddedStack) -> bytes:
    """A whole request for bob's account, to be smuggled as another request's body."""
    return (
        f"GET /accounts/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.token('bob')}\r\n\r\n".encode()
    )


def test_the_body_of_an_event_stream_request_is_never_run_as_a_request(stack: EmbeddedStack) -> None:
    inner = hidden(stack)
    request = b"GET /fills HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
    received = exchange(stack, request + b"Content-Length: %d\r\n\r\n" % len(inner) + inner)

    assert answers(received) == [401]  # no token: refused, and bob's account never answered
    assert b"bob" not in received


def test_the_body_of_a_preflight_is_never_run_as_a_request(stack: EmbeddedStack) -> None:
    inner = hidden(stack)
    request = b"OPTIONS /orders HTTP/1.1\r\nHost: x\r\nOrigin: http://game.test\r\n"
    request += b"Access-Control-Request-Method: POST\r\n"
    received = exchange(stack, request + b"Content-Length: %d\r\n\r\n" % len(inner) + inner)

    assert answers(received) == [200]
    assert b"bob" not in received


@pytest.mark.parametrize(
    ("framing", "status"),
    [
        (b"Transfer-Encoding: gzip\r\n", 501),  # a coding the server cannot frame: the body unknown
        (b"Content-Length: 2\r\nContent-Length: 300\r\n", 400),  # which one is the body?
        ("Content-Length: \N{SUPERSCRIPT TWO}\r\n".encode("latin-1"), 400),  # a digit, but not ASCII
    ],
    ids=["transfer-coding", "conflicting-lengths", "non-ascii-digit"],
)
def test_a_body_whose_length_is_unknown_is_refused_and_the_connection_closed(
    stack: EmbeddedStack, framing: bytes, status: int
) -> None:
    inner = hidden(stack)
    request = f"POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.token('alice')}\r\n".encode()
    received = exchange(stack, request + framing + b"\r\n{}" + inner)

    assert answers(received) == [status]
    assert b"bob" not in received
    body = json.loads(received.partition(b"\r\n\r\n")[2])
    assert set(body) == {"error"}


def test_a_head_answer_has_no_body_and_the_next_answer_follows_it(stack: EmbeddedStack) -> None:
    received = exchange(
        stack, b"HEAD /markets HTTP/1.1\r\nHost: x\r\n\r\nGET /markets HTTP/1.1\r\nHost: x\r\n\r\n"
    )

    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:60]  # a public read: no token, as for its GET
    assert rest.startswith(b"HTTP/1.1 200"), f"the HEAD answer carried a body: {rest[:60]!r}"
    _, _, get_body = rest.partition(b"\r\n\r\n")
    # the length of the body a GET gets, not sent
    assert f"content-length: {len(get_body)}".encode() in head.lower()


@pytest.mark.parametrize("before", [b"\r\n", b"\n", b"\r\n\r\n"], ids=["CRLF", "LF", "two CRLFs"])
def test_empty_lines_before_a_request_line_are_ignored(stack: EmbeddedStack, before: bytes) -> None:
    """RFC 9112 §2.2 (a stray CRLF after a body on a kept-alive connection): the connection was
    closed without an answer (a reviewer's find)."""
    received = exchange(stack, before + b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n")

    assert answers(received) == [200]


def test_a_long_line_after_an_empty_one_is_still_refused_414(stack: EmbeddedStack) -> None:
    received = exchange(stack, b"\r\nGET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")

    _, _, body = received.partition(b"\r\n\r\n")
    assert answers(received) == [414]
    assert set(json.loads(body)["error"]) == {"code", "message"}


@pytest.mark.parametrize("path", ["/", "/openapi.json", "/markets/wheat/book"])
def test_a_public_page_answers_head_without_a_token(stack: EmbeddedStack, path: str) -> None:
    # the first document build can take a while: the server closes once it has answered
    received = exchange(stack, f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), 10)

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:60]
    assert body == b""


def test_a_body_trickled_slower_than_the_timeout_is_answered_408(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "BODY_TIMEOUT_SECONDS", 1.0)
    host, port = stack.url.removeprefix("http://").split(":")
    body = b'{"type": "Buy"}'
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.settimeout(0.3)
        started = time.monotonic()
        answer = b""
        for byte in body:  # one byte every 0.3 s: each arrives in time, the whole never does
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server answered and closed
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert elapsed < 3


def test_repeated_query_parameters_and_headers_arrive_joined_with_commas(stack: EmbeddedStack) -> None:
    event = function_url_event("GET", "/fills", query="after=0&after=1")
    assert event["queryStringParameters"] == {"after": "0,1"}

    valid = f"Authorization: Bearer {stack.token('alice')}\r\n".encode()
    junk = b"Authorization: Bearer junk\r\n"
    for first, second in ((junk, valid), (valid, junk)):  # on a function URL: "Bearer junk,Bearer ey..."
        received = exchange(stack, b"GET /accounts/me HTTP/1.1\r\nHost: x\r\n" + first + second + b"\r\n")
        assert answers(received) == [401]
    received = exchange(stack, b"GET /fills?after=0&after=1 HTTP/1.1\r\nHost: x\r\n" + valid + b"\r\n")
    assert answers(received) == [422]
    message = json.loads(received.partition(b"\r\n\r\n")[2])["error"]["message"]
    assert message == "after: given more than once; give it once"


@pytest.mark.parametrize(
    ("path", "player"),
    [("/accounts/alice%0A", "game-server"), ("/markets/wheat/book%0A", "alice"), ("/fills%0A", "alice")],
)
def test_a_percent_encoded_newline_is_not_an_id_character(
    stack: EmbeddedStack, path: str, player: str
) -> None:
    token = stack.token(player, admin=player == "game-server")
    received = exchange(
        stack, f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )

    (status,) = answers(received)
    assert status in (404, 422), received


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /markets HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /markets HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /markets HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(120)) + b"\r\n", 431),
    ],
    ids=["garbage request line", "HTTP/2.0", "70 kB request line", "70 kB header", "120 headers"],
)
def test_what_http_server_refuses_itself_is_answered_in_the_error_shape(
    stack: EmbeddedStack, request_bytes: bytes, status: int
) -> None:
    """http.server refuses these before a request exists; its HTML error page is replaced by the one
    JSON error shape (a reviewer found HTML 400, 414, 431 and 505 answers), and the connection closes."""
    received = exchange(stack, request_bytes)

    head, _, body = received.partition(b"\r\n\r\n")
    assert answers(received) == [status]
    assert b"content-type: application/json" in head.lower()
    assert set(json.loads(body)["error"]) == {"code", "message"}


def test_headers_trickled_slower_than_their_deadline_are_answered_408(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "HEADERS_TIMEOUT_SECONDS", 1.0)
    host, port = stack.url.removeprefix("http://").split(":")
    request = b"GET /markets HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 20
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(0.2)
        started = time.monotonic()
        answer = b""
        for byte in request:  # one byte every 0.2 s: each arrives in time, the headers never do
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break  # the server answered and closed
            if answer:
                break
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "headers_timeout"
    assert elapsed < 3


def test_an_idle_connection_waits_past_the_headers_deadline_for_its_next_request(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "HEADERS_TIMEOUT_SECONDS", 0.5)
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        time.sleep(1.0)  # the deadline runs from a request's first byte, not from the connection
        sock.sendall(b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]


def test_connections_past_the_cap_are_answered_503_and_a_freed_slot_serves_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack_module, "MAX_CONNECTIONS", 2)
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as own:  # no other client
        server = own._http
        host, port = own.url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port))) for _ in range(2)]
        try:
            deadline = time.monotonic() + 5
            while server._connections < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            turned_away = exchange(own, b"")
            assert turned_away.startswith(b"HTTP/1.1 503"), turned_away[:80]
            assert b"Retry-After: 1" in turned_away
            answer = json.loads(turned_away.partition(b"\r\n\r\n")[2])
            assert answer["error"]["code"] == "too_many_connections"
            held.pop().close()
            while server._connections >= 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            served = exchange(own, b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n")
            assert served.startswith(b"HTTP/1.1 200"), served[:80]
        finally:
            for sock in held:
                sock.close()


def test_a_server_that_closes_ends_its_headers_watchdog() -> None:
    before = set(threading.enumerate())
    server = stack_module._IntakeServer(0, lambda event, context: {}, threading.Event())
    (watchdog,) = [t for t in set(threading.enumerate()) - before if t.name == "intake-headers-deadline"]
    server.server_close()  # as a start that failed does, without ever serving
    watchdog.join(timeout=2)
    assert not watchdog.is_alive()


ORDER_PATH = "/orders/01936c5e-7b1a-7c3d-9e2f-3a4b5c6d7e8f"


@pytest.mark.parametrize(
    ("request_bytes", "path", "method"),
    [
        pytest.param(
            f"DELETE {ORDER_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: U\r\n\r\n".encode(),
            "/orders/{order_id}",
            "delete",
            id="an unknown transfer coding",
        ),
        pytest.param(
            b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "/orders",
            "post",
            id="a chunked body",
        ),
        pytest.param(
            b"GET /markets HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "/markets",
            "get",
            id="a Content-Length that is no number",
        ),
    ],
)
def test_a_refusal_of_the_http_framing_is_documented_for_the_operation_it_answers(
    stack: EmbeddedStack, request_bytes: bytes, path: str, method: str
) -> None:
    # Given a request the local server cannot read as HTTP (schemathesis sends such headers)
    head, _, body = exchange(stack, request_bytes).partition(b"\r\n\r\n")
    status, code = int(head.split()[1]), json.loads(body)["error"]["code"]
    # Then its status, and its code among that status's codes, are in the document a client reads
    operation = stack.client("alice").request("GET", "/openapi.json")["paths"][path][method]
    assert str(status) in operation["responses"], f"{status} {code} undocumented"
    response = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    assert code in response["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
