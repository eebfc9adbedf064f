"""`mercato up` as a separate process, the way a developer runs it beside a game."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def mercato_up(secret: str, *args: str) -> Iterator[tuple["subprocess.Popen[str]", str]]:
    """Start `mercato up --port 0 ARGS`, yield the process and its URL once it serves, and stop it
    with Ctrl-C (SIGINT) on the way out; what it printed stays readable on the process's pipes."""
    env = dict(os.environ, MERCATO_AUTH_SECRET=secret)
    command = [sys.executable, "-m", "mercato.local.cli", "up", "--port", "0", *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        try:
            line = process.stdout.readline()
            assert line.startswith("Mercato is up at http://127.0.0.1:"), line
            yield process, line.split()[4]
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
