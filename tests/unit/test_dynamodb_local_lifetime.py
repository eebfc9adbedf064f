"""How a DynamoDB Local child is tied to its process: the parent-death signal where ``setpriv`` has
it, and a plain ``java`` where it does not (a reviewer's BusyBox ``setpriv`` stopped every start)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import cast

import pytest

from mercato.emulators import dynamodb_local


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    dynamodb_local._ends_with_us.cache_clear()
    yield
    dynamodb_local._ends_with_us.cache_clear()


def _setpriv(tmp_path: Path, usage: str) -> None:
    script = tmp_path / "setpriv"
    script.write_text(f"#!/bin/sh\necho '{usage}'\n")
    script.chmod(0o755)


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_setpriv_that_has_the_option_prefixes_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setpriv(tmp_path, " --pdeathsig keep|clear|<signame>  set or clear parent death signal")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert dynamodb_local._ends_with_us() == (str(tmp_path / "setpriv"), "--pdeathsig", "TERM")


@pytest.mark.parametrize("present", [True, False], ids=["busybox-setpriv", "no-setpriv"])
def test_without_the_option_the_jvm_starts_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: bool
) -> None:
    if present:
        _setpriv(tmp_path, "Usage: setpriv [-d] [--nnp] [--[inh|bounding]-caps [+,-]cap] PROG ARGS")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert dynamodb_local._ends_with_us() == ()


def test_a_start_that_waited_in_vain_leaves_no_process_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer's find: a caller that gave up waiting for the spawning thread left the ``Popen``
    queued, so it ran later and its JVM belonged to no one. A start given up on never runs."""
    monkeypatch.setattr(dynamodb_local, "START_TIMEOUT_SECONDS", 0.2)
    spawner = dynamodb_local._Spawner()
    ran: list[str] = []

    def call(name: str, seconds: float = 0.0) -> Callable[[], "subprocess.Popen[bytes]"]:
        def spawn() -> "subprocess.Popen[bytes]":
            time.sleep(seconds)
            ran.append(name)
            return cast("subprocess.Popen[bytes]", None)

        return spawn

    busy = threading.Thread(target=spawner.run, args=(call("first", 0.6),))
    busy.start()
    time.sleep(0.05)  # the first call holds the spawning thread
    with pytest.raises(dynamodb_local.DynamoDBLocalUnavailable):
        spawner.run(call("given up"))
    busy.join()
    time.sleep(0.1)
    assert ran == ["first"]


class _InterruptedWait(Future["subprocess.Popen[bytes]"]):
    """The caller's wait for a spawn, interrupted (as Ctrl-C would) while the spawn runs."""

    def result(self, timeout: float | None = None) -> "subprocess.Popen[bytes]":
        if timeout is None:  # not the caller's wait
            return super().result()
        time.sleep(0.1)
        raise KeyboardInterrupt


def test_a_start_interrupted_while_it_spawns_stops_what_it_spawned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer's find: Ctrl-C while the spawning thread ran the ``Popen`` left its process to no
    one (in a session of its own, it outlived the program where no ``setpriv`` ties it). The process
    that comes after the interrupt is stopped."""
    monkeypatch.setattr(dynamodb_local, "Future", _InterruptedWait)
    spawner = dynamodb_local._Spawner()
    spawned: list[subprocess.Popen[bytes]] = []

    def spawn() -> "subprocess.Popen[bytes]":
        time.sleep(0.4)
        spawned.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
        return spawned[-1]

    with pytest.raises(KeyboardInterrupt):
        spawner.run(spawn)
    deadline = time.monotonic() + 5
    while not spawned or spawned[0].poll() is None:
        if time.monotonic() > deadline:
            spawned[0].kill()
            pytest.fail("the process spawned after the interrupt still runs")
        time.sleep(0.05)


def test_a_start_whose_spawn_failed_closes_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``stop`` returned early when there was no process, so a spawn that failed left its log open."""
    jar = tmp_path / "DynamoDBLocal.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv(dynamodb_local.JAR_ENV, str(jar))
    monkeypatch.setattr(dynamodb_local, "java", lambda: str(tmp_path / "no-such-java"))
    monkeypatch.setattr(dynamodb_local, "_ends_with_us", lambda: ())
    local = dynamodb_local.DynamoDBLocal()
    with pytest.raises(FileNotFoundError, match="no-such-java"):
        local.start()
    assert local._log is None


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process table with ps")
def test_a_program_that_exits_right_after_an_interrupted_spawn_leaves_nothing_running() -> None:
    """A reviewer's find: ``mercato up`` exits right after a Ctrl-C, and the interpreter ended its
    spawning thread (a daemon) inside ``Popen``, before the callback that stops the abandoned process
    could run; the process, in a session of its own, outlived it. Exit now waits for it and stops it.
    (``preexec_fn``'s pause stands in for a fork and exec that take a while.)"""
    marker = f"61.{os.getpid()}"
    script = f"""
import os, signal, subprocess, sys, threading, time
from mercato.emulators import dynamodb_local
signal.signal(signal.SIGINT, signal.default_int_handler)  # a test runner's worker may ignore it
def spawn():
    return subprocess.Popen(["sleep", "{marker}"], start_new_session=True, preexec_fn=lambda: time.sleep(0.5))
threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    dynamodb_local._SPAWNER.run(spawn)
except KeyboardInterrupt:
    sys.exit(130)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60, check=False
    )
    time.sleep(1)
    table = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    left = [int(line.split()[0]) for line in table.splitlines() if line.strip().endswith(f"sleep {marker}")]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert done.returncode == 130
    assert left == [], "the process spawned after the interrupt outlived the program"


def test_a_jar_variable_naming_no_file_is_named_in_the_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It was told to set the variable it had set (a reviewer's find)."""
    monkeypatch.setattr(dynamodb_local, "java", lambda: "/usr/bin/java")
    monkeypatch.setenv(dynamodb_local.JAR_ENV, str(tmp_path / "nowhere.jar"))

    assert (
        dynamodb_local.missing()
        == f"{dynamodb_local.JAR_ENV} names {tmp_path / 'nowhere.jar'}, which is not a file"
    )


def test_a_jvm_that_exits_at_start_is_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Java too old for the jar prints a LinkageError, then a stack trace's lines: the refusal is one
    line, as every refusal of ``mercato up`` is (it was two, a tab inside)."""
    jar = tmp_path / "DynamoDBLocal.jar"
    jar.write_bytes(b"")
    java = tmp_path / "java"
    java.write_text(
        "#!/bin/sh\n"
        "echo 'Error: LinkageError occurred while loading main class DynamoDBLocal' >&2\n"
        "printf '\\tjava.lang.UnsupportedClassVersionError: class file version 61.0\\n' >&2\n"
        "exit 1\n"
    )
    java.chmod(0o755)
    monkeypatch.setenv(dynamodb_local.JAR_ENV, str(jar))
    monkeypatch.setattr(dynamodb_local, "java", lambda: str(java))

    with pytest.raises(dynamodb_local.DynamoDBLocalUnavailable) as refused:
        dynamodb_local.DynamoDBLocal().start()

    assert "\n" not in str(refused.value)
    assert str(refused.value) == (
        "DynamoDB Local exited at start: Error: LinkageError occurred while loading main class DynamoDBLocal"
        " | java.lang.UnsupportedClassVersionError: class file version 61.0"
    )
