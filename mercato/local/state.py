"""Where ``mercato up --data DIR`` keeps what must survive a restart, and what a restart re-drives.

The directory holds DynamoDB Local's database (every table, written by DynamoDB Local with
``-dbPath``), the pipe's checkpoint on the book table's stream (``pipe-checkpoint.json``), the
owner file (``mercato.pid``: which ``mercato`` uses the directory and its DynamoDB Local) and the
lock file (``mercato.lock``, locked by the ``mercato`` using the directory).

What is lost when the process dies, and how a restart makes up for it:

- Kinesis (moto, in memory) and the mapping's position in it: a record forwarded by the pipe but
  not yet settled is gone. A record is only a wake-up (DESIGN §1), so the restart settles every
  listed material once before it accepts requests: open orders cross, IOC and FOK orders that never
  met the matcher are cancelled, pending goals and listings are applied. Settlement is idempotent.
- The pipe's place in the stream: the checkpoint file, written after each batch Kinesis accepted.
  The restart resumes after it; records between the checkpoint and the kill are forwarded again
  (at least once, as Pipes delivers), which is harmless.
- DynamoDB Local itself is a child in its own session, started through ``setpriv --pdeathsig TERM``
  on Linux, so it gets SIGTERM when a killed ``mercato`` dies (``kill -9`` included). Where that is
  not available it keeps running; the restart finds it through the owner file and stops it before
  starting its own.
"""

import errno
import fcntl
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mercato.matcher.service import Matcher
from mercato.models.orders import TimeInForce
from mercato.storage.errors import unavailable
from mercato.storage.items import KIND_ORDER, plain
from mercato.storage.names import TableNames
from mercato.storage.pages import items

CHECKPOINT_FILE = "pipe-checkpoint.json"
OWNER_FILE = "mercato.pid"
LOCK_FILE = "mercato.lock"
STOP_WAIT_SECONDS = 10.0


class DataDirInUse(RuntimeError):
    """Another running ``mercato`` owns the directory."""


