"""The local server's HTTP/1.1 as curl, Perl's LWP, a browser and a raw-bytes client meet it: each
case a reviewer's find (a body run as a request after a malformed header line, a stalled
`Expect: 100-continue`, empty lines closing a connection unanswered, `Connection: TE, close` kept
open, event streams ended in a process with many files open, a padded token doubling the stream cap,
trailing whitespace in a length, refusals a browser could not read)."""

import json
import os
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from mercato.local import stack as stack_module
from mercato.local.stack import EmbeddedStack


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as running:
        admin = running.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat"})
        yield running


def address(stack: EmbeddedStack) -> tuple[str, int]:
    host, port = stack.url.removeprefix("http://").split(":")
    return host, int(port)


def read_until_quiet(sock: socket.socket, wait: float) -> bytes:
    """Everything until the server closes (then b"<EOF>" is appended) or is quiet for ``wait``."""
    sock.settimeout(wait)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
        received += b"<EOF>"
    except TimeoutError:
        pass
    except ConnectionResetError:
        received += b"<RST>"
    return received


def exchange(stack: EmbeddedStack, data: bytes, wait: float = 0.5) -> bytes:
    with socket.create_connection(address(stack)) as sock:
        sock.sendall(data)
        return read_until_quiet(sock, wait)


def statuses(received: bytes) -> list[int]:
    return [int(line.split()[1]) for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def deposit(stack: EmbeddedStack, player: str, asset: str, quantity: int, movement: str) -> None:
    admin = stack.token("game-server", admin=True)
    body = json.dumps({"asset": asset, "quantity": quantity, "depositId": movement}).encode()
    request = (
        f"POST /accounts/{player}/deposits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    assert statuses(exchange(stack, request + body, 2)) in ([201], [200])


# -- 1. a malformed header line ends the headers silently: the body is run as a request ----------


@pytest.mark.parametrize(
    "bad_line",
    [b"X-Pad : 1\r\n", b"X-NoColon\r\n", b"X Pad: 1\r\n", b"X\x85Pad: 1\r\n"],
    ids=["space-before-colon", "no-colon", "space-in-name", "non-ascii-name"],
)
def test_a_malformed_header_line_never_lets_the_body_run_as_a_request(
    stack: EmbeddedStack, bad_line: bytes
) -> None:
    """RFC 9112 §5.1: whitespace between a field name and its colon MUST be refused with 400. Here
    email's parser takes the bad line as the end of the headers: Content-Length (and Authorization)
    after it are never seen, the body stays on the connection and is run as the next request."""
    inner = (
        f"GET /accounts/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.token('bob')}\r\n\r\n"
    ).encode()
    request = b"POST /orders HTTP/1.1\r\nHost: x\r\n" + bad_line + b"Content-Length: %d\r\n\r\n" % len(inner)

    received = exchange(stack, request + inner)

    assert b'"playerId":"bob"' not in received, "bob's request, sent as a body, was answered"
    assert statuses(received) == [400], received[:300]


def test_a_fold_with_no_header_line_before_it_is_refused(stack: EmbeddedStack) -> None:
    """A reviewer's find: a first header line that starts with a space (a fold continuing nothing) was
    dropped by the parser, Content-Length with it, and the body answered as a second request."""
    inner = b"GET /accounts/me HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    request = b"GET /markets HTTP/1.1\r\n Content-Length: %d\r\nHost: x\r\n\r\n" % len(inner)

    received = exchange(stack, request + inner)

    assert statuses(received) == [400], received[:300]


def test_a_fold_after_a_header_line_is_still_read_as_its_continuation(stack: EmbeddedStack) -> None:
    request = b"GET /markets HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\nConnection: close\r\n\r\n"

    assert statuses(exchange(stack, request)) == [200]


def test_a_bare_cr_does_not_split_one_header_line_into_two(stack: EmbeddedStack) -> None:
    """RFC 9112 §2.2: a bare CR must be refused or read as a space. Here it ends a header line
    (email's parser splits lines at CR), so a Content-Length hidden in another header's value frames
    the body, where a front end that follows the RFC sees no body at all."""
    deposit(stack, "cr-alice", "coins", 1000, "cr-1")
    token = stack.token("cr-alice")
    body = b'{"material":"wheat","type":"Buy","pricePerUnit":1,"quantity":1}'
    request = (
        f"POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n".encode()
        + b"X-Note: a\rContent-Length: %d\r\n\r\n" % len(body)
    )

    received = exchange(stack, request + body)

    assert statuses(received)[:1] == [400], received[:300]  # it was 202: the order placed


@pytest.mark.parametrize(
    "declared",
    ["multipart/form-data", "multipart/form-data; boundary=abc", "multipart/mixed", "message/rfc822"],
)
def test_a_well_formed_content_type_is_judged_by_the_function_not_refused_as_a_bad_header(
    stack: EmbeddedStack, declared: str
) -> None:
    """A reviewer's find: email's parser flags a multipart or message ``Content-Type`` with no body
    behind it as a defect (and reads a payload for ``message/rfc822``), and the server took that for
    a malformed header line: ``400 bad_header`` on every route. Such a body is a 415; a read
    without a body is answered."""
    token = stack.token("ct-alice")
    body = b'{"material":"wheat","type":"Buy","pricePerUnit":1,"quantity":1}'
    order = (
        f"POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {declared}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    read = f"GET /markets/wheat HTTP/1.1\r\nHost: x\r\nContent-Type: {declared}\r\nConnection: close\r\n\r\n"

    refused = exchange(stack, order + body)
    answered = exchange(stack, read.encode())

    assert statuses(refused) == [415], refused[:300]
    assert b'"unsupported_media_type"' in refused
    assert statuses(answered) == [200], answered[:300]


# -- 2. Expect: 100-continue ------------------------------------------------------------------------


def test_expect_100_continue_is_answered_before_the_body_is_awaited(stack: EmbeddedStack) -> None:
    """curl -T (and libcurl for larger POSTs) sends Expect: 100-continue and waits up to 1 s for the
    interim answer before sending the body; http.server's 100 Continue goes into the buffered writer
    (wbufsize = -1) and is never flushed, so curl always waits its full second and a client that
    waits for the 100 without a timeout is answered 408 body_timeout 10 s later."""
    token = stack.token("expect-alice")
    body = b'{"material":"wheat","type":"Buy","pricePerUnit":1,"quantity":1}'
    with socket.create_connection(address(stack)) as sock:
        sock.sendall(
            f"POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        interim = read_until_quiet(sock, 1.5)
        sock.sendall(body)
        read_until_quiet(sock, 1.0)

    assert interim.startswith(b"HTTP/1.1 100"), f"no interim answer within 1.5 s: {interim[:80]!r}"


# -- 3. empty lines before a request line --------------------------------------------------------


@pytest.mark.parametrize(
    "before", [b"\r\n" * 9, b" \r\n", b"\r\r\n", b"\t\r\n"], ids=["nine CRLFs", "space", "CR CRLF", "tab"]
)
def test_junk_before_a_request_line_is_answered_not_dropped(stack: EmbeddedStack, before: bytes) -> None:
    """Eight empty lines are skipped; a ninth, or a line of only whitespace, closes the connection
    without a word (http.server's parse_request returns False for an empty request line without
    calling send_error)."""
    received = exchange(stack, before + b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n")

    assert statuses(received), f"closed without an answer: {received[:80]!r}"


def test_a_stray_crlf_after_a_request_does_not_end_the_keep_alive_connection(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case the empty-line skip was made for: a client's stray CRLF after a request, on a kept-alive
    connection. The CRLF starts the headers deadline, which then closes the connection unanswered,
    so the client's next request on it (sent after the deadline, well within the 120 s idle time) is
    lost."""
    monkeypatch.setattr(stack_module, "HEADERS_TIMEOUT_SECONDS", 0.5)
    with socket.create_connection(address(stack)) as sock:
        sock.sendall(b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n\r\n")
        first = read_until_quiet(sock, 0.3)
        time.sleep(1.0)
        try:
            sock.sendall(b"GET /markets HTTP/1.1\r\nHost: x\r\n\r\n")
            second = read_until_quiet(sock, 1.0)
        except OSError as error:
            second = repr(error).encode()

    assert statuses(first) == [200]
    assert statuses(second) in ([200], [408]), f"the connection was closed unanswered: {second[:80]!r}"


# -- 4. Connection: close in a list ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["TE, close", "close, TE", "keep-alive, close"])
def test_a_close_option_in_a_connection_list_closes_the_connection(stack: EmbeddedStack, value: str) -> None:
    """RFC 9112 §9.6: a "close" connection option MUST close the connection after the answer (Perl's
    LWP sends "Connection: TE, close"). http.server compares the whole header with "close"."""
    received = exchange(stack, f"GET /markets HTTP/1.1\r\nHost: x\r\nConnection: {value}\r\n\r\n".encode(), 2)

    assert received.endswith(b"<EOF>"), "the connection was kept open after the answer"


# -- 5. event streams -----------------------------------------------------------------------------


def open_stream(stack: EmbeddedStack, token: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(address(stack))
    sock.sendall(
        f"GET /fills HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    sock.settimeout(3)
    return sock, sock.recv(4096)


def test_a_token_spelt_with_base64_padding_counts_against_the_same_stream_cap(stack: EmbeddedStack) -> None:
    """The cap is per token *string*; PyJWT accepts the token with a '=' appended (its signature is
    43 base64url characters), so one token holds 16 streams, not 8."""
    token = stack.token("streamer")
    streams = []
    try:
        for _ in range(stack_module.MAX_STREAMS_PER_CALLER):
            sock, head = open_stream(stack, token)
            streams.append(sock)
            assert head.startswith(b"HTTP/1.1 200"), head[:80]
        sock, head = open_stream(stack, token + "=")
        streams.append(sock)
    finally:
        for sock in streams:
            sock.close()

    assert head.startswith(b"HTTP/1.1 429"), head[:80]


def test_an_event_stream_survives_in_a_process_with_many_files_open(stack: EmbeddedStack) -> None:
    """The pytest fixture runs the server in the game's own test process. A stream looks whether its
    client has gone with select.select, which refuses a descriptor above 1023: with 1,100 files open
    in the process, each stream ends (ValueError, a traceback) at its first quiet second."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2048:
        pytest.skip("needs 2,048 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        sock, head = open_stream(stack, stack.token("many-files"))
        with sock:
            assert head.startswith(b"HTTP/1.1 200"), head[:80]
            after = read_until_quiet(sock, 2.5)
    finally:
        for descriptor in opened:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    assert not after.endswith((b"<EOF>", b"<RST>")), "the stream ended on its own"


# -- 6. smaller deviations ------------------------------------------------------------------------


def test_content_length_with_trailing_whitespace_is_a_length(stack: EmbeddedStack) -> None:
    """RFC 9110 §5.5: a field value excludes its leading and trailing whitespace; 'Content-Length: 2 '
    is 2. The leading space is dropped by the parser, the trailing one is kept and refused 400."""
    received = exchange(stack, b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2 \r\n\r\n{}")

    assert statuses(received) == [401], received[:200]  # no token: the body framed, the gate answers


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /markets?" + b"a" * 70_000 + b" HTTP/1.1\r\nOrigin: http://game.test\r\n\r\n",
        b"GET /markets HTTP/1.1\r\nOrigin: http://game.test\r\n"
        + b"".join(b"X-%d: 1\r\n" % n for n in range(120))
        + b"\r\n",
    ],
    ids=["414", "431"],
)
def test_a_browser_can_read_every_refusal(stack: EmbeddedStack, request_bytes: bytes) -> None:
    """Function answers and the server's body refusals carry Access-Control-Allow-Origin; what
    http.server refuses itself (414, 431, 408 headers_timeout) does not, so a page on another origin
    sees a network error instead of the JSON error."""
    received = exchange(stack, request_bytes)

    assert b"access-control-allow-origin" in received.lower(), received[:200]


def test_a_request_line_without_a_version_gets_an_http_answer(stack: EmbeddedStack) -> None:
    """http.server served `GET /markets` (HTTP/0.9's request line) a bare body, with no status line
    or headers (a reviewer's find)."""
    received = exchange(stack, b"GET /markets\r\n\r\n", 2)

    assert received.startswith(b"HTTP/1.1 400"), received[:80]
    assert b'"code":"bad_request"' in received
