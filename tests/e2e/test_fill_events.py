"""``GET /fills`` as server-sent events on the local stack: a browser game's ``EventSource`` hears
each of its player's fills without polling, and one that reconnects with ``Last-Event-ID`` resumes
after the last page it received, never skipping or repeating a fill."""

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mercato.local.stack import EmbeddedStack

SSE = {"Accept": "text/event-stream"}


@contextmanager
def events(stack: EmbeddedStack, headers: dict[str, str]) -> Iterator[http.client.HTTPResponse]:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request("GET", "/fills", headers=headers)
        yield connection.getresponse()
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
