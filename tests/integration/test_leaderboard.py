"""The leaderboard on moto through the whole pipeline: ranks for a seeded sequence of trades equal a
hand-computed table; a rollup killed halfway leaves the previous board served and the next run is
correct; the day window ranks gains net of deposits; the player's own rank on /accounts/me."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.leaderboard.dynamo import DynamoLeaderboardStore
from mercato.leaderboard.rollup import HOUR_MS, Rollup
from mercato.local.memory_stack import MemoryEngine
from mercato.local.pipeline import LocalPipeline
from mercato.storage.tables import table_names
from mercato.testing.invariants import violations
from tests.integration.conftest import SECRET, Api

T0 = 1_781_200_800_000  # 2026-06-11T18:00:00Z


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def millis(self) -> int:
        return self.ms

    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, tz=UTC)


class Exchange(Api):
    def __init__(self, pipeline: LocalPipeline, clock: Clock) -> None:
        super().__init__(pipeline.intake, pipeline.dynamodb, pipeline.tables)
        self.pipeline = pipeline
        self.clock = clock

    def drain(self) -> None:
        self.pipeline.drain()
        assert violations(self.client, self.tables) == []

    def board(self, window: str = "all") -> list[tuple[int, str, int]]:
        reply = self.call("GET", "/leaderboard", query={"window": window})
        assert reply.status == 200
        return [(s["rank"], s["playerId"], s["score"]) for s in reply.body["standings"]]


@pytest.fixture
def exchange() -> Iterator[Exchange]:
    moto_atomic.install()
    clock = Clock()
    with mock_aws():
        pipeline = LocalPipeline.create(
            boto3.Session(),
            "test",
            SECRET,
            intake_clock=clock.moment,
            matcher_clock=clock.millis,
            clock_ms=clock.millis,
        )
        exchange = Exchange(pipeline, clock)
        exchange.list_market("wheat")  # fee 200 bps
        exchange.list_market("copper", feeBps=0)
        exchange.list_footballer("lionel-messi")  # F = 1000 + 100 a goal
        exchange.drain()
        yield exchange


def seed(exchange: Exchange) -> None:
    """Deposits: alice 10,000 coins; bob 10,000 coins and 100 wheat; carol 5,000 coins and 10 Messi
    shares; dave 2,000 coins and 50 copper; erin 12,000 coins; frank 10,120 coins."""
    grants = {
        "alice": {"coins": 10_000},
        "bob": {"coins": 10_000, "wheat": 100},
        "carol": {"coins": 5_000, "lionel-messi": 10},
        "dave": {"coins": 2_000, "copper": 50},
        "erin": {"coins": 12_000},
        "frank": {"coins": 10_120},
    }
    for player, assets in grants.items():
        for asset, quantity in assets.items():
            assert exchange.deposit(player, asset, quantity).status == 201


def trade(exchange: Exchange) -> None:
    """30 wheat at 20 (bob to alice), then 5 wheat at 24 (alice's resting bid), 10 copper at 40
    (dave to carol, fee 0), and one Messi goal (F 1000 -> 1100, no Messi trade)."""
    assert exchange.order("bob", "Sell", 30, 20).status == 202
    assert exchange.order("alice", "Buy", 30, 25).status == 202
    exchange.drain()
    assert exchange.order("alice", "Buy", 5, 24).status == 202
    exchange.drain()
    assert exchange.order("bob", "Sell", 5, 23).status == 202
    assert exchange.order("dave", "Sell", 50, 40, material="copper").status == 202
    assert exchange.order("carol", "Buy", 10, 40, material="copper").status == 202
    goal = {"eventId": "wc:messi:1", "material": "lionel-messi", "matchId": "final", "minute": 23}
    assert exchange.call("POST", "/events/goals", goal, admin=True).status == 202
    exchange.drain()


# Marks: coins 1, wheat 24 (its last trade), copper 40, lionel-messi 1,100 (F: it never traded).
# alice  9,400 − 120 = 9,280 coins + 35 wheat × 24                        = 10,120
# bob   10,000 + 588 + 118 = 10,706 coins (fees 12 and 2) + 65 wheat × 24  = 12,266
# carol  5,000 − 400 = 4,600 coins + 10 copper × 40 + 10 Messi × 1,100    = 16,000
# dave   2,000 + 400 = 2,400 coins + 40 copper × 40 (resting, reserved)   =  4,000
# erin  12,000 coins                                                      = 12,000
# frank 10,120 coins (ties alice; ids break the order, not the rank)     = 10,120
HAND_COMPUTED_ALL = [
    (1, "carol", 16_000),
    (2, "bob", 12_266),
    (3, "erin", 12_000),
    (4, "alice", 10_120),
    (4, "frank", 10_120),
    (6, "dave", 4_000),
]


def test_leaderboard_ranks_for_a_seeded_sequence_of_trades_equal_the_hand_computed_table(
    exchange: Exchange,
) -> None:
    seed(exchange)
    trade(exchange)

    exchange.pipeline.rollup.run()

    assert exchange.board("all") == HAND_COMPUTED_ALL
    reply = exchange.call("GET", "/leaderboard", query={"window": "all", "limit": "2"})
    assert [s["playerId"] for s in reply.body["standings"]] == ["carol", "bob"]
    assert reply.body["generatedAt"] is not None


def test_the_board_is_empty_before_any_rollup_and_trading_never_writes_it(exchange: Exchange) -> None:
    seed(exchange)
    trade(exchange)
    reply = exchange.call("GET", "/leaderboard")
    assert reply.body == {"window": "all", "generatedAt": None, "since": None, "standings": []}
    assert exchange.client.scan(TableName="test-leaderboard")["Items"] == []


def test_the_players_own_rank_is_on_accounts_me(exchange: Exchange) -> None:
    seed(exchange)
    trade(exchange)
    exchange.pipeline.rollup.run()

    body = exchange.call("GET", "/accounts/me", player="frank").body
    assert body["ranks"]["all"] == {"rank": 4, "playerId": "frank", "score": 10_120, "value": 10_120}
    assert set(body["ranks"]) == {"all", "day", "week"}
    unranked = exchange.call("GET", "/accounts/me", player="zoe").body
    assert "ranks" not in unranked
    # and the game server reads the same account, ranks included, as /accounts/me shows it to frank
    assert exchange.call("GET", "/accounts/frank", admin=True).body == body


class DiesHalfway:
    """A DynamoDB client whose first batch write stores half its items and then dies, as a Lambda
    killed mid-write would."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> Any:
        ((table, requests),) = RequestItems.items()
        self._client.batch_write_item(RequestItems={table: requests[: len(requests) // 2]})
        raise SystemExit("killed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# After the deposits alone nothing has traded: wheat and copper mark at 0, Messi at F = 1,000.
BEFORE_TRADING = [
    (1, "carol", 15_000),
    (2, "erin", 12_000),
    (3, "frank", 10_120),
    (4, "alice", 10_000),
    (4, "bob", 10_000),
    (6, "dave", 2_000),
]


def test_a_rollup_killed_halfway_leaves_the_previous_board_served_and_the_next_run_is_correct(
    exchange: Exchange,
) -> None:
    seed(exchange)
    exchange.pipeline.rollup.run()
    assert exchange.board("all") == BEFORE_TRADING

    trade(exchange)
    exchange.clock.ms += 60_000
    dying = DynamoLeaderboardStore(DiesHalfway(exchange.client), "test-leaderboard", exchange.tables)
    with pytest.raises(SystemExit):
        Rollup(dying, dying, exchange.clock.millis).run()
    partial = exchange.client.query(
        TableName="test-leaderboard",
        KeyConditionExpression="pk = :board",
        ExpressionAttributeValues={":board": f"BOARD#all#{exchange.clock.ms:013d}"},
    )["Items"]
    assert 0 < len(partial) < 2 * len(BEFORE_TRADING)  # it did die halfway through the new board

    assert exchange.board("all") == BEFORE_TRADING  # the pointer still names the complete board
    assert exchange.call("GET", "/accounts/me", player="carol").body["ranks"]["all"]["score"] == 15_000

    exchange.clock.ms += 60_000
    exchange.pipeline.rollup.run()
    assert exchange.board("all") == HAND_COMPUTED_ALL


def test_the_day_window_ranks_gains_net_of_deposits(exchange: Exchange) -> None:
    seed(exchange)
    exchange.pipeline.rollup.run()  # the baseline snapshot, before any trade
    exchange.clock.ms += 2 * HOUR_MS
    trade(exchange)
    assert exchange.deposit("erin", "coins", 1_000, deposit_id="late-grant").status == 201

    exchange.pipeline.rollup.run()

    # Baseline marks had no trades: wheat and copper at 0, Messi at F = 1,000. Gains now:
    # carol 16,000 − (5,000 + 10,000) = 1,000; bob 12,266 − 10,000 = 2,266; alice 10,120 − 10,000 = 120;
    # dave 4,000 − 2,000 = 2,000; erin 13,000 − 12,000 − 1,000 deposited = 0; frank 0.
    assert exchange.board("day") == [
        (1, "bob", 2_266),
        (2, "dave", 2_000),
        (3, "carol", 1_000),
        (4, "alice", 120),
        (5, "erin", 0),
        (5, "frank", 0),
    ]
    reply = exchange.call("GET", "/leaderboard", query={"window": "day"})
    assert reply.body["since"] == "2026-06-11T18:00:00Z"


def test_a_window_that_is_not_all_day_or_week_is_refused(exchange: Exchange) -> None:
    reply = exchange.call("GET", "/leaderboard", query={"window": "month"})
    assert reply.status == 422
    assert reply.code == "invalid_field"


class GrantDuringScan:
    """The exchange as the rollup reads it, erin granted 1,000 coins while it scans the accounts.

    ``seen``: the grant commits before the scan reaches erin, stamped 5 ms after the rollup's now.
    Not ``seen``: it is stamped 5 ms before the rollup's now (a request in flight, or intake's clock
    a little behind) and commits after the scan passed erin."""

    def __init__(self, exchange: Exchange, seen: bool) -> None:
        self.exchange, self.seen = exchange, seen
        self.real = exchange.pipeline.rollup.exchange

    def _grant(self, offset_ms: int) -> None:
        now = self.exchange.clock.ms
        self.exchange.clock.ms = now + offset_ms
        assert self.exchange.deposit("erin", "coins", 1_000, deposit_id="mid-scan-grant").status == 201
        self.exchange.clock.ms = now

    def ledger(self) -> Any:
        if self.seen:
            self._grant(+5)
            return self.real.ledger()
        ledger = self.real.ledger()
        self._grant(-5)
        return ledger

    def markets(self) -> Any:
        return self.real.markets()


@pytest.mark.parametrize("first", [True, False], ids=["during the first rollup", "during a later one"])
@pytest.mark.parametrize("seen", [True, False], ids=["seen by the scan", "missed by the scan"])
def test_a_grant_landing_while_the_rollup_scans_is_never_a_gain_or_a_loss(
    exchange: Exchange, seen: bool, first: bool
) -> None:
    """Nobody trades: erin's day and week scores stay 0 at every later rollup, for up to three days
    after a grant that landed while the snapshot's scan ran. The snapshot keeps each player's net
    movements from the same scan as its values, so the ones it holds are told apart from the ones
    it missed by what it saw, not by clocks (a reviewer found the grant scored -1,000 when the scan
    saw it, +1,000 when it missed it, on the day board for a day and the week board for a week)."""
    seed(exchange)
    store = exchange.pipeline.rollup.store
    if not first:
        exchange.pipeline.rollup.run()
        exchange.clock.ms += HOUR_MS
    Rollup(GrantDuringScan(exchange, seen), store, exchange.clock.millis).run()
    taken = exchange.clock.ms
    scores = []
    for later in (0, HOUR_MS // 2, HOUR_MS, 24 * HOUR_MS - HOUR_MS // 2, 3 * 24 * HOUR_MS):
        exchange.clock.ms = taken + later
        exchange.pipeline.rollup.run()
        day = {player: score for _, player, score in exchange.board("day")}
        week = {player: score for _, player, score in exchange.board("week")}
        scores.append((later, day["erin"], week["erin"]))

    assert scores == [(later, 0, 0) for later, _, _ in scores]


def test_a_grant_missed_by_the_launch_rollup_of_an_empty_exchange_is_not_a_gain(exchange: Exchange) -> None:
    """The first rollup of a new game scans nobody, and a grant stamped before its clock lands after
    its scan: the snapshot says it kept the movements it saw (none) though it has no value item to
    carry them, so the grant is not scored as a gain (a reviewer found the DynamoDB store read an
    empty snapshot as one from before movements were kept, and scored erin +1,000 for a day)."""
    Rollup(GrantDuringScan(exchange, seen=False), exchange.pipeline.rollup.store, exchange.clock.millis).run()
    exchange.clock.ms += 25 * HOUR_MS
    exchange.pipeline.rollup.run()

    assert [(player, score) for _, player, score in exchange.board("day")] == [("erin", 0)]


def test_a_daily_rollup_ranks_a_whole_day_of_gains() -> None:
    """Rolled up once a day (``leaderboardMinutes=1440``), at 10:37: the day window's baseline is
    yesterday's 10:37 snapshot (keyed by its hour, 10:00, which is before the window's start), not
    the one the same run just took (a reviewer found every day score 0: the lookup took the first
    snapshot keyed at or after the start). Alice's 100 wheat went from unmarked to 10 each."""
    day_ms = 24 * HOUR_MS
    t0 = T0 + 2 * day_ms + 16 * HOUR_MS + 37 * 60_000  # 10:37 UTC, after every deposit's stamp
    clock = [t0]
    engine = MemoryEngine.create(SECRET, clock_ms=lambda: clock[0])
    api = Api(engine.intake, None, table_names("unused"))  # the memory engine has no tables
    api.list_market("wheat")
    for player, asset, quantity in (("alice", "wheat", 100), ("bob", "wheat", 10), ("carol", "coins", 1_000)):
        assert api.deposit(player, asset, quantity).status == 201
    engine.rollup.run()
    assert api.order("bob", "Sell", 1, 10).status == 202
    assert api.order("carol", "Buy", 1, 10).status == 202
    engine.drain()

    clock[0] = t0 + day_ms
    engine.rollup.run()

    day = api.call("GET", "/leaderboard", query={"window": "day"}).body
    assert {s["playerId"]: s["score"] for s in day["standings"]}["alice"] == 1_000


def _three_days_without_a_rollup(api: Api, drain: Any, rollup: Rollup, advance: Any) -> None:
    """Alice holds 100 wheat, unmarked; a run; three days without one, then a trade marks wheat at 10
    and the runs resume. The day board counts from the resumed run's own snapshot (nobody has gained
    since), the week board from the old one (alice gained 1,000)."""
    for player, asset, quantity in (("alice", "wheat", 100), ("bob", "wheat", 10), ("carol", "coins", 1_000)):
        assert api.deposit(player, asset, quantity).status == 201
    rollup.run()
    advance(3 * 24 * HOUR_MS)
    assert api.order("bob", "Sell", 1, 10).status == 202
    assert api.order("carol", "Buy", 1, 10).status == 202
    drain()
    advance(60_000)
    rollup.run()

    day = api.call("GET", "/leaderboard", query={"window": "day"}).body
    assert day["since"] == day["generatedAt"], "the resumed run's own snapshot, not three days back"
    assert {standing["score"] for standing in day["standings"]} == {0}
    week = api.call("GET", "/leaderboard", query={"window": "week"}).body
    assert {standing["playerId"]: standing["score"] for standing in week["standings"]}["alice"] == 1_000


def test_after_days_without_a_rollup_the_day_board_counts_from_the_nearest_snapshot(
    exchange: Exchange,
) -> None:
    """A reviewer's find: with the runs stopped for three days (the schedule off, the local stack
    down), the day board's baseline was the last snapshot before the window's start, three days old,
    so it ranked three days of gains as one day's, ``since`` three days back. The snapshot nearest
    the window's start is its baseline."""

    def advance(ms: int) -> None:
        exchange.clock.ms += ms

    _three_days_without_a_rollup(exchange, exchange.drain, exchange.pipeline.rollup, advance)


def test_after_days_without_a_rollup_the_memory_engine_counts_from_the_nearest_snapshot_too() -> None:
    clock = [T0 + 2 * 24 * HOUR_MS]
    engine = MemoryEngine.create(SECRET, clock_ms=lambda: clock[0])
    api = Api(engine.intake, None, table_names("unused"))
    api.list_market("wheat")

    def advance(ms: int) -> None:
        clock[0] += ms

    _three_days_without_a_rollup(api, engine.drain, engine.rollup, advance)
