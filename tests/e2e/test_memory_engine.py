"""The embedded stack on its in-memory engine (``engine="memory"``, ``mercato up --engine memory``,
the fixture's default): the same API as on moto, the background pump settling without ``drain()``,
the leaderboard, the rate limits and the goal replay on the memory stores."""

import logging
import secrets
import time
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from mercato.intake.auth import Scope, issue_token
from mercato.intake.limits import Bucket, LimitSettings
from mercato.local import stack as stack_module
from mercato.local.client import ApiError, Client
from mercato.local.memory_stack import MemoryEngine
from mercato.local.stack import EmbeddedStack
from tests.e2e.up import mercato_up

SECRET = "a-memory-engine-secret-that-is-long-enough"


def _eventually(check: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not callable(check) or not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


def _bob_sells_alice_wheat(stack: EmbeddedStack) -> None:
    """Fund bob with 10 wheat and alice with 1,000 coins, cross 10 at 20, and wait until it settles
    (bob is paid 196: 200 less the fee)."""
    admin = stack.client("game-server", admin=True)
    admin.deposit("bob", "wheat", 10, "grant-1")
    admin.deposit("alice", "coins", 1_000, "grant-2")
    stack.client("bob").place("Sell", "wheat", 10, 20)
    stack.client("alice").place("Buy", "wheat", 10, 20)
    _eventually(lambda: stack.client("bob").balances()["balances"].get("coins", {}).get("available") == 196)


def test_orders_settle_in_the_background_and_the_leaderboard_ranks_the_players() -> None:
    with EmbeddedStack(engine="memory", leaderboard_seconds=0) as stack:
        # Given the house quoting at start, and two funded players
        assert stack.storage == "memory"
        book = stack.client("anyone").book("kylian-mbappe")
        assert book["bids"]
        assert book["asks"]

        # When bob sells alice 10 wheat at 20, with nobody calling drain()
        _bob_sells_alice_wheat(stack)

        # Then the pump settles it, the fills are the players' own, and the rollup ranks them
        assert [fill["quantity"] for fill in stack.client("alice").fills()["fills"]] == [10]
        stack.rollup()
        board = stack.client("anyone").request("GET", "/leaderboard")["standings"]
        # alice: 800 coins and 10 wheat marked at the last price (20); bob: 196 (he paid the fee of 4)
        assert [(row["playerId"], row["value"]) for row in board] == [("alice", 1_000), ("bob", 196)]
        assert stack.client("bob").request("GET", "/accounts/me")["ranks"]["all"]["rank"] == 2


def test_a_burst_beyond_the_bucket_answers_429_with_retry_after() -> None:
    limits = LimitSettings(table="local", orders=Bucket(capacity=2, per_second=1))
    with EmbeddedStack(engine="memory", catalog=False, rate_limits=limits, leaderboard_seconds=0) as stack:
        alice = stack.client("alice")
        for _ in range(2):
            with pytest.raises(ApiError) as unfunded:
                alice.place("Buy", "wheat", 1, 10)
            assert unfunded.value.code != "rate_limited"

        with pytest.raises(ApiError) as refused:
            alice.place("Buy", "wheat", 1, 10)

        assert (refused.value.status, refused.value.code) == (429, "rate_limited")


def test_the_goal_replay_posts_every_goal_of_the_final_on_the_memory_stores() -> None:
    with EmbeddedStack(engine="memory", replay_speed=600, leaderboard_seconds=0) as stack:
        stack.finish_replay()
        stack.drain()

        mbappe = stack.client("anyone").market("kylian-mbappe")

        assert mbappe["goals"] == 3
        assert stack.feed is not None
        assert stack.feed.poll().posted == []  # nothing posted twice


def test_mercato_up_on_the_memory_engine_serves_and_settles() -> None:
    with mercato_up(SECRET, "--engine", "memory", "--replay-speed", "0") as (process, url):
        assert process.stdout is not None
        assert "the in-memory exchange" in process.stdout.readline()
        admin = Client(url, issue_token(SECRET, "game-server", Scope.ADMIN))
        admin.deposit("bob", "wheat", 5, "g-1")
        admin.deposit("alice", "coins", 500, "g-2")
        bob, alice = (Client(url, issue_token(SECRET, player, Scope.TRADE)) for player in ("bob", "alice"))
        bob.place("Sell", "wheat", 5, 30)
        alice.place("Buy", "wheat", 5, 30)

        _eventually(lambda: alice.balances()["balances"].get("wheat", {}).get("available") == 5)


def test_a_batch_the_matcher_fails_stays_queued_and_settles_on_a_later_pump() -> None:
    with EmbeddedStack(engine="memory", leaderboard_seconds=0) as stack:
        # Given a mapping whose next hand-over fails whole (as a crashed Lambda invocation does)
        assert stack.memory is not None
        mapping = stack.memory.mapping
        handler, calls = mapping.handler, []

        def crashes_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
            calls.append(len(event["Records"]))
            if len(calls) == 1:
                raise RuntimeError("an injected crash")
            return handler(event, context)

        mapping.handler = crashes_once

        # When two orders cross
        _bob_sells_alice_wheat(stack)

        # Then the background pump survived the crash, and a later hand-over settled them
        assert len(calls) >= 2


def test_a_pump_that_fails_keeps_running_and_settles_what_arrives_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack_module, "FAILED_PUMP_PAUSE_SECONDS", 0.05)
    # no sweep: it would settle the crossed book itself while the pump waits out its pause
    with EmbeddedStack(engine="memory", leaderboard_seconds=0, sweep_seconds=0) as stack:
        # Given a pipeline whose next two pumps fail outright (on moto or DynamoDB Local: a poll of
        # the stream or a put to Kinesis that errs, which the pipe re-raises to be read again)
        assert stack.memory is not None
        pump, failures = stack.memory.pump, list[bool]()

        def fails_twice(fetch: bool = True) -> bool:
            if len(failures) < 2:
                failures.append(fetch)
                raise RuntimeError("an injected pump failure")
            return pump(fetch)

        monkeypatch.setattr(stack.memory, "pump", fails_twice)

        # When two orders cross, with nobody calling drain()
        _bob_sells_alice_wheat(stack)

        # Then the background pump outlived both failures and settled them
        assert len(failures) == 2


