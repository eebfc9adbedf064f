"""``mercato bench stack``: the embedded stack end to end, driven by client processes over HTTP.

Client processes (not threads of the stack's process) place crossing pairs: a seller rests an order,
then a buyer crosses it at the same price, so every order placed settles as a fill. Two figures:

- **throughput**: each client places its pairs as fast as the stack answers; settled orders per
  second is every order placed divided by the time from the first request until the last of them
  is closed in the orders table. Two stacks run side by side, one with 1,000 and one with 100,000
  orders and trades already stored (written straight into the tables through the storage layer,
  not over HTTP); the runs take turns between them for a few rounds and the medians are reported,
  so a shared host's changing load falls on both sizes alike.
- **latency**: the clients offer a fixed load (100 orders/s by default, open loop: each request is
  sent at its scheduled time, or at once if the client is behind); order-to-fill is the buyer's
  order record ``closedAt`` minus its ``createdAt``, both written by the stack.
"""

import multiprocessing
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mercato.bench.http_clients import Job, client_process
from mercato.local.client import Client
from mercato.local.stack import EmbeddedStack
from mercato.models.ids import trade_id
from mercato.models.markets import CommodityListing
from mercato.models.orders import Order, OrderStatus, Side, TimeInForce
from mercato.models.trades import Trade
from mercato.storage.items import ORDER_PREFIX, order_record_item, to_millis

