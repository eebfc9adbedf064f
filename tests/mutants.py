"""``make mutants``: does every condition the storage adapters write earn its keep?

Each mutant makes one guard always true, ``(guard OR attribute_not_exists(mutant))`` (no item has an
attribute named ``mutant``), on a scratch copy of the repository, so the request still uses every
expression value it names and DynamoDB (or moto) accepts it. A mutant names its killers (pytest node
ids); they run first against the copy, with ``-x``. Only if they all pass do the tests of the guard's
adapter run (whole files); the mutant is killed when a test fails.

A mutant its killers miss is explained only by :data:`REDUNDANT`: another guard that makes it
redundant, and a test that must fail when both are removed together; the script runs that pair
(instead of the adapter's files) and counts the mutant explained only if the pair is killed. The last line is
``mutants: N, killed: K, survived: S`` (S: neither killed nor explained).

Every condition is found by its text (and, where the text repeats, by text just before it), never by
line number; :func:`unreviewed` fails when an adapter gains or loses a condition the list has not been
reviewed against, and ``tests/unit/test_mutants.py`` runs it in ``make test``.

Run: ``make mutants`` (or ``python -m tests.mutants [NAME ...]`` for some of them).
"""

import re
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
LIMITS: Final = "mercato/intake/dynamo_limits.py"
LEADERBOARD: Final = "mercato/leaderboard/dynamo.py"
UPGRADE: Final = "mercato/storage/upgrade.py"

REVIEWED: Final = {
    SETTLEMENT: 11,
    MATCHER: 1,
    INTAKE: 12,
    FEED: 1,
    LIMITS: 2,
    LEADERBOARD: 1,
    UPGRADE: 4,
}
"""How many ``ConditionExpression``s each adapter writes, as the mutant list was last reviewed
against (the folders of :data:`NOT_ADAPTERS` hold the local stack, its emulators and the
benchmarks, not adapters)."""

NOT_ADAPTERS: Final = ("mercato/local/", "mercato/emulators/", "mercato/testing/", "mercato/bench/")

GUARDS: Final = "tests/integration/test_guards.py"
BUCKETS: Final = "tests/contract/test_bucket_port.py"
UPGRADE_TESTS: Final = "tests/integration/test_table_upgrade.py"
MATCHER_TESTS: Final = (GUARDS, "tests/integration/test_review_findings.py")
INTAKE_TESTS: Final = (
    GUARDS,
    "tests/integration/test_intake_routes.py",
    "tests/integration/test_intake_concurrency.py",
)
ADAPTER_TESTS: Final = {
    SETTLEMENT: MATCHER_TESTS,
    MATCHER: MATCHER_TESTS,
    INTAKE: INTAKE_TESTS,
    FEED: (GUARDS, "tests/integration/test_feed.py"),
    LIMITS: (BUCKETS, "tests/integration/test_rate_limits.py"),
    LEADERBOARD: (GUARDS, "tests/integration/test_leaderboard.py"),
    UPGRADE: ("tests/integration/test_table_upgrade.py", "tests/integration/test_lost_wake_ups.py"),
}
"""The fallback: the files that exercise each adapter, run whole when a mutant's killers pass."""


def always(expression: str) -> str:
    """``expression`` made a tautology that still names every value it used."""
    return f"({expression}{ALWAYS})"


def guard(test: str) -> str:
    return f"{GUARDS}::{test}"


def bucket(test: str) -> str:
    return f"{BUCKETS}::{test}"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    """The condition's text in the source, exactly as written."""
    new: str
    after: str = ""
    """Where ``old`` repeats in the file: text that comes once in the file, before this ``old``."""
    killers: tuple[str, ...] = ()
    """The tests (node ids) that should fail on this mutant; run first, with ``-x``."""

    def locate(self, text: str) -> int:
        """Where the mutated text starts in ``text``; raises if it is missing or ambiguous."""
        start = 0
        if self.after:
            start = text.find(self.after)
            if start < 0 or text.find(self.after, start + 1) >= 0:
                raise LookupError(f"{self.name}: {self.after!r} is not once in {self.path}")
        found = text.find(self.old, start)
        if found < 0:
            raise LookupError(f"{self.name}: {self.old!r} is no longer in {self.path}")
        if not self.after and text.find(self.old, found + 1) >= 0:
            raise LookupError(f"{self.name}: {self.old!r} repeats in {self.path}; say what comes before it")
        return found

    def apply(self, root: Path) -> None:
        file = root / self.path
        text = file.read_text()
        start = self.locate(text)
        file.write_text(text[:start] + self.new + text[start + len(self.old) :])


