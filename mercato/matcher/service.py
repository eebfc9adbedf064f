"""Uncross one material's book and settle it: read, match with the pure engine, commit.

DynamoDB is the truth and a record is only a wake-up (DESIGN §1): the matcher never takes state from
a record. It reads the book (consistent), uncrosses it, and commits the plan transaction by
transaction. A condition failure means another writer moved the state: read again and uncross again.
Throttling and transaction conflicts retry the same transaction after a jittered pause.
"""

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mercato.matcher.book import uncross
from mercato.matcher.ports import Busy, MatcherStore, StateMoved
from mercato.matcher.settlement import Planner, Ticker
from mercato.storage.names import TableNames

MAX_ROUNDS = 8
MAX_BUSY_RETRIES = 6


class SettlementFailed(Exception):
    """The book kept moving (or DynamoDB kept refusing) through every attempt."""


@dataclass(frozen=True)
class Settled:
    material: str
    fills: int
    cancels: int
    transactions: int
    rounds: int


def _millis() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Matcher:
    store: MatcherStore
    tables: TableNames
    clock: Callable[[], int] = field(default=_millis)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def settle(self, material: str, hints: Iterable[str] = ()) -> Settled:
        """Uncross ``material`` once. ``hints`` are book keys of orders the batch announced (IOC and
        FOK arrivals that may not cross): they are read too, so they are cancelled if they rest."""
        hinted = sorted(set(hints))
        for round_ in range(1, MAX_ROUNDS + 1):
            market = self.store.market(material)
            if market is None:
                return Settled(material, 0, 0, 0, round_)
            read = self.store.read_book(material)
            seen = {order.order_id for order in read.orders}
            extra = [o for o in self.store.read_orders(material, hinted) if o.order_id not in seen]
            orders = {order.order_id: order for order in [*read.orders, *extra]}
            now = self.clock()
            result = uncross(orders.values(), fee_bps=market.fee_bps, now=now)
            ticker = Ticker(
                result.book.best_bid()
                if result.book.best_bid() is not None or read.bids_complete
                else self.store.best_price(material, buy=True),
                result.book.best_ask()
                if result.book.best_ask() is not None or read.asks_complete
                else self.store.best_price(material, buy=False),
            )
            if not result.events and (ticker.best_bid, ticker.best_ask) == (market.best_bid, market.best_ask):
                return Settled(material, 0, 0, 0, round_)
            transactions = Planner(material, orders, self.tables, now).plan(result.events, ticker)
            try:
                for actions in transactions:
                    self._commit(actions)
            except StateMoved:
                continue
            return Settled(material, len(result.fills), len(result.cancels), len(transactions), round_)
        raise SettlementFailed(f"{material}: the book kept changing through {MAX_ROUNDS} rounds")

    def _commit(self, actions: list[dict[str, object]]) -> None:
        for attempt in range(MAX_BUSY_RETRIES + 1):
            try:
                self.store.commit(actions)
                return
            except Busy:
                if attempt == MAX_BUSY_RETRIES:
                    raise SettlementFailed("DynamoDB stayed busy") from None
                self.sleep(random.uniform(0, 0.05 * 2**attempt))
