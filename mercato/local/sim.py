"""``mercato sim``: a deterministic, seeded, fault-injecting simulation of the whole exchange.

Players place, cancel and resend orders (with and without ``clientOrderId``; GTC, IOC, FOK and
GTD), deposit and withdraw, on two commodities and a footballer whose goals land mid-session;
everything goes through intake (function URL events), the pipe, the event source mapping and the
matcher on in-process moto. Faults, all drawn from the seed:

- at every storage call of intake and of the matcher (:class:`~mercato.local.faults.StorageCalls`):
  a crash before the call, a crash after it succeeded (the request or the batch is redelivered),
  ``TransactionConflict``, throttling and ``ProvisionedThroughputExceeded``;
- on the way to the matcher: batches duplicated, reordered, split in two, records delayed to a later
  batch, and records redelivered after their orders settled;
- a second matcher settling the same material in the middle of the first one's calls, and the
  matcher running in the middle of an intake request (a fill landing inside a cancel);
- the clock jumping past GTD expiries, and the scheduled sweep (:mod:`mercato.matcher.sweep`) waking
  the markets where an order has come due, through the same faulty storage and mapping; after its
  drain no order that was due at the sweep may rest (``sweep_left_due``).

After every step every invariant of DESIGN §8 that holds mid-flight is checked, and after every
drain all of them. Many small sessions, each on fresh tables, keep moto fast. A failure names the
seed, session and step; ``--replay`` runs the same seed again, printing every step. ``--store
memory`` runs the same sessions on the in-memory exchange (:mod:`mercato.local.memory_lane`).
"""

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from botocore.exceptions import ClientError
from moto import mock_aws

from mercato.bench.spike import in_process_session
from mercato.emulators import moto_atomic
from mercato.emulators.function_url import function_url_event, response_body
from mercato.intake.auth import Scope, issue_token
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.ports import IntakeStore
from mercato.local.faults import Crash, Fault, FaultPlan, StorageCalls, no_faults
from mercato.local.memory_lane import MemoryPipeline, MemoryStorage
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.matcher.handler import handle_batch
from mercato.matcher.ports import MatcherStore
from mercato.matcher.service import Matcher
from mercato.matcher.sweep import due_markets
from mercato.models.errors import Busy, Throttled
from mercato.storage.names import TableNames
from mercato.testing.invariants import problems as invariant_problems
from mercato.testing.price_time import PriceTime

SECRET: Final = "simulation-secret-not-used-anywhere-else"
START: Final = datetime(2026, 6, 18, 15, 0, tzinfo=UTC)
FOOTBALLER: Final = "lionel-messi"
COMMODITIES: Final = ("wheat", "copper")
COMMODITY_FEE_BPS: Final = 150
PLAYERS: Final = ("ana", "ben", "cai", "dee", "eli")
STORAGE_FAULTS: Final = tuple(Fault)
STREAM_FAULTS: Final = ("duplicated", "reordered", "split", "delayed", "redelivered_after_settled")
OTHER_FAULTS: Final = ("second_matcher", "matcher_inside_intake", "clock_jump")
MAX_ATTEMPTS: Final = 30
Store = Literal["moto", "memory"]
STORES: Final = ("moto", "memory")


def uuid7(millis: int, n: int) -> str:
    """A valid UUIDv7 for ``millis`` that sorts by ``n`` within it: deterministic order ids."""
    value = (millis << 80) | (0x7 << 76) | ((n >> 62) & 0xFFF) << 64 | (0b10 << 62) | (n & (2**62 - 1))
    return str(uuid.UUID(int=value))


Draw = float | int
"""One draw of a session's randomness: a ``random()`` float or a ``getrandbits`` integer."""
NOTHING: Final = 0.999_999
"""What a missing ``random()`` draw replays as: above every fault's chance, so nothing is injected."""