class Owner(BaseModel):
    mercato: int
    dynamodb_local: int | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_line(pid: int) -> str:
    """The process's command line where ``/proc`` shows it, else an empty string."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL if it is still there after a while."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


@dataclass(frozen=True)
class DataDir:
    path: Path
    _lock: list[int] = field(default_factory=list, compare=False, repr=False)
    """The open lock file while this process holds the directory (the lock ends with the process)."""

    @property
    def _owner_file(self) -> Path:
        return self.path / OWNER_FILE

    @property
    def _checkpoint_file(self) -> Path:
        return self.path / CHECKPOINT_FILE

    def claim(self) -> None:
        """Make the directory this process's: refuse if a live ``mercato`` holds its lock, and stop
        the DynamoDB Local a killed one left behind."""
        self.path.mkdir(parents=True, exist_ok=True)
        # DynamoDB Local answers a database file it cannot write with an "unknown error" on its first
        # call, which reads like a damaged file (a reviewer's find): name the file instead
        for stored in sorted(self.path.glob("*.db")):
            if not os.access(stored, os.R_OK | os.W_OK):
                raise PermissionError(errno.EACCES, "this user cannot read and write it", str(stored))
        # an exclusive lock held for the process's life decides between two started at once (the
        # owner file alone let both read it before either wrote it); the kernel drops it when the
        # process ends, killed or not
        lock = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            holder = self._read_owner()
            raise DataDirInUse(
                f"{self.path} is in use by mercato" + (f" (pid {holder.mercato})" if holder else "")
            ) from None
        self._lock.append(lock)
        # with the lock held, an owner file left behind names a mercato that is gone (its pid may be
        # another process's by now): it only says which DynamoDB Local to stop
        previous = self._read_owner()
        if previous is not None and previous.mercato != os.getpid():
            left = previous.dynamodb_local
            if left is not None and _alive(left) and self._serves_here(_command_line(left)):
                _stop(left)
        self._write_owner(Owner(mercato=os.getpid()))

    def _serves_here(self, command_line: str) -> bool:
        """Whether a process is a DynamoDB Local on this directory (a recorded pid reused since,
        by another directory's DynamoDB Local or anything else, is left alone)."""
        return "DynamoDBLocal" in command_line and f"-dbPath {self.path.resolve()} " in f"{command_line} "

    def owned_by(self, dynamodb_local_pid: int) -> None:
        """Record the DynamoDB Local this process started on the directory."""
        self._write_owner(Owner(mercato=os.getpid(), dynamodb_local=dynamodb_local_pid))

    def release(self) -> None:
        """A clean stop: nothing is left running, so nothing needs stopping next time."""
        previous = self._read_owner()
        if previous is not None and previous.mercato == os.getpid():
            self._owner_file.unlink(missing_ok=True)
        while self._lock:
            os.close(self._lock.pop())

    def _read_owner(self) -> Owner | None:
        try:
            return Owner.model_validate_json(self._owner_file.read_text())
        except (OSError, ValueError):
            return None

    def _write_owner(self, owner: Owner) -> None:
        _write_atomically(self._owner_file, owner.model_dump_json())

    def checkpoints(self) -> dict[str, str]:
        """The pipe's checkpoint per shard of the book table's stream (empty on a first start)."""
        try:
            loaded: Any = json.loads(self._checkpoint_file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {str(shard): str(sequence) for shard, sequence in loaded.items()}

    def save_checkpoints(self, checkpoints: dict[str, str]) -> None:
        _write_atomically(self._checkpoint_file, json.dumps(checkpoints, sort_keys=True))


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file and rename it over ``path``: a kill leaves the old or the new."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@dataclass(frozen=True)
class Redrive:
    """What a restart hands the matcher: every listed material, and per material the book keys of
    IOC and FOK orders still resting (they never met the matcher, so they must be cancelled)."""

    materials: list[str]
    hints: dict[str, list[str]]
    failed: list[str] = field(default_factory=list)
    """Filled by :func:`settle_everything`: the materials whose settlement failed, for the caller to
    settle again (a restart's re-drive is the only wake-up a market whose records were lost gets)."""


def settle_everything(matcher: Matcher, redrive: Redrive) -> int:
    """Settle every material of ``redrive`` once, as a wake-up for each would (a restart's re-drive,
    a sweep, or the house's first ladders at start); how many fills that made. Each material is its
    own wake-up, as each is its own record on AWS: one that fails is logged with its traceback and the
    others still settle (a reviewer saw one failing market stop every sweep of the markets after it;
    raising it afterwards, another saw one market keep ``mercato up --data`` from ever starting on
    its directory again). The failed ones are listed in ``redrive.failed``: the embedded stack's sweep
    settles them again, with their hints, until they succeed. Storage out of reach ends them all at
    once (nothing would settle), listing the one it met and those not tried as failed (they were
    dropped from the retries: a reviewer's find)."""
    fills = 0
    for n, material in enumerate(redrive.materials):
        try:
            fills += matcher.settle(material, redrive.hints.get(material, ())).fills
        except Exception as error:
            if unavailable(error):  # this one and those not tried yet are still to settle
                redrive.failed.extend(redrive.materials[n:])
                raise
            logging.getLogger("mercato.matcher").exception("settling %s failed; the others go on", material)
            redrive.failed.append(material)
    return fills


def redrive_of(dynamodb: Any, tables: TableNames) -> Redrive:
    """Read the markets and the book tables for what a restart must settle."""
    materials = sorted(
        str(item["material"])
        for item in items(dynamodb.scan, TableName=tables.markets, ProjectionExpression="material")
    )
    hints: dict[str, list[str]] = {}
    for raw in items(dynamodb.scan, TableName=tables.book, ConsistentRead=True):
        item = plain(raw)
        if item.get("kind") == KIND_ORDER and item.get("timeInForce") in (TimeInForce.IOC, TimeInForce.FOK):
            hints.setdefault(item["material"], []).append(item["sk"])
    return Redrive(materials, hints)
