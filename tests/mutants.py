"""``make mutants``: does every condition the storage adapters write earn its keep?

Each mutant makes one guard always true, ``(guard OR attribute_not_exists(mutant))`` (no item has an
attribute named ``mutant``), on a scratch copy of the repository, so the request still uses every
expression value it names and DynamoDB (or moto) accepts it. The tests that exercise the guard's
adapter then run against the copy; the mutant is killed when one of them fails.

A mutant that survives is explained only by :data:`REDUNDANT`: another guard that makes it
redundant, and a test that must fail when both are removed together; the script runs that pair and
counts the mutant explained only if the pair is killed. The last line is
``mutants: N, killed: K, survived: S`` (S: neither killed nor explained).

Run: ``make mutants`` (or ``python -m tests.mutants [NAME ...]`` for some of them).
"""

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
ALWAYS: Final = " OR attribute_not_exists(mutant)"
SETTLEMENT: Final = "mercato/matcher/dynamo_settlement.py"
MATCHER: Final = "mercato/matcher/dynamo.py"
INTAKE: Final = "mercato/intake/dynamo.py"
FEED: Final = "mercato/feed/dynamo.py"
MATCHER_TESTS: Final = ("tests/integration/test_guards.py", "tests/integration/test_review_findings.py")
INTAKE_TESTS: Final = (
    "tests/integration/test_guards.py",
    "tests/integration/test_intake_routes.py",
    "tests/integration/test_intake_concurrency.py",
)
FEED_TESTS: Final = ("tests/integration/test_guards.py", "tests/integration/test_feed.py")


def always(expression: str) -> str:
    """``expression`` made a tautology that still names every value it used."""
    return f"({expression}{ALWAYS})"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    """The condition's text in the source, exactly as written (inside its quotes)."""
    new: str
    occurrence: int = 0
    """Which occurrence of ``old`` in the file (0: the first)."""

    @property
    def tests(self) -> tuple[str, ...]:
        if self.path == INTAKE:
            return INTAKE_TESTS
        if self.path == FEED:
            return FEED_TESTS
        return MATCHER_TESTS

    def apply(self, root: Path) -> None:
        file = root / self.path
        text = file.read_text()
        start = -1
        for _ in range(self.occurrence + 1):
            start = text.find(self.old, start + 1)
            if start < 0:
                raise SystemExit(f"mutants: {self.name}: {self.old!r} is no longer in {self.path}")
        file.write_text(text[:start] + self.new + text[start + len(self.old) :])


def weakened(name: str, path: str, expression: str, occurrence: int = 0) -> Mutant:
    """The quoted condition ``expression`` made always true."""
    return Mutant(name, path, f'"{expression}"', f'"{always(expression)}"', occurrence)


NOT_EXISTS = "attribute_not_exists(sk)"
VERSION = "(version = :version OR (attribute_not_exists(version) AND :version = :zero))"
MUTANTS: Final = (
    weakened("settlement: goal event applied = :no", SETTLEMENT, "applied = :no"),
    weakened("settlement: trade attribute_not_exists", SETTLEMENT, NOT_EXISTS, 0),
    weakened("settlement: house quote book Put", SETTLEMENT, NOT_EXISTS, 1),
    weakened("settlement: book Delete remaining = :was", SETTLEMENT, "remaining = :was", 0),
    weakened("settlement: book Update remaining = :was", SETTLEMENT, "remaining = :was", 1),
    weakened("settlement: house quote order record Put", SETTLEMENT, NOT_EXISTS, 2),
    weakened("settlement: order record #status = :open", SETTLEMENT, "#status = :open"),
    weakened("settlement: balance reserved >= :release", SETTLEMENT, "reserved >= :release"),
    weakened("settlement: balance available >= :spend", SETTLEMENT, "available >= :spend"),
    Mutant(
        "settlement: market attribute_exists(material)",
        SETTLEMENT,
        '"attribute_exists(material) AND "',
        f'"{always("attribute_exists(material)")} AND "',
    ),
    Mutant("settlement: market version", SETTLEMENT, f'"{VERSION}"', f'"{always(VERSION)}"'),
    Mutant(
        "matcher: pending goals applied = :no",
        MATCHER,
        '"kind = :goal AND applied = :no"',
        f'"kind = :goal AND {always("applied = :no")}"',
    ),
    weakened("matcher: set_ticker attribute_exists(material)", MATCHER, "attribute_exists(material)"),
    Mutant(
        "intake: put-if-absent (markets, goal events)",
        INTAKE,
        'f"attribute_not_exists({key})"',
        'f"' + always("attribute_not_exists({key})") + '"',
    ),
    weakened("intake: order balance available >= :amount", INTAKE, "available >= :amount"),
    weakened("intake: footballer listing market Put", INTAKE, "attribute_not_exists(material)"),
    weakened("intake: footballer listing event Put", INTAKE, NOT_EXISTS, 0),
    weakened("intake: order book Put", INTAKE, NOT_EXISTS, 1),
    weakened("intake: order record Put", INTAKE, NOT_EXISTS, 2),
    weakened("intake: clientOrderId marker Put", INTAKE, NOT_EXISTS, 3),
    weakened("intake: cancel remaining = :remaining", INTAKE, "remaining = :remaining"),
    weakened("intake: cancel reserved >= :released", INTAKE, "reserved >= :released"),
    weakened("intake: cancel #status = :open", INTAKE, "#status = :open"),
    weakened("intake: withdrawal available >= :quantity", INTAKE, "available >= :quantity"),
    weakened("intake: movement record Put", INTAKE, NOT_EXISTS, 4),
    Mutant("feed: feedGoals", FEED, '(feedGoals = :was OR "', f'(feedGoals = :was{ALWAYS} OR "'),
    Mutant(
        "feed: market attribute_exists(material)",
        FEED,
        '"attribute_exists(material) AND (feedGoals',
        f'"{always("attribute_exists(material)")} AND (feedGoals',
    ),
)
"""Every condition the four adapters write, each made always true on its own."""

