"""The embedded stack's edges as a browser game and a terminal meet them: CORS and pre-flight like
the deployed function URL, unknown methods in the JSON error shape, an idle stack that sleeps, and
one clear line (no traceback) for a busy port, a short secret or an output closed early."""

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mercato.local.client import ApiError
from mercato.local.stack import EmbeddedStack
from mercato.resources import INTAKE_CORS

SECRET = "an-e2e-secret-that-is-long-enough-0123456789"


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    # moto's backends are global to the process: a prefix of its own keeps clear of other stacks' tables
    with EmbeddedStack(engine="moto", catalog=False, prefix=f"edges-{secrets.token_hex(4)}") as running:
        yield running


def _request(
    stack: EmbeddedStack, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_preflight_is_answered_with_the_function_urls_cors_rules(stack: EmbeddedStack) -> None:
    status, headers, body = _request(
        stack,
        "OPTIONS",
        "/orders",
        {
            "Origin": "http://game.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,last-event-id",
        },
    )

    assert status == 200
    assert body == b""
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"].split(",") == list(INTAKE_CORS.allowed_methods)
    allowed = ["authorization", "content-type", "last-event-id", "traceparent"]  # an EventSource resumes
    assert headers["access-control-allow-headers"].split(",") == allowed
    assert headers["access-control-max-age"] == "600"  # as the function URL's MaxAge


def test_a_cross_origin_request_gets_the_allow_origin_header(stack: EmbeddedStack) -> None:
    status, headers, body = _request(stack, "GET", "/markets", {"Origin": "http://game.example"})

    assert status == 200
    assert json.loads(body) == []
    assert headers["access-control-allow-origin"] == "*"
    # a browser game may read a 429's Retry-After, a 405's Allow and the trace, as on the function URL
    exposed = headers["access-control-expose-headers"].split(",")
    assert {"retry-after", "allow", "www-authenticate", "traceparent"} <= set(exposed)


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="mercato"'),
        ("Bearer not-a-token", 'Bearer realm="mercato", error="invalid_token"'),
    ],
    ids=["no-token", "bad-token"],
)
def test_a_401_says_how_to_authenticate(
    stack: EmbeddedStack, authorization: str | None, challenge: str
) -> None:
    """RFC 6750 §3: a 401 carries a Bearer challenge, with an error code only when a token came."""
    sent = {} if authorization is None else {"Authorization": authorization}
    status, headers, _ = _request(stack, "GET", "/orders", sent)

    assert status == 401
    assert headers["www-authenticate"] == challenge


def test_a_lower_case_method_is_not_the_upper_case_one(stack: EmbeddedStack) -> None:
    """Methods are case-sensitive (RFC 9110 §9.1): ``get`` is no method ``/markets`` serves."""
    status, headers, body = _request(
        stack, "get", "/markets", {"Authorization": f"Bearer {stack.token('ann')}"}
    )

    assert status == 405
    assert headers["allow"] == "GET, HEAD, POST"  # POST lists a market
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_a_same_origin_request_gets_no_cors_header(stack: EmbeddedStack) -> None:
    _, headers, _ = _request(stack, "GET", "/markets", {})

    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "OPTIONS"])
def test_a_method_without_a_route_answers_the_json_error_shape(stack: EmbeddedStack, method: str) -> None:
    status, headers, body = _request(stack, method, "/orders", {})

    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}


def test_an_idle_stack_uses_next_to_no_cpu(stack: EmbeddedStack) -> None:
    stack.client("game-server", admin=True).deposit("idle", "coins", 1, "idle-1")
    stack.drain()
    time.sleep(1.0)  # let the pump back off

    cpu_before, wall_before = time.process_time(), time.monotonic()
    time.sleep(3.0)
    share = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)

    assert share < 0.03, f"an idle stack used {share:.1%} of a core"


def _cli(*args: str, secret: str = SECRET, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MERCATO_AUTH_SECRET=secret, **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "mercato.local.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_busy_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = _cli("up", "--port", str(port), "--replay-speed", "0")

    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == f"mercato: port {port} on 127.0.0.1 is already in use (choose another with --port)"
    )


@pytest.mark.parametrize(
    "command",
    [("up", "--port", "0", "--engine", "dynamodb-local"), ("demo", "--engine", "dynamodb-local")],
    ids=["up", "demo"],
)
def test_dynamodb_local_that_cannot_start_is_one_clear_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = _cli(*command, MERCATO_DYNAMODB_LOCAL_JAR=str(tmp_path / "no-such.jar"))

    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("mercato: DynamoDB Local cannot start: "), line
    named = f"MERCATO_DYNAMODB_LOCAL_JAR names {tmp_path / 'no-such.jar'}, which is not a file"
    assert named in line or "java is not on PATH" in line, line


@pytest.mark.parametrize("engine", ["memory", "moto"])
def test_data_with_an_engine_that_keeps_nothing_is_one_clear_line(tmp_path: Path, engine: str) -> None:
    result = _cli("up", "--port", "0", "--engine", engine, "--data", str(tmp_path / "state"))

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"mercato: --data keeps the tables in DynamoDB Local; --engine {engine} keeps nothing"
        " (leave out --engine, or use --engine dynamodb-local)"
    ]
    assert not (tmp_path / "state").exists()  # nothing started, nothing written


def test_a_short_secret_is_one_clear_line() -> None:
    result = _cli("up", "--port", "0", secret="too-short")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "mercato: MERCATO_AUTH_SECRET is 9 bytes; use at least 32"
        " (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]


def test_an_output_closed_early_is_one_clear_line() -> None:
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mercato.local.cli", "token", "alice"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)

    assert result.returncode == 1
    assert result.stderr.strip() == "mercato: the output was closed before everything was written"


def test_the_fixture_client_withdraws_and_posts_goals(stack: EmbeddedStack) -> None:
    admin = stack.client("game-server", admin=True)
    admin.request(
        "POST",
        "/markets",
        {
            "material": "edge-star",
            "kind": "footballer",
            "name": "Star",
            "team": "Edge",
            "baseValue": 1_000,
            "goalValue": 100,
        },
    )
    admin.deposit("carol", "coins", 500, "carol-1")

    account = admin.withdraw("carol", "coins", 200, "carol-out-1")
    goal = admin.goal("edge-star", "match-1:star:1", "match-1", 10)
    with pytest.raises(ApiError) as refused:
        admin.withdraw("carol", "coins", 301, "carol-out-2")
    stack.drain()

    assert account["balances"]["coins"]["available"] == 300
    assert goal["eventId"] == "match-1:star:1"
    assert (refused.value.status, refused.value.code) == (409, "insufficient_balance")
    market = stack.client("anyone").market("edge-star")
    assert (market["goals"], market["fundamentalValue"]) == (1, 1_100)


def test_a_request_target_in_absolute_form_is_the_same_request(stack: EmbeddedStack) -> None:
    """RFC 9112 §3.2.2: a server must accept ``GET http://host/path`` (what a proxy sends) as well as
    ``GET /path``. A reviewer's ``GET http://127.0.0.1/markets/wheat`` answered 401 without a token,
    404 with one: the whole URL was taken for the path."""
    admin = stack.client("game-server", admin=True)
    admin.list_market({"material": "absolute", "kind": "commodity", "name": "A"})
    status, _, body = _request(stack, "GET", f"{stack.url}/markets/absolute", {})
    assert (status, json.loads(body)["material"]) == (200, "absolute")
    status, _, body = _request(stack, "GET", f"{stack.url}/markets/absolute/trades?limit=1", {})
    assert (status, json.loads(body)["trades"]) == (200, [])
