"""``mercato sim --store memory``: the simulation's sessions on the in-memory exchange, for volume.

The pieces the moto lane gets from DynamoDB, the pipe, Kinesis and the event-source mapping, here
built over one :class:`~mercato.memory.exchange.InMemoryExchange`:

- :class:`PortCalls`: a caller's storage calls (every port method), counted, with a
  :data:`~mercato.local.faults.FaultPlan`'s faults injected as the domain sees them from the
  DynamoDB adapters: a crash before or after the call (:class:`~mercato.local.faults.Crash`), and a
  transaction conflict, throttling or exceeded throughput as :class:`~mercato.models.errors.Busy`;
- :class:`WakeUps`: the exchange as intake writes to it, recording a wake-up for every write the
  pipe's filter lets through (a new order, a goal, a footballer's listing) as a Kinesis record;
- :class:`MemoryPipeline`: the intake function URL handler over it, the matcher, and a mapping that
  hands the queued records to a handler in batches with Lambda's retry semantics;
- :class:`MemoryStorage`: the same seam as the moto lane's, whose ``read`` renders the exchange's
  state as the table items the invariant checks read.
"""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from mercato import tracing
from mercato.emulators.event_source_mapping import kinesis_event_record
from mercato.intake.app import build_handler
from mercato.intake.ports import IntakeStore
from mercato.intake.service import Intake
from mercato.local.faults import Crash, Fault, FaultPlan, no_faults
from mercato.matcher.handler import handle_batch
from mercato.matcher.ports import MatcherStore
from mercato.matcher.service import Matcher
from mercato.memory.exchange import ExchangeState, InMemoryExchange, book_key
from mercato.models.errors import Busy, Throttled
from mercato.models.events import GoalEvent
from mercato.models.markets import FootballerMarket, Market
from mercato.models.orders import Order
from mercato.pipes.wake import WAKE_UP
from mercato.storage.items import (
    ASSET_PREFIX,
    DEPOSIT_PREFIX,
    EVENT_PREFIX,
    FILL_COUNTER_KEY,
    KIND_GOAL,
    KIND_ORDER,
    WITHDRAWAL_PREFIX,
    fill_key,
    order_record_item,
    to_millis,
)
from mercato.storage.names import TableNames
from mercato.storage.tables import table_names

MEMORY_STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/mercato-memory"
"""The stream the memory lane's records name (nothing reads it: there is no stream)."""
MEMORY_REGION = "us-east-1"
BATCH_SIZE = 100
"""Records handed to the matcher at once, at most (the mapping's batch size)."""


def _reason(fault: Fault, operation: str) -> str:
    reason = "TransactionConflict" if fault is Fault.CONFLICT else f"{fault} (injected)"
    return f"{reason} at {operation}"


@dataclass
class PortCalls:
    """A store whose every method call is counted and may fail as ``plan`` says.

    The faults are what the DynamoDB adapters raise for them: a crash is a :class:`Crash` (before
    the call, or after it applied), a conflict or throttling is ``busy`` (the matcher's adapter
    raises :class:`Busy`, intake's :class:`Throttled`, which it answers with a 429)."""

    store: Any
    plan: FaultPlan = no_faults
    before: Callable[[int, str], None] | None = None
    """Called before each call is made (the simulation lands a matcher run there)."""
    busy: Callable[[str], Exception] = Busy
    calls: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.by_operation[name] += 1
            if self.before is not None:
                self.before(self.calls, name)
            fault = self.plan(self.calls, name)
            if fault is Fault.CRASH_BEFORE:
                self.injected[fault] += 1
                raise Crash(fault, name, self.calls)
            if fault is not None and fault is not Fault.CRASH_AFTER:
                self.injected[fault] += 1
                raise self.busy(_reason(fault, name))
            result = attribute(*args, **kwargs)
            if fault is Fault.CRASH_AFTER:
                self.injected[fault] += 1
                raise Crash(fault, name, self.calls)
            return result

        return call


