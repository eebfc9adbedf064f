"""``GET /fills`` as server-sent events on the local stack: a browser game's ``EventSource`` hears
each of its player's fills without polling, and one that reconnects with ``Last-Event-ID`` resumes
after the last page it received, never skipping or repeating a fill."""

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

import pytest

from mercato.intake.limits import Bucket, LimitSettings
from mercato.local import stack as stack_module
from mercato.local.client import ApiError
from mercato.local.stack import MAX_STREAMS_PER_CALLER, EmbeddedStack

SSE = {"Accept": "text/event-stream"}
ACCEPT = "Accept: text/event-stream"


@contextmanager
def events(stack: EmbeddedStack, headers: dict[str, str]) -> Iterator[http.client.HTTPResponse]:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request("GET", "/fills", headers=headers)
        response = connection.getresponse()
        try:
            yield response
        finally:
            response.close()  # it holds the socket open past the connection's close
    finally:
        connection.close()


def next_event(stream: http.client.HTTPResponse) -> dict[str, str]:
    """The next event's fields (comments skipped), as the EventSource algorithm reads them."""
    fields: dict[str, str] = {}
    while True:
        line = stream.readline().decode()
        assert line, f"the stream ended; fields so far: {fields}"
        line = line.rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        fields[name] = fields[name] + "\n" + value if name in fields else value


def cross(stack: EmbeddedStack, quantity: int, price: int) -> None:
    stack.client("bob").place("Sell", "wheat", quantity, price)
    stack.client("alice").place("Buy", "wheat", quantity, price)


def fills_of(event: dict[str, str]) -> list[dict[str, Any]]:
    assert event["event"] == "fills", event
    page = json.loads(event["data"])
    assert page["cursor"] == event["id"], "the event's id is the page's cursor"
    fills: list[dict[str, Any]] = page["fills"]
    return fills


def test_a_players_fills_arrive_as_events_and_a_reconnect_resumes_after_the_last() -> None:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "name": "Wheat", "kind": "commodity"})
        admin.deposit("bob", "wheat", 100, "grant-1")
        admin.deposit("alice", "coins", 10_000, "grant-2")
        alice = {"Authorization": f"Bearer {stack.token('alice')}"} | SSE

        with events(stack, alice) as stream:
            assert stream.status == 200
            assert stream.getheader("Content-Type") == "text/event-stream"
            # When alice buys 10 wheat from bob while her stream is open
            cross(stack, 10, 20)
            (fill,) = fills_of(first := next_event(stream))
            # Then her fill arrives as an event, as GET /fills shows it
            assert (fill["side"], fill["quantity"], fill["price"]) == ("Buy", 10, 20)
            assert stack.client("alice").fills()["fills"] == [fill]

        # When she trades twice more while disconnected, then reconnects with the last id she saw
        cross(stack, 3, 21)
        cross(stack, 4, 22)
        stack.drain()
        with events(stack, alice | {"Last-Event-ID": first["id"]}) as stream:
            resumed = fills_of(next_event(stream))
        # Then exactly the fills after it arrive: none skipped, none repeated
        assert [(f["quantity"], f["price"]) for f in resumed] == [(3, 21), (4, 22)]
        assert {f["fillId"] for f in resumed}.isdisjoint({fill["fillId"]})


def test_a_stream_without_a_token_is_refused_in_the_error_shape() -> None:
    with (
        EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack,
        events(stack, SSE) as refused,
    ):
        assert refused.status == 401
        assert json.loads(refused.read())["error"]["code"] == "missing_token"


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream;q=0", False),
        ("application/json, text/event-stream; q=0.0", False),
        ("TEXT/EVENT-STREAM ; Q=0.000", False),
        ("text/event-stream;q=0.5, application/json", True),
        ("application/json;q=0.9, text/event-stream", True),
        ("application/x-text/event-stream", False),
        ('text/event-stream;note="a,b";q=0', False),  # a quoted comma splits no range
        ('application/json;note="x,text/event-stream"', False),
    ],
)
def test_only_an_accept_that_takes_event_streams_opens_a_stream(accept: str, streams: bool) -> None:
    """``q=0`` marks a type as not acceptable (RFC 9110 §12.4.2): such a client gets the JSON page."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        headers = {"Accept": accept, "Authorization": f"Bearer {stack.token('alice')}"}
        with events(stack, headers) as answer:
            assert answer.status == 200
            kind = answer.getheader("Content-Type", "")
            if streams:
                assert kind == "text/event-stream"
            else:
                assert kind.startswith("application/json")
                assert json.loads(answer.read()) == {"fills": [], "cursor": "0"}


def test_a_reconnect_with_a_foreign_last_event_id_is_refused_naming_that_header() -> None:
    """The browser sends back whatever id it last saw; a refusal names the header it came in, not
    the ``after`` parameter the client never sent."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        alice = {"Authorization": f"Bearer {stack.token('alice')}"} | SSE
        refusals = []
        for sent in ("not-a-cursor", "41"):  # not a cursor at all; beyond alice's fills
            with events(stack, alice | {"Last-Event-ID": sent}) as refused:
                refusals.append((refused.status, json.loads(refused.read())["error"]))
        with events(stack, alice) as accepted:
            assert accepted.status == 200
        host, port = stack.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
        connection.request("GET", "/fills?after=bad", headers=alice | {"Last-Event-ID": ""})
        own = json.loads(connection.getresponse().read())["error"]["message"]
        connection.close()

    assert own.startswith("after"), "an empty Last-Event-ID is no id: the client's own after is named"

    assert [(status, error["code"]) for status, error in refusals] == [
        (422, "invalid_field"),
        (422, "bad_cursor"),
    ]
    for _, error in refusals:
        assert error["message"].startswith("Last-Event-ID"), error
        assert "after" not in error["message"], error


