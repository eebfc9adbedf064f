"""``mercato demo``: the embedded stack with simulated game clients trading over HTTP.

Each trader is a thread with its own token. Makers post GTC orders a few ticks either side of a fair
price that random-walks per material; takers send IOC orders through it; everyone cancels some of
their own resting orders. At the end the pipeline is drained and the figures and the invariants of
DESIGN §8 are computed from the stored state itself: the tables on moto or DynamoDB Local, the
in-memory exchange's state rendered as those tables' items on the memory engine (the default, the
engine a game is built against); ``--engine moto`` shows the AWS-shaped pipeline (stream, pipe,
Kinesis, event-source mapping) at moto's speed.
"""

import random
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from mercato.emulators import moto_atomic
from mercato.local.client import ApiError, Client
from mercato.local.memory_lane import table_items
from mercato.local.stack import EmbeddedStack
from mercato.matcher.house import is_house
from mercato.storage.items import ORDER_PREFIX
from mercato.storage.names import TableNames
from mercato.storage.tables import table_names
from mercato.testing.invariants import problems, scan_tables

Engine = Literal["memory", "moto", "dynamodb-local"]

MATERIALS = ("wheat", "copper", "iron", "lionel-messi", "kylian-mbappe")
FOOTBALLERS = ("lionel-messi", "kylian-mbappe")
MATCH_MINUTES = 125
THINK_SECONDS = (0.02, 0.12)
"""A player's pause between two actions: game clients act, they do not spin."""


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n


@dataclass(frozen=True)
class Figures:
    seconds: float
    accepted: int
    rejected: int
    cancels: int
    fills: int
    latency_p50_ms: float
    latency_p99_ms: float
    dynamodb_requests: int | None
    """Requests moto served during the trading; ``None`` where moto served none of them."""
    problems: list[str]
    engine: str = "memory"

    @property
    def orders_per_second(self) -> float:
        return self.accepted / self.seconds

    @property
    def requests_per_fill(self) -> float:
        if self.dynamodb_requests is None or not self.fills:
            return float("nan")
        return self.dynamodb_requests / self.fills


class Trader(threading.Thread):
    def __init__(
        self, name: str, client: Client, fair: dict[str, int], until: float, tally: Tally, seed: int
    ) -> None:
        super().__init__(daemon=True, name=name)
        self.client, self.fair, self.until, self.tally = client, fair, until, tally
        self.rng = random.Random(seed)
        self.resting: list[str] = []
        self.finished_at = 0.0
        """When it stopped trading (``time.monotonic``)."""

    def run(self) -> None:
        try:
            self._trade()
        finally:
            self.finished_at = time.monotonic()

    def _trade(self) -> None:
        rng = self.rng
        while time.monotonic() < self.until:
            time.sleep(rng.uniform(*THINK_SECONDS))
            roll = rng.random()
            try:
                if self.resting and roll < 0.2:
                    self.client.cancel(self.resting.pop(rng.randrange(len(self.resting))))
                    self.tally.add("cancels")
                    continue
                material = rng.choice(MATERIALS)
                fair = self.fair[material]
                side = rng.choice(("Buy", "Sell"))
                toward = 1 if side == "Buy" else -1
                if roll < 0.45:  # a taker crossing the spread
                    price = fair + toward * rng.randint(1, 4)
                    self.client.place(side, material, rng.randint(1, 10), price, timeInForce="IOC")
                else:  # a maker resting near the touch
                    price = max(1, fair - toward * rng.randint(0, 5))
                    order = self.client.place(side, material, rng.randint(1, 20), price)
                    self.resting.append(order["orderId"])
                    self.resting = self.resting[-15:]
                self.tally.add("accepted")
            except ApiError as error:
                self.tally.add("rejected" if error.status == 409 else f"error {error.status}")