def weakened(name: str, path: str, expression: str, *killers: str, after: str = "") -> Mutant:
    """The quoted condition ``expression`` made always true."""
    return Mutant(name, path, f'"{expression}"', f'"{always(expression)}"', after, killers)


NOT_EXISTS = "attribute_not_exists(sk)"
HOURS_VERSION = (
    '"(attribute_not_exists(version) AND :version = :zero) "\n' + 20 * " " + '"OR version = :version'
)
VERSION = "(version = :version OR (attribute_not_exists(version) AND :version = :zero))"
MUTANTS: Final = (
    weakened(
        "settlement: goal event applied = :no",
        SETTLEMENT,
        "applied = :no",
        guard("test_a_goal_already_applied_is_refused_even_to_a_writer_with_the_current_version"),
    ),
    weakened("settlement: trade Put", SETTLEMENT, NOT_EXISTS, after='"TableName": tables.trades'),
    weakened("settlement: fill record Put", SETTLEMENT, NOT_EXISTS, after="def _fill_action("),
    weakened("settlement: fill counter created", SETTLEMENT, "attribute_not_exists(fillSeq)"),
    weakened("settlement: fill counter fillSeq = :read", SETTLEMENT, "fillSeq = :read"),
    weakened(
        "settlement: house quote book Put",
        SETTLEMENT,
        NOT_EXISTS,
        guard("test_a_house_quote_whose_book_key_is_taken_is_refused"),
        after='{"origin": ORIGIN_HOUSE} if new.house',
    ),
    weakened(
        "settlement: book Delete remaining = :was",
        SETTLEMENT,
        "remaining = :was",
        guard("test_a_fill_from_the_current_version_taking_a_maker_whole_that_has_less_left_is_refused"),
        after='"Delete": {',
    ),
    weakened(
        "settlement: book Update remaining = :was",
        SETTLEMENT,
        "remaining = :was",
        guard("test_a_fill_from_the_current_version_for_more_than_the_maker_has_left_is_refused"),
        after='"UpdateExpression": "SET remaining = :left"',
    ),
    weakened(
        "settlement: house quote order record Put",
        SETTLEMENT,
        NOT_EXISTS,
        guard("test_a_house_quote_whose_order_record_exists_is_refused"),
        after='"Item": order_record_item(new.order)',
    ),
    weakened("settlement: order record #status = :open", SETTLEMENT, "#status = :open"),
    weakened("settlement: balance reserved >= :release", SETTLEMENT, "reserved >= :release"),
    weakened(
        "settlement: balance available >= :spend",
        SETTLEMENT,
        "available >= :spend",
        guard("test_a_house_quote_the_house_cannot_pay_for_is_refused"),
    ),
    Mutant(
        "settlement: market attribute_exists(material)",
        SETTLEMENT,
        '"attribute_exists(material) AND "',
        f'"{always("attribute_exists(material)")} AND "',
        killers=(guard("test_a_plan_for_a_market_that_does_not_exist_is_refused_and_creates_nothing"),),
    ),
    Mutant(
        "settlement: market version",
        SETTLEMENT,
        f'"{VERSION}"',
        f'"{always(VERSION)}"',
        killers=(
            "tests/integration/test_review_findings.py::test_a_second_writer_cannot_post_a_second_house_ladder",
        ),
    ),
    Mutant(
        "matcher: pending goals applied = :no",
        MATCHER,
        '"kind = :goal AND applied = :no"',
        f'"kind = :goal AND {always("applied = :no")}"',
        killers=(guard("test_a_goal_once_applied_is_no_longer_pending"),),
    ),
    weakened(
        "matcher: set_ticker version = :version",
        MATCHER,
        "version = :version",
        guard("test_the_ticker_is_never_written_for_a_market_that_does_not_exist"),
        guard("test_a_ticker_read_before_a_later_settlement_is_never_written_over_its_ticker"),
    ),
    Mutant(
        "intake: put-if-absent (commodity markets, goal events)",
        INTAKE,
        'f"attribute_not_exists({key})"',
        'f"' + always("attribute_not_exists({key})") + '"',
        killers=("tests/integration/test_intake_routes.py::test_listing_a_market_puts_it_in_the_catalog",),
    ),
    weakened(
        "intake: order balance available >= :amount",
        INTAKE,
        "available >= :amount",
        "tests/integration/test_intake_concurrency.py::"
        "test_twenty_concurrent_buys_accept_exactly_what_the_coins_cover",
    ),
    weakened(
        "intake: footballer listing market Put",
        INTAKE,
        "attribute_not_exists(material)",
        guard("test_a_footballer_listed_under_a_commodity_s_name_is_refused_and_changes_nothing"),
    ),
    weakened("intake: footballer listing event Put", INTAKE, NOT_EXISTS, after="listing_event_item("),
    weakened(
        "intake: order book Put",
        INTAKE,
        NOT_EXISTS,
        guard("test_an_order_id_drawn_twice_for_another_player_is_refused_by_the_book"),
        after="tracing.stamp(book_order_item(order))",
    ),
    weakened(
        "intake: order record Put",
        INTAKE,
        NOT_EXISTS,
        guard("test_an_order_id_drawn_twice_for_the_other_side_is_refused_by_the_record"),
        after='"Item": order_record_item(order)',
    ),
    weakened(
        "intake: clientOrderId marker Put",
        INTAKE,
        NOT_EXISTS,
        guard("test_a_resend_racing_the_first_send_of_a_client_order_id_stores_one_order"),
        after="CLIENT_PREFIX + order.client_order_id",
    ),
    weakened(
        "intake: cancel remaining = :remaining",
        INTAKE,
        "remaining = :remaining",
        guard("test_a_fill_landing_inside_a_cancel_releases_only_what_is_left"),
    ),
    weakened("intake: cancel reserved >= :released", INTAKE, "reserved >= :released"),
    weakened("intake: cancel #status = :open", INTAKE, "#status = :open"),
    weakened(
        "intake: withdrawal available >= :quantity",
        INTAKE,
        "available >= :quantity",
        "tests/integration/test_intake_errors.py::test_reserved_items_can_never_be_withdrawn",
    ),
    weakened(
        "intake: movement record Put",
        INTAKE,
        NOT_EXISTS,
        "tests/integration/test_intake_routes.py::test_a_deposit_credits_once_per_deposit_id",
        after='"Item": record,',
    ),
    Mutant(
        "feed: the source's count",
        FEED,
        "(#count = :was OR (",
        f"(#count = :was{ALWAYS} OR (",
        killers=(guard("test_a_stale_feed_count_is_refused_and_the_newer_count_kept"),),
    ),
    Mutant(
        "feed: the source's count absent",
        FEED,
        "OR (attribute_not_exists(#count) AND :was = :zero)",
        f"OR ({always('attribute_not_exists(#count)')} AND :was = :zero)",
        killers=(guard("test_a_sources_own_count_outranks_a_legacy_one"),),
    ),
    Mutant(
        "feed: carried on, the source's count absent",
        FEED,
        '"attribute_not_exists(#count) AND #legacy',
        f'"{always("attribute_not_exists(#count)")} AND #legacy',
        killers=(guard("test_a_sources_own_count_outranks_a_legacy_one"),),
    ),
    Mutant(
        "feed: carried on, the legacy count",
        FEED,
        'AND #legacy = :was"',
        f'AND #legacy = :was{ALWAYS}"',
        killers=(guard("test_a_stale_legacy_feed_count_is_refused"),),
    ),
    Mutant(
        "feed: market attribute_exists(material)",
        FEED,
        '"attribute_exists(material) AND (#count',
        f'"{always("attribute_exists(material)")} AND (#count',
        killers=(guard("test_the_feed_never_stores_a_count_for_a_market_that_does_not_exist"),),
    ),
    Mutant(
        "limits: advance tat >= :now",
        LIMITS,
        '"tat BETWEEN :now AND :latest AND ',
        '"(tat BETWEEN :now AND :latest OR tat <= :latest) AND ',
        killers=(bucket("test_an_idle_bucket_is_never_advanced_from_its_past"),),
    ),
    Mutant(
        "limits: advance tat <= :latest",
        LIMITS,
        '"tat BETWEEN :now AND :latest AND ',
        '"(tat BETWEEN :now AND :latest OR (tat >= :now AND attribute_not_exists(mutant))) AND ',
        killers=(bucket("test_a_spend_from_a_full_bucket_is_refused_and_changes_nothing"),),
    ),
    Mutant(
        "limits: advance since <= :now",
        LIMITS,
        "(attribute_not_exists(since) OR since <= :now)",
        always("attribute_not_exists(since) OR since <= :now"),
        killers=(bucket("test_a_clock_behind_the_last_writer_takes_from_a_long_busy_bucket"),),
    ),
    weakened(
        "limits: restart only an idle bucket",
        LIMITS,
        "attribute_not_exists(tat) OR NOT perSecond = :rate OR tat < :now",
        bucket("test_a_restart_of_a_busy_bucket_is_refused"),
    ),
    Mutant(
        "limits: restart a bucket kept at another rate",
        LIMITS,
        " OR NOT perSecond = :rate OR",
        " OR (NOT perSecond = :rate AND attribute_exists(mutant)) OR",
        killers=(bucket("test_a_bucket_kept_at_another_rate_is_counted_afresh"),),
    ),
    weakened(
        "leaderboard: pointer flip version < :version",
        LEADERBOARD,
        "attribute_not_exists(pk) OR version < :version",
        guard("test_a_board_pointer_never_flips_back_to_an_older_version"),
    ),
    weakened(
        "upgrade: a fill record moves only where the fills table lacks it",
        UPGRADE,
        NOT_EXISTS,
        f"{UPGRADE_TESTS}::test_fills_the_matcher_numbered_before_the_upgrade_are_never_overwritten",
        f"{UPGRADE_TESTS}::test_a_player_the_new_matcher_numbered_before_the_upgrade_keeps_trading_after_it",
    ),
    weakened(
        "upgrade: a fill counter moves only as read",
        UPGRADE,
        "fillSeq = :seq",
        f"{UPGRADE_TESTS}::test_a_counter_raised_while_it_moves_is_not_moved_stale",
    ),
    weakened(
        "upgrade: a due key is given only to a book item still there",
        UPGRADE,
        "attribute_exists(sk)",
        "tests/integration/test_lost_wake_ups.py::test_the_upgrade_does_not_write_back_an_order_settled_after_its_scan",
    ),
    Mutant(
        "upgrade: rebuilt hours written only at the market's version as read",
        UPGRADE,
        HOURS_VERSION + '"',
        HOURS_VERSION + ALWAYS + '"',
        killers=(
            f"{UPGRADE_TESTS}::test_a_market_this_version_settles_before_its_hours_are_rebuilt_gets_the_hours_"
            "of_all_its_trades",
        ),
    ),
)
"""Every condition the adapters write, each made always true on its own."""