MATERIALS = ("bench-a", "bench-b", "bench-c", "bench-d")
PRICE = 100
QUANTITY = 1
WRITE_BATCH = 24
"""Items per BatchWriteItem (at most 25; an order and its trade go together)."""
SETTLE_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class StackFigures:
    orders_per_s_small: float
    orders_per_s_large: float
    slowdown: float
    order_to_fill_p50_ms: float
    order_to_fill_p99_ms: float
    stored_small: int
    stored_large: int
    orders_per_run: int
    clients: int
    offered_orders_per_s: float
    latency_orders: int
    storage: str
    rounds: int
    rounds_small: list[float]
    """Each round's settled orders/s with ``stored_small`` stored, in the order they ran."""
    rounds_large: list[float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Run:
    seconds: float
    orders: int
    latencies_ms: list[int]


def _players(stack: EmbeddedStack, tag: str, clients: int, pairs: int) -> list[tuple[str, str]]:
    admin = Client(stack.url, stack.token("bench-admin", admin=True))
    players = []
    for n in range(clients):
        seller, buyer = f"{tag}-seller-{n}", f"{tag}-buyer-{n}"
        material = MATERIALS[n % len(MATERIALS)]
        admin.deposit(seller, material, pairs * QUANTITY, f"{seller}-goods")
        admin.deposit(buyer, "coins", pairs * QUANTITY * PRICE, f"{buyer}-coins")
        players.append((seller, buyer))
    return players


def _run(stack: EmbeddedStack, tag: str, clients: int, pairs: int, offered_per_s: float = 0.0) -> _Run:
    """Place ``pairs`` crossing pairs from each of ``clients`` processes and wait until all settle."""
    players = _players(stack, tag, clients, pairs)
    interval = clients / offered_per_s if offered_per_s else 0.0
    jobs = [
        Job(
            stack.url,
            stack.token(seller),
            stack.token(buyer),
            MATERIALS[n % len(MATERIALS)],
            pairs,
            QUANTITY,
            PRICE,
            interval,
            interval * n / clients,
        )
        for n, (seller, buyer) in enumerate(players)
    ]
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int] = context.Queue()
    go = context.Event()
    results: multiprocessing.Queue[tuple[int, list[tuple[str, str]]]] = context.Queue()
    processes = [
        context.Process(target=client_process, args=(n, job, ready, go, results), daemon=True)
        for n, job in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every client started and connected: none of that is measured
        ready.get(timeout=120)
    start_at = time.time()
    go.set()
    owner: dict[str, str] = {}
    buys: list[str] = []
    for _ in processes:
        n, placed = results.get(timeout=600)
        seller, buyer = players[n]
        for sell, buy in placed:
            owner[sell], owner[buy] = seller, buyer
            buys.append(buy)
    for process in processes:
        process.join(timeout=30)
        if process.exitcode != 0:
            raise RuntimeError(f"a client process failed (exit code {process.exitcode})")
    closed = _wait_closed(stack, owner)
    last_closed_s = max(closed_at for closed_at, _ in closed.values()) / 1000
    return _Run(
        seconds=last_closed_s - start_at,
        orders=len(owner),
        latencies_ms=[closed[buy][0] - closed[buy][1] for buy in buys],
    )


def _wait_closed(stack: EmbeddedStack, owner: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Poll the order records until every order placed is filled: ``{order id: (closedAt, createdAt)}``."""
    pending = set(owner)
    closed: dict[str, tuple[int, int]] = {}
    deadline = time.monotonic() + 600
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} orders never settled")
        for chunk in _chunks(sorted(pending), 100):
            for order_id, status, times in _records(stack, owner, chunk):
                if status == str(OrderStatus.FILLED):
                    closed[order_id] = times
                    pending.discard(order_id)
                elif status != str(OrderStatus.OPEN):
                    raise RuntimeError(f"order {order_id} ended {status}")
        if pending:
            time.sleep(SETTLE_POLL_SECONDS)
    return closed


def _records(
    stack: EmbeddedStack, owner: dict[str, str], order_ids: list[str]
) -> Iterator[tuple[str, str, tuple[int, int]]]:
    """Each order's id, status and ``(closedAt, createdAt)`` (closedAt 0 while it is open), read
    from the orders table, or from the in-memory exchange's records."""
    if stack.memory is not None:
        exchange = stack.memory.exchange
        with exchange.lock:
            for order_id in order_ids:
                key = (owner[order_id], order_id)
                order = exchange.state.orders[key]
                created = int(order.created_at.timestamp() * 1000)
                yield order_id, str(order.status), (exchange.state.closed_ms.get(key, 0), created)
        return
    keys = [{"playerId": owner[o], "sk": ORDER_PREFIX + o} for o in order_ids]
    for item in _batch_get(stack, stack.pipeline.tables.orders, keys):
        times = (int(item.get("closedAt", 0)), int(item["createdAt"]))
        yield item["orderId"], item["status"], times


def _batch_get(stack: EmbeddedStack, table: str, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
    while request:
        response = stack.pipeline.dynamodb.batch_get_item(RequestItems=request)
        items += response["Responses"].get(table, [])
        request = response.get("UnprocessedKeys") or {}
    return items


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- the stored history ----------------------------------------------------------------------------


def preload(stack: EmbeddedStack, first: int, count: int) -> None:
    """Store ``count`` settled orders and their trades (numbered from ``first``), straight into the
    tables or the in-memory exchange: what an exchange that has been trading a while holds."""
    history = [_history(n) for n in range(first, first + count)]
    if stack.memory is not None:
        stack.memory.exchange.load_history([order for order, _ in history], [trade for _, trade in history])
        return
    tables = stack.pipeline.tables
    rows = [
        row
        for order, trade in history
        for row in ((tables.orders, order_record_item(order)), (tables.trades, _trade_item(trade)))
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda batch: _write(stack, batch), _chunks(rows, WRITE_BATCH)))


HISTORY_STARTS = datetime(2026, 1, 1, tzinfo=UTC)


def _history(n: int) -> tuple[Order, Trade]:
    """The ``n``-th stored order, a filled buy, and the trade that filled it."""
    material = MATERIALS[n % len(MATERIALS)]
    order_id = str(uuid.UUID(int=n | (7 << 76) | (2 << 62)))
    sell_order_id = str(uuid.UUID(int=(n + 1) | (7 << 76) | (2 << 62) | (1 << 60)))
    at = HISTORY_STARTS + timedelta(milliseconds=n)
    order = Order(
        order_id=order_id,
        player_id=f"history-{n % 1000}",
        side=Side.BUY,
        material=material,
        quantity=QUANTITY,
        price=PRICE,
        time_in_force=TimeInForce.GTC,
        status=OrderStatus.FILLED,
        filled_quantity=QUANTITY,
        filled_notional=QUANTITY * PRICE,
        created_at=at,
    )
    trade = Trade(
        trade_id=trade_id(order_id, sell_order_id),
        material=material,
        price=PRICE,
        quantity=QUANTITY,
        taker_side=Side.BUY,
        executed_at=at,
        buy_order_id=order_id,
        sell_order_id=sell_order_id,
        buyer_id=order.player_id,
        seller_id=f"history-{(n + 1) % 1000}",
    )
    return order, trade


def _trade_item(trade: Trade) -> dict[str, Any]:
    return {
        "material": trade.material,
        "sk": f"{trade.buy_order_id}#history",
        "tradeId": trade.trade_id,
        "price": trade.price,
        "quantity": trade.quantity,
        "takerSide": str(trade.taker_side),
        "executedAt": to_millis(trade.executed_at),
        "buyOrderId": trade.buy_order_id,
        "sellOrderId": trade.sell_order_id,
        "buyerId": trade.buyer_id,
        "sellerId": trade.seller_id,
        "fee": trade.fee,
    }


def _write(stack: EmbeddedStack, batch: list[tuple[str, dict[str, Any]]]) -> None:
    request: dict[str, Any] = {}
    for table, item in batch:
        request.setdefault(table, []).append({"PutRequest": {"Item": item}})
    while request:
        request = stack.pipeline.dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


# -- the whole bench -------------------------------------------------------------------------------


def bench_stack(
    *,
    small: int = 1_000,
    large: int = 100_000,
    clients: int = 4,
    orders_per_run: int = 2_000,
    offered_per_s: float = 100.0,
    latency_seconds: float = 10.0,
    rounds: int = 3,
    progress: Any = None,
    engine: Literal["auto", "dynamodb-local", "moto", "memory"] = "memory",
) -> StackFigures:
    """Two stacks side by side, one holding ``small`` stored orders and trades, the other ``large``;
    ``rounds`` throughput runs on each, taking turns (small, large, small, ...), so a change in the
    host's load falls on both; then the latency run on the small one. The figures are the medians
    of the rounds, and the slowdown the median of each round's small/large ratio."""

    def say(message: str) -> None:
        if progress is not None:
            print(message, file=progress, flush=True)

    pairs = max(1, orders_per_run // (2 * clients))
    with (
        EmbeddedStack(catalog=False, engine=engine, prefix="bench-small") as small_stack,
        EmbeddedStack(catalog=False, engine=engine, prefix="bench-large") as large_stack,
    ):
        for stack, count in ((small_stack, small), (large_stack, large)):
            _list_materials(stack)
            started = time.monotonic()
            preload(stack, 0, count)
            say(f"stored {count:,} orders and trades in {time.monotonic() - started:.1f} s")
        small_rates: list[float] = []
        large_rates: list[float] = []
        for round_ in range(1, rounds + 1):
            for stack, rates, count in ((small_stack, small_rates, small), (large_stack, large_rates, large)):
                run = _run(stack, f"r{round_}", clients, pairs)
                rates.append(run.orders / run.seconds)
                say(f"round {round_}, {count:,} stored: {rates[-1]:,.0f} settled orders/s")
        latency_pairs = max(1, int(offered_per_s * latency_seconds) // (2 * clients))
        slow = _run(small_stack, "latency", clients, latency_pairs, offered_per_s)
        storage = small_stack.storage
    latencies = sorted(slow.latencies_ms)
    return StackFigures(
        orders_per_s_small=round(statistics.median(small_rates), 1),
        orders_per_s_large=round(statistics.median(large_rates), 1),
        slowdown=round(statistics.median(s / b for s, b in zip(small_rates, large_rates, strict=True)), 2),
        order_to_fill_p50_ms=float(statistics.median(latencies)),
        order_to_fill_p99_ms=float(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]),
        stored_small=small,
        stored_large=large,
        orders_per_run=2 * pairs * clients,
        clients=clients,
        offered_orders_per_s=offered_per_s,
        latency_orders=slow.orders,
        storage=str(storage),
        rounds=rounds,
        rounds_small=[round(rate, 1) for rate in small_rates],
        rounds_large=[round(rate, 1) for rate in large_rates],
    )


def _list_materials(stack: EmbeddedStack) -> None:
    admin = Client(stack.url, stack.token("bench-admin", admin=True))
    for material in MATERIALS:
        listing = CommodityListing.model_validate(
            {"material": material, "kind": "commodity", "name": material, "feeBps": 0}
        )
        admin.request("POST", "/markets", listing.model_dump(by_alias=True, mode="json"))
