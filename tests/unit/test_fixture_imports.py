"""The pytest fixture's default engine (in memory) is what a game's test suite starts most often, so
its start-up is kept lean: loading the plugin and running a stack on it never imports boto3, moto
or s3transfer (a tenth of a second and more of every game's test run, for clients it never makes).
Checked in a fresh interpreter, where nothing else has imported them first."""

import subprocess
import sys

PROGRAM = """
import sys
import mercato.local.testing
from mercato.local.stack import EmbeddedStack

with EmbeddedStack(engine="memory") as stack:
    admin = stack.client("game-server", admin=True)
    admin.deposit("alice", "coins", 1_000, "grant-1")
    stack.client("alice").place("Buy", "wheat", 1, 20)
    stack.drain()
    assert stack.client("alice").balances()["balances"]["coins"]["reserved"] == 20
print("imported:", *sorted({name.split(".")[0] for name in sys.modules} & {"boto3", "moto", "s3transfer"}))
"""


def test_a_stack_on_the_memory_engine_never_imports_boto3_or_moto() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = [line for line in result.stdout.splitlines() if line.startswith("imported:")]  # logs too
    assert imported == ["imported:"]