DELETE_GUARD: Final = "settlement: book Delete remaining = :was"
UPDATE_GUARD: Final = "settlement: book Update remaining = :was"
STATUS_GUARD: Final = "settlement: order record #status = :open"
TRADE_GUARD: Final = "settlement: trade Put"
FILL_RECORD_GUARD: Final = "settlement: fill record Put"
COUNTER_GUARDS: Final = ("settlement: fill counter created", "settlement: fill counter fillSeq = :read")
REMAINING_GUARD: Final = "intake: cancel remaining = :remaining"
LISTING_MARKET_GUARD: Final = "intake: footballer listing market Put"
MOVEMENT_GUARD: Final = "intake: movement record Put"
FILLED_MAKER: Final = guard("test_a_fill_from_the_current_version_of_a_maker_already_filled_is_refused")
TWO_MARKETS: Final = guard("test_two_matchers_filling_one_player_in_two_markets_keep_each_fill_record")
"""Parametrised: ``[first-fills]`` meets the counter's creation, ``[after-one-fill]`` its update."""
REDUNDANT: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    # The settlement tests are plans from a writer holding the market's current version and the
    # players' current fill counters (a second matcher that read after the other committed, or a
    # version guard gone wrong), with a stale view of the book; the version guard is not involved.
    # An order's record closes only when its book item goes, so a plan touching a closed order
    # meets a book item that is missing or changed, and the book's conditions refuse it first:
    STATUS_GUARD: ((DELETE_GUARD, UPDATE_GUARD), FILLED_MAKER + "[bob-reserves-more]"),
    # Escrow equals the open book: a release larger than the reservation is a release for an order
    # (or a remainder) the book no longer holds, refused by the book's and the record's conditions:
    "settlement: balance reserved >= :release": (
        (DELETE_GUARD, STATUS_GUARD),
        FILLED_MAKER + "[bob-reserves-only-this]",
    ),
    # Two orders trade at most once (the trade id names the pair): a fill settled again meets its
    # taker's and its maker's book items changed or gone first:
    TRADE_GUARD: (
        (UPDATE_GUARD, DELETE_GUARD, STATUS_GUARD),
        guard("test_a_fill_already_settled_is_refused_to_a_writer_with_the_current_version"),
    ),
    # A player's fill counter and fill records are written together: a writer that read a stale
    # counter writes a fill record the other writer already wrote, so each guard refuses what the
    # other would (across markets too, where the market versions do not meet):
    FILL_RECORD_GUARD: (COUNTER_GUARDS, TWO_MARKETS),
    COUNTER_GUARDS[0]: ((FILL_RECORD_GUARD,), TWO_MARKETS + "[first-fills]"),
    COUNTER_GUARDS[1]: ((FILL_RECORD_GUARD,), TWO_MARKETS + "[after-one-fill]"),
    # A cancel that read a stale remaining is refused by its remaining condition first:
    "intake: cancel reserved >= :released": (
        (REMAINING_GUARD,),
        guard("test_a_fill_landing_inside_a_cancel_of_the_only_order_releases_only_what_is_left"),
    ),
    "intake: cancel #status = :open": (
        (REMAINING_GUARD,),
        guard("test_a_complete_fill_landing_inside_a_cancel_leaves_the_order_filled"),
    ),
    # The listing event is written only with its market item, in one transaction, and neither is
    # ever deleted: the market item exists wherever the event does. Listing the footballer again
    # is refused by the market item (and by the house's endowment records):
    "intake: footballer listing event Put": (
        (LISTING_MARKET_GUARD, MOVEMENT_GUARD),
        guard("test_listing_a_footballer_again_changes_nothing"),
    ),
}
"""Mutant name -> (the guards that make it redundant, the test that must kill them together).
Reviewed: each survives alone because the listed guards refuse the same stale write first; the
script checks that removing them together is caught."""


