"""Invariant 6 of DESIGN §8 through a run with faults: between two drains, every commodity's trades
are the reference book's for the book at rest after the first drain and the orders accepted since.

The reference book (:mod:`mercato.testing.reference`) is the specification: one list, scanned in
full, price then order id. After each drain it is set to the book the exchange left at rest, so each
interval is checked on its own and a fault in one cannot hide in the next. An interval in which
something the reference does not model touched a material (a player's cancel, which lands between
settlements; a settlement run mid-interval, at another instant) is not compared for that material,
only followed. Footballers are not compared: the house's ladder is not the reference's.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mercato.matcher.book import BookOrder, Fill, arrival_ms
from mercato.matcher.house import is_house
from mercato.models.orders import Side, TimeInForce
from mercato.storage.items import ORDER_PREFIX
from mercato.storage.names import TableNames
from mercato.testing.reference import ReferenceBook

TableReader = Callable[[str], list[dict[str, Any]]]
TradeKey = tuple[str, str, int, int, int]
"""(buy order id, sell order id, price, quantity, fee)."""


def _book_order(record: Mapping[str, Any], quantity: int) -> BookOrder:
    return BookOrder(
        record["orderId"],
        record["playerId"],
        Side(record["side"]),
        int(record["price"]),
        quantity,
        TimeInForce(record["timeInForce"]),
        int(record["expiresAt"]) if "expiresAt" in record else None,
    )


@dataclass
class PriceTime:
    """Follows a run drain by drain; :meth:`check` after each drain names what broke price-time."""

    fee_bps: Mapping[str, int]
    """The commodities it checks, and each one's fee."""
    books: dict[str, ReferenceBook] = field(init=False)
    known: set[str] = field(default_factory=set)
    """Order ids already given to the reference."""
    traded: set[str] = field(default_factory=set)
    """Trade ids already compared."""
    disturbed: set[str] = field(default_factory=set)
    """Materials the reference cannot follow in this interval."""
    compared: int = 0
    """Intervals compared, over all materials (a check that never compares shows nothing)."""

    def __post_init__(self) -> None:
        self.books = {material: ReferenceBook(fee) for material, fee in self.fee_bps.items()}

    def disturb(self, materials: Iterable[str] | None = None) -> None:
        """Something the reference does not model touched ``materials`` (all, if ``None``)."""
        self.disturbed |= set(self.books if materials is None else materials)

    def check(self, read: TableReader, tables: TableNames, now_ms: int) -> list[str]:
        """Compare the interval since the last check, then follow the book the exchange left."""
        records = {
            r["orderId"]: r
            for r in read(tables.orders)
            if r["sk"].startswith(ORDER_PREFIX) and r.get("material") in self.books
        }
        arrived: dict[str, list[BookOrder]] = {material: [] for material in self.books}
        for order_id, record in sorted(records.items()):
            if order_id not in self.known and not is_house(record["playerId"]):
                arrived[record["material"]].append(_book_order(record, int(record["quantity"])))
        trades: dict[str, list[TradeKey]] = {material: [] for material in self.books}
        for trade in read(tables.trades):
            if trade["material"] in self.books and trade["tradeId"] not in self.traded:
                self.traded.add(trade["tradeId"])
                trades[trade["material"]].append(_trade_key(trade))
        resting: dict[str, dict[str, int]] = {material: {} for material in self.books}
        for item in read(tables.book):
            if item.get("kind") == "order" and item["material"] in self.books:
                resting[item["material"]][item["orderId"]] = int(item["remaining"])
        problems: list[str] = []
        for material, book in self.books.items():
            if arrived[material] and material not in self.disturbed:
                problems += self._compare(
                    material, book, arrived[material], trades[material], now_ms, resting, records
                )
            book.reset(
                [
                    (_book_order(records[order_id], remaining), remaining)
                    for order_id, remaining in sorted(resting[material].items())
                ]
            )
            self.known |= {order.order_id for order in arrived[material]}
        self.disturbed.clear()
        return problems

    def _compare(
        self,
        material: str,
        book: ReferenceBook,
        arrived: list[BookOrder],
        got: list[TradeKey],
        now_ms: int,
        resting: dict[str, dict[str, int]],
        records: Mapping[str, Mapping[str, Any]],
    ) -> list[str]:
        self.compared += 1
        events = []
        at = 0
        for order in arrived:  # each at its arrival, as the engine's uncross judges it
            arrival = arrival_ms(order.order_id)
            at = now_ms if arrival is None else min(now_ms, max(at, arrival))
            events += book.submit(order, at)
        events += book.expire(now_ms)
        want = sorted(_fill_key(event) for event in events if isinstance(event, Fill))
        problems = []
        if sorted(got) != want:
            problems.append(
                f"price-time: {material} traded {sorted(got)} where the reference book, given the same "
                f"orders in order-id order, trades {want}"
            )
        # Orders due by now are left out on both sides: the matcher expires at most a page of due
        # orders per settlement (those it does not read cannot trade), the reference all of them.
        due = {
            order_id
            for order_id, record in records.items()
            if "expiresAt" in record and int(record["expiresAt"]) <= now_ms
        }
        left = {r.order.order_id: r.remaining for r in book.resting if r.order.order_id not in due}
        rests = {order_id: n for order_id, n in resting[material].items() if order_id not in due}
        if left != rests:
            problems.append(f"price-time: {material} rests {rests} where the reference book rests {left}")
        return problems


def _trade_key(trade: Mapping[str, Any]) -> TradeKey:
    return (
        trade["buyOrderId"],
        trade["sellOrderId"],
        int(trade["price"]),
        int(trade["quantity"]),
        int(trade.get("fee", 0)),
    )


def _fill_key(fill: Fill) -> TradeKey:
    return (fill.buy_order_id, fill.sell_order_id, fill.price, fill.quantity, fill.fee)
