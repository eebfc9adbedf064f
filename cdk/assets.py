"""Lambda code without Docker: dependencies pip-installed for Linux arm64 into a cached layer per
function, and the part of Mercato's source the function imports beside the handler.

pip is asked for exactly the packages a function imports (pinned by ``constraints.txt``) as
manylinux aarch64 CPython 3.11 wheels, so pydantic's compiled core is the Linux arm64 build. The
dependency directory is keyed by a hash of that request and kept under ``.cache/lambda-assets``:
the first synth downloads, later ones run offline.

Mercato's own source ships as an allow-list per function (:data:`FUNCTION_SOURCES`): the embedded
stack, the emulators, the test helpers and the benchmarks are never in one, and a function does not
carry the others' code. ``tests/infrastructure`` imports each handler from its asset alone.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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

EVERY_FUNCTION: tuple[str, ...] = (
    "mercato/models",
    "mercato/storage/items.py",
    "mercato/storage/names.py",
    "mercato/storage/pages.py",
    "mercato/resources.py",
    "mercato/environment.py",
    "mercato/observability.py",
    "mercato/tracing.py",
)
"""What every function imports: the domain's values, the item codecs, its settings, logs and traces."""

FUNCTION_SOURCES: dict[str, tuple[str, ...]] = {
    "intake": (
        "mercato/intake",
        *EVERY_FUNCTION,
        "mercato/storage/errors.py",
        "mercato/leaderboard/dynamo.py",
        "mercato/leaderboard/ports.py",
        "mercato/leaderboard/ranking.py",
        "mercato/matcher/house.py",
        "mercato/pipes/wake.py",
    ),
    "matcher": ("mercato/matcher", *EVERY_FUNCTION, "mercato/storage/errors.py", "mercato/pipes/wake.py"),
    "feed": (
        "mercato/feed",
        *EVERY_FUNCTION,
        "mercato/storage/errors.py",
        "mercato/intake/dynamo.py",
        "mercato/intake/ports.py",
        "mercato/intake/service.py",
        "mercato/leaderboard/ports.py",
        "mercato/leaderboard/ranking.py",
        "mercato/matcher/house.py",
    ),
    "leaderboard": ("mercato/leaderboard", *EVERY_FUNCTION, "mercato/matcher/house.py"),
}
"""The packages (folders, with their data files) and modules of Mercato each function imports,
relative to the repository; the ``__init__.py`` of every package above an entry comes with it.
Table creation (``mercato/storage/tables.py``, for the local stack and the tests) is in none."""

NEVER_SHIPPED = ("mercato/local", "mercato/emulators", "mercato/testing", "mercato/bench", "mercato/memory")
"""The embedded stack, the AWS emulators, the test helpers, the benchmarks and the in-memory exchange
run only off Lambda: no allow-list may name them."""

SKIPPED = ("__pycache__", "*.pyc")


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


def source(function: str) -> Path:
    """``function``'s allow-listed part of Mercato, in a folder named by a hash of its files.

    A folder once built is never changed or removed while anything may read it: a synth's assets
    are read by the jsii runtime after the Python call that named them returned, and other
    processes (test workers) may synthesise at the same time. A new build goes to a private folder
    first and is renamed into place, so a reader sees a whole folder or none."""
    files = shipped_files(function)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + (ROOT / path).read_bytes() + b"\0")
    target = CACHE / f"source-{digest.hexdigest()[:16]}"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="source-", suffix=".building", dir=CACHE))
    for path in files:
        (building / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, building / path)
    try:
        building.rename(target)
    except OSError:  # another process built the same folder first: theirs is identical
        shutil.rmtree(building, ignore_errors=True)
    return target


def shipped_files(function: str) -> list[Path]:
    """Every file of ``function``'s allow-list, relative to the repository, sorted."""
    if function not in FUNCTION_SOURCES:
        raise ValueError(f"no source allow-list for function {function!r}: add it to FUNCTION_SOURCES")
    files: set[Path] = set()
    for entry in FUNCTION_SOURCES[function]:
        path = ROOT / entry
        if path.is_dir():
            files.update(file.relative_to(ROOT) for file in _tree(path))
        elif path.is_file():
            files.add(Path(entry))
        else:
            raise ValueError(f"{entry} in {function}'s allow-list does not exist")
        files.update(_package_markers(Path(entry)))
    if offside := sorted(str(file) for file in files if runs_off_lambda(file)):
        raise ValueError(f"{function}'s allow-list takes in code that runs only off Lambda: {offside}")
    return sorted(files)


def runs_off_lambda(path: Path) -> bool:
    """Whether ``path`` (relative to the repository) lies in a folder that never ships."""
    return any(path.is_relative_to(never) for never in NEVER_SHIPPED)


def _package_markers(entry: Path) -> Iterator[Path]:
    """The ``__init__.py`` of every package that holds ``entry``, from ``mercato`` down."""
    package = entry if (ROOT / entry).is_dir() else entry.parent
    for folder in reversed((package, *package.parents[:-1])):
        if (ROOT / folder / "__init__.py").is_file():
            yield folder / "__init__.py"


def _tree(folder: Path) -> Iterator[Path]:
    """Every file under ``folder`` but caches."""
    ignore = shutil.ignore_patterns(*SKIPPED)
    names = sorted(os.listdir(folder))
    skipped = ignore(str(folder), names)
    for name in names:
        if name in skipped:
            continue
        path = folder / name
        if path.is_dir():
            yield from _tree(path)
        else:
            yield path


def main() -> None:
    """``make install``'s step: fetch every function's dependencies into the cache now, so neither
    the template tests nor ``cdk synth`` download them. Offline, it says so and the install goes on
    (a synth then tries again)."""
    for function in FUNCTION_PACKAGES:
        try:
            print(f"{function}: {dependencies(function).relative_to(ROOT)}")
        except subprocess.CalledProcessError:
            print(f"{function}: its Lambda dependencies could not be fetched (no package index?)")


if __name__ == "__main__":
    main()