def _walk(fair: dict[str, int], until: float, seed: int, client: Client) -> None:
    """Commodities drift at random; a footballer's fair price is its fundamental value, read back
    from the exchange, so it jumps when a goal lands."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        for _ in range(20):
            material = rng.choice([m for m in MATERIALS if m not in FOOTBALLERS])
            fair[material] = max(10, fair[material] + rng.choice((-1, 0, 1)))
            time.sleep(0.05)
        for footballer in FOOTBALLERS:
            fair[footballer] = client.market(footballer)["fundamentalValue"]


def _open_the_markets(stack: EmbeddedStack, names: list[str], fair: dict[str, int], tally: Tally) -> None:
    """Each commodity opens with one trade at its fair price, so every market has a last price
    however few orders the traders manage to send (a slow or busy machine still shows trading)."""
    seller, buyer = (Client(stack.url, stack.token(name)) for name in (names[0], names[-1]))
    for material in MATERIALS:
        if material not in FOOTBALLERS:
            seller.place("Sell", material, 10, fair[material])
            buyer.place("Buy", material, 10, fair[material])
            tally.add("accepted", 2)


def run_demo(
    seconds: float = 30.0,
    traders: int = 12,
    seed: int = 7,
    out: TextIO = sys.stdout,
    engine: Engine = "memory",
) -> Figures:
    if traders < 2:
        raise ValueError("the demo needs at least two traders: the markets open with a trade between two")
    tty = out.isatty()
    with EmbeddedStack(replay_speed=MATCH_MINUTES / seconds, engine=engine) as stack:
        admin = Client(stack.url, stack.token("game-server", admin=True))
        names = [f"player-{n:02d}" for n in range(traders)]
        for name in names:
            admin.deposit(name, "coins", 5_000_000, f"start-{name}")
            for material in MATERIALS:
                admin.deposit(name, material, 50_000, f"start-{name}-{material}")
        print(
            f"Mercato demo: {traders} traders on {', '.join(MATERIALS)} at {stack.url} for {seconds:.0f} s"
            f" ({_ENGINES[stack.storage]}); the 2022 final's goals are replayed meanwhile",
            file=out,
        )
        requests_before = moto_atomic.REQUESTS.get("dynamodb", 0)
        tally = Tally()
        fair = dict.fromkeys(MATERIALS, 100) | {f: admin.market(f)["fundamentalValue"] for f in FOOTBALLERS}
        started = time.monotonic()
        _open_the_markets(stack, names, fair, tally)  # inside the measured time: its orders count
        until = started + seconds
        trading = [
            Trader(name, Client(stack.url, stack.token(name)), fair, until, tally, seed + n)
            for n, name in enumerate(names)
        ]
        workers: list[threading.Thread] = list(trading)
        workers.append(
            threading.Thread(target=_walk, args=(fair, until, seed, Client(stack.url)), daemon=True)
        )
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):
            time.sleep(1.0)
            elapsed = time.monotonic() - started
            markets = admin.markets()
            volume = sum(market["volume"] for market in markets)
            goals = sum(market.get("goals", 0) for market in markets)
            line = (
                f"  {elapsed:5.1f} s  orders {tally.counts['accepted']:6d}"
                f"  cancels {tally.counts['cancels']:5d}  volume {volume:7d}  goals {goals}  fair prices: "
                + "  ".join(f"{m} {fair[m]}" for m in MATERIALS)
            )
            print("\r" + line if tty else line, end="" if tty else "\n", file=out, flush=True)
        elapsed = max(trader.finished_at for trader in trading) - started  # the trading time
        stack.finish_replay()  # every goal of the final is posted before the figures are taken
        stack.drain()
        requests = moto_atomic.REQUESTS.get("dynamodb", 0) - requests_before
        figures = _figures(stack, tally, elapsed, requests if stack.storage == "moto" else None)
        for footballer in FOOTBALLERS:
            market = admin.market(footballer)
            print(
                f"{footballer}: {market['goals']} goals, fundamental value {market['fundamentalValue']},"
                f" last trade {market['lastPrice']}, volume {market['volume']}",
                file=out,
            )
    _report(figures, out, tty)
    return figures


def order_to_fill(trades: list[dict[str, Any]], orders: list[dict[str, Any]]) -> list[int]:
    """Each player's crossing order's wait, sorted: its trade's ``executedAt`` minus its ``createdAt``
    (ms). Trades a house quote took are left out: the matcher posts and fills those in one
    settlement, so they would count 0 ms each."""
    created = {item["orderId"]: item["createdAt"] for item in orders if item["sk"].startswith(ORDER_PREFIX)}
    return sorted(
        trade["executedAt"] - created[order_id]
        for trade in trades
        for player, order_id in [_taker(trade)]
        if not is_house(player)
    )


def _taker(trade: dict[str, Any]) -> tuple[str, str]:
    """The player and the order id of the trade's taker, the order that crossed the book."""
    if trade["takerSide"] == "Buy":
        return trade["buyerId"], trade["buyOrderId"]
    return trade["sellerId"], trade["sellOrderId"]


_ENGINES = {
    "memory": "the in-memory exchange",
    "moto": "moto: stream, pipe, Kinesis and mapping as on AWS",
    "dynamodb-local": "DynamoDB Local",
}


def _stored(stack: EmbeddedStack) -> tuple[dict[str, list[dict[str, Any]]], TableNames]:
    """Every item of every table as the invariant checks read it, read once, on whichever engine the
    stack runs."""
    if stack.memory is not None:
        tables = table_names(stack.prefix)
        return table_items(stack.memory.exchange, tables), tables
    return scan_tables(stack.pipeline.dynamodb, stack.pipeline.tables), stack.pipeline.tables


def _figures(stack: EmbeddedStack, tally: Tally, elapsed: float, requests: int | None) -> Figures:
    stored, tables = _stored(stack)
    trades = stored[tables.trades]
    latencies = order_to_fill(trades, stored[tables.orders])
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return Figures(
        seconds=elapsed,
        accepted=tally.counts["accepted"],
        rejected=tally.counts["rejected"],
        cancels=tally.counts["cancels"],
        fills=len(trades),
        latency_p50_ms=p50,
        latency_p99_ms=p99,
        dynamodb_requests=requests,
        problems=problems(stored.__getitem__, tables),
        engine=stack.storage,
    )


def _report(figures: Figures, out: TextIO, tty: bool) -> None:
    if tty:
        print(file=out)
    lines = [
        "",
        f"orders accepted      {figures.accepted:8d}   ({figures.orders_per_second:.0f} per second)",
        f"orders refused (409) {figures.rejected:8d}",
        f"cancels              {figures.cancels:8d}",
        f"fills                {figures.fills:8d}",
        f"order-to-fill        {figures.latency_p50_ms:8.0f} ms median,"
        f" {figures.latency_p99_ms:.0f} ms 99th percentile",
    ]
    if figures.dynamodb_requests is not None:
        lines.append(
            f"DynamoDB requests    {figures.dynamodb_requests:8d}"
            f"   ({figures.requests_per_fill:.1f} per fill)"
        )
    print("\n".join(lines), file=out)
    if figures.problems:
        print("INVARIANTS BROKEN:", file=out)
        for problem in figures.problems:
            print("  " + problem, file=out)
    else:
        print(
            "invariants hold: conservation, escrow = open orders, no overfill, trades once, "
            "no crossed book, hourly figures = trades, goals = goals applied, "
            "each player's fill records = trades, each trade priced by the rules",
            file=out,
        )
