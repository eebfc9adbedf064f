"""How a DynamoDB Local child is tied to its process: the parent-death signal where ``setpriv`` has
it, and a plain ``java`` where it does not (a reviewer's BusyBox ``setpriv`` stopped every start)."""

import sys
from collections.abc import Iterator
from pathlib import Path

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
