"""``mercato up --data DIR``: one process holds the directory at a time, decided by a lock the kernel
drops when the process ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mercato.local.state import OWNER_FILE, DataDir, DataDirInUse, Owner


def test_a_second_claim_on_a_held_directory_is_refused_until_the_first_is_released(tmp_path: Path) -> None:
    """Two claims at the same moment both read an empty owner file; the lock refuses the second (a
    reviewer started two `mercato up --data DIR` at once and both came up in 4 rounds of 10)."""
    first, second = DataDir(tmp_path), DataDir(tmp_path)
    first.claim()

    with pytest.raises(DataDirInUse, match=f"{tmp_path} is in use by mercato"):
        second.claim()
    first.release()
    second.claim()
    second.release()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    """The lock lives with the process: one killed while holding the directory does not refuse the next."""
    claim = (
        "import time; from pathlib import Path; from mercato.local.state import DataDir; "
        f"DataDir(Path({str(tmp_path)!r})).claim(); print('held', flush=True); time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", claim], stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(DataDirInUse):
            DataDir(tmp_path).claim()

        holder.kill()

    DataDir(tmp_path).claim()


def _left_behind(db_path: Path) -> int:
    """The pid of a process whose command line reads like a DynamoDB Local on ``db_path`` (a
    stand-in: the check reads only the command line), started through a shell that exits at once,
    so it is nobody's child here and is gone, not a zombie, once stopped."""
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    command = f"{sleeper} DynamoDBLocal.jar -dbPath {db_path} >/dev/null 2>&1 &"
    started = subprocess.run(["sh", "-c", command + " echo $!"], capture_output=True, text=True, check=True)
    return int(started.stdout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _killed_mercato_recorded(directory: Path, dynamodb_local: int) -> None:
    """The owner file a killed ``mercato up`` leaves: its own pid (gone now) and its DynamoDB Local's."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()
    owner = Owner(mercato=gone.pid, dynamodb_local=dynamodb_local)
    (directory / OWNER_FILE).write_text(owner.model_dump_json())


def test_the_dynamodb_local_a_killed_holder_left_on_the_directory_is_stopped(tmp_path: Path) -> None:
    orphan = _left_behind(tmp_path.resolve())
    try:
        _killed_mercato_recorded(tmp_path, orphan)

        DataDir(tmp_path).claim()

        deadline = time.monotonic() + 10
        while _alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(orphan)
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_a_recorded_pid_now_serving_another_directory_is_left_alone(tmp_path: Path) -> None:
    """A recorded pid reused since (after a reboot) by another directory's DynamoDB Local: a
    reviewer's stale owner file stopped a running stack's engine on another directory."""
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    other = _left_behind(theirs.resolve())
    try:
        _killed_mercato_recorded(mine, other)

        DataDir(mine).claim()

        time.sleep(0.2)
        assert _alive(other), "another directory's DynamoDB Local was stopped"
    finally:
        os.kill(other, signal.SIGKILL)


def test_a_reused_pid_in_a_stale_owner_file_does_not_refuse_a_free_directory(tmp_path: Path) -> None:
    """A SIGKILLed ``mercato up`` leaves its owner file; once its pid is reused by any process with
    "mercato" in its command line (a client command, an editor on a log), the lock is still free and
    decides: the directory is claimed (a reviewer's start was refused "in use" with nobody holding it)."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "/tmp/mercato-notes.txt"])
    try:
        while b"mercato-notes" not in Path(f"/proc/{other.pid}/cmdline").read_bytes():  # exec'd
            time.sleep(0.01)
        (tmp_path / OWNER_FILE).write_text(Owner(mercato=other.pid).model_dump_json())

        directory = DataDir(tmp_path)
        directory.claim()

        assert Owner.model_validate_json((tmp_path / OWNER_FILE).read_text()).mercato == os.getpid()
        assert other.poll() is None  # and the process that reused the pid is left alone
        directory.release()
    finally:
        other.kill()
        other.wait()


def test_a_database_file_this_user_cannot_write_is_named_before_dynamodb_local_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB Local answered its first call on such a file with "an unknown error", which read like
    a damaged database (a reviewer's find, as root without the capability to override file modes)."""
    stored = tmp_path / "shared-local-instance.db"
    stored.write_bytes(b"")
    readable_only = {str(stored)}
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) not in readable_only or mode == os.R_OK)

    with pytest.raises(PermissionError) as refused:
        DataDir(tmp_path).claim()

    assert str(refused.value) == f"[Errno 13] this user cannot read and write it: '{stored}'"