class WakeUps:
    """The exchange as writers see it, queueing a Kinesis record (partition key: the material) for
    each write the pipe would forward: a new order (its image carries its time in force and book
    key, the matcher's IOC/FOK hint), a new goal event, a new footballer's listing. Everything else
    passes through."""

    def __init__(self, exchange: InMemoryExchange) -> None:
        self.exchange = exchange
        self.queue: list[dict[str, Any]] = []
        self.sequence = 0
        self._lock = threading.Lock()
        """Writers on several threads (the HTTP server's, the feed's) each get their own sequence."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.exchange, name)

    def place_order(self, order: Order, *, asset: str, amount: int, fingerprint: str | None) -> None:
        self.exchange.place_order(order, asset=asset, amount=amount, fingerprint=fingerprint)
        image = {"kind": "order", "sk": book_key(order), "timeInForce": order.time_in_force}
        self._wake(order.material, image)

    def put_goal_event(self, event: GoalEvent, *, at: datetime) -> bool:
        stored = self.exchange.put_goal_event(event, at=at)
        if stored:
            self._wake(event.material, {"kind": "goal", "sk": f"GOAL#{event.event_id}"})
        return stored

    def create_market(self, market: Market, opening: Any = None) -> bool:
        created = self.exchange.create_market(market, opening)
        if created and isinstance(market, FootballerMarket):
            self._wake(market.material, {"kind": "listing", "sk": "LISTING"})
        return created

    def wake_up(self, material: str) -> None:
        """A wake-up put on Kinesis past the pipe (intake's after a cancel), as its record reads."""
        self._queue(material, json.loads(WAKE_UP))

    def _wake(self, material: str, image: dict[str, str]) -> None:
        """Queue the record; with tracing on, its image carries the writer's span (as the book
        item does on DynamoDB), so the matcher's settlement joins the order's trace."""
        image = tracing.stamp(image)
        self._queue(
            material,
            {"eventName": "INSERT", "dynamodb": {"NewImage": {k: {"S": v} for k, v in image.items()}}},
        )

    def _queue(self, material: str, change: dict[str, Any]) -> None:
        with self._lock:
            self.sequence += 1
            self.queue.append(_kinesis_record(material, self.sequence, change))


def _kinesis_record(material: str, sequence: int, change: dict[str, Any]) -> dict[str, Any]:
    """A record as the mapping hands it to the matcher, ``change`` (a stream record) its data."""
    return kinesis_event_record(
        partition_key=material,
        sequence_number=f"{sequence:020d}",
        data=json.dumps(change).encode(),
        arrival=time.time(),
        shard_id="memory",
        stream_arn=MEMORY_STREAM_ARN,
        region=MEMORY_REGION,
    )


class Mapping:
    """The event-source mapping over the wake-up queue: a batch at a time to ``handler``; a batch
    that raises is redelivered whole, reported item failures from the lowest failed record on.

    Unlike a Kinesis shard, the queue holds every material, so the records redelivered for a
    reported failure go behind the rest of the queue: a material whose settlement keeps failing
    never holds up the others' (a record is a wake-up, so their order does not matter)."""

    def __init__(self, wake_ups: WakeUps, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.wake_ups = wake_ups
        self.handler = handler

    def drain(self, rounds: int = 10_000) -> None:
        """Hand batches over until the queue is empty; ``RuntimeError`` if it is not after ``rounds``."""
        queue = self.wake_ups.queue
        for _ in range(rounds):
            if not queue:
                return
            batch = queue[:BATCH_SIZE]
            try:
                response = self.handler({"Records": batch}, None)
            except BaseException:  # a crash: the whole batch is redelivered, after the rest
                _behind_the_rest(queue, len(batch))
                raise
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            sequences = [record["kinesis"]["sequenceNumber"] for record in batch]
            done = next((i for i, seq in enumerate(sequences) if seq in failed), len(batch))
            del queue[:done]
            _behind_the_rest(queue, len(batch) - done)
        raise RuntimeError("the memory pipeline did not drain")


def _behind_the_rest(queue: list[dict[str, Any]], count: int) -> None:
    """Move the first ``count`` records (to be delivered again) behind the rest of the queue."""
    if 0 < count < len(queue):
        retried = queue[:count]
        del queue[:count]
        queue.extend(retried)


@dataclass
class MemoryPipeline:
    """What a session drives on the in-memory exchange, shaped as :class:`LocalPipeline` is."""

    exchange: InMemoryExchange
    wake_ups: WakeUps
    tables: TableNames
    service: Intake
    intake: Callable[[dict[str, Any], Any], dict[str, Any]]
    matcher: Matcher
    mapping: Mapping

    @classmethod
    def create(
        cls,
        secret: str,
        *,
        intake_clock: Callable[[], datetime] | None = None,
        new_id: Callable[[], str] | None = None,
        matcher_clock: Callable[[], int] | None = None,
    ) -> "MemoryPipeline":
        """Clocks and ids left out are the services' own (the wall clock, UUIDv7)."""
        exchange = InMemoryExchange()
        wake_ups = WakeUps(exchange)
        service = Intake(
            cast(IntakeStore, wake_ups), wake=wake_ups.wake_up, **_given(clock=intake_clock, new_id=new_id)
        )
        matcher = Matcher(exchange, **_given(clock=matcher_clock))
        mapping = Mapping(wake_ups, lambda event, context: handle_batch(matcher, event))
        intake = build_handler(service, lambda: secret)
        return cls(exchange, wake_ups, table_names("memory"), service, intake, matcher, mapping)

    def drain(self) -> None:
        self.mapping.drain()


def _given(**arguments: Any) -> dict[str, Any]:
    return {name: value for name, value in arguments.items() if value is not None}


@dataclass
class MemoryStorage:
    """The simulation's storage seam on the in-memory exchange (see ``MotoStorage``): intake's store
    is the exchange behind :class:`WakeUps`, the matcher's the exchange itself, each behind its own
    :class:`PortCalls`."""

    pipeline: MemoryPipeline

    def counted(self, plan: FaultPlan, before: Callable[[int, str], None] | None) -> PortCalls:
        return PortCalls(None, plan, before)

    def intake_store(self, calls: PortCalls) -> IntakeStore:
        calls.store, calls.busy = self.pipeline.wake_ups, Throttled
        return cast(IntakeStore, calls)

    def matcher_store(self, calls: PortCalls) -> MatcherStore:
        calls.store = self.pipeline.exchange
        return cast(MatcherStore, calls)

    def read(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table``, rendered from the exchange's state (see :func:`table_items`)."""
        render = _renderers(self.pipeline.tables)[table]
        with self.pipeline.exchange.lock:
            return render(self.pipeline.exchange.state)


def table_items(exchange: InMemoryExchange, tables: TableNames) -> dict[str, list[dict[str, Any]]]:
    """The exchange's state as the items the invariant checks read from each DynamoDB table (the
    fields they use, named as the adapters name them)."""
    with exchange.lock:
        return {table: render(exchange.state) for table, render in _renderers(tables).items()}


Render = Callable[[ExchangeState], list[dict[str, Any]]]


def _renderers(tables: TableNames) -> dict[str, Render]:
    return {
        tables.accounts: _accounts,
        tables.fills: _fills,
        tables.book: _book,
        tables.orders: _orders,
        tables.trades: _trades,
        tables.markets: _markets,
    }


def _accounts(state: ExchangeState) -> list[dict[str, Any]]:
    accounts = [
        {"sk": ASSET_PREFIX + asset, "playerId": player, "available": b.available, "reserved": b.reserved}
        for player, held in state.balances.items()
        for asset, b in held.items()
    ]
    for prefix, movements in ((DEPOSIT_PREFIX, state.deposits), (WITHDRAWAL_PREFIX, state.withdrawals)):
        accounts += [
            {"sk": prefix + movement_id, "playerId": player, "asset": m.asset, "quantity": m.quantity}
            for (player, movement_id), m in movements.items()
        ]
    return accounts


def _fills(state: ExchangeState) -> list[dict[str, Any]]:
    counters = [
        {"sk": FILL_COUNTER_KEY, "playerId": player, "fillSeq": seq} for player, seq in state.fill_seq.items()
    ]
    return counters + [
        {
            "sk": fill_key(seq),
            "playerId": player,
            "seq": seq,
            "fillId": fill.fill_id,
            "tradeId": fill.trade_id,
        }
        for player, fills in state.fills.items()
        for seq, fill in fills.items()
    ]


def _book(state: ExchangeState) -> list[dict[str, Any]]:
    orders = [
        {
            "kind": KIND_ORDER,
            "sk": key,
            "material": material,
            "orderId": order.order_id,
            "playerId": order.player_id,
            "side": str(order.side),
            "price": order.price,
            "remaining": order.quantity,
        }
        for material, orders in state.book.items()
        for key, order in orders.items()
    ]
    goals = [
        {"kind": KIND_GOAL, "sk": EVENT_PREFIX + event_id, "material": material, "applied": row.applied}
        for material, events in state.goals.items()
        for event_id, row in events.items()
    ]
    return orders + goals


def _orders(state: ExchangeState) -> list[dict[str, Any]]:
    return [order_record_item(order) for order in state.orders.values()]


def _trades(state: ExchangeState) -> list[dict[str, Any]]:
    return [
        {
            "tradeId": row.trade.trade_id,
            "material": material,
            "buyOrderId": row.trade.buy_order_id,
            "buyerId": row.trade.buyer_id,
            "sellerId": row.trade.seller_id,
            "sellOrderId": row.trade.sell_order_id,
            "quantity": row.trade.quantity,
            "price": row.trade.price,
            "fee": row.trade.fee,
            "takerSide": str(row.trade.taker_side),
            "executedAt": to_millis(row.trade.executed_at),
        }
        for material, rows in state.trades.items()
        for row in rows.values()
    ]


def _markets(state: ExchangeState) -> list[dict[str, Any]]:
    return [
        {
            "material": name,
            "kind": row.market.kind,
            "feeBps": row.market.fee_bps,
            "feesAccrued": row.fees_accrued,
            "hours": [list(figures) for figures in row.market.hours],
            **({"goals": row.market.goals} if isinstance(row.market, FootballerMarket) else {}),
        }
        for name, row in state.markets.items()
    ]
