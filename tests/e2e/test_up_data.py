"""`mercato up --data DIR` keeps what it accepted: orders placed over HTTP, the process killed with
SIGKILL while clients are still trading, started again on the same directory: every order that was
answered 202 is there, the restart settles what the kill interrupted, and every invariant holds."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from mercato.emulators import dynamodb_local
from mercato.emulators.dynamodb_local import DynamoDBLocal
from mercato.intake.auth import Scope, issue_token
from mercato.local.client import ApiError, Client
from mercato.local.stack import PREFIX, session
from mercato.local.state import OWNER_FILE, DataDir, Owner
from mercato.storage.tables import table_names
from mercato.testing.invariants import scan, violations
from tests.e2e.node_tools import missing

SECRET = "a-restart-secret-that-is-long-enough-0123456789"
TRADERS = 6
MATERIALS = ("wheat", "copper")


@pytest.fixture
def java_and_jar() -> None:
    if (absent := dynamodb_local.missing()) is not None:
        missing(f"DynamoDB Local cannot run: {absent}")


@contextmanager
def mercato_up(data: Path, log: Path) -> Iterator[tuple["subprocess.Popen[str]", str, str]]:
    """`mercato up --data DATA`: the process, its URL and the line saying where its state lives."""
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET)
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--replay-speed", "0"]
    with (
        log.open("a") as errors,
        subprocess.Popen(
            [*command, "--data", str(data)], stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        ) as process,
    ):
        assert process.stdout is not None
        try:
            up = process.stdout.readline()
            assert up.startswith("Mercato is up at http://127.0.0.1:"), up + log.read_text()[-2000:]
            yield process, up.split()[4], process.stdout.readline()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)


def trade_until_refused(url: str, player: str, accepted: list[tuple[str, str]], seed: int) -> None:
    """Place crossing orders as fast as the stack answers; stop at the first refused connection."""
    client, rng = Client(url, issue_token(SECRET, player, Scope.TRADE)), random.Random(seed)
    while True:
        side = rng.choice(("Buy", "Sell"))
        options = {"timeInForce": "IOC"} if rng.random() < 0.1 else {}
        try:
            order = client.place(
                side, rng.choice(MATERIALS), rng.randint(1, 3), rng.randint(8, 12), **options
            )
        except ApiError:
            continue  # a 409 (short of coins or items): nothing was accepted
        except OSError:
            return  # the stack is gone
        accepted.append((player, order["orderId"]))


def stop_left_over_dynamodb_local(data: Path) -> None:
    """If the test failed half-way, stop the DynamoDB Local a killed `mercato up` left running."""
    try:
        owner = Owner.model_validate_json((data / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return
    if owner.dynamodb_local is not None:
        with suppress(ProcessLookupError):
            os.kill(owner.dynamodb_local, signal.SIGTERM)


@pytest.mark.slow  # three DynamoDB Local starts: 40 s to over 2 minutes on this shared 2-core machine
@pytest.mark.usefixtures("java_and_jar")
def test_orders_accepted_before_a_sigkill_are_kept_and_settle_after_the_restart(tmp_path: Path) -> None:
    data, log = tmp_path / "state", tmp_path / "mercato.log"
    accepted: list[tuple[str, str]] = []
    try:
        # Given a stack keeping its state, with traders trading on it
        with mercato_up(data, log) as (process, url, state):
            assert str(data.resolve()) in state
            assert "survives a restart" in state
            admin = Client(url, issue_token(SECRET, "game-server", Scope.ADMIN))
            for n in range(TRADERS):
                admin.deposit(f"trader-{n}", "coins", 5_000, f"coins-{n}")
                for material in MATERIALS:
                    admin.deposit(f"trader-{n}", material, 200, f"{material}-{n}")
            threads = [
                threading.Thread(target=trade_until_refused, args=(url, f"trader-{n}", accepted, n))
                for n in range(TRADERS)
            ]
            for thread in threads:
                thread.start()
            while len(accepted) < 150:
                time.sleep(0.01)
            # When it is killed mid-trading
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            for thread in threads:
                thread.join(timeout=30)
        killed_with = len(accepted)

        # Then, started again on the same directory, it has every accepted order
        with mercato_up(data, log) as (_, url, state):
            assert "restarted on it" in state, state
            print(f"\n{killed_with} orders accepted before the kill; after the restart: {state.strip()}")
            statuses = {
                Client(url, issue_token(SECRET, player)).order(order_id)["status"]
                for player, order_id in accepted
            }
            assert statuses <= {"open", "filled", "cancelled"}
    finally:
        stop_left_over_dynamodb_local(data)

    # And the restart settled what was pending: every invariant holds on the kept tables, drained
    engine = DynamoDBLocal(data).start()
    try:
        client = session().resource("dynamodb", endpoint_url=engine.endpoint_url).meta.client
        assert violations(client, table_names(PREFIX), drained=True) == []
        kept = {item.get("orderId") for item in scan(client, table_names(PREFIX).orders)}
        assert {order_id for _, order_id in accepted} <= kept
    finally:
        engine.stop()


def test_data_without_dynamodb_local_says_so_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET, PATH=str(tmp_path / "no-java-here"))
    result = subprocess.run(
        [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--data", str(tmp_path / "state")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"mercato: keeping state in {tmp_path / 'state'} needs DynamoDB Local: "
        "java is not on PATH (install a Java 17 runtime)"
    ]
    assert not (tmp_path / "state").exists()


@pytest.mark.usefixtures("java_and_jar")
@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: Path, where: str) -> None:
    """A reviewer's `--data` pointing at a file (or below one) ended in a traceback."""
    (tmp_path / "notes").write_text("not a directory")
    data = tmp_path / "notes" if where == "a file" else tmp_path / "notes" / "state"
    result = subprocess.run(
        [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--data", str(data)],
        capture_output=True,
        text=True,
        env=dict(os.environ, MERCATO_AUTH_SECRET=SECRET),
        timeout=60,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mercato: cannot keep state in {data}: ")
    assert _dynamodb_local_on(data) == []


@pytest.mark.usefixtures("java_and_jar")
def test_a_relative_data_directory_is_the_one_below_where_mercato_was_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB Local runs in its jar's folder: a relative ``--data`` used to point there, and it
    refused to start ("Invalid directory for database creation")."""
    monkeypatch.chdir(tmp_path)
    local = DynamoDBLocal(Path("state")).start()
    try:
        session().client("dynamodb", endpoint_url=local.endpoint_url).list_tables()
    finally:
        local.stop()

    assert [path.name for path in (tmp_path / "state").iterdir()] == ["shared-local-instance.db"]


@pytest.mark.usefixtures("java_and_jar")
@pytest.mark.parametrize(
    ("stopping", "ignored"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["Ctrl-C", "Ctrl-C, started with SIGINT ignored", "SIGTERM"],
)
def test_stopping_mercato_up_while_it_starts_leaves_no_dynamodb_local_running(
    tmp_path: Path, stopping: signal.Signals, ignored: bool
) -> None:
    """Signalled while DynamoDB Local starts (it takes seconds), `mercato up --data` stops it, says so
    in one line and leaves the directory free (a reviewer found a DynamoDB Local left running that
    nothing would stop, and a traceback). Started with SIGINT ignored (as a background job is, and
    as the gate's test run once was), a Ctrl-C while it started was lost and the stack came up."""
    data = tmp_path / "state"
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET)
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--data", str(data)]

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ignore_sigint if ignored else None,
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline:
                if (data / OWNER_FILE).exists():
                    break
                time.sleep(0.01)
            time.sleep(1)  # it claimed the directory; DynamoDB Local needs seconds to answer
            java = _dynamodb_local_on(data)

            process.send_signal(stopping)
            out, errors = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                stop_left_over_dynamodb_local(data)

    assert java, "DynamoDB Local was not starting"
    assert "Mercato is up" not in out, "it had started before the signal: nothing of this was tested"
    assert errors.strip().splitlines()[-1] == "mercato: stopped while starting"
    assert "Traceback" not in errors
    assert _dynamodb_local_on(data) == []
    DataDir(data).claim()  # free for the next start


@pytest.mark.usefixtures("java_and_jar")
def test_a_dynamodb_local_left_by_a_sigkill_while_it_started_is_stopped_by_the_next_start(
    tmp_path: Path,
) -> None:
    """Killed (SIGKILL: nothing of it runs after) while DynamoDB Local starts, `mercato up --data`
    leaves no JVM on the directory once the next start has claimed it: on Linux the JVM gets SIGTERM
    as its parent dies; elsewhere the JVM's pid, recorded as soon as it exists, lets the next start
    stop it (a reviewer found the pid recorded only once the JVM answered: a kill before that left it
    running, and the next start ran a second DynamoDB Local on the same files)."""
    data = tmp_path / "state"
    env = dict(os.environ, MERCATO_AUTH_SECRET=SECRET)
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", "--data", str(data)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while not _dynamodb_local_on(data) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            starting = _dynamodb_local_on(data)
            process.kill()
            out, _ = process.communicate(timeout=30)
            assert starting, "DynamoDB Local was not starting"
            assert "Mercato is up" not in out, "it had started before the kill: nothing of this was tested"

            DataDir(data).claim()
            deadline = time.monotonic() + 20
            while _dynamodb_local_on(data) and time.monotonic() < deadline:
                time.sleep(0.1)

            assert _dynamodb_local_on(data) == []
        finally:
            stop_left_over_dynamodb_local(data)
            if _dynamodb_local_on(data):  # not recorded (the defect): stopped by its command line
                subprocess.run(["pkill", "-f", "--", f"-dbPath {data.resolve()}"], check=False)


def _dynamodb_local_on(data: Path) -> list[str]:
    """The command lines of the DynamoDB Local processes keeping their tables in ``data``."""
    lines = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in lines.splitlines() if "DynamoDBLocal" in line and str(data.resolve()) in line]


@pytest.mark.parametrize("port_held", [False, True], ids=["killed", "killed-and-its-port-held-a-while"])
def test_a_dynamodb_local_that_dies_under_a_running_stack_is_started_again_on_its_data(
    java_and_jar: None, tmp_path: Path, port_held: bool
) -> None:
    """Nothing watched the DynamoDB Local child: killed, every request answered 500 until
    ``mercato up`` was restarted. The stack starts it again on the same port and directory (which
    keeps what it had committed) and re-drives what was pending; trading goes on. A reviewer held
    the port with another server: the first watch took that server for DynamoDB Local and started a
    JVM every few seconds; a start that failed was never tried again. Now a held port is waited out,
    each wait longer, and the stack comes back once it is free."""
    from mercato.local.stack import EmbeddedStack

    # a prefix of its own: moto's Kinesis is one per process, shared with the worker's other stacks
    options = {
        "catalog": False,
        "leaderboard_seconds": 0,
        "sweep_seconds": 0,
        "prefix": f"watched-{os.getpid()}-{port_held:d}",
    }
    with EmbeddedStack(engine="dynamodb-local", data_dir=tmp_path / "state", **options) as stack:  # type: ignore[arg-type]
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat"})
        admin.deposit("bob", "wheat", 10, "grant-1")
        admin.deposit("alice", "coins", 1_000, "grant-2")
        sell = stack.client("bob").place("Sell", "wheat", 5, 20)["orderId"]
        stack.drain()
        dead = stack._dynamodb_local
        assert dead is not None
        first = dead.pid

        os.kill(first, signal.SIGKILL)
        if port_held:
            with _listening_on(dead.port):
                time.sleep(3)
        deadline = time.monotonic() + 60
        while True:
            with suppress(ApiError, OSError):
                if (
                    dead.running()
                    and dead.pid != first
                    and stack.client("bob").order(sell)["status"] == "open"
                ):
                    break
            assert time.monotonic() < deadline, "DynamoDB Local was not started again"
            time.sleep(0.2)

        stack.client("alice").place("Buy", "wheat", 5, 20)
        stack.drain()
        assert stack.client("bob").order(sell)["status"] == "filled"
        assert violations(stack.pipeline.dynamodb, stack.pipeline.tables) == []


@contextmanager
def _listening_on(port: int) -> Iterator[None]:
    """Another process's server on ``port`` (once the killed JVM's socket is gone)."""
    import socket

    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 10
    while True:
        try:
            holder.bind(("127.0.0.1", port))
            break
        except OSError:
            assert time.monotonic() < deadline, "the killed JVM's port never came free"
            time.sleep(0.01)
    holder.listen()
    try:
        yield
    finally:
        holder.close()


def test_a_dynamodb_local_ends_with_the_process_that_started_it_even_killed(java_and_jar: None) -> None:
    """A reviewer's find: a Python process that ended without ``stop()`` (``kill -9``, an uncaught
    exception outside ``with``) left its DynamoDB Local JVM running for good, a few hundred MB each.
    The JVM now gets SIGTERM when its parent dies (Linux's parent-death signal)."""
    if sys.platform != "linux":
        pytest.skip("the parent-death signal is Linux's")
    starter = (
        "import sys, time\n"
        "from mercato.emulators.dynamodb_local import DynamoDBLocal\n"
        "local = DynamoDBLocal().start()\n"
        "print(local.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    with subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            jvm = int(parent.stdout.readline())
            assert _alive(jvm)
        finally:
            parent.kill()
    deadline = time.monotonic() + 20
    while _alive(jvm):
        assert time.monotonic() < deadline, f"DynamoDB Local {jvm} outlived the process that started it"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped by its init, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


LIFETIME_PROBE = """
import os, sys, threading, time, urllib.error, urllib.request
from mercato.emulators.dynamodb_local import DynamoDBLocal

first = DynamoDBLocal().start()
first.stop()
child = os.fork()
if child == 0:  # a forked child starts its own: the parent's spawning thread is not in it
    started = DynamoDBLocal().start()
    started.stop()
    os._exit(0)
_, status = os.waitpid(child, 0)
print("forked child:", os.waitstatus_to_exitcode(status), flush=True)

local = DynamoDBLocal().start()

def keeps_using_it():  # a thread of the program's own, still using DynamoDB Local after main returns
    time.sleep(1.5)
    try:
        urllib.request.urlopen(local.endpoint_url, timeout=2).close()
    except urllib.error.HTTPError:
        pass
    except OSError as error:
        print("after main returned:", error, flush=True)
        local.stop()
        return
    print("after main returned: answers", flush=True)
    local.stop()

threading.Thread(target=keeps_using_it).start()
"""


def test_dynamodb_local_starts_in_a_forked_child_and_lives_while_the_program_runs(java_and_jar: None) -> None:
    """Two reviewer's finds in how the JVM is tied to its process: once a process had started one,
    a forked child's start waited for a spawning thread the child did not have, for ever; and the
    thread was a pool worker, which the interpreter joins at exit before the program's own threads,
    so the JVM got its parent-death signal while a thread of the program still used it."""
    answer = subprocess.run(
        [sys.executable, "-c", LIFETIME_PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert answer.stdout.splitlines() == ["forked child: 0", "after main returned: answers"], answer.stderr
