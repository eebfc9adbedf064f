"""A deliberately simple order book: the specification the fast one is checked against.

One list of resting orders, scanned in full for every decision. No indexes, no lazy deletion, no
cached best price: each rule of DESIGN §3 reads as one plain step. It is slow on purpose and used
only by the property tests and the benchmark's side-by-side run.
"""

from dataclasses import dataclass

from mercato.matcher.book import BookOrder, Cancel, Event, Fill
from mercato.models.money import fee_for
from mercato.models.orders import CancelReason, Side, TimeInForce


@dataclass
class Resting:
    order: BookOrder
    remaining: int


class ReferenceBook:
    def __init__(self, fee_bps: int = 0) -> None:
        self.fee_bps = fee_bps
        self.resting: list[Resting] = []

    def submit(self, order: BookOrder, now: int = 0) -> list[Event]:
        events: list[Event] = list(self.expire(now))
        if order.expires_at is not None and order.expires_at <= now:
            return [*events, self._cancel(order, order.quantity, CancelReason.EXPIRED)]

        if order.time_in_force is TimeInForce.FOK and self._fillable(order) < order.quantity:
            return [*events, self._cancel(order, order.quantity, CancelReason.FOK_UNFILLED)]

        remaining = order.quantity
        while remaining > 0:
            best = self._best_opposite(order.side)
            if best is None or not _crosses(order, best.order.price):
                break
            if best.order.player_id == order.player_id:
                return [*events, self._cancel(order, remaining, CancelReason.SELF_TRADE)]
            quantity = min(remaining, best.remaining)
            events.append(self._fill(order, best.order, quantity))
            remaining -= quantity
            best.remaining -= quantity
            if best.remaining == 0:
                self.resting.remove(best)

        if remaining > 0:
            if order.time_in_force is TimeInForce.GTC:
                self.resting.append(Resting(order, remaining))
            else:
                events.append(self._cancel(order, remaining, CancelReason.IOC_REMAINDER))
        return events

    def reset(self, resting: list[tuple[BookOrder, int]]) -> None:
        """Rest exactly these orders, with what each has left (a book read back from the exchange)."""
        self.resting = [Resting(order, remaining) for order, remaining in resting]

    def cancel(self, order_id: str, reason: CancelReason = CancelReason.USER) -> Cancel | None:
        for resting in self.resting:
            if resting.order.order_id == order_id:
                self.resting.remove(resting)
                return self._cancel(resting.order, resting.remaining, reason)
        return None

    def expire(self, now: int) -> list[Cancel]:
        due = [r for r in self.resting if r.order.expires_at is not None and r.order.expires_at <= now]
        due.sort(key=lambda r: (r.order.expires_at, r.order.order_id))
        for resting in due:
            self.resting.remove(resting)
        return [self._cancel(r.order, r.remaining, CancelReason.EXPIRED) for r in due]

    def best_bid(self) -> int | None:
        best = self._best_opposite(Side.SELL)
        return None if best is None else best.order.price

    def best_ask(self) -> int | None:
        best = self._best_opposite(Side.BUY)
        return None if best is None else best.order.price

    def remaining(self, order_id: str) -> int:
        return sum(r.remaining for r in self.resting if r.order.order_id == order_id)

    # -- the rules, one step each ----------------------------------------------------------------

    def _best_opposite(self, side: Side) -> Resting | None:
        """The best-priced, oldest resting order a ``side`` order would trade with."""
        candidates = [r for r in self.resting if r.order.side is not side]
        if not candidates:
            return None
        if side is Side.BUY:
            return min(candidates, key=lambda r: (r.order.price, r.order.order_id))
        return min(candidates, key=lambda r: (-r.order.price, r.order.order_id))

    def _fillable(self, order: BookOrder) -> int:
        """What other players could fill, walking in priority order until the player's own order."""
        opposite = [
            r for r in self.resting if r.order.side is not order.side and _crosses(order, r.order.price)
        ]
        sign = 1 if order.side is Side.BUY else -1
        opposite.sort(key=lambda r: (sign * r.order.price, r.order.order_id))
        total = 0
        for resting in opposite:
            if resting.order.player_id == order.player_id:
                break
            total += resting.remaining
        return total

    def _fill(self, taker: BookOrder, maker: BookOrder, quantity: int) -> Fill:
        # the order that rested first sets the price, unless the incoming one is a house quote
        price = taker.price if taker.quote else maker.price
        buy, sell = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        return Fill(
            buy_order_id=buy.order_id,
            sell_order_id=sell.order_id,
            buyer_id=buy.player_id,
            seller_id=sell.player_id,
            price=price,
            quantity=quantity,
            taker_side=taker.side,
            fee=fee_for(price * quantity, self.fee_bps),
            buyer_refund=(buy.price - price) * quantity,
        )

    @staticmethod
    def _cancel(order: BookOrder, quantity: int, reason: CancelReason) -> Cancel:
        return Cancel(order.order_id, order.player_id, order.side, order.price, quantity, reason)


def _crosses(order: BookOrder, opposite_price: int) -> bool:
    return opposite_price <= order.price if order.side is Side.BUY else opposite_price >= order.price
