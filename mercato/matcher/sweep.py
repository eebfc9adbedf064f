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
from functools import partial
from typing import Any, Final

from mercato.matcher.ports import MatcherStore
from mercato.pipes.wake import put_wake_ups

SWEEP_THREADS: Final = 16
"""Markets the deployed sweep looks at at once: up to four small queries each, about 5 ms apiece,
so a catalog of 10,000 markets takes about 10 s of waiting instead of 200 (the function's timeout is
30 s; a reviewer measured about 1.4 ms of client CPU per query besides, which bounds it sooner)."""

SWEEP_EVENT: Final = {"mercato": "sweep"}
"""The scheduled event's input (the CDK app sets it on the rule): the matcher sweeps, settles nothing."""


def is_sweep(event: Any) -> bool:
    """Whether ``event`` is the schedule's (exactly its input: a batch of records never is)."""
    return bool(event == SWEEP_EVENT)


def needs_waking(store: MatcherStore, material: str, now: int) -> bool:
    """Whether ``material`` needs a settlement: an order due at ``now``, a book whose best bid meets
    its best ask (a settled book never does: the engine trades them, or cancels a self-trade's
    resting order), or a goal not applied yet. At most four small reads, the first hit ending it."""
    if store.due(material, now):
        return True
    bid = store.best_price(material, buy=True)
    ask = None if bid is None else store.best_price(material, buy=False)
    if bid is not None and ask is not None and bid >= ask:
        return True
    return bool(store.pending_goals(material))


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


def wake_due_markets(store: MatcherStore, now: int, kinesis: Any, stream_name: str) -> list[str]:
    """The scheduled sweep on AWS: a wake-up on the stream for each market that needs one."""
    woken = due_markets(store.materials(), partial(needs_waking, store), now, threads=SWEEP_THREADS)
    put_wake_ups(kinesis, stream_name, woken)
    return woken
