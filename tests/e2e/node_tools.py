"""What the Node-driven tests need: node, the pinned packages in ts/ (``make install``), and chromium.

A missing tool skips the test with the reason, except where ``MERCATO_REQUIRE_TOOLS=1`` (CI sets it),
where it fails: there the tests must run.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "ts"
ARTIFACTS = ROOT / "artifacts"


def missing(reason: str) -> NoReturn:
    if os.environ.get("MERCATO_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (MERCATO_REQUIRE_TOOLS=1)")
    pytest.skip(reason)


def node() -> str:
    found = shutil.which("node")
    if found is None:
        missing("node is not installed")
    if not (TS / "node_modules" / ".installed").exists():
        missing("ts/node_modules is not installed (make install runs npm ci in ts/)")
    return found


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        missing("chromium is not installed (make install installs Debian's chromium where it can)")
    return found


def run_json(command: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run a Node script that prints one JSON object as its last line; its output on failure."""
    done = subprocess.run(
        command, cwd=TS, env=os.environ | env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"{command[1]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, output
    lines = done.stdout.strip().splitlines()
    assert lines, output
    result: dict[str, Any] = json.loads(lines[-1])
    return result
