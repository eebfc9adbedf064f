"""``mercato up --data DIR``: one process holds the directory at a time, decided by a lock the kernel
drops when the process ends."""

import subprocess
import sys
from pathlib import Path

import pytest

from mercato.local.state import DataDir, DataDirInUse


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
