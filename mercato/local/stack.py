"""The embedded stack (DESIGN §7): moto as a real server on 127.0.0.1, every resource created from
the shared definitions, intake served over HTTP exactly as a function URL event, and the pipe and the
event-source mapping pumping in the background.
"""

import contextlib
import errno
import http.server
import io
import json
import logging
import re
import secrets
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from mercato.emulators import dynamodb_local
from mercato.emulators.dynamodb_local import START_TIMEOUT_SECONDS, DynamoDBLocal, DynamoDBLocalUnavailable
from mercato.emulators.function_url import function_url_event, joined, query_parameters, response_body
from mercato.feed.job import FeedJob, FeedStore
from mercato.feed.sources import ReplaySource
from mercato.intake.app import MAX_BODY_BYTES
from mercato.intake.auth import Scope, issue_token
from mercato.intake.limits import LimitSettings
from mercato.intake.service import Intake
from mercato.leaderboard.rollup import Rollup
from mercato.local.catalog import DEFAULT_CATALOG
from mercato.local.client import Client
from mercato.local.memory_stack import MemoryEngine
from mercato.local.state import DataDir, Redrive, redrive_of
from mercato.matcher.service import Matcher
from mercato.matcher.sweep import due_markets, needs_waking
from mercato.models.views import ErrorBody, ErrorDetail
from mercato.resources import INTAKE_CORS

if TYPE_CHECKING:  # the moto and DynamoDB lanes are imported when started: the memory engine never needs them
    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from mercato.local.pipeline import LocalPipeline
    from mercato.local.shared_engine import SharedEngine

log = logging.getLogger("mercato.local")

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
TEMPLATE_PREFIX = "mercato-catalog"
PREFIX = "mercato"
MAX_EMPTY_LINES = 8  # empty lines skipped before a request line, at most
IDLE_PAUSE_SECONDS = 0.005
MAX_IDLE_PAUSE_SECONDS = 1.0
"""An idle pump sleeps up to this long; a write to intake wakes it at once."""
FAILED_PUMP_FIRST_PAUSE_SECONDS = 0.05
FAILED_PUMP_PAUSE_SECONDS = 1.0
"""How long the pump waits after a failed poll or batch before it tries again, writes or not: the
first pause after a success, doubled after each failure in a row up to the second."""
FEED_POLL_SECONDS = 0.5
LEADERBOARD_SECONDS = 10.0
WATCH_SECONDS = 1.0
"""How often the stack looks whether its DynamoDB Local is still running."""
MAX_WATCH_SECONDS = 30.0
"""The longest wait between two attempts to start a DynamoDB Local that would not start again."""
SWEEP_SECONDS: dict[str, float] = {"memory": 1.0, "dynamodb-local": 5.0, "moto": 30.0}
"""How often the stack looks for markets with an order come due, per engine (the deployed schedule:
every minute): one scan of the sparse ``by-expiry`` index (``MatcherStore.due_materials``)."""
FULL_SWEEP_SECONDS: dict[str, float] = {"memory": 1.0, "dynamodb-local": 60.0, "moto": 60.0}
"""How often the background sweep also looks for crossed books, pending goals and footballers never
settled (what only a lost wake-up leaves; up to four queries a market), as the deployed schedule does
every minute (a reviewer measured an idle ``--data`` stack at 14 % of a core, nearly all of it four
queries a market every 5 s)."""
BODY_TIMEOUT_SECONDS = 10.0
HEADERS_TIMEOUT_SECONDS = 10.0
"""From a request's first byte, how long its request line and headers may take to arrive in all (a
client trickling a header byte now and then is answered ``408``, and its thread freed)."""
MAX_CONNECTIONS = 512
"""Connections served at once (each holds a thread); one more is answered ``503`` and closed."""
WATCHDOG_SECONDS = 0.25
"""How often the server looks for requests past their headers' deadline."""
SERVE_POLL_SECONDS = 0.05
"""How often the intake server looks for a stop (``stop`` waits for it)."""
KEEP_ALIVE_SECONDS = 120.0
FILLS_MIN_POLL_SECONDS = 0.25
"""However often the matcher settles, an event stream polls at most this often (new pages aside)."""
STREAM_CHECK_SECONDS = 1.0
"""How often a waiting event stream looks whether its client has gone (its slot then frees)."""
MAX_STREAMS_PER_CALLER = 8
"""Event streams one token may hold open at once (a few browser tabs, not a thousand)."""
FILLS_HEARTBEAT_SECONDS = 5.0
"""A quiet event stream sends a comment this often (a client that went away is noticed then)."""
SWITCH_INTERVAL_SECONDS = 0.0005
"""What ``mercato up`` and the stack's benchmark set as the interpreter's switch interval (5 ms by
default): a request thread that gave up the lock for a socket call waits at most this long for it
while the matcher runs, instead of up to 5 ms, and the answer goes out sooner."""


def _headers_late() -> str:
    return f"the request line and headers did not arrive within {HEADERS_TIMEOUT_SECONDS:g} s"


class _Refused(Exception):
    """A request the local server answers itself, before it becomes a function URL event."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.payload = ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump_json().encode()


def _as_last_event_id(payload: bytes) -> bytes:
    """A refusal of ``after`` when the value came in ``Last-Event-ID``: each part of the message about
    ``after`` names the header instead (the client never sent ``after``)."""
    try:
        error = json.loads(payload)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return payload  # not the one error shape: answered as it is
    parts = [
        "Last-Event-ID" + part.removeprefix("after") if part.startswith(("after:", "after ")) else part
        for part in message.split("; ")
    ]
    return _Refused(422, code, "; ".join(parts)).payload


def _not_ready(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("intake is not wired yet")


def session() -> "boto3.Session":
    """A session for the local engines (moto, DynamoDB Local); boto3 is imported here, so a stack on
    the in-memory engine (the pytest fixture's default) never pays for it."""
    import boto3

    # moto accepts any credentials; these never leave the machine.
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)


_FIELD_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:")
"""A header line: a field name (RFC 9110's token) and a colon."""
_FOLD = re.compile(rb"[ \t]")
"""The continuation of the header line before it (obs-fold): only after one."""


