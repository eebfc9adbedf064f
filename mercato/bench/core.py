"""``mercato bench core``: the crossing engine's throughput, side by side with the reference book.

The flow is generated up front (not timed) from a seed: a mid price that random-walks, passive orders
near the touch, some marketable orders that cross, a few IOC and FOK orders, and cancels of recent
orders. Timing covers only the engine's ``submit`` and ``cancel`` calls.
"""

import gc
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from mercato.matcher.book import BookOrder, OrderBook
from mercato.models.orders import Side, TimeInForce
from mercato.testing.reference import ReferenceBook

Op = BookOrder | str
"""An order to submit, or the id of an order to cancel."""

REFERENCE_ORDERS = 20_000
_EPOCH_MS = 1_780_000_000_000


@dataclass(frozen=True)
class Mix:
    """The shape of the generated flow, as fractions of all operations."""

    cancel: float = 0.25
    crossing: float = 0.12
    ioc: float = 0.04
    fok: float = 0.01
    players: int = 2_000
    cancel_window: int = 400
    """Cancels pick among this many most recent orders (some already filled: a realistic miss)."""
    touch_spread: int = 8


def generate(count: int, seed: int = 7, mix: Mix | None = None) -> list[Op]:
    """``count`` operations in arrival order, with UUIDv7-shaped ids that sort by arrival."""
    mix = mix or Mix()
    rng = random.Random(seed)
    ops: list[Op] = []
    recent: list[str] = []
    mid = 10_000
    for n in range(count):
        if n % 50 == 0:
            mid = max(mix.touch_spread * 4, mid + rng.choice((-2, -1, 0, 1, 2)))
        roll = rng.random()
        if recent and roll < mix.cancel:
            ops.append(recent[rng.randrange(len(recent))])
            continue
        order_id = _uuid7(_EPOCH_MS + n, rng)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        toward = 1 if side is Side.BUY else -1
        if roll < mix.cancel + mix.crossing:
            price = mid + toward * rng.randint(0, mix.touch_spread)  # marketable: at or through the mid
        else:
            price = mid - toward * rng.randint(1, mix.touch_spread * 2)  # passive: rests near the touch
        tif_roll = rng.random()
        tif = (
            TimeInForce.FOK
            if tif_roll < mix.fok
            else TimeInForce.IOC
            if tif_roll < mix.fok + mix.ioc
            else TimeInForce.GTC
        )
        ops.append(
            BookOrder(order_id, f"p{rng.randrange(mix.players)}", side, price, rng.randint(1, 100), tif)
        )
        recent.append(order_id)
        if len(recent) > mix.cancel_window:
            recent.pop(0)
    return ops


def _uuid7(millis: int, rng: random.Random) -> str:
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def run(book: OrderBook | ReferenceBook, ops: Sequence[Op]) -> tuple[float, int]:
    """Feed ``ops`` to ``book``; return (seconds, events produced)."""
    submit, cancel = book.submit, book.cancel
    events = 0
    gc.collect()
    started = time.perf_counter()
    for op in ops:
        if type(op) is str:
            events += cancel(op) is not None
        else:
            events += len(submit(op, 0))  # type: ignore[arg-type]
    return time.perf_counter() - started, events


@dataclass(frozen=True)
class Figures:
    orders: int
    runs: int
    orders_per_s: float
    run_orders_per_s: list[float]
    events: int
    resting_at_end: int
    reference_orders: int
    engine_small_orders_per_s: float
    reference_orders_per_s: float
    ratio: float

    def as_dict(self) -> dict[str, object]:
        return {
            "orders": self.orders,
            "runs": self.runs,
            "orders_per_s": round(self.orders_per_s),
            "run_orders_per_s": [round(rate) for rate in self.run_orders_per_s],
            "events": self.events,
            "resting_at_end": self.resting_at_end,
            "reference_orders": self.reference_orders,
            "engine_orders_per_s_on_reference_slice": round(self.engine_small_orders_per_s),
            "reference_orders_per_s": round(self.reference_orders_per_s),
            "ratio": round(self.ratio, 1),
        }


def bench_core(
    orders: int = 1_000_000, runs: int = 3, reference_orders: int = REFERENCE_ORDERS, seed: int = 7
) -> Figures:
    """Median engine throughput over ``runs`` runs of ``orders`` operations, and, interleaved in the
    same process, the engine against the reference on the first ``reference_orders`` of them."""
    ops = generate(orders, seed)
    rates: list[float] = []
    events = resting = 0
    for _ in range(runs):
        book = OrderBook(fee_bps=200)
        seconds, events = run(book, ops)
        resting = len(book)
        rates.append(orders / seconds)
    head = ops[:reference_orders]
    engine_small: list[float] = []
    reference: list[float] = []
    for _ in range(runs):
        engine_small.append(len(head) / run(OrderBook(fee_bps=200), head)[0])
        reference.append(len(head) / run(ReferenceBook(fee_bps=200), head)[0])
    engine_small_rate = statistics.median(engine_small)
    reference_rate = statistics.median(reference)
    return Figures(
        orders=orders,
        runs=runs,
        orders_per_s=statistics.median(rates),
        run_orders_per_s=rates,
        events=events,
        resting_at_end=resting,
        reference_orders=len(head),
        engine_small_orders_per_s=engine_small_rate,
        reference_orders_per_s=reference_rate,
        ratio=engine_small_rate / reference_rate,
    )
