"""Wake the matcher for markets that need a settlement no record will bring.

A good-till-date order stops trading at its ``expiresAt`` (the engine never fills a due order), but
its reservation is released, and its status becomes ``expired``, only when the matcher next settles
its market. Orders, goals and listings wake a market; a quiet market would keep a player's coins
reserved for good. And a wake-up can be lost: the event-source mapping discards a record after its
retries or its record age (an outage of the matcher over an hour, the mapping disabled for an
upgrade), and the on-failure queue keeps only where it was, so a crossed book, or a goal never
applied, would stay so until the market's next order. The sweep finds each market with an order
due now, a crossed book or a pending goal (:func:`needs_waking`) and wakes it as a record would: on
AWS a scheduled invocation of the matcher function puts one record per such market on the Kinesis
stream, keyed by the material, so the settlement is still the one writer of that material's
partition (DESIGN §1: a record is only a wake-up); the embedded stack runs the same check in the
background and settles the markets it finds under the pump's lock. (``mercato sim``'s sweep step
looks at due orders only: its fault schedule stays the one its seeds were recorded with.)
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from mercato.matcher.ports import MatcherStore
from mercato.pipes.wake import PUT_RECORDS_MAX, put_wake_ups

SWEEP_THREADS: Final = 16
"""Markets the deployed sweep looks at at once: up to four small queries each, about 5 ms apiece,
so a catalog of 10,000 markets takes about 10 s of waiting instead of 200 (a reviewer measured about
1.4 ms of client CPU per query besides, which bounds it sooner: see :func:`wake_due_markets`)."""

SWEEP_SLICE: Final = PUT_RECORDS_MAX
"""Markets the deployed sweep looks at before it puts their wake-ups (one ``PutRecords``)."""
SWEEP_TIME_LEFT_MS: Final = 8_000
"""The deployed sweep starts no slice with less than this left of its invocation (a slice of 500
quiet markets is 2,000 queries: about 5 s of client CPU at the function's 0.6 vCPU)."""

SWEEP_EVENT: Final = {"mercato": "sweep"}
"""The scheduled event's input (the CDK app sets it on the rule): the matcher sweeps, settles nothing."""


def is_sweep(event: Any) -> bool:
    """Whether ``event`` is the schedule's (exactly its input: a batch of records never is)."""
    return bool(event == SWEEP_EVENT)


def needs_waking(store: MatcherStore, material: str, now: int) -> bool:
    """Whether ``material`` needs a settlement: an order due at ``now``, a book whose best bid meets
    its best ask (a settled book never does: the engine trades them, or cancels a self-trade's
    resting order), a goal not applied yet, or a footballer never settled (an empty book at version
    0: its listing's wake-up was lost, so the house never quoted; a reviewer's find). At most five
    small reads, the first hit ending it; the market item is read only for an empty book."""
    if store.due(material, now):
        return True
    bid = store.best_price(material, buy=True)
    ask = store.best_price(material, buy=False)
    if bid is not None and ask is not None and bid >= ask:
        return True
    if store.pending_goals(material):
        return True
    if bid is None and ask is None:
        market = store.market(material)
        return market is not None and market.footballer is not None and market.version == 0
    return False


def due_markets(
    materials: Iterable[str], due: Callable[[str, int], object], now: int, threads: int = 1
) -> list[str]:
    """The materials ``due`` is truthy for at ``now`` (their due orders, or :func:`needs_waking`), in
    the order given; ``threads`` of them are looked at at once (a boto3 client is safe to share)."""
    listed = list(materials)
    if threads <= 1:
        return [material for material in listed if due(material, now)]
    with ThreadPoolExecutor(threads, thread_name_prefix="sweep") as pool:
        found = list(pool.map(lambda material: bool(due(material, now)), listed))
    return [material for material, any_due in zip(listed, found, strict=True) if any_due]


@dataclass(frozen=True)
class Swept:
    woken: list[str]
    """The markets woken, in the order they were looked at."""
    looked_at: int
    markets: int
    """How many of the catalog's markets it looked at before its time ran short, and how many there are."""


def wake_due_markets(
    store: MatcherStore,
    now: int,
    kinesis: Any,
    stream_name: str,
    remaining_ms: Callable[[], int] = lambda: SWEEP_TIME_LEFT_MS + 1,
) -> Swept:
    """The scheduled sweep on AWS: a wake-up on the stream for each market that needs one.

    It goes through the catalog a slice (:data:`SWEEP_SLICE`) at a time, putting each slice's
    wake-ups before it looks at the next, and stops when ``remaining_ms`` (the invocation's time
    left) falls under :data:`SWEEP_TIME_LEFT_MS`: a catalog too large for one invocation still has
    the wake-ups it found put. Each minute's sweep starts a slice further into the catalog (it
    wraps), so the markets one sweep had no time for are looked at first by a later one."""
    materials = store.materials()
    if not materials:
        return Swept([], 0, 0)
    start = now // 60_000 * SWEEP_SLICE % len(materials)
    ordered = materials[start:] + materials[:start]
    woken: list[str] = []
    looked_at = 0
    needs = partial(needs_waking, store)
    for first in range(0, len(ordered), SWEEP_SLICE):
        if remaining_ms() < SWEEP_TIME_LEFT_MS:
            break
        part = ordered[first : first + SWEEP_SLICE]
        found = due_markets(part, needs, now, threads=SWEEP_THREADS)
        put_wake_ups(kinesis, stream_name, found)
        woken += found
        looked_at += len(part)
    return Swept(woken, looked_at, len(materials))