def test_a_running_stack_refuses_a_second_start() -> None:
    """``with mercato as again:`` inside a test once started a second, empty exchange on another
    port and left the first one's server running (a reviewer's find)."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0) as stack:
        url = stack.url

        with pytest.raises(RuntimeError, match="started already"), stack:
            pass

        assert stack.url == url
        assert stack.client("anyone").markets() == []


@pytest.mark.parametrize("engine", ["memory", "moto"])
def test_a_good_till_date_order_in_a_quiet_market_expires_on_its_own(engine: Any) -> None:
    """The stack's sweep (every ``sweep_seconds``, as the deployed schedule every minute) settles a
    market where an order has come due: bob's GTD sell is expired, its wheat released and the book
    emptied with no other order in wheat (a reviewer's sell stayed open and reserved until one came)."""
    prefix = f"gtd-{secrets.token_hex(4)}"  # moto's tables are the process's: a prefix of its own
    with EmbeddedStack(
        engine=engine, catalog=False, leaderboard_seconds=0, sweep_seconds=0.1, prefix=prefix
    ) as stack:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat"})
        admin.deposit("bob", "wheat", 10, "grant-1")
        bob = stack.client("bob")
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        order_id = bob.place("Sell", "wheat", 3, 20, expiresAt=expires)["orderId"]
        stack.drain()
        assert bob.order(order_id)["status"] == "open"

        _eventually(lambda: bob.order(order_id)["status"] == "expired", seconds=15)

        assert bob.balances()["balances"]["wheat"] == {"available": 10, "reserved": 0}
        assert bob.book("wheat")["asks"] == []
        assert stack.sweep() == [], "nothing is due any more"


def test_the_fixture_prints_as_its_engine_and_url_in_a_failing_test() -> None:
    """pytest prints the fixture's repr beside a failing assertion: it raised AttributeError for the
    moto server a memory stack never starts (a reviewer's find)."""
    stack = EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0)
    assert repr(stack) == "EmbeddedStack(engine='memory', not started)"
    with stack:
        assert repr(stack) == f"EmbeddedStack(engine='memory', url={stack.url!r})"


