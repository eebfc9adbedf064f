"""Wake the matcher for markets where an order has come due and nothing else would wake them.

A good-till-date order stops trading at its ``expiresAt`` (the engine never fills a due order), but
its reservation is released, and its status becomes ``expired``, only when the matcher next settles
its market. Orders, goals and listings wake a market; a quiet market would keep a player's coins
reserved for good. The sweep finds each market whose ``by-expiry`` index holds an order due now and
wakes it as a record would: on AWS a scheduled invocation of the matcher function puts one record
per such market on the Kinesis stream, keyed by the material, so the settlement is still the one
writer of that material's partition (DESIGN §1: a record is only a wake-up); the embedded stack runs
the same check in the background and settles the markets it finds under the pump's lock.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from mercato.matcher.ports import MatcherStore
from mercato.pipes.wake import put_wake_ups

SWEEP_THREADS: Final = 16
"""Markets the deployed sweep looks at at once: one query each, about 5 ms, so a catalog of 10,000
markets takes about 3 s instead of 50 (the function's timeout is 30 s)."""

SWEEP_EVENT: Final = {"mercato": "sweep"}
"""The scheduled event's input (the CDK app sets it on the rule): the matcher sweeps, settles nothing."""


def is_sweep(event: Any) -> bool:
    """Whether ``event`` is the schedule's (exactly its input: a batch of records never is)."""
    return bool(event == SWEEP_EVENT)


def due_markets(
    materials: Iterable[str], due: Callable[[str, int], list[str]], now: int, threads: int = 1
) -> list[str]:
    """The materials with at least one order due at ``now`` in their ``by-expiry`` index, in the
    order given; ``threads`` of them are looked at at once (a boto3 client is safe to share)."""
    listed = list(materials)
    if threads <= 1:
        return [material for material in listed if due(material, now)]
    with ThreadPoolExecutor(threads, thread_name_prefix="sweep") as pool:
        found = list(pool.map(lambda material: bool(due(material, now)), listed))
    return [material for material, any_due in zip(listed, found, strict=True) if any_due]


def wake_due_markets(store: MatcherStore, now: int, kinesis: Any, stream_name: str) -> list[str]:
    """The scheduled sweep on AWS: a wake-up on the stream for each market with an order due."""
    woken = due_markets(store.materials(), store.due, now, threads=SWEEP_THREADS)
    put_wake_ups(kinesis, stream_name, woken)
    return woken