def unreviewed(root: Path = ROOT) -> list[str]:
    """The adapters whose conditions differ from what the mutant list was reviewed against, and the
    mutants that no longer find their condition."""
    found = {}
    for file in sorted((root / "mercato").rglob("*.py")):
        path = file.relative_to(root).as_posix()
        count = len(re.findall(r"(?<![A-Za-z])ConditionExpression", file.read_text()))
        if count and not path.startswith(NOT_ADAPTERS):
            found[path] = count
    problems = [
        f"{path}: {found.get(path, 0)} conditions, reviewed against {REVIEWED.get(path, 0)}"
        for path in sorted(found.keys() | REVIEWED.keys())
        if found.get(path, 0) != REVIEWED.get(path, 0)
    ]
    for mutant in MUTANTS:
        try:
            mutant.locate((root / mutant.path).read_text())
        except (LookupError, FileNotFoundError) as error:
            problems.append(str(error))
    return problems


def _scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="mercato-mutant-"))
    for name in ("mercato", "tests"):
        shutil.copytree(ROOT / name, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml",):
        shutil.copy(ROOT / name, scratch / name)
    return scratch


def killed(mutants: list[Mutant], tests: tuple[str, ...]) -> tuple[bool, str]:
    """Run ``tests`` against a copy with every mutant in ``mutants`` applied; whether one failed,
    and the first failure (or pytest's last line)."""
    scratch = _scratch()
    try:
        for mutant in mutants:
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
            [
                sys.executable,
                "-m",
                "pytest",
                "-x",
                "-q",
                "--tb=line",
                "-p",
                "no:cacheprovider",
                "-m",
                "not slow",
                *tests,
            ],
            cwd=scratch,
            env={
                "PYTHONPATH": str(scratch),
                "PATH": "/usr/bin:/bin",
                "HYPOTHESIS_STORAGE_DIRECTORY": str(scratch / ".hypothesis"),
            },
            capture_output=True,
            text=True,
        )
        if result.returncode not in (0, 1):  # 1: tests failed; anything else: pytest could not run them
            raise SystemExit(f"mutants: pytest exited {result.returncode}:\n{result.stdout}{result.stderr}")
        out = result.stdout.splitlines()
        failed = [line.removeprefix("FAILED ").split(" - ")[0] for line in out if line.startswith("FAILED")]
        errors = [line.removeprefix("E").strip() for line in out if line.startswith("E ")]
        if failed:
            return True, f"`{failed[0]}` ({errors[0][:70] if errors else 'failed'})"
        return result.returncode != 0, out[-1] if out else "no output"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def verdict(mutant: Mutant) -> tuple[str, str]:
    """(``killed`` / ``explained`` / ``SURVIVED``, by what). A reviewed redundant mutant goes from
    its killers (if any) straight to its pair; any other from its killers to its adapter's files."""
    if mutant.killers:
        was_killed, why = killed([mutant], mutant.killers)
        if was_killed:
            return "killed", why
    if mutant.name in REDUNDANT:
        partners, test = REDUNDANT[mutant.name]
        together = [mutant, *(m for m in MUTANTS if m.name in partners)]
        set_killed, why = killed(together, (test,))
        if set_killed:
            return "explained", f"redundant given {', '.join(partners)}; together killed by {why}"
        return "SURVIVED", f"with {', '.join(partners)} too, `{test}` still passes"
    was_killed, why = killed([mutant], ADAPTER_TESTS[mutant.path])
    if was_killed:
        return "killed", f"{why}, not a named killer: found in the adapter's files"
    return "SURVIVED", why


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
    problems = unreviewed()
    if problems:
        print("mutants: the list needs review:\n  " + "\n  ".join(problems))
        return 2
    chosen = [m for m in MUTANTS if not names or any(n in m.name for n in names)]
    counts = {"killed": 0, "explained": 0, "SURVIVED": 0}
    began = time.monotonic()
    print("| mutant | result | by | seconds |\n|---|---|---|---|", flush=True)
    for mutant in chosen:
        started = time.monotonic()
        result, by = verdict(mutant)
        counts[result] += 1
        print(f"| {mutant.name} | {result} | {by} | {time.monotonic() - started:.0f} |", flush=True)
    print(f"({counts['explained']} explained; {time.monotonic() - began:.0f} s in all)")
    print(f"mutants: {len(chosen)}, killed: {counts['killed']}, survived: {counts['SURVIVED']}")
    return 1 if counts["SURVIVED"] else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sim"]:
        sys.exit(seeded_bug(sys.argv[2], sys.argv[3:]))
    sys.exit(main(sys.argv[1:]))