class Choices(random.Random):
    """The session's randomness, every draw recorded in :attr:`drawn`: what a session drew *is* its
    schedule (which steps, which faults where). Given ``replay``, the draws are taken from that list
    instead, so a shortened list is a shorter schedule: a ``random()`` past its end or facing an
    integer gives :data:`NOTHING`, a ``getrandbits`` gives 0 (the first choice). Every method of
    :class:`random.Random` draws through these two, so an unreplayed run draws exactly what
    ``random.Random(seed)`` would."""

    def __init__(self, seed: str, replay: list[Draw] | None = None) -> None:
        self.drawn: list[Draw] = []
        self.replay = replay
        super().__init__(seed)

    def _replayed(self) -> Draw | None:
        if self.replay is None or len(self.drawn) >= len(self.replay):
            return None
        return self.replay[len(self.drawn)]

    def random(self) -> float:
        if self.replay is None:
            value = super().random()
        else:
            replayed = self._replayed()
            value = replayed if isinstance(replayed, float) else NOTHING
        self.drawn.append(value)
        return value

    def getrandbits(self, k: int) -> int:
        if self.replay is None:
            value = super().getrandbits(k)
        else:
            replayed = self._replayed()
            value = replayed & ((1 << k) - 1) if isinstance(replayed, int) else 0
        self.drawn.append(value)
        return value


@dataclass
class Clock:
    millis: int = int(START.timestamp() * 1000)
    drawn: int = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.millis / 1000, tz=UTC)

    def matcher(self) -> int:
        return self.millis

    def new_id(self) -> str:
        self.drawn += 1
        return uuid7(self.millis, self.drawn)


@dataclass
class SimFigures:
    seed: int
    sessions: int
    orders: int = 0
    steps: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    invariant_violations: int = 0
    price_time_compared: int = 0
    """Intervals between drains in which a commodity's trades were compared with the reference book."""
    unhandled_errors: int = 0
    """Requests whose function raised (a throttled read intake does not map): the game resends."""
    sweeps: int = 0
    """Sweeps that completed and were checked: no order due at the sweep rests after its drain."""
    seconds: float = 0.0
    failure: str | None = None
    """Where it failed and the first violation: ``seed S session N step K (what): problem``."""
    problem: str | None = None
    """The first violation alone (its kind is :func:`kind_of` it)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "faults_injected": dict(sorted(self.faults_injected.items())),
            "invariant_violations": self.invariant_violations,
            "price_time_compared": self.price_time_compared,
            "sweeps": self.sweeps,
            "seconds": round(self.seconds, 2),
        }


class Storage(Protocol):
    """Where a session's intake and matchers store, and how the invariant checks read it."""

    def counted(self, plan: FaultPlan, before: Callable[[int, str], None] | None) -> Any: ...

    def intake_store(self, calls: Any) -> IntakeStore: ...

    def matcher_store(self, calls: Any) -> MatcherStore: ...

    def read(self, table: str) -> list[dict[str, Any]]: ...


@dataclass
class MotoStorage:
    """Where a session's intake and matchers store: the one seam that builds their stores, each
    behind a fault-injecting counter, and reads every table for the invariant checks. Another store
    (the in-memory exchange) plugs in by providing the same four methods."""

    client: Any
    tables: TableNames

    def counted(self, plan: FaultPlan, before: Callable[[int, str], None] | None) -> StorageCalls:
        """The storage calls of one caller, counted, with ``plan``'s faults and ``before`` run first."""
        return StorageCalls(self.client, plan, before=before)

    def intake_store(self, calls: StorageCalls) -> IntakeStore:
        return DynamoIntakeStore(calls, self.tables)

    def matcher_store(self, calls: StorageCalls) -> MatcherStore:
        return DynamoMatcherStore(calls, self.tables)

    def read(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table``: in-process moto's backend read directly (a consistent scan
        returns the same items, at many times the cost)."""
        return moto_atomic.table_items(table)


def _lane(store: Store, number: int, clock: Clock) -> tuple[LocalPipeline | MemoryPipeline, Storage]:
    """Session ``number``'s pipeline and storage seam on ``store``."""
    if store == "memory":
        memory = MemoryPipeline.create(
            SECRET, intake_clock=clock.now, new_id=clock.new_id, matcher_clock=clock.matcher
        )
        return memory, MemoryStorage(memory)
    pipeline = LocalPipeline.create(
        in_process_session(),
        f"sim{number}",
        SECRET,
        intake_clock=clock.now,
        new_id=clock.new_id,
        matcher_clock=clock.matcher,
    )
    return pipeline, MotoStorage(pipeline.dynamodb, pipeline.tables)