class _HeaderLines:
    """The request's reader while http.server reads the headers, line by line: notes a line that is
    not a header line (the header parser would end the headers there and take the rest for a body)
    and a CR that ends no line (the header parser would split the line there). Judged from the bytes,
    not from the parser's defects, which also flag well-formed headers: a ``multipart/form-data`` or
    ``message/rfc822`` ``Content-Type`` with no body behind it."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.malformed = False
        self._ended = False
        self._field_seen = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._reader.readline(limit)
        content = line.removesuffix(b"\r\n").removesuffix(b"\n")
        if self._ended or not line:
            return line
        if not content:  # the blank line that ends the headers
            self._ended = True
        elif b"\r" in content:
            self.malformed = True
        elif _FIELD_LINE.match(content):
            self._field_seen = True
        elif not (self._field_seen and _FOLD.match(content)):
            # a fold with no line before it to continue: the parser would drop it, and with it a
            # Content-Length, so the body would be read as the next request (a reviewer's find)
            self.malformed = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def _tokens(values: list[str]) -> set[str]:
    """The comma-separated tokens of a header's values, lower case."""
    return {token.strip().lower() for value in values for token in value.split(",")}


class _Intake(http.server.BaseHTTPRequestHandler):
    """Turns each HTTP request into a function URL event and the handler's answer back into HTTP.

    A function URL answers every request; so does this: a body that is not what its
    ``Content-Length`` says is refused in the one error shape (and the connection closed), a body that
    never arrives times out, and a handler that raises answers 500 with the traceback in the log.
    CORS behaves as on a function URL configured like the deployed one: a pre-flight is answered
    without the function, and a request with an ``Origin`` gets the allow-origin header."""

    server: "_IntakeServer"
    raw_requestline: bytes  # http.server's, read before parse_request
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1
    """An answer is buffered and written in one piece when the request is done (http.server flushes
    after each request): one send instead of two, so neither Nagle's algorithm (the body waiting for
    the client's delayed acknowledgement of the headers, about 40 ms on Linux) nor a wait for the
    interpreter lock between the two sends slows an answer down."""
    timeout = KEEP_ALIVE_SECONDS
    """How long an idle keep-alive connection is kept open between requests."""

    def _body(self) -> bytes | None:
        """The request body, or :class:`_Refused` with the answer to give instead. Read before
        anything else is done with the request, whatever it is, so that what follows on the
        connection is the next request and never this one's body (RFC 9112 §6)."""
        codings = self.headers.get_all("Transfer-Encoding") or []
        if any("chunked" in coding.lower() for coding in codings):
            raise _Refused(411, "length_required", "send the body with a Content-Length, not chunked")
        if codings:
            message = f"the transfer coding {', '.join(codings)!r} is not supported; send a Content-Length"
            raise _Refused(501, "unsupported_transfer_coding", message)
        lengths = {value.strip(" \t") for value in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return None
        if len(lengths) > 1:
            message = f"the request has conflicting Content-Lengths: {', '.join(sorted(lengths))}"
            raise _Refused(400, "bad_content_length", message)
        declared = lengths.pop()
        if not (declared.isascii() and declared.isdigit()):  # "-1", "+1" and "²" are no lengths
            raise _Refused(
                400, "bad_content_length", f"Content-Length must be a number of bytes: {declared!r}"
            )
        length = int(declared)
        if length > MAX_BODY_BYTES:
            raise _Refused(
                413, "body_too_large", f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}"
            )
        body = self._read(length, time.monotonic() + BODY_TIMEOUT_SECONDS)
        if len(body) < length:
            raise _Refused(400, "short_body", f"the body ended after {len(body)} of {length} bytes")
        return body or None

    def _read(self, length: int, deadline: float) -> bytes:
        """Up to ``length`` bytes (fewer if the client ends the connection), all by ``deadline``: a
        body trickled a byte at a time times out as one that never comes."""
        chunks: list[bytes] = []
        received = 0
        try:
            while received < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(length - received)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            message = f"the body did not arrive within {BODY_TIMEOUT_SECONDS:g} s"
            raise _Refused(408, "body_timeout", message) from None
        finally:
            self.connection.settimeout(KEEP_ALIVE_SECONDS)
        return b"".join(chunks)

    def handle_one_request(self) -> None:
        """One request, its request line and headers read by a deadline from their first byte (an
        idle keep-alive connection waits up to ``timeout`` for that byte, as before)."""
        self._slow = False
        self._bad_start: str | None = None
        try:
            reader = self.rfile
            assert isinstance(reader, io.BufferedReader)  # rbufsize is -1: a buffered reader
            if not self._skip_empty_lines(reader):  # the client closed the connection
                self.close_connection = True
                return
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        self.server.watch(self, time.monotonic() + HEADERS_TIMEOUT_SECONDS)
        try:
            super().handle_one_request()
        finally:
            self.server.unwatch(self)

    def _skip_empty_lines(self, reader: io.BufferedReader) -> bool:
        """Wait (as an idle connection waits) for the first byte of a request, past the empty lines
        RFC 9112 §2.2 says to ignore before a request line (a client's stray CRLF after a body);
        False if the client closed the connection. More than ``MAX_EMPTY_LINES``, or a bare CR,
        leave ``_bad_start`` set: the request is answered 400."""
        for _ in range(MAX_EMPTY_LINES + 1):
            first = reader.peek(1)[:1]
            if not first:
                return False
            if first == b"\n":
                reader.read(1)
                continue
            if first != b"\r":
                return True
            reader.read(1)
            if reader.peek(1)[:1] != b"\n":
                self._bad_start = "a carriage return that ends no line"
                return True
            reader.read(1)
        self._bad_start = f"more than {MAX_EMPTY_LINES} empty lines before the request line"
        return True

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for a body over 1 kB): the interim answer goes
        out now, not with the final one (answers are buffered: see ``wbufsize``), or the client
        waits for it before it sends the body."""
        self.send_response_only(HTTPStatus.CONTINUE)
        self.end_headers()
        self.wfile.flush()
        return True

    def headers_too_slow(self) -> None:
        """The deadline passed before the headers were read (the server's watchdog calls this):
        reading ends, the reader sees the end of the stream, and the answer is ``408``."""
        self._slow = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RD)

    def parse_request(self) -> bool:
        self.requestline, self.request_version, self.command = "", self.default_request_version, ""
        if self._bad_start is not None:
            self._refuse(_Refused(400, "bad_request", f"the request starts with {self._bad_start}"))
            return False
        if self.raw_requestline and not self.raw_requestline.strip():  # http.server: no answer
            self._refuse(_Refused(400, "bad_request", "the request line is blank"))
            return False
        lines = _HeaderLines(self.rfile)
        self.rfile, reader = lines, self.rfile  # type: ignore[assignment]
        try:
            parsed = super().parse_request()  # http.server's refusals come through send_error
        finally:
            self.rfile = reader
        self.server.unwatch(self)
        if parsed and self._slow:
            self._refuse(_Refused(408, "headers_timeout", _headers_late()))
            return False
        if parsed and lines.malformed:
            # a line the header parser could not read ends the headers, and what follows would be
            # read as the body or the next request; a bare CR splits a line in two (a reviewer hid
            # a Content-Length in another header's value): refused, the connection closed
            self._refuse(_Refused(400, "bad_header", "a header line is not `Name: value` ending in CRLF"))
            return False
        if parsed and self.request_version == "HTTP/0.9":  # a request line without a version
            self._refuse(_Refused(400, "bad_request", "the request line names no HTTP version"))
            return False
        if parsed and "close" in _tokens(self.headers.get_all("Connection") or []):
            self.close_connection = True  # http.server looks for exactly "close": not "TE, close"
        return parsed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line or headers it cannot parse, too long or too many,
        an HTTP version it does not speak) in the one error shape, not its HTML page; the connection
        is closed, as http.server does, since what follows on it cannot be trusted."""
        if self._slow:  # the deadline cut the request short: that is the answer's reason
            self._refuse(_Refused(408, "headers_timeout", _headers_late()))
            return
        phrase = HTTPStatus(code).phrase
        named = _SEND_ERROR_CODES.get(code) or phrase.lower().replace(" ", "_").replace("-", "_")
        self._refuse(_Refused(code, named, message or phrase))

    def _refuse(self, refused: "_Refused") -> None:
        """Answer ``refused`` and close the connection, whatever of the request was read."""
        code = refused.status
        self.close_connection = True
        self.request_version = self.protocol_version  # unparsed, it is HTTP/0.9's: a bare body
        self.send_response(code, HTTPStatus(code).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Access-Control-Allow-Origin", "*")  # a browser may read why, as on a function URL
        self.send_header("Content-Length", str(len(refused.payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(refused.payload)

    def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self._allow_origin()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer's length is the GET's, with no body (RFC 9110 §9.3.2)
            self.wfile.write(payload)

    def _serve(self) -> None:
        try:
            self.path = _origin_form(self.path)
        except ValueError as error:  # an absolute target urlsplit cannot read ("http://[::1/markets")
            self._refuse(_Refused(400, "bad_request", f"the request target is not a URL: {error}"))
            return
        try:
            body = self._body()
        except _Refused as refused:
            self.close_connection = True  # what follows on the connection cannot be trusted
            self._answer(refused.status, refused.payload, {"Content-Type": "application/json"})
            return
        if self.command == "OPTIONS" and "Access-Control-Request-Method" in self.headers:
            self._preflight()
            return
        path, _, query = self.path.partition("?")
        if self.command == "GET" and path == "/fills" and body is None and _wants_events(self):
            self._stream_fills()
            return
        event = function_url_event(
            self.command,
            path,
            query=query,
            headers=_combined(self.headers),
            body=body,
            source_ip=self.client_address[0],
        )
        response = self.server.handler(event, None)  # the handler answers its own errors (500 included)
        if self.command != "GET":
            self.server.wake.set()
        self._answer(response["statusCode"], response_body(response), response.get("headers") or {})

    def _stream_fills(self) -> None:
        """``GET /fills`` as server-sent events (local stack only): one ``fills`` event per page of
        the caller's new fills, its ``id`` the page's cursor, so a browser's ``EventSource`` that
        reconnects (sending ``Last-Event-ID``) resumes exactly after the last page it received.
        Every poll is an ordinary ``GET /fills?after=`` through the function, token and rate limit
        included; a refusal is answered (first poll) or sent as an ``error`` event (later). A stream
        polls when the matcher has settled something (or, quiet, with each heartbeat), not on a
        timer, so an idle stream costs next to nothing; a caller has at most
        ``MAX_STREAMS_PER_CALLER`` open at once."""
        path, _, query = self.path.partition("?")
        params = query_parameters(query)
        after = (self.headers.get("Last-Event-ID") or "").strip(" \t") or params.get("after", "0")
        headers = {key: value for key, value in _combined(self.headers).items() if key != "last-event-id"}
        # counted per token, however the header spells its scheme and spaces (as auth reads it)
        token = self.headers.get("Authorization", "").partition(" ")[2].strip()
        # one token however it is padded: its base64url parts verify with or without trailing "="
        caller = ".".join(part.rstrip("=") for part in token.split("."))
        if not self.server.open_stream(caller, self.connection):
            message = f"at most {MAX_STREAMS_PER_CALLER} event streams are open at once per token"
            refused = _Refused(429, "too_many_streams", message)
            self._answer(429, refused.payload, {"Content-Type": "application/json", "Retry-After": "5"})
            return
        try:
            self._stream(path, params, after, headers, resumed=bool(self.headers.get("Last-Event-ID")))
        except OSError:
            return  # the client went away, or the stack stopped and shut the socket
        finally:
            self.server.close_stream(caller, self.connection)

    def _stream(
        self, path: str, params: dict[str, str], after: str, headers: dict[str, str], *, resumed: bool
    ) -> None:
        """``resumed``: ``after`` came from ``Last-Event-ID``, so a refusal of it names that header."""
        started, quiet_since = False, time.monotonic()
        while not self.server.stopping.is_set():
            seen = self.server.settlements
            event = function_url_event(
                "GET",
                path,
                query=params | {"after": after},
                headers=headers,
                source_ip=self.client_address[0],
            )
            response = self.server.handler(event, None)
            polled_at = time.monotonic()
            status, payload = response["statusCode"], response_body(response)
            if status in (429, 503) and started:  # the read bucket is empty, or DynamoDB restarting: wait
                retry = float((response.get("headers") or {}).get("Retry-After", "1"))
                self.server.stopping.wait(min(retry, FILLS_HEARTBEAT_SECONDS))
                quiet_since = self._heartbeat(quiet_since)
                continue
            if not started and status != 200:
                if resumed and status == 422:
                    payload = _as_last_event_id(payload)
                self._answer(status, payload, response.get("headers") or {})
                return
            if not started:
                self._open_stream()
                started = True
            if status != 200:
                self._send_event("error", payload.decode(), None)
                return
            page = json.loads(payload)
            if page["fills"]:
                self._send_event("fills", payload.decode(), page["cursor"])
                after, quiet_since = page["cursor"], time.monotonic()
                continue  # there may be more at once
            quiet_since = self._heartbeat(quiet_since)
            while self.server.settlements == seen and not self.server.stopping.is_set():
                left = FILLS_HEARTBEAT_SECONDS - (time.monotonic() - quiet_since)
                if left <= 0:
                    break  # poll with the heartbeat: an expired token ends the stream
                self.server.wait_for_settlement(seen, min(left, STREAM_CHECK_SECONDS))
                if self._client_gone():
                    return
            # busy trading settles many times a second: each stream polls at most this often
            self.server.stopping.wait(max(0.0, FILLS_MIN_POLL_SECONDS - (time.monotonic() - polled_at)))

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (it sends nothing on a stream, so a readable
        socket with nothing to read is a close), found without writing to it."""
        poller = select.poll()  # not select.select: it fails on a descriptor past 1023
        poller.register(self.connection, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return peeked == b""

    def _heartbeat(self, quiet_since: float) -> float:
        """A comment when the stream has been quiet for a heartbeat (it keeps proxies open and finds a
        client that went away); when the stream was last heard from."""
        if time.monotonic() - quiet_since < FILLS_HEARTBEAT_SECONDS:
            return quiet_since
        self.wfile.write(b": waiting\n\n")
        self.wfile.flush()
        return time.monotonic()

    def _open_stream(self) -> None:
        self.close_connection = True  # the answer has no length: it ends when the connection does
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self._allow_origin()
        self.end_headers()
        self.wfile.flush()

    def _send_event(self, name: str, data: str, event_id: str | None) -> None:
        lines = [f"event: {name}"]
        if event_id is not None:
            lines.append(f"id: {event_id}")
        lines += [f"data: {line}" for line in data.splitlines() or [""]]
        self.wfile.write(("\n".join(lines) + "\n\n").encode())
        self.wfile.flush()

    def _preflight(self) -> None:
        self.send_response(200)
        self._allow_origin()
        self.send_header("Access-Control-Allow-Methods", ",".join(INTAKE_CORS.allowed_methods))
        self.send_header("Access-Control-Allow-Headers", ",".join(INTAKE_CORS.allowed_headers).lower())
        self.send_header("Access-Control-Max-Age", str(INTAKE_CORS.max_age_seconds))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _allow_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is None:
            return
        allowed = INTAKE_CORS.allowed_origins
        if "*" in allowed or origin in allowed:
            self.send_header("Access-Control-Allow-Origin", "*" if "*" in allowed else origin)
            self.send_header("Access-Control-Expose-Headers", ",".join(INTAKE_CORS.exposed_headers).lower())
            self.send_header("Vary", "Origin")

    def __getattr__(self, name: str) -> Any:
        """Every method goes to the function, as a function URL passes it (the router answers the
        JSON error for one it has no route for), never http.server's HTML 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        return


_SEND_ERROR_CODES: Final = {
    400: "bad_request",
    414: "request_uri_too_long",
    431: "request_header_fields_too_large",
    505: "http_version_not_supported",
}
"""The codes of http.server's own refusals, as the OpenAPI document lists them: fixed here, not taken
from ``HTTPStatus``'s phrases, which change between Python versions (414 is "URI Too Long" from 3.13)."""


def _origin_form(target: str) -> str:
    """The request target as a path and query: a server must accept the absolute form
    (``GET http://127.0.0.1:8000/markets HTTP/1.1``, RFC 9112 §3.2.2) as well as the path alone."""
    if not target.lower().startswith(("http://", "https://")):
        return target
    parts = urlsplit(target)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _wants_events(request: http.server.BaseHTTPRequestHandler) -> bool:
    """Whether the ``Accept`` header names ``text/event-stream`` with a weight above 0 (``q=0`` says
    the type is not acceptable, RFC 9110 §12.4.2; a weight that is not a number counts as 1)."""
    for media_range in _media_ranges(",".join(request.headers.get_all("Accept") or [])):
        parsed = Message()
        parsed["Content-Type"] = media_range
        if parsed.get_content_type() != "text/event-stream":
            continue
        weight = parsed.get_param("q")
        try:
            return not isinstance(weight, str) or float(weight) > 0
        except ValueError:
            return True
    return False


def _media_ranges(accept: str) -> list[str]:
    """An ``Accept`` value's media ranges: split at the commas outside quoted strings (a parameter's
    quoted value may hold one, RFC 9110 §5.6.4)."""
    ranges, current, quoted, escaped = [], "", False, False
    for char in accept:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            ranges.append(current.strip())
            current = ""
            continue
        current += char
    return [*ranges, current.strip()]


def _combined(headers: Message) -> dict[str, str]:
    """The request's headers as a function URL passes them: names in lower case, a repeated header's
    values joined with commas (payload format 2.0)."""
    return joined((name.lower(), value) for name, value in headers.items())


class _Lane(Protocol):
    """What the stack runs, on DynamoDB (:class:`LocalPipeline`) or in memory (:class:`MemoryEngine`)."""

    @property
    def intake(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]: ...
    @property
    def service(self) -> Intake: ...
    @property
    def rollup(self) -> Rollup: ...
    @property
    def matcher(self) -> Matcher: ...

    @property
    def given_up(self) -> int: ...

    def pump(self, fetch: bool = True) -> bool: ...
    def drain(self) -> None: ...
    def settle_everything(self, redrive: Redrive) -> int: ...


class PortInUse(RuntimeError):
    """The intake's port is taken; nothing was started."""


class StateNeedsDynamoDBLocal(RuntimeError):
    """``data_dir`` was given where DynamoDB Local cannot run; nothing was started."""


class _IntakeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of game clients connecting at once is not refused

    def __init__(
        self, port: int, handler: Callable[[dict[str, Any], Any], dict[str, Any]], wake: threading.Event
    ) -> None:
        self.stopping = threading.Event()
        """Set when the stack stops: open event streams end. Made before the socket is bound, since
        a bind that fails closes the server (:meth:`server_close` sets it)."""
        super().__init__((LOOPBACK, port), _Intake)
        self.handler = handler
        self.wake = wake
        self.settlements = 0
        """How many times the matcher has settled something: an event stream polls when it moves."""
        self._settled = threading.Condition()
        self._streams: dict[str, list[socket.socket]] = {}
        self._guard = threading.Lock()
        self._connections = 0
        self._deadlines: dict[_Intake, float] = {}
        threading.Thread(target=self._watchdog, name="intake-headers-deadline", daemon=True).start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection, or, past ``MAX_CONNECTIONS`` served at once, ``503``."""
        with self._guard:
            full = self._connections >= MAX_CONNECTIONS
            if not full:
                self._connections += 1
        if full:
            self._turn_away(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._served()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._served()

    def _served(self) -> None:
        with self._guard:
            self._connections -= 1

    def _turn_away(self, request: socket.socket) -> None:
        message = f"the local server serves {MAX_CONNECTIONS} connections at once; try again"
        payload = _Refused(503, "too_many_connections", message).payload
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(1.0)
            request.sendall(head.encode() + payload)
        self.shutdown_request(request)

    def server_close(self) -> None:
        self.stopping.set()  # the watchdog ends with the server, whether or not it ever served
        super().server_close()

    def watch(self, request: "_Intake", deadline: float) -> None:
        """``request`` must have read its headers by ``deadline``."""
        with self._guard:
            self._deadlines[request] = deadline

    def unwatch(self, request: "_Intake") -> None:
        """Its headers are read (or it is done): once this returns, the watchdog leaves it alone."""
        with self._guard:
            self._deadlines.pop(request, None)

    def _watchdog(self) -> None:
        while not self.stopping.wait(WATCHDOG_SECONDS):
            now = time.monotonic()
            with self._guard:
                late = [request for request, deadline in self._deadlines.items() if deadline <= now]
                for request in late:
                    del self._deadlines[request]
                    request.headers_too_slow()

    def settled(self) -> None:
        """The matcher settled something (or the stack is stopping): waiting event streams poll."""
        with self._settled:
            self.settlements += 1
            self._settled.notify_all()

    def wait_for_settlement(self, seen: int, timeout: float) -> None:
        """Until a settlement after ``seen`` (the count read before the last poll), or ``timeout``."""
        with self._settled:
            self._settled.wait_for(lambda: self.settlements != seen, timeout)

    def open_stream(self, caller: str, connection: socket.socket) -> bool:
        """Count an event stream open for ``caller`` (its Authorization); False if it has the most."""
        with self._settled:
            open_ = self._streams.setdefault(caller, [])
            if len(open_) >= MAX_STREAMS_PER_CALLER:
                return False
            open_.append(connection)
            return True

    def close_stream(self, caller: str, connection: socket.socket) -> None:
        with self._settled:
            self._streams[caller].remove(connection)
            if not self._streams[caller]:
                del self._streams[caller]

    def end_streams(self) -> None:
        """Stopping: every open event stream ends, even one blocked writing to a client that does not
        read (its socket is shut down under it)."""
        self.stopping.set()
        with self._settled:
            connections = [c for open_ in self._streams.values() for c in open_]
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed
                connection.shutdown(socket.SHUT_RDWR)
        self.settled()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written is no error of the server's (the
        request was handled; only the answer is lost); anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class EmbeddedStack:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    port: int = 0
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    catalog: bool = True
    prefix: str = PREFIX
    """Resource names start with this; stacks in one process (moto's backends are global) need
    different prefixes."""
    replay_speed: float = 0.0
    """Match minutes per second for the 2022 final's goal replay; 0 plays no replay."""
    rate_limits: LimitSettings | None = None
    """Per-player rate limits (``None``: off, as in the demo and the pytest fixture)."""
    leaderboard_seconds: float = LEADERBOARD_SECONDS
    """How often the background job rolls the leaderboard up (0: never; tests call ``rollup``)."""
    sweep_seconds: float | None = None
    """How often the background job settles the markets where an order has come due and nothing else
    woke them (``None``: the engine's :data:`SWEEP_SECONDS`; 0: never, tests call ``sweep``)."""
    full_sweep_seconds: float | None = None
    """How often a background sweep also looks for crossed books and pending goals (``None``: the
    engine's :data:`FULL_SWEEP_SECONDS`); the sweeps in between look for due orders only."""
    engine: Literal["auto", "dynamodb-local", "moto", "memory"] = "memory"
    """The storage engine: ``memory`` (the default, as for ``mercato up`` and the pytest fixture):
    the in-memory exchange, with the pipe and the mapping's effect in-process
    (:mod:`mercato.local.memory_stack`), the fastest; ``pipeline`` is then unset and
    ``memory.exchange`` holds the state. ``moto`` (the AWS shape: stream, pipe, Kinesis; needed for
    ``shared``), DynamoDB Local (needs Java and ``make install``; needed for ``data_dir``), or
    ``auto`` (DynamoDB Local where it starts, else moto, with a warning saying why)."""
    data_dir: Path | None = None
    """Keep the tables in this directory (DynamoDB Local only); None keeps them in memory."""
    storage: str = field(default="", init=False)
    """The engine in use: ``dynamodb-local``, ``moto`` or ``memory``."""
    restarted: bool = field(default=False, init=False)
    """The tables were kept from an earlier run (``data_dir``) and re-driven at start."""
    redriven_fills: int = field(default=0, init=False)
    _unsettled: dict[str, list[str]] = field(default_factory=dict, init=False)
    """Markets a re-drive or a sweep failed to settle, with their hints: the next sweep tries again."""
    _retry_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    """Fills the restart's re-drive made (orders accepted before a kill, settled now)."""
    _data: DataDir | None = field(default=None, init=False)
    shared: "SharedEngine | None" = None
    """Run on this engine's moto server and start from its prepared catalog (copied into this
    stack's own tables): a test session pays for moto and the catalog once."""
    _dynamodb_local: DynamoDBLocal | None = field(default=None, init=False)
    feed: FeedJob | None = field(default=None, init=False)
    pipeline: "LocalPipeline" = field(init=False, repr=False)
    """The pipeline on moto or DynamoDB Local (not set on the memory engine)."""
    memory: MemoryEngine | None = field(default=None, init=False)
    """The memory engine's services and exchange (only on the memory engine)."""
    _lane: _Lane = field(init=False, repr=False)
    _moto: "ThreadedMotoServer" = field(init=False, repr=False)
    _http: _IntakeServer = field(init=False, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _pump_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _replay_thread: threading.Thread | None = field(default=None, init=False)
    _started: bool = field(default=False, init=False)

    def __repr__(self) -> str:
        """What a failing test prints for the fixture: the engine, and where it serves once started."""
        try:
            where = f"url={self.url!r}" if self._started else "not started"
        except AttributeError:  # a start that failed before its server existed (a port in use)
            where = "not started"
        return f"EmbeddedStack(engine={self.engine!r}, {where})"

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def moto_url(self) -> str:
        if self.shared is not None:
            return self.shared.moto_url
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> "EmbeddedStack":
        if self._started:  # a second start served a second, empty exchange and leaked the first
            raise RuntimeError("this stack has been started already (the mercato fixture starts it)")
        self._started = True
        try:
            self._http = _IntakeServer(self.port, _not_ready, self._wake)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(
                f"port {self.port} on {LOOPBACK} is already in use (choose another with --port)"
            ) from None
        try:
            return self._start_memory() if self.engine == "memory" else self._start()
        except BaseException:
            self._http.server_close()
            moto = getattr(self, "_moto", None)  # a start that failed leaves no server behind
            if moto is not None:
                moto.stop()
            if self._dynamodb_local is not None:
                self._dynamodb_local.stop()
            if self._data is not None:
                self._data.release()
            raise

    def _start(self) -> "EmbeddedStack":
        from mercato.feed.dynamo import DynamoFeedStore
        from mercato.local.pipeline import LocalPipeline
        from mercato.local.shared_engine import moto_server

        if self.shared is None:
            self._moto = moto_server()
            dynamodb_url, kept = self._start_dynamodb()
        else:
            if self.data_dir is not None:
                raise ValueError("a stack on a shared engine keeps nothing: leave data_dir unset")
            self.storage, dynamodb_url = "moto", None
            kept = self.shared.copy_catalog(self.prefix) if self.catalog else False
        self.pipeline = LocalPipeline.create(
            session() if self.shared is None else self.shared.session,
            self.prefix,
            self.secret,
            endpoint_url=self.moto_url,
            dynamodb_endpoint_url=dynamodb_url,
            existing_tables=kept,
            upgrade_tables=self.shared is None,  # a shared engine's copies are this version's own
            rate_limits=self.rate_limits,
        )
        if self._data is not None:
            self.pipeline.pipe.on_checkpoint = self._data.save_checkpoints
            if kept:
                self.pipeline.pipe.resume(self._data.checkpoints())
        if self.shared is not None:
            self.pipeline.pipe.start_at_latest()  # the copied catalog is settled: nothing to forward
        elif self.catalog:
            listed = redrive_of(self.pipeline.dynamodb, self.pipeline.tables).materials if kept else []
            list_catalog(self.pipeline, self.token("mercato-admin", admin=True), skip=set(listed))
            if not kept:  # a restart's re-drive below settles every market, the footballers included
                self._retry(quote_the_house(self.pipeline))
        if kept and self.shared is None:
            self.restarted = True
            self.redriven_fills = self._redrive()
        self._lane = self.pipeline
        return self._run(DynamoFeedStore(self.pipeline.dynamodb, self.pipeline.tables))

    def _start_memory(self) -> "EmbeddedStack":
        if self.data_dir is not None or self.shared is not None:
            raise ValueError(
                "the memory engine keeps and shares nothing: data_dir needs engine='dynamodb-local', "
                "shared needs engine='moto'"
            )
        self.storage = "memory"
        self.memory = engine = MemoryEngine.create(self.secret, rate_limits=self.rate_limits)
        self._lane = engine
        if self.catalog:
            list_catalog(engine, self.token("mercato-admin", admin=True), skip=set())
            self._retry(quote_the_house(engine))
            engine.drain()  # the listings' wake-ups find the house quoted: nothing left to do
        return self._run(engine.feed_store)

    def _run(self, feed_store: FeedStore) -> "EmbeddedStack":
        """Serve intake and start the background jobs: the pump, the leaderboard, the replay."""
        self._http.handler = self._lane.intake
        targets: list[Callable[[], None]] = [self._serve, self._pump]
        if self.leaderboard_seconds > 0:
            targets.append(self._roll_up)
        if self._sweep_every() > 0:
            targets.append(self._sweep)
        if self._dynamodb_local is not None:
            targets.append(self._watch_dynamodb_local)
        if self.replay_speed > 0:
            replay = ReplaySource.wc2022_final(self.replay_speed)
            # on kept state (a restart on --data) the replay goes on after the goals it posted
            posted = {f.material: f.feed_goals for f in feed_store.followed(replay.match_id)}
            self.feed = FeedJob(replay.resumed(posted), feed_store, self._lane.service)
            targets.append(self._replay)
        for target in targets:
            thread = threading.Thread(target=target, daemon=True, name=f"mercato{target.__name__}")
            thread.start()
            self._threads.append(thread)
            if target == self._replay:
                self._replay_thread = thread
        return self

    def _serve(self) -> None:
        self._http.serve_forever(poll_interval=SERVE_POLL_SECONDS)

    def finish_replay(self, timeout: float = 60.0) -> None:
        """Wait until the goal replay has posted its last goal (then :meth:`drain` applies it)."""
        if self._replay_thread is not None:
            self._replay_thread.join(timeout)

    def _start_dynamodb(self) -> tuple[str | None, bool]:
        """Start DynamoDB Local if it is to be used: its URL and whether it already holds the tables."""
        use_local = (
            self.data_dir is not None
            or self.engine == "dynamodb-local"
            or (self.engine == "auto" and dynamodb_local.available())
        )
        if not use_local:
            self.storage = "moto"
            return None, False
        if self.data_dir is not None and (missing := dynamodb_local.missing()) is not None:
            raise StateNeedsDynamoDBLocal(f"keeping state in {self.data_dir} needs DynamoDB Local: {missing}")
        self.storage = "dynamodb-local"
        if self.data_dir is not None:
            self._data = DataDir(self.data_dir)
            self._data.claim()
        # the pid is recorded as soon as the process exists, before it answers: a mercato killed
        # while the JVM starts leaves one the next start on this directory finds and stops
        spawned = None if self._data is None else self._data.owned_by
        try:
            self._dynamodb_local = DynamoDBLocal(self.data_dir).start(on_spawn=spawned)
        except DynamoDBLocalUnavailable as error:
            if self.engine != "auto" or self.data_dir is not None:
                raise  # asked for by name, or the state lives there: the caller says why
            log.warning("DynamoDB Local did not start (%s); the tables are in moto", error)
            self.storage = "moto"
            return None, False
        url = self._dynamodb_local.endpoint_url
        names = session().client("dynamodb", endpoint_url=url).list_tables()["TableNames"]
        return url, any(name.startswith(f"{self.prefix}-") for name in names)

    def _pump(self) -> None:
        """Poll like the services do: at once while there is work; when idle, back off to a second,
        unless a write to intake (or the feed) wakes it first."""
        pause = IDLE_PAUSE_SECONDS
        rounds = failures = 0
        while not self._stop.is_set():
            rounds += 1
            try:
                with self._pump_lock:
                    busy = self._lane.pump(fetch=rounds % 20 == 0)
            except Exception as error:
                # a failed poll or batch (DynamoDB Local restarting, a throttled put): what it
                # did not forward stays behind its checkpoint and is read again after a pause,
                # as Pipes and Lambda retry; the thread never ends while the stack runs. The first
                # failure in a row is logged whole, the rest in a line each, and the pause is not
                # cut short by writes (each client's retry woke it: a reviewer saw 119 tracebacks
                # in 5 s while DynamoDB Local was down)
                failures += 1
                if failures == 1:
                    log.exception("the pipeline's pump failed; it retries after a pause")
                else:
                    log.warning("the pipeline's pump failed again (%d in a row): %r", failures, error)
                # a transient failure costs a few tens of milliseconds; a lasting one, a try a second
                first = FAILED_PUMP_FIRST_PAUSE_SECONDS
                self._stop.wait(min(first * 2 ** (failures - 1), FAILED_PUMP_PAUSE_SECONDS))
                continue
            if failures:
                log.warning("the pipeline's pump works again, after %d failures", failures)
                failures = 0
            if busy:
                self._http.settled()
            pause = IDLE_PAUSE_SECONDS if busy else min(pause * 2, MAX_IDLE_PAUSE_SECONDS)
            if not busy:
                self._wake.wait(pause)
                self._wake.clear()

    def _replay(self) -> None:
        """Poll the replay like the scheduled feed polls football-data.org, until the match ends."""
        assert self.feed is not None
        source = self.feed.source
        while not self._stop.wait(FEED_POLL_SECONDS):
            # asked before the poll, so the poll that ends the replay has seen every goal
            finished = isinstance(source, ReplaySource) and source.finished()
            self.feed.poll()
            self._wake.set()
            if finished:
                return

    def _roll_up(self) -> None:
        """The leaderboard's schedule: a rollup every ``leaderboard_seconds``, off the trading path."""
        while not self._stop.wait(self.leaderboard_seconds):
            try:
                self._lane.rollup.run()
            except Exception:  # the next run recomputes everything: log and carry on
                logging.getLogger("mercato.leaderboard").exception("leaderboard rollup failed")

    def _watch_dynamodb_local(self) -> None:
        """DynamoDB Local is a child process: if it ends while the stack runs (killed, out of memory),
        every request would answer 503 until a restart. With ``data_dir`` it is started again on the
        same port and directory, which keeps what reached its file (a SIGKILLed JVM can lose the writes
        it answered in its last few tens of milliseconds), and what was pending is re-driven
        as at a restart; in memory its tables are gone with it, which is said once. A start that
        fails (the port held by another process, the JVM killed again) is tried again, each wait
        twice the last, up to :data:`MAX_WATCH_SECONDS`. The start happens outside the pump's lock,
        which a pump retrying calls to the dead process can hold for minutes; only the re-drive
        takes it."""
        local = self._dynamodb_local
        assert local is not None
        wait = WATCH_SECONDS
        while not self._stop.wait(wait):
            if local.running():
                continue
            if self.data_dir is None:
                log.error("DynamoDB Local ended; its in-memory tables went with it")
                return
            log.error("DynamoDB Local is not running; starting it again on %s", self.data_dir)
            try:
                local.restart(on_spawn=None if self._data is None else self._data.owned_by)
            except Exception as error:  # tried again after a longer wait
                if self._stop.is_set():
                    return  # the stack stopped under the start
                wait = min(2 * wait, MAX_WATCH_SECONDS)
                log.error(
                    "DynamoDB Local could not be started again (%s); trying again in %.0f s", error, wait
                )
                continue
            wait = WATCH_SECONDS
            try:
                with self._pump_lock:
                    fills = self._redrive()
                log.warning("DynamoDB Local is back on %s; the re-drive made %d fills", self.data_dir, fills)
            except Exception:  # the pump settles what is pending as its records come
                log.exception("DynamoDB Local is back on %s; its re-drive failed", self.data_dir)
            self._http.settled()

    def _redrive(self) -> int:
        """Settle every market of the kept tables once, as their records would (a restart's, or a
        restarted DynamoDB Local's); the fills that made."""
        redrive = redrive_of(self.pipeline.dynamodb, self.pipeline.tables)
        try:
            return self.pipeline.settle_everything(redrive)
        finally:
            self._retry(redrive)

    def _retry(self, redrive: Redrive) -> None:
        """Markets a re-drive or a sweep could not settle: the next sweep settles them again (with
        their IOC/FOK hints), whether or not an order of theirs is due (a reviewer found a restart's
        failed re-drive left a crossed book crossed for good: nothing else wakes such a market)."""
        with self._retry_lock:
            for material in redrive.materials:
                self._unsettled.pop(material, None)
            for material in redrive.failed:
                self._unsettled[material] = redrive.hints.get(material, [])

    def _sweep(self) -> None:
        """The sweep's schedule (every ``sweep_seconds``, a full look every ``full_sweep_seconds``),
        as the deployed schedule's every minute."""
        full_every = (
            FULL_SWEEP_SECONDS[self.storage] if self.full_sweep_seconds is None else self.full_sweep_seconds
        )
        looked, given_up = time.monotonic(), self._lane.given_up
        while not self._stop.wait(self._sweep_every()):
            # a record the mapping gave up on is a wake-up lost: look in full at once (the mapping
            # retries a failing batch without a pause, so a hiccup of storage can use its retries up)
            lost = self._lane.given_up
            full = time.monotonic() - looked >= full_every or lost != given_up
            try:
                self.sweep(full=full)
            except Exception:  # the next sweep looks again (a full look, if this one was): log and carry on
                logging.getLogger("mercato.matcher").exception("the sweep failed")
                continue
            if full:
                looked, given_up = time.monotonic(), lost

    def _sweep_every(self) -> float:
        return SWEEP_SECONDS[self.storage] if self.sweep_seconds is None else self.sweep_seconds

    def sweep(self, *, full: bool = True) -> list[str]:
        """Settle each market that needs it (an order due now, a crossed book, a pending goal), as
        the deployed schedule's wake-ups would (:mod:`mercato.matcher.sweep`): a good-till-date order
        in a market where nothing else happens is expired and its reservation released, and a market
        whose wake-ups the mapping discarded is settled. Not ``full``, only markets with an order due
        are looked for. Returns the materials."""
        matcher = self._lane.matcher
        now = matcher.clock()
        if full:
            woken = due_markets(matcher.store.materials(), partial(needs_waking, matcher.store), now)
        else:  # one look at the by-expiry index, not a query a market
            woken = matcher.store.due_materials(now)
        with self._retry_lock:
            again = dict(self._unsettled)
        woken = sorted({*woken, *again})
        if woken:
            redrive = Redrive(woken, again)
            try:
                with self._pump_lock:  # the one writer of each material, as the pump is
                    self._lane.settle_everything(redrive)
            finally:  # what did settle, fills streams may send
                self._retry(redrive)
                self._http.settled()
        return woken

    def drain(self) -> None:
        """Everything accepted so far is matched and settled when this returns."""
        with self._pump_lock:
            self._lane.drain()
        self._http.settled()

    def rollup(self) -> None:
        """Roll the leaderboard up now, from the tables as they are (what the background job does
        every ``leaderboard_seconds``): ``drain()`` first, and the board ranks every trade so far."""
        self._lane.rollup.run()

    def token(self, player: str, *, admin: bool = False, ttl_seconds: int = 3600) -> str:
        return issue_token(self.secret, player, Scope.ADMIN if admin else Scope.TRADE, ttl_seconds)

    def client(self, player: str, *, admin: bool = False) -> Client:
        """An API client holding a token for ``player``."""
        return Client(self.url, self.token(player, admin=admin))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._http.end_streams()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            # a watchdog in the middle of a restart ends once the JVM answers or its start times out;
            # stopping DynamoDB Local under it would leave a half-started JVM to the watchdog
            watchdog = thread.name == f"mercato{self._watch_dynamodb_local.__name__}"
            thread.join(timeout=START_TIMEOUT_SECONDS + 5 if watchdog else 5)
        if self.shared is not None:
            self.shared.drop(self.prefix)
        elif self.memory is None:
            self._moto.stop()
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()
        if self._data is not None:
            self._data.release()

    def __enter__(self) -> "EmbeddedStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def list_catalog(pipeline: _Lane, admin_token: str, skip: set[str]) -> None:
    """List the default catalog through intake, but for the materials in ``skip`` (already listed)."""
    for listing in DEFAULT_CATALOG:
        if listing.material in skip:
            continue
        event = function_url_event(
            "POST",
            "/markets",
            headers={"Authorization": f"Bearer {admin_token}"},
            body=listing.model_dump_json(by_alias=True).encode(),
        )
        status = pipeline.intake(event, None)["statusCode"]
        if status not in (200, 201):
            raise RuntimeError(f"could not list {listing.material}: {status}")


def quote_the_house(pipeline: _Lane) -> Redrive:
    """Settle every listed footballer once, so the house's opening ladder rests on the book when the
    stack starts (the listings' wake-ups, when they arrive, find nothing left to do)."""
    footballers = [listing.material for listing in DEFAULT_CATALOG if listing.kind == "footballer"]
    redrive = Redrive(footballers, {})
    pipeline.settle_everything(redrive)
    return redrive  # its ``failed``: footballers to quote again