GUARDS: Final = "tests/integration/test_guards.py::"
VERSION_GUARD: Final = "settlement: market version"
DELETE_GUARD: Final = "settlement: book Delete remaining = :was"
UPDATE_GUARD: Final = "settlement: book Update remaining = :was"
STATUS_GUARD: Final = "settlement: order record #status = :open"
TRADE_GUARD: Final = "settlement: trade attribute_not_exists"
REMAINING_GUARD: Final = "intake: cancel remaining = :remaining"
WHOLE_MAKER: Final = (
    GUARDS + "test_a_second_matcher_filling_the_whole_maker_first_leaves_the_first_nothing_to_fill"
)
SAME_FILL: Final = GUARDS + "test_a_second_matcher_settling_the_same_fill_first_leaves_it_settled_once"
REDUNDANT: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    # A stale settlement (a second matcher committed in between) is refused by the market item's
    # version before any of its other conditions matter; removed together with the version, the
    # others still refuse it wherever the second writer touched the same items:
    DELETE_GUARD: ((VERSION_GUARD, STATUS_GUARD), WHOLE_MAKER + "[bob-reserves-more]"),
    STATUS_GUARD: ((VERSION_GUARD, DELETE_GUARD), WHOLE_MAKER + "[bob-reserves-more]"),
    "settlement: balance reserved >= :release": (
        (VERSION_GUARD, DELETE_GUARD, STATUS_GUARD),
        WHOLE_MAKER + "[bob-reserves-only-this]",
    ),
    UPDATE_GUARD: ((VERSION_GUARD, DELETE_GUARD, STATUS_GUARD, TRADE_GUARD), SAME_FILL),
    TRADE_GUARD: ((VERSION_GUARD, DELETE_GUARD, STATUS_GUARD, UPDATE_GUARD), SAME_FILL),
    # A cancel that read a stale remaining is refused by its remaining condition first:
    "intake: cancel reserved >= :released": (
        (REMAINING_GUARD,),
        GUARDS + "test_a_fill_landing_inside_a_cancel_of_the_only_order_releases_only_what_is_left",
    ),
    "intake: cancel #status = :open": (
        (REMAINING_GUARD,),
        GUARDS + "test_a_complete_fill_landing_inside_a_cancel_leaves_the_order_filled",
    ),
}
"""Mutant name -> (the guards that make it redundant, the test that must kill them together).
Reviewed: each survives alone because the listed guards refuse the same stale write first; the
script checks that removing them together is caught."""


def _scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="mercato-mutant-"))
    for name in ("mercato", "tests"):
        shutil.copytree(ROOT / name, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml",):
        shutil.copy(ROOT / name, scratch / name)
    return scratch


def killed(mutants: list[Mutant], tests: tuple[str, ...]) -> tuple[bool, str]:
    """Run ``tests`` against a copy with every mutant in ``mutants`` applied; whether one failed."""
    scratch = _scratch()
    try:
        for mutant in sorted(mutants, key=lambda m: -m.occurrence):  # later occurrences first
            mutant.apply(scratch)
        check = subprocess.run(
            [sys.executable, "-c", "import mercato, sys; print(mercato.__file__)"],
            cwd=scratch,
            env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        if not check.stdout.startswith(str(scratch)):
            raise SystemExit(f"mutants: the copy is not what runs ({check.stdout.strip()})")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests],
            cwd=scratch,
            env={
                "PYTHONPATH": str(scratch),
                "PATH": "/usr/bin:/bin",
                "HYPOTHESIS_STORAGE_DIRECTORY": str(scratch / ".hypothesis"),
            },
            capture_output=True,
            text=True,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
        return result.returncode != 0, (lines[0] if lines else result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def seeded_bug(name: str, sim_args: list[str]) -> int:
    """Run ``mercato sim`` on a copy with one mutant applied: does the simulation find it?"""
    mutant = next(m for m in MUTANTS if name in m.name)
    scratch = _scratch()
    try:
        mutant.apply(scratch)
        command = [sys.executable, "-m", "mercato.local.cli", "sim", *sim_args]
        print(f"{mutant.name} removed; {' '.join(['mercato', 'sim', *sim_args])}", flush=True)
        result = subprocess.run(
            command, cwd=scratch, env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin"}
        )
        return result.returncode
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if not names or any(n in m.name for n in names)]
    count = dead = survived = 0
    for mutant in chosen:
        started = time.monotonic()
        count += 1
        was_killed, why = killed([mutant], mutant.tests)
        took = time.monotonic() - started
        if was_killed:
            dead += 1
            print(f"killed    {mutant.name}  ({took:.0f} s)  {why}", flush=True)
            continue
        if mutant.name in REDUNDANT:
            partners, test = REDUNDANT[mutant.name]
            together = [mutant, *(m for m in MUTANTS if m.name in partners)]
            set_killed, why = killed(together, (test,))
            if set_killed:
                print(f"explained {mutant.name}: redundant given {', '.join(partners)}; together: {why}")
                continue
        survived += 1
        print(f"SURVIVED  {mutant.name}  ({took:.0f} s)", flush=True)
    print(f"mutants: {count}, killed: {dead}, survived: {survived}")
    return 1 if survived else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sim"]:
        sys.exit(seeded_bug(sys.argv[2], sys.argv[3:]))
    sys.exit(main(sys.argv[1:]))