class Session:
    """One seeded session on its own tables (moto) or its own exchange (memory)."""

    def __init__(
        self,
        seed: int,
        number: int,
        figures: SimFigures,
        fault_rate: float,
        log: Callable[[str], None],
        replay: list[Draw] | None = None,
        store: Store = "moto",
    ):
        self.rng = Choices(f"{seed}/{number}", replay)
        self.number = number
        self.figures = figures
        self.fault_rate = fault_rate
        self.log = log
        self.clock = Clock()
        self.pipeline, self.storage = _lane(store, number, self.clock)
        self.intake_calls = self.storage.counted(self._plan("intake"), self._maybe_matcher_inside_intake)
        self.matcher_calls = self.storage.counted(self._plan("matcher"), self._maybe_second_matcher)
        self.pipeline.service.store = self.storage.intake_store(self.intake_calls)
        self.pipeline.matcher.store = self.storage.matcher_store(self.matcher_calls)
        self.pipeline.matcher.sleep = lambda seconds: None
        self.pipeline.matcher.new_id = self.clock.new_id
        self.second = Matcher(
            self.storage.matcher_store(self.storage.counted(no_faults, None)),
            clock=self.clock.matcher,
            sleep=lambda seconds: None,
            new_id=self.clock.new_id,
        )
        self.pipeline.mapping.handler = self._faulty_handler
        self.tokens = {p: issue_token(SECRET, p, Scope.TRADE) for p in PLAYERS}
        self.admin = issue_token(SECRET, "game-server", Scope.ADMIN)
        self.placed: list[tuple[str, str]] = []
        self.material_of: dict[str, str] = {}
        self.price_time = PriceTime(dict.fromkeys(COMMODITIES, COMMODITY_FEE_BPS))
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.held: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.goals = 0
        self.in_drain = False
        self.left_due: list[str] = []

    # -- faults ------------------------------------------------------------------------------

    def _plan(self, who: str) -> FaultPlan:
        def plan(call: int, operation: str) -> Fault | None:
            if self.rng.random() >= self.fault_rate:
                return None
            fault = self.rng.choice(STORAGE_FAULTS)
            self._injected(fault, f"at {who}'s storage call {call} ({operation})")
            return fault

        return plan

    def _injected(self, kind: str, where: str) -> None:
        self.figures.faults_injected[kind] += 1
        self.log(f"  fault: {kind} {where}")

    def _maybe_second_matcher(self, call: int, operation: str) -> None:
        if self.rng.random() < self.fault_rate / 2:
            material = self.rng.choice([*COMMODITIES, FOOTBALLER])
            self._injected("second_matcher", f"on {material} before matcher call {call} ({operation})")
            try:
                self.second.settle(material)
            except Exception as error:  # a second writer may lose: it must never corrupt
                self.log(f"  second matcher on {material}: {type(error).__name__}")

    def _maybe_matcher_inside_intake(self, call: int, operation: str) -> None:
        if not self.in_drain and self.rng.random() < self.fault_rate / 2:
            self._injected("matcher_inside_intake", f"before intake call {call} ({operation})")
            self.price_time.disturb()  # a settlement mid-interval, at another instant than the drain's
            self._drain()

    def _faulty_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records: list[dict[str, Any]] = list(event.get("Records", []))
        if self.held and self.rng.random() < 0.5:
            records += self.held  # delayed records arrive with a later batch
            self.held = []
        if self.history and self.rng.random() < self.fault_rate:
            self._injected("redelivered_after_settled", "in a batch")
            records += self.rng.sample(self.history, min(3, len(self.history)))
        if self.rng.random() < self.fault_rate:
            self._injected("duplicated", "in a batch")
            records += self.rng.sample(records, self.rng.randint(1, len(records)))
        if self.rng.random() < self.fault_rate:
            self._injected("reordered", "in a batch")
            self.rng.shuffle(records)
        if len(records) > 1 and self.rng.random() < self.fault_rate:
            self._injected("delayed", "in a batch")
            self.held.append(records.pop())  # reported done; it comes later
        self.history = (self.history + records)[-50:]
        if len(records) > 1 and self.rng.random() < self.fault_rate:
            self._injected("split", "in a batch")
            half = len(records) // 2
            first = handle_batch(self.pipeline.matcher, {"Records": records[:half]})
            second = handle_batch(self.pipeline.matcher, {"Records": records[half:]})
            return {"batchItemFailures": first["batchItemFailures"] + second["batchItemFailures"]}
        return handle_batch(self.pipeline.matcher, {"Records": records})

    # -- driving -----------------------------------------------------------------------------

    def _drain(self) -> None:
        """Drain, redelivering whatever a crash interrupted, then the records held back."""
        self.in_drain = True
        try:
            for _ in range(MAX_ATTEMPTS):
                try:
                    self.pipeline.drain()
                    if self.held:
                        held, self.held = self.held, []
                        self._deliver(held)
                        continue
                    return
                except Crash:
                    continue
            raise RuntimeError("the pipeline kept crashing")
        finally:
            self.in_drain = False

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke the matcher with ``records`` as the mapping would: a crash or a function error
        redelivers the batch, reported item failures redeliver those records."""
        for _ in range(MAX_ATTEMPTS):
            try:
                response = handle_batch(self.pipeline.matcher, {"Records": records})
            except (Crash, Exception):
                continue
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            records = [r for r in records if r["kinesis"]["sequenceNumber"] in failed]
            if not records:
                return
        raise RuntimeError("held records kept failing")

    def call(self, method: str, path: str, body: Any = None, *, token: str) -> tuple[int, Any]:
        """One request, sent again after a crash, a 429 or a 5xx, as a game would."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}"}
        if payload is not None:
            headers["content-type"] = "application/json"
        for _ in range(MAX_ATTEMPTS):
            try:
                response = self.pipeline.intake(
                    function_url_event(method, path, headers=headers, body=payload), None
                )
            except Crash:
                continue
            except (ClientError, Busy, Throttled):  # unhandled in the function: the URL answers 502
                self.figures.unhandled_errors += 1
                continue
            status = int(response["statusCode"])
            if status == 429 or status >= 500:
                continue
            text = response_body(response)
            return status, json.loads(text) if text else None
        raise RuntimeError(f"{method} {path} kept failing")

    def setup(self) -> None:
        for material in COMMODITIES:
            self.call(
                "POST",
                "/markets",
                {
                    "material": material,
                    "kind": "commodity",
                    "name": material.title(),
                    "feeBps": COMMODITY_FEE_BPS,
                },
                token=self.admin,
            )
        listing = {
            "material": FOOTBALLER,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1_000,
            "goalValue": 100,
        }
        self.call("POST", "/markets", listing, token=self.admin)
        for player in PLAYERS:
            for asset, quantity in (("coins", 500_000), ("wheat", 200), ("copper", 200), (FOOTBALLER, 30)):
                self.deposit(player, asset, quantity)
        self._drain()

    def deposit(self, player: str, asset: str, quantity: int) -> None:
        body = {
            "depositId": f"d-{self.clock.millis}-{self.rng.randrange(10**9)}",
            "asset": asset,
            "quantity": quantity,
        }
        self.call("POST", f"/accounts/{player}/deposits", body, token=self.admin)

    def step(self) -> str:
        roll = self.rng.random()
        self.clock.millis += self.rng.randint(1, 40)
        player = self.rng.choice(PLAYERS)
        if roll < 0.55:
            return self._order(player)
        if roll < 0.67 and self.placed:
            owner, order_id = self.rng.choice(self.placed)
            status, _ = self.call("DELETE", f"/orders/{order_id}", token=self.tokens[owner])
            if status == 200:  # a cancel lands between settlements: the reference cannot place it
                self.price_time.disturb([self.material_of[order_id]])
            return f"cancel {order_id[-6:]} by {owner}: {status}"
        if roll < 0.72:
            asset = self.rng.choice(["coins", *COMMODITIES])
            self.deposit(player, asset, self.rng.randint(1, 500))
            return f"deposit {asset} to {player}"
        if roll < 0.77:
            asset = self.rng.choice(["coins", *COMMODITIES])
            body = {
                "withdrawalId": f"w-{self.clock.millis}",
                "asset": asset,
                "quantity": self.rng.randint(1, 300),
            }
            status, _ = self.call("POST", f"/accounts/{player}/withdrawals", body, token=self.admin)
            return f"withdraw {asset} from {player}: {status}"
        if roll < 0.79:
            self.goals += 1
            body = {
                "eventId": f"sim:{self.goals}",
                "material": FOOTBALLER,
                "matchId": "sim",
                "minute": self.goals,
            }
            status, _ = self.call("POST", "/events/goals", body, token=self.admin)
            return f"goal {self.goals}: {status}"
        if roll < 0.81:
            jump = self.rng.randint(10_000, 120_000)
            self.clock.millis += jump
            self._injected("clock_jump", f"+{jump} ms")
            return f"clock +{jump} ms"
        if self.rng.random() < 0.25:
            return self._sweep()
        self._drain()
        return "drain"

    def _sweep(self) -> str:
        """The scheduled sweep as the matcher function runs it on AWS: it reads the markets and their
        due orders through the matcher's (faulty) storage and puts a wake-up for each market with one
        due, which the (faulty) mapping delivers in the drain. A sweep a fault stops is simply not
        finished (the next schedule sweeps again). After a finished sweep's drain, no order due at
        the sweep rests on any market's book (a settlement expires up to ``DUE_PAGE`` of a market's
        due orders; a session places far fewer)."""
        store, now = self.pipeline.matcher.store, self.clock.matcher()
        try:
            woken = due_markets(store.materials(), store.due, now)
        except (Crash, Busy, ClientError) as stopped:
            self._drain()
            return f"sweep stopped by {type(stopped).__name__}; drain"
        wake = self.pipeline.service.wake
        assert wake is not None  # both lanes put a wake-up past the pipe, as intake after a cancel
        for material in woken:
            wake(material)
        self._drain()
        truth = self.second.store
        self.left_due = [
            f"{material}: {key}" for material in truth.materials() for key in truth.due(material, now)
        ]
        self.figures.sweeps += 1
        return f"sweep woke {', '.join(woken) or 'nothing'}; drain"

    def _order(self, player: str) -> str:
        if self.sent and self.rng.random() < 0.05:
            owner, body = self.rng.choice(self.sent)  # the same clientOrderId and body again
            status, _ = self.call("POST", "/orders", body, token=self.tokens[owner])
            return f"resend {body['clientOrderId']}: {status}"
        material = self.rng.choice([*COMMODITIES, FOOTBALLER])
        mid = 1_000 + 100 * self.goals if material == FOOTBALLER else 100
        order: dict[str, Any] = {
            "type": self.rng.choice(["Buy", "Sell"]),
            "material": material,
            "quantity": self.rng.randint(1, 12),
            "pricePerUnit": max(1, mid + self.rng.randint(-6, 6) * (mid // 100)),
        }
        tif = self.rng.choices(["GTC", "IOC", "FOK", "GTD"], weights=[70, 12, 10, 8])[0]
        if tif == "GTD":
            expires = datetime.fromtimestamp(
                (self.clock.millis + self.rng.randint(1_000, 60_000)) / 1000, tz=UTC
            )
            order["expiresAt"] = expires.isoformat()
        elif tif != "GTC":
            order["timeInForce"] = tif
        if self.rng.random() < 0.3:
            order["clientOrderId"] = f"c{self.number}-{len(self.sent)}"
            self.sent.append((player, order))
        status, answer = self.call("POST", "/orders", order, token=self.tokens[player])
        self.figures.orders += 1
        if status == 202:
            self.placed.append((player, answer["orderId"]))
            self.material_of[answer["orderId"]] = material
        price, quantity = order["pricePerUnit"], order["quantity"]
        return f"{player} {order['type']} {quantity} {material} @ {price} {tif}: {status}"

    def check(self, *, drained: bool) -> list[str]:
        """Every invariant that holds mid-flight; after a drain all of them, price-time included."""
        problems = invariant_problems(self.storage.read, self.pipeline.tables, drained=drained)
        problems += [f"sweep_left_due: {due} rests after the sweep's drain" for due in self.left_due]
        self.left_due = []
        if drained:
            compared = self.price_time.compared
            problems += self.price_time.check(self.storage.read, self.pipeline.tables, self.clock.matcher())
            self.figures.price_time_compared += self.price_time.compared - compared
        self.figures.invariant_violations += len(problems)
        return problems


@dataclass(frozen=True)
class SessionRun:
    """One session run: the first broken invariant (or none), where, and every draw it made."""

    number: int
    failure: str | None
    problem: str | None
    step: int | None
    drawn: list[Draw]
    steps_started: list[int]
    """The index in :attr:`drawn` where each step began."""


def run_session(
    seed: int,
    number: int,
    steps: int,
    fault_rate: float,
    figures: SimFigures,
    log: Callable[[str], None],
    replay: list[Draw] | None = None,
    store: Store = "moto",
) -> SessionRun:
    """Set up one session, run its steps (checking after each), drain and check again; stop at the
    first broken invariant."""
    session = Session(seed, number, figures, fault_rate, log, replay, store)
    session.setup()
    started: list[int] = []
    for step in range(1, steps + 1):
        started.append(len(session.rng.drawn))
        what = session.step()
        figures.steps += 1
        problems = session.check(drained=what.endswith("drain"))
        log(f"session {number} step {step}: {what}")
        if problems:
            failure = f"seed {seed} session {number} step {step} ({what}): {problems[0]}"
            return SessionRun(number, failure, problems[0], step, session.rng.drawn, started)
    session._drain()
    problems = session.check(drained=True)
    log(f"session {number} end: drained")
    if problems:
        failure = f"seed {seed} session {number} final drain: {problems[0]}"
        return SessionRun(number, failure, problems[0], None, session.rng.drawn, started)
    return SessionRun(number, None, None, None, session.rng.drawn, started)


def simulate(
    seed: int,
    *,
    sessions: int = 4,
    steps: int = 60,
    fault_rate: float = 0.05,
    verbose: bool = False,
    first_session: int = 0,
    replay: list[Draw] | None = None,
    store: Store = "moto",
) -> SimFigures:
    """Run ``sessions`` sessions of ``steps`` steps each; stop at the first broken invariant.
    ``replay`` replays the first session's draws from that list (a shrunk schedule). ``store`` is
    where the sessions run: in-process moto (fidelity) or the in-memory exchange (volume)."""
    log: Callable[[str], None] = print if verbose else (lambda line: None)
    figures = SimFigures(seed, sessions)
    started = time.perf_counter()
    with _store_backend(store):
        for number in range(first_session, first_session + sessions):
            run = run_session(seed, number, steps, fault_rate, figures, log, replay, store)
            if run.failure is not None:
                figures.failure, figures.problem = run.failure, run.problem
                break
    figures.seconds = time.perf_counter() - started
    return figures


def _store_backend(store: Store) -> AbstractContextManager[Any]:
    """In-process moto for the moto lane; nothing to set up for the in-memory exchange."""
    if store == "memory":
        return nullcontext()
    moto_atomic.install()
    return mock_aws()


# -- shrinking -------------------------------------------------------------------------------------


def kind_of(problem: str) -> str:
    """A violation's kind, the words before its first colon (``conservation``, ``escrow``, ...): a
    shrunk schedule must break the same invariant, not necessarily with the same figures."""
    return problem.split(":", 1)[0]


@dataclass(frozen=True)
class Shrunk:
    draws: list[Draw]
    failure: str
    problem: str
    steps: int
    faults: int
    original_steps: int
    original_faults: int
    runs: int


def _faults(figures: SimFigures) -> int:
    return sum(figures.faults_injected.values())


def shrink(
    seed: int, number: int, steps: int, fault_rate: float, *, max_runs: int = 200, store: Store = "moto"
) -> Shrunk | None:
    """Shrink session ``number``'s failing schedule: keep only the steps up to the failing one, then
    try dropping each step's draws, then each fault (its draw replayed as :data:`NOTHING`), keeping
    every change after which the same kind of invariant still breaks. ``None`` if it does not fail."""
    moto_atomic.install()
    runs = 0

    def attempt(draws: list[Draw] | None, length: int) -> tuple[SessionRun, SimFigures]:
        nonlocal runs
        runs += 1
        figures = SimFigures(seed, 1)
        with _store_backend(store):
            run = run_session(seed, number, length, fault_rate, figures, lambda line: None, draws, store)
        return run, figures

    first, figures = attempt(None, steps)
    if first.problem is None:
        return None
    kind = kind_of(first.problem)
    original_faults = _faults(figures)
    best, length = first, first.step or steps
    best_faults = original_faults

    def fails(run: SessionRun) -> bool:
        return run.problem is not None and kind_of(run.problem) == kind

    changed = True
    while changed and runs < max_runs:
        changed = False
        for step in reversed(range(len(best.steps_started))):  # drop whole steps, last first
            if runs >= max_runs or step >= len(best.steps_started) - 1:
                continue  # the failing step itself stays
            begin = best.steps_started[step]
            end = best.steps_started[step + 1] if step + 1 < len(best.steps_started) else len(best.drawn)
            run, figures = attempt(best.drawn[:begin] + best.drawn[end:], length - 1)
            if fails(run):
                best, length, best_faults, changed = run, run.step or length - 1, _faults(figures), True
        index = -1
        while (index := index + 1) < len(best.drawn) and runs < max_runs:  # then each fault that can go
            value = best.drawn[index]
            if not isinstance(value, float) or value >= fault_rate:
                continue
            run, figures = attempt([*best.drawn[:index], NOTHING, *best.drawn[index + 1 :]], length)
            if fails(run) and _faults(figures) < best_faults:
                best, length, best_faults, changed = run, run.step or length, _faults(figures), True
    assert best.failure is not None
    assert best.problem is not None
    return Shrunk(
        draws=best.drawn,
        failure=best.failure,
        problem=best.problem,
        steps=length,
        faults=best_faults,
        original_steps=first.step or steps,
        original_faults=original_faults,
        runs=runs,
    )


@dataclass(frozen=True)
class Schedule:
    """A session's schedule as a file: its seed, number, length, store and the draws to replay."""

    seed: int
    session: int
    steps: int
    fault_rate: float
    draws: list[Draw]
    store: Store = "moto"


def save_schedule(path: str, schedule: Schedule) -> None:
    with open(path, "w") as file:
        json.dump(asdict(schedule), file)


def load_schedule(path: str) -> Schedule:
    with open(path) as file:
        data = json.load(file)
    store: Store = "memory" if data.get("store") == "memory" else "moto"
    return Schedule(data["seed"], data["session"], data["steps"], data["fault_rate"], data["draws"], store)
