"""How a DynamoDB Local child is tied to its process: the parent-death signal where ``setpriv`` has
it, and a plain ``java`` where it does not (a reviewer's BusyBox ``setpriv`` stopped every start)."""

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