def test_stopping_the_stack_ends_an_open_stream() -> None:
    stack = EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0).start()
    ended = threading.Event()
    with events(stack, {"Authorization": f"Bearer {stack.token('alice')}"} | SSE) as stream:
        assert stream.status == 200

        def read_to_the_end() -> None:
            stream.read()  # returns when the server closes the stream
            ended.set()

        threading.Thread(target=read_to_the_end, daemon=True).start()
        stack.stop()
        assert ended.wait(10), "the stream stayed open after the stack stopped"


def test_a_token_that_expires_ends_the_stream_with_an_error_event() -> None:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        token = stack.token("alice", ttl_seconds=1)
        with events(stack, {"Authorization": f"Bearer {token}"} | SSE) as stream:
            assert stream.status == 200

            event = next_event(stream)  # within a second or two of the token's expiry

            assert event["event"] == "error"
            assert set(json.loads(event["data"])) == {"error"}
            assert stream.read() == b""  # and the stream ends


def test_an_idle_stream_polls_only_when_something_settles() -> None:
    """Streams wait for the matcher, not a timer: five open streams make no request while nothing
    settles, and a fill reaches its player's stream at once."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "name": "Wheat", "kind": "commodity"})
        admin.deposit("bob", "wheat", 100, "grant-1")
        admin.deposit("alice", "coins", 10_000, "grant-2")
        calls: list[str] = []
        handler = stack._http.handler

        def counted(event: dict[str, Any], context: Any) -> dict[str, Any]:
            calls.append(event["rawPath"])
            return handler(event, context)

        stack._http.handler = counted
        players = ["alice", "carol", "dave", "erin", "frank"]
        with ExitStack() as streams:
            opened = [
                streams.enter_context(events(stack, {"Authorization": f"Bearer {stack.token(p)}"} | SSE))
                for p in players
            ]
            assert all(stream.status == 200 for stream in opened)
            polls_at_open = len(calls)
            time.sleep(1.5)
            assert len(calls) == polls_at_open, "idle streams polled"

            started = time.monotonic()
            cross(stack, 3, 20)
            (fill,) = fills_of(next_event(opened[0]))
            assert fill["quantity"] == 3
            assert time.monotonic() - started < 2

            # Busy trading between others settles many times a second; a stream polls at most 4 times
            admin.deposit("carol", "wheat", 100, "grant-3")
            admin.deposit("dave", "coins", 10_000, "grant-4")
            polls_before, started = len(calls), time.monotonic()
            for _ in range(30):
                stack.client("carol").place("Sell", "wheat", 1, 20)
                stack.client("dave").place("Buy", "wheat", 1, 20)
            elapsed = time.monotonic() - started
            polls = [path for path in calls[polls_before:] if path == "/fills"]
            assert len(polls) <= len(players) * (elapsed / 0.25 + 2)


def _documented_codes(stack: EmbeddedStack, path: str, status: int) -> list[str]:
    """The error codes ``/openapi.json`` lists for ``GET path`` answering ``status``."""
    document = stack.client("anyone").request("GET", "/openapi.json")
    answer = document["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]
    codes: list[str] = answer["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
    return codes


def test_a_token_holds_at_most_eight_streams_at_once() -> None:
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        alice = {"Authorization": f"Bearer {stack.token('alice')}"} | SSE
        with ExitStack() as streams:
            opened = [streams.enter_context(events(stack, alice)) for _ in range(MAX_STREAMS_PER_CALLER)]
            assert all(stream.status == 200 for stream in opened)
            with events(stack, alice) as ninth:
                assert ninth.status == 429
                assert json.loads(ninth.read())["error"]["code"] == "too_many_streams"
                assert "too_many_streams" in _documented_codes(stack, "/fills", 429)  # a reviewer's find
            # the same token spelled as auth also reads it is the same caller (a reviewer opened 48)
            token = alice["Authorization"].removeprefix("Bearer ")
            for spelling in (f"bearer {token}", f"BEARER  {token}", f"Bearer {token} "):
                with events(stack, {"Authorization": spelling} | SSE) as respelled:
                    assert respelled.status == 429
        deadline = time.monotonic() + 5  # the eight closed: the server notices within a second or so
        while True:
            with events(stack, alice) as again:
                if again.status == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.2)
        assert again.status == 200


def test_a_stream_kept_waiting_by_the_rate_limit_still_sends_heartbeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack_module, "FILLS_HEARTBEAT_SECONDS", 0.3)
    limits = LimitSettings(
        table="local", orders=Bucket(capacity=5, per_second=1), reads=Bucket(capacity=2, per_second=1)
    )
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, rate_limits=limits) as stack:
        alice = stack.client("alice")
        with events(stack, {"Authorization": f"Bearer {stack.token('alice')}"} | SSE) as stream:
            assert stream.status == 200
            stop = threading.Event()

            def keep_the_bucket_empty() -> None:
                while not stop.is_set():
                    with suppress(ApiError):
                        alice.balances()
                    time.sleep(0.05)

            reader = threading.Thread(target=keep_the_bucket_empty, daemon=True)
            reader.start()
            try:
                heartbeats = 0
                deadline = time.monotonic() + 5
                while heartbeats < 3 and time.monotonic() < deadline:
                    if stream.readline() == b": waiting\n":
                        heartbeats += 1
            finally:
                stop.set()
                reader.join(5)
            assert heartbeats == 3


def test_stopping_the_stack_ends_a_stream_blocked_writing_to_a_client_that_does_not_read() -> None:
    stack = EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0).start()
    try:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "name": "Wheat", "kind": "commodity"})
        admin.deposit("bob", "wheat", 1_000, "grant-1")
        admin.deposit("alice", "coins", 100_000, "grant-2")
        host, port = stack.url.removeprefix("http://").split(":")
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: a small window
        client.connect((host, int(port)))
        token = stack.token("alice")
        client.sendall(
            f"GET /fills HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{ACCEPT}\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 5
        while not stack._http._streams and time.monotonic() < deadline:
            time.sleep(0.05)
        (server_side,) = stack._http._streams[token]
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024)
        for _ in range(150):  # a fill event for each, far more than the two small buffers hold
            cross(stack, 1, 20)
        time.sleep(1)  # the stream's writer is blocked now: the client reads nothing
        assert stack._http._streams, "the stream ended before the stop"

        stack.stop()

        deadline = time.monotonic() + 5
        while server_side.fileno() != -1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server_side.fileno() == -1, "the blocked stream outlived the stop"
        client.close()
    finally:
        stack.stop()


def test_a_stream_waits_out_dynamodb_out_of_reach_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer's find: one poll that met DynamoDB out of reach (``503 unavailable``, what a
    DynamoDB Local restart answers for a few seconds) ended the stream with an ``error`` event, where
    a 429 is waited out; a browser's EventSource does not reconnect after that. Now a 503 is waited out
    too, heartbeats going on, and the fill that settles meanwhile arrives."""
    monkeypatch.setattr(stack_module, "FILLS_HEARTBEAT_SECONDS", 0.3)
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "name": "Wheat", "kind": "commodity"})
        admin.deposit("bob", "wheat", 100, "grant-1")
        admin.deposit("alice", "coins", 10_000, "grant-2")
        serve = stack._http.handler
        down = threading.Event()

        def restarting(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if down.is_set() and event["rawPath"] == "/fills":
                body = json.dumps({"error": {"code": "unavailable", "message": "restarting"}})
                headers = {"Content-Type": "application/json", "Retry-After": "1"}
                return {"statusCode": 503, "headers": headers, "body": body, "isBase64Encoded": False}
            return serve(event, context)

        monkeypatch.setattr(stack._http, "handler", restarting)
        with events(stack, {"Authorization": f"Bearer {stack.token('alice')}"} | SSE) as stream:
            assert stream.status == 200
            down.set()
            cross(stack, 2, 30)
            stack.drain()
            waiting = 0
            while waiting < 2:
                line = stream.readline()
                assert line, "the stream ended while DynamoDB was out of reach"
                waiting += line == b": waiting\n"
            down.clear()
            assert [(f["price"], f["quantity"]) for f in fills_of(next_event(stream))] == [(30, 2)]
