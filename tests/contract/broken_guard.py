"""Do the contract lanes notice a condition dropped from a DynamoDB adapter?

``python -m tests.contract.broken_guard NAME [NAME ...]`` takes mutants of ``tests/mutants.py`` by
(part of) their name, applies each to a scratch copy of the repository (its guard made always true),
runs ``tests/contract`` there on all three lanes, and prints per mutant how many cases failed on each
lane, e.g. ``intake: cancel remaining = :remaining: memory 0 failed, moto 1 failed, dynamodb-local 1
failed``. It exits 1 when a mutant fails no case on moto or on DynamoDB Local. The in-memory lane runs
its own code, so it is expected to pass.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.contract.conftest import LANES
from tests.mutants import MUTANTS, ROOT, Mutant

_FAILED = re.compile(r"^FAILED \S+\[(" + "|".join(map(re.escape, LANES)) + r")[\]-]", re.MULTILINE)


def failures_by_lane(mutant: Mutant) -> dict[str, int]:
    """Run the contract tests on a copy with ``mutant`` applied: failed cases per lane."""
    scratch = Path(tempfile.mkdtemp(prefix="mercato-broken-guard-"))
    try:
        for name in ("mercato", "tests"):
            shutil.copytree(ROOT / name, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
        (scratch / "node_modules").symlink_to(ROOT / "node_modules")  # DynamoDB Local's jar
        mutant.apply(scratch)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", "tests/contract"],
            cwd=scratch,
            env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin", "MERCATO_REQUIRE_TOOLS": "1"},
            capture_output=True,
            text=True,
        )
        failed = dict.fromkeys(LANES, 0)
        for lane in _FAILED.findall(result.stdout):
            failed[lane] += 1
        return failed
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if any(n in m.name for n in names)]
    if not chosen:
        print("name one or more mutants of tests/mutants.py", file=sys.stderr)
        return 2
    missed = 0
    for mutant in chosen:
        failed = failures_by_lane(mutant)
        print(f"{mutant.name}: " + ", ".join(f"{lane} {failed[lane]} failed" for lane in LANES), flush=True)
        missed += failed["moto"] == 0 or failed["dynamodb-local"] == 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
