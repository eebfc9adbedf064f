"""The embedded stack's in-memory engine: ``EmbeddedStack(engine="memory")``, ``mercato up --engine
memory`` and the pytest fixture's default.

The same intake and matcher services as on AWS, over one
:class:`~mercato.memory.exchange.InMemoryExchange` (the implementation of every storage port that
``tests/contract`` holds equal to moto and to DynamoDB Local) instead of DynamoDB. Where the
deployed system has the table's stream, the pipe, Kinesis and the event-source mapping, this has
their effect: each write the pipe would forward queues a Kinesis-shaped record keyed by material
(:class:`~mercato.local.memory_lane.WakeUps`), and a mapping hands the queued records to the
matcher's batch handler, one material at a time, as Lambda would. Nothing crosses a process or a
socket but the client's HTTP request, so the stack answers at the speed of the services themselves.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from mercato.intake.app import build_handler
from mercato.intake.limits import LimitSettings, RateLimiter
from mercato.intake.ports import IntakeStore
from mercato.intake.service import Intake
from mercato.leaderboard.rollup import Rollup
from mercato.local.memory_lane import Mapping, WakeUps
from mercato.local.state import Redrive, settle_everything
from mercato.matcher.handler import handle_batch
from mercato.matcher.service import Matcher
from mercato.memory.exchange import InMemoryExchange
from mercato.memory.support import MemoryBucketStore, MemoryFeedStore, MemoryLeaderboardStore

log = logging.getLogger("mercato.local")


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class MemoryEngine:
    """What the stack drives on the in-memory exchange, shaped as
    :class:`~mercato.local.pipeline.LocalPipeline` is where the stack uses it."""

    exchange: InMemoryExchange
    wake_ups: WakeUps
    intake: Callable[[dict[str, Any], Any], dict[str, Any]]
    """The function URL handler."""
    service: Intake
    matcher: Matcher
    mapping: Mapping
    rollup: Rollup
    feed_store: MemoryFeedStore
    limiter: RateLimiter | None = None

    @classmethod
    def create(
        cls,
        secret: str,
        *,
        rate_limits: LimitSettings | None = None,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> "MemoryEngine":
        """Wire the services over a new, empty exchange."""
        exchange = InMemoryExchange()
        wake_ups = WakeUps(exchange)
        boards = MemoryLeaderboardStore(exchange)
        service = Intake(cast(IntakeStore, wake_ups), leaderboard=boards, wake=wake_ups.wake_up)
        matcher = Matcher(exchange)
        limiter = None
        if rate_limits is not None:
            limiter = RateLimiter(rate_limits, MemoryBucketStore(), clock_ms)
        return cls(
            exchange=exchange,
            wake_ups=wake_ups,
            intake=build_handler(service, lambda: secret, limiter),
            service=service,
            matcher=matcher,
            mapping=Mapping(wake_ups, lambda event, context: handle_batch(matcher, event)),
            rollup=Rollup(boards, boards, clock_ms),
            feed_store=MemoryFeedStore(exchange),
            limiter=limiter,
        )

    @property
    def given_up(self) -> int:
        """Records the mapping gave up on: none, it redelivers a failing one until it settles."""
        return 0

    def pump(self, fetch: bool = True) -> bool:
        """Hand what is queued to the matcher; whether anything was there. A batch the matcher
        could not settle stays queued and is handed over again on a later pump, as Lambda retries a
        failed batch (the error is logged, and the pump backs off)."""
        if not self.wake_ups.queue:
            return False
        try:
            self.mapping.drain()
        except Exception:
            log.exception("the matcher failed a batch; it stays queued and is retried")
            return False
        return True

    def drain(self) -> None:
        """Everything queued so far is matched and settled when this returns."""
        self.mapping.drain()

    def settle_everything(self, redrive: Redrive) -> int:
        """Settle every material of ``redrive`` once; how many fills that made."""
        return settle_everything(self.matcher, redrive)
