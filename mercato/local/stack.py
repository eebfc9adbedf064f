"""The embedded stack (DESIGN §7): moto as a real server on 127.0.0.1, every resource created from
the shared definitions, intake served over HTTP exactly as a function URL event, and the pipe and the
event-source mapping pumping in the background.
"""

import http.server
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from mercato.feed.dynamo import DynamoFeedStore
from mercato.feed.job import FeedJob
from mercato.feed.sources import ReplaySource
from mercato.intake.auth import Scope, issue_token
from mercato.local import moto_atomic
from mercato.local.catalog import DEFAULT_CATALOG
from mercato.local.client import Client
from mercato.local.function_url import function_url_event, response_body
from mercato.local.pipeline import LocalPipeline

LOOPBACK = "127.0.0.1"
PREFIX = "mercato"
IDLE_PAUSE_SECONDS = 0.005
MAX_IDLE_PAUSE_SECONDS = 0.05
FEED_POLL_SECONDS = 0.5


def _session() -> boto3.Session:
    # moto accepts any credentials; these never leave the machine.
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")


class _Intake(http.server.BaseHTTPRequestHandler):
    """Turns each HTTP request into a function URL event and the handler's answer back into HTTP."""

    server: "_IntakeServer"
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path, _, query = self.path.partition("?")
        event = function_url_event(
            self.command,
            path,
            query=query,
            headers=dict(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        response = self.server.handler(event, None)
        payload = response_body(response)
        self.send_response(response["statusCode"])
        for name, value in (response.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


class _IntakeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        super().__init__((LOOPBACK, port), _Intake)
        self.handler = handler


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
    feed: FeedJob | None = field(default=None, init=False)
    pipeline: LocalPipeline = field(init=False)
    _moto: ThreadedMotoServer = field(init=False)
    _http: _IntakeServer = field(init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _pump_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def moto_url(self) -> str:
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> "EmbeddedStack":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_atomic.install()
        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._moto.start()
        self.pipeline = LocalPipeline.create(_session(), self.prefix, self.secret, endpoint_url=self.moto_url)
        if self.catalog:
            self._list_catalog()
        self._http = _IntakeServer(self.port, self.pipeline.intake)
        targets: list[Callable[[], None]] = [self._http.serve_forever, self._pump]
        if self.replay_speed > 0:
            self.feed = FeedJob(
                ReplaySource.wc2022_final(self.replay_speed),
                DynamoFeedStore(self.pipeline.dynamodb, self.pipeline.tables),
                self.pipeline.service,
            )
            targets.append(self._replay)
        for target in targets:
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _list_catalog(self) -> None:
        admin = f"Bearer {self.token('mercato-admin', admin=True)}"
        for listing in DEFAULT_CATALOG:
            event = function_url_event(
                "POST",
                "/markets",
                headers={"Authorization": admin},
                body=listing.model_dump_json(by_alias=True).encode(),
            )
            status = self.pipeline.intake(event, None)["statusCode"]
            if status not in (200, 201):
                raise RuntimeError(f"could not list {listing.material}: {status}")

    def _pump(self) -> None:
        """Poll like the services do: at once while there is work, backing off to 50 ms when idle."""
        pause = IDLE_PAUSE_SECONDS
        rounds = 0
        while not self._stop.is_set():
            rounds += 1
            with self._pump_lock:
                busy = self.pipeline.pump(fetch=rounds % 20 == 0)
            pause = IDLE_PAUSE_SECONDS if busy else min(pause * 2, MAX_IDLE_PAUSE_SECONDS)
            if not busy:
                self._stop.wait(pause)

    def _replay(self) -> None:
        """Poll the replay like the scheduled feed polls football-data.org, until the match ends."""
        assert self.feed is not None
        source = self.feed.source
        while not self._stop.wait(FEED_POLL_SECONDS):
            self.feed.poll()
            if isinstance(source, ReplaySource) and source.finished():
                return

    def drain(self) -> None:
        """Everything accepted so far is matched and settled when this returns."""
        with self._pump_lock:
            self.pipeline.drain()

    def token(self, player: str, *, admin: bool = False, ttl_seconds: int = 3600) -> str:
        return issue_token(self.secret, player, Scope.ADMIN if admin else Scope.TRADE, ttl_seconds)

    def client(self, player: str, *, admin: bool = False) -> Client:
        """An API client holding a token for ``player``."""
        return Client(self.url, self.token(player, admin=admin))

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._moto.stop()

    def __enter__(self) -> "EmbeddedStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
