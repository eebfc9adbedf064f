"""What a game's test pays for the ``mercato`` fixture: ``python -m mercato.bench.fixture``.

On each engine side by side (memory, the fixture's default, and moto), per stack (a test): its
start, the footballer's house quotes visible without ``drain()``, a first ``drain()`` with one
crossing pair pending, an idle ``drain()`` and the stop; and moto's one-off session engine start.
``--json`` prints one JSON object.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from mercato.local.shared_engine import SharedEngine
from mercato.local.stack import EmbeddedStack


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_fixture(stacks: int = 5) -> dict[str, float]:
    """Per engine, the medians of ``stacks`` stacks: ``{engine}_{figure}`` (the moto engine's
    session start as ``engine_start_s``)."""
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")
    figures = {
        f"memory_{key}": value
        for key, value in _medians(stacks, lambda n: EmbeddedStack(engine="memory")).items()
    }
    engine_s, engine = _timed(lambda: SharedEngine().start())
    try:
        moto = _medians(stacks, lambda n: EmbeddedStack(engine="moto", shared=engine, prefix=f"bench-{n}"))
    finally:
        engine.stop()
    return {"engine_start_s": engine_s, **figures, **{f"moto_{key}": value for key, value in moto.items()}}


def _medians(stacks: int, new_stack: Callable[[int], EmbeddedStack]) -> dict[str, float]:
    rows: dict[str, list[float]] = {"start_s": [], "drain_s": [], "idle_drain_s": [], "stop_s": []}
    for n in range(stacks):
        start_s, stack = _timed(lambda n=n: new_stack(n).start())
        book = stack.client("anyone").book("kylian-mbappe")
        if not (book["bids"] and book["asks"]):
            raise RuntimeError("the house does not quote kylian-mbappe at start")
        admin = stack.client("game-server", admin=True)
        admin.deposit("bob", "wheat", 10, "grant-1")
        admin.deposit("alice", "coins", 1_000, "grant-2")
        stack.client("bob").place("Sell", "wheat", 10, 20)
        stack.client("alice").place("Buy", "wheat", 10, 20)
        drain_s, _ = _timed(stack.drain)
        idle_s, _ = _timed(stack.drain)
        stop_s, _ = _timed(stack.stop)
        for key, value in zip(rows, (start_s, drain_s, idle_s, stop_s), strict=True):
            rows[key].append(value)
    return {key: statistics.median(values) for key, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stacks", type=int, default=5, help="stacks (tests) to start; medians printed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = bench_fixture(args.stacks)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'':27s}{'memory':>10s}{'moto':>10s}   (ms, medians of {args.stacks} stacks)")
    print(f"{'engine (once per session)':27s}{'-':>10s}{figures['engine_start_s'] * 1000:10.0f}")
    for key, label in (
        ("start_s", "stack start (each test)"),
        ("drain_s", "first drain, one pair"),
        ("idle_drain_s", "idle drain"),
        ("stop_s", "stack stop"),
    ):
        memory, moto = figures[f"memory_{key}"] * 1000, figures[f"moto_{key}"] * 1000
        print(f"{label:27s}{memory:10.1f}{moto:10.1f}")


if __name__ == "__main__":
    main()