class _Looks:
    """The matcher store, counting what the sweep asks it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.asked: dict[str, int] = {"due_materials": 0, "best_price": 0, "pending_goals": 0}

    def __getattr__(self, name: str) -> Any:
        if name in self.asked:
            self.asked[name] += 1
        return getattr(self.store, name)


@pytest.mark.parametrize(("full_every", "full_looks"), [(3600.0, False), (0.0, True)])
def test_the_background_sweep_looks_past_due_orders_only_every_full_sweep(
    full_every: float, full_looks: bool
) -> None:
    """Between full looks the background sweep asks for due orders only, in one look at the by-expiry
    index (:meth:`due_materials`), not four queries a market: a
    reviewer measured an idle ``--data`` stack at 14 % of a core, nearly all of it four queries a
    market every 5 s. Crossed books and pending goals (what only a lost wake-up leaves) are looked
    for every ``full_sweep_seconds``, as the deployed schedule does every minute."""
    with EmbeddedStack(
        engine="memory",
        catalog=False,
        leaderboard_seconds=0,
        sweep_seconds=0.02,
        full_sweep_seconds=full_every,
    ) as stack:
        stack.client("game-server", admin=True).list_market(
            {"material": "wheat", "kind": "commodity", "name": "Wheat"}
        )
        looks = _Looks(stack._lane.matcher.store)
        stack._lane.matcher.store = looks

        _eventually(lambda: looks.asked["due_materials"] + looks.asked["best_price"] >= 5, seconds=10)

        assert (looks.asked["best_price"] > 0) is full_looks
        assert (looks.asked["pending_goals"] > 0) is full_looks
        assert (looks.asked["due_materials"] > 0) is not full_looks


def test_a_failing_pump_logs_one_traceback_and_keeps_its_pause_through_writes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """While storage is down every client's retry is a write that woke the pump, which failed again
    at once and logged a whole traceback each time (a reviewer saw 119 in 5 s, 10,830 lines). Now the
    first failure in a row is logged whole, the others in a line, each after a pause writes do not
    cut short; once the pump works again it says so and goes on."""
    monkeypatch.setattr(stack_module, "FAILED_PUMP_FIRST_PAUSE_SECONDS", 0.2)
    monkeypatch.setattr(stack_module, "FAILED_PUMP_PAUSE_SECONDS", 0.2)
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, sweep_seconds=0) as stack:
        works = stack._lane.pump
        tries: list[float] = []

        def down(fetch: bool) -> bool:
            tries.append(time.monotonic())
            raise ConnectionError("storage out of reach")

        with caplog.at_level(logging.WARNING, logger="mercato.local"):
            monkeypatch.setattr(stack._lane, "pump", down)
            started = time.monotonic()
            while time.monotonic() - started < 1.0:  # clients retrying as fast as they are answered
                stack._wake.set()
                time.sleep(0.001)
            monkeypatch.setattr(stack._lane, "pump", works)
            _eventually(lambda: any("works again" in r.getMessage() for r in caplog.records), seconds=5)

        assert 3 <= len(tries) <= 7, f"one try a pause, not one a write: {len(tries)} in 1 s"
        failed = [r for r in caplog.records if "pump failed" in r.getMessage()]
        assert len(failed) >= 3
        assert [r.exc_info is not None for r in failed] == [True] + [False] * (len(failed) - 1)
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat"})
        admin.deposit("bob", "wheat", 1, "grant-1")
        stack.client("bob").place("Sell", "wheat", 1, 20)
        _eventually(lambda: stack.client("bob").book("wheat")["asks"] != [], seconds=5)


def test_one_pump_failure_holds_the_next_write_for_tens_of_milliseconds_not_a_second() -> None:
    """A reviewer's find: after one transient failure (a throttled put, a timed-out poll) the pump
    waited out the whole pause meant for a run of them, and a crossing pair settled a second later."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, sweep_seconds=0) as stack:
        admin = stack.client("game-server", admin=True)
        admin.list_market({"material": "wheat", "kind": "commodity", "name": "Wheat"})
        admin.deposit("bob", "wheat", 10, "grant-1")
        admin.deposit("amy", "coins", 10_000, "grant-2")
        stack.drain()
        works, failed = stack._lane.pump, list[float]()

        def fails_once(fetch: bool = True) -> bool:
            if not failed:
                failed.append(time.monotonic())
                raise RuntimeError("one throttled batch")
            return works(fetch=fetch)

        stack._lane.pump = fails_once  # type: ignore[method-assign]
        stack._wake.set()
        _eventually(lambda: bool(failed), seconds=5)
        sell = stack.client("bob").place("Sell", "wheat", 1, 20)["orderId"]
        stack.client("amy").place("Buy", "wheat", 1, 20)
        placed = time.monotonic()
        _eventually(lambda: stack.client("bob").order(sell)["status"] == "filled", seconds=5)

        assert time.monotonic() - placed < stack_module.FAILED_PUMP_PAUSE_SECONDS / 2


