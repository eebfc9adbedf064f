"""Lambda code without Docker: dependencies pip-installed for Linux arm64 into a cached layer per
function, and Mercato's own source copied beside the handler.

pip is asked for exactly the packages a function imports (pinned by ``constraints.txt``) as
manylinux aarch64 CPython 3.11 wheels, so pydantic's compiled core is the Linux arm64 build. The
dependency directory is keyed by a hash of that request and kept under ``.cache/lambda-assets``:
the first synth downloads, later ones run offline.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "lambda-assets"
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.11"

FUNCTION_PACKAGES: dict[str, tuple[str, ...]] = {
    "intake": ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "pyjwt", "uuid6"),
    "matcher": ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "sortedcontainers", "uuid6"),
    "feed": ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "uuid6"),
    "leaderboard": ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "uuid6"),
}
"""What each function needs beyond the Lambda runtime (which has boto3)."""

SOURCE_EXCLUDES = ("local", "emulators", "testing", "bench", "__pycache__")
"""The embedded stack, the emulators, the test helpers and the benchmarks never ship to Lambda."""


def dependencies(function: str) -> Path:
    """The directory of ``function``'s dependencies for Lambda arm64, built once per pin set."""
    packages = FUNCTION_PACKAGES[function]
    constraints = (ROOT / "constraints.txt").read_text()
    key = hashlib.sha256("\n".join([PLATFORM, PYTHON_VERSION, *packages, constraints]).encode()).hexdigest()[
        :16
    ]
    target = CACHE / f"{function}-deps-{key}"
    if (target / ".complete").exists():
        return target
    # Built in a private folder and renamed into place: another process (a second test worker) may be
    # building or reading the same pin set at the same time.
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{function}-deps-", suffix=".building", dir=CACHE))
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--only-binary=:all:", "--target", str(building / "python"),
            "-c", str(ROOT / "constraints.txt"), *packages,
        ],
        check=True,
    )  # fmt: skip
    (building / ".complete").touch()
    try:
        building.rename(target)
    except OSError:  # built by another process first: theirs is the same
        shutil.rmtree(building, ignore_errors=True)
    return target


def source() -> Path:
    """Mercato's package as the functions import it, in a folder named by a hash of its files.

    A folder once built is never changed or removed while anything may read it: a synth's assets
    are read by the jsii runtime after the Python call that named them returned, and other
    processes (test workers) may synthesise at the same time. A new build goes to a private folder
    first and is renamed into place, so a reader sees a whole folder or none."""
    package = ROOT / "mercato"
    ignore = shutil.ignore_patterns(*SOURCE_EXCLUDES, "*.pyc")
    digest = hashlib.sha256()
    for path in sorted(_shipped(package, ignore)):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    target = CACHE / f"source-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="source-", suffix=".building", dir=CACHE))
    shutil.copytree(package, building / "mercato", ignore=ignore)
    try:
        building.rename(target)
    except OSError:  # another process built the same folder first: theirs is identical
        shutil.rmtree(building, ignore_errors=True)
    return target


def _shipped(folder: Path, ignore: Callable[[str, list[str]], set[str]]) -> Iterator[Path]:
    """Every file ``copytree`` with ``ignore`` copies from ``folder``."""
    names = sorted(os.listdir(folder))
    skipped = ignore(str(folder), names)
    for name in names:
        if name in skipped:
            continue
        path = folder / name
        if path.is_dir():
            yield from _shipped(path, ignore)
        else:
            yield path
