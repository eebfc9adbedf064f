"""What a game's test pays for the ``mercato`` fixture: ``python -m mercato.bench.fixture``.

Prints the session's one-off engine start, then per stack (a test): its start, the footballer's
house quotes visible without ``drain()``, a first ``drain()`` with one crossing pair pending, an
idle ``drain()`` and the stop. ``--json`` prints one JSON object.
"""

import argparse
import json
import statistics
import time
from typing import Any

from mercato.local.stack import EmbeddedStack, SharedEngine


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_fixture(stacks: int = 5) -> dict[str, float]:
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")
    engine_s, engine = _timed(lambda: SharedEngine().start())
    rows: dict[str, list[float]] = {"start_s": [], "drain_s": [], "idle_drain_s": [], "stop_s": []}
    try:
        for n in range(stacks):
            start_s, stack = _timed(lambda n=n: EmbeddedStack(shared=engine, prefix=f"bench-{n}").start())
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
    finally:
        engine.stop()
    return {"engine_start_s": engine_s, **{key: statistics.median(values) for key, values in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stacks", type=int, default=5, help="stacks (tests) to start; medians printed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = bench_fixture(args.stacks)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"engine (once per session)  {figures['engine_start_s'] * 1000:8.0f} ms")
    print(f"stack start (each test)    {figures['start_s'] * 1000:8.0f} ms   median of {args.stacks}")
    print(f"first drain, one pair      {figures['drain_s'] * 1000:8.0f} ms")
    print(f"idle drain                 {figures['idle_drain_s'] * 1000:8.0f} ms")
    print(f"stack stop                 {figures['stop_s'] * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