def _sweeping_every(full_sweep_seconds: float) -> EmbeddedStack:
    """A stack with nothing listed whose background sweep runs every 50 ms, in full as given."""
    return EmbeddedStack(
        engine="memory",
        catalog=False,
        leaderboard_seconds=0,
        sweep_seconds=0.05,
        full_sweep_seconds=full_sweep_seconds,
    )


def _record_looks(stack: EmbeddedStack, looks: list[bool], *, fail_first_full: bool = False) -> None:
    """Record in ``looks`` whether each background sweep was a full one; the first full one fails, as
    storage hiccuping, if asked."""
    sweep = stack.sweep

    def recorded(*, full: bool = True) -> list[str]:
        looks.append(full)
        if fail_first_full and full and looks.count(True) == 1:
            raise ConnectionError("DynamoDB Local restarting")
        return sweep(full=full)

    stack.sweep = recorded  # type: ignore[method-assign]


def test_a_failed_full_sweep_is_looked_again_at_the_next_sweep() -> None:
    """A reviewer's find: a full look that failed (storage hiccuping, as when wake-ups are lost)
    counted as done, so the next one came a whole ``full_sweep_seconds`` later (60 s on DynamoDB
    Local) instead of at the next sweep."""
    looks: list[bool] = []
    with _sweeping_every(0.3) as stack:
        _record_looks(stack, looks, fail_first_full=True)
        _eventually(lambda: looks.count(True) >= 2, seconds=5)

    failed = looks.index(True)
    assert looks[failed + 1] is True, f"the look after the failed full one: {looks[: failed + 3]}"


def test_markets_a_sweep_never_reached_stay_to_be_retried_with_their_hints() -> None:
    """A reviewer's find: storage out of reach part-way through a sweep or a restart's re-drive
    emptied the retry list, the market it met and those never tried with it, IOC and FOK hints and
    all; only a full look (every minute on DynamoDB Local) could find them again, and no look finds a
    lost IOC's hint."""
    with EmbeddedStack(engine="memory", catalog=False, leaderboard_seconds=0, sweep_seconds=0) as stack:
        stack._unsettled.update({"alpha": [], "beta": ["BUY#000000000020#ioc"], "gamma": []})
        matcher = stack._lane.matcher
        settle = matcher.settle

        def out_of_reach_at_beta(material: str, hints: Any = ()) -> Any:
            if material == "beta":
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
            return settle(material, hints)

        matcher.settle = out_of_reach_at_beta  # type: ignore[method-assign]
        with pytest.raises(EndpointConnectionError):
            stack.sweep(full=False)

        assert stack._unsettled == {"beta": ["BUY#000000000020#ioc"], "gamma": []}


def test_a_wake_up_the_mapping_gave_up_on_brings_a_full_look_at_the_next_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mapping retries a failing batch without a pause, so a hiccup of DynamoDB Local can use its
    retries up and lose the wake-up (a reviewer's note): a crossed book or a goal would then wait for
    the minute's full look. A record given up brings that look to the next sweep."""
    given_up = [0]
    monkeypatch.setattr(MemoryEngine, "given_up", property(lambda self: given_up[0]))
    looks: list[bool] = []
    with _sweeping_every(3600) as stack:
        _record_looks(stack, looks)
        _eventually(lambda: len(looks) >= 2, seconds=5)
        given_up[0] += 1  # a batch sent to the on-failure queue
        _eventually(lambda: True in looks, seconds=5)
        full_at = looks.index(True)
        _eventually(lambda: len(looks) >= full_at + 3, seconds=5)

    assert looks[:2] == [False, False], "no full look is due for an hour"
    assert looks[full_at + 1 : full_at + 3] == [False, False], "one full look per record given up"
