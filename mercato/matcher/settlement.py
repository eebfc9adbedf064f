"""Stage 2: turn the engine's fills and cancels into conditional ``TransactWriteItems`` (pure).

Each transaction is self-contained: a fill's trade, both orders, all four balance moves and the
market's fee accrue together, so every committed prefix of a batch conserves value. Every book item
write is conditional on the ``remaining`` the matcher read (or left in the previous transaction); each
trade is written with ``attribute_not_exists``. A replayed batch therefore either finds its fills
already settled (the book no longer crosses) or fails a condition and re-reads: never a double fill.

Actions on one item are merged, because DynamoDB refuses two actions on one item in a transaction,
and transactions are cut at the 100-action limit only between events.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from mercato.matcher.book import BookOrder, Cancel, Event, Fill
from mercato.matcher.house import is_house
from mercato.models.ids import trade_id
from mercato.models.keys import encode_book_key
from mercato.models.money import COINS
from mercato.models.orders import Order, OrderStatus, Side, TimeInForce, escrow
from mercato.storage.items import (
    ASSET_PREFIX,
    EVENT_PREFIX,
    FILL_COUNTER_KEY,
    ORDER_PREFIX,
    ORIGIN_HOUSE,
    book_order_item,
    fill_key,
    from_millis,
    order_record_item,
    status_key,
    trade_time_key,
)
from mercato.storage.names import TableNames

MAX_ACTIONS: Final = 100
Action = dict[str, Any]


class Post(NamedTuple):
    """The house posts a quote: a new resting order, reserved from its account."""

    order: BookOrder


class GoalApplied(NamedTuple):
    """A goal event is applied to its footballer: F rises by the goal value, once."""

    event_id: str


PlanEvent = Event | Post | GoalApplied


@dataclass
class _Pending:
    """One transaction being assembled."""

    book: dict[str, int] = field(default_factory=dict)
    """order id -> remaining after this transaction."""
    start: dict[str, int] = field(default_factory=dict)
    """order id -> remaining before it (the condition)."""
    filled: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """order id -> [quantity, notional] filled in this transaction."""
    finished: dict[str, OrderStatus] = field(default_factory=dict)
    balances: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    """(player, asset) -> [available delta, reserved delta]."""
    trades: list[Action] = field(default_factory=list)
    fees: int = 0
    volume: int = 0
    last_price: int | None = None
    new: set[str] = field(default_factory=set)
    """Orders posted in this transaction: their book item and record are written whole."""
    goals: list[str] = field(default_factory=list)
    fills: list[Action] = field(default_factory=list)
    """Each player's record of a fill, numbered by the player's fill sequence."""
    fill_seq: dict[str, int] = field(default_factory=dict)
    """player -> the last fill sequence number this transaction assigns."""

    def size(self) -> int:
        records = len(set(self.filled) | set(self.finished) | self.new)
        fills = len(self.fills) + len(self.fill_seq)
        return len(self.book) + records + len(self.balances) + len(self.trades) + len(self.goals) + fills + 1


@dataclass(frozen=True)
class Ticker:
    best_bid: int | None
    best_ask: int | None
    bid_known: bool = True
    ask_known: bool = True
    """A side the matcher could not see to its end is written after the commit, from a fresh read."""


class FokTooLarge(Exception):
    """A fill-or-kill order's fills cannot settle in one transaction, so they cannot be all or nothing."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


class Planner:
    """Plans the transactions for one material's uncrossing."""

    def __init__(
        self,
        material: str,
        orders: dict[str, BookOrder],
        tables: TableNames,
        now_ms: int,
        *,
        forget_quotes: frozenset[str] = frozenset(),
        version: int = 0,
        fill_seq: Mapping[str, int] | None = None,
    ) -> None:
        self.material = material
        self.orders = dict(orders)
        """Every order the engine saw, as read: ``quantity`` is the remaining read from the book."""
        self.tables = tables
        self.now_ms = now_ms
        self.remaining = {order_id: order.quantity for order_id, order in orders.items()}
        self.forget_quotes: set[str] = set(forget_quotes)
        """House quotes the market item lists that are no longer on the book."""
        self.version = version
        """The market item's version as read; each transaction requires it and bumps it."""
        self.fill_seq = dict(fill_seq or {})
        """Each filled player's fill sequence as read (0 for none yet); every transaction requires it
        and raises it by the fills it records, so a player's fills are numbered without gaps even
        while other materials settle fills of the same player."""

    def plan(self, events: list[PlanEvent], ticker: Ticker) -> list[list[Action]]:
        """The transactions, in order; the last one also sets the ticker. A transaction is cut only
        between units: a fill-or-kill order's fills are one unit, every other event its own."""
        transactions: list[list[Action]] = []
        pending = _Pending()
        self.orders |= {event.order.order_id: event.order for event in events if isinstance(event, Post)}
        for unit in self._units(events):
            trial = pending
            for event in unit:
                trial = self._with(trial, event)
            if trial.size() > MAX_ACTIONS:
                transactions.append(self._actions(pending, None))
                trial = _Pending()
                for event in unit:
                    trial = self._with(trial, event)
                if trial.size() > MAX_ACTIONS:
                    raise FokTooLarge(self._taker(unit[0]) if isinstance(unit[0], Fill) else "")
            pending = trial
        transactions.append(self._actions(pending, ticker))
        return transactions

    def _taker(self, fill: Fill) -> str:
        return fill.buy_order_id if fill.taker_side is Side.BUY else fill.sell_order_id

    def _units(self, events: list[PlanEvent]) -> list[list[PlanEvent]]:
        units: list[list[PlanEvent]] = []
        for event in events:
            if (
                isinstance(event, Fill)
                and units
                and isinstance(units[-1][0], Fill)
                and self._taker(units[-1][0]) == self._taker(event)
                and self.orders[self._taker(event)].time_in_force is TimeInForce.FOK
            ):
                units[-1].append(event)
            else:
                units.append([event])
        return units

    # -- folding events into a pending transaction -------------------------------------------

    def _with(self, pending: _Pending, event: PlanEvent) -> _Pending:
        trial = _Pending(
            book=dict(pending.book),
            start=dict(pending.start),
            filled=defaultdict(lambda: [0, 0], {k: list(v) for k, v in pending.filled.items()}),
            finished=dict(pending.finished),
            balances=defaultdict(lambda: [0, 0], {k: list(v) for k, v in pending.balances.items()}),
            trades=list(pending.trades),
            fees=pending.fees,
            volume=pending.volume,
            last_price=pending.last_price,
            new=set(pending.new),
            goals=list(pending.goals),
            fills=list(pending.fills),
            fill_seq=dict(pending.fill_seq),
        )
        if isinstance(event, Fill):
            self._fill(trial, event)
        elif isinstance(event, Cancel):
            self._cancel(trial, event)
        elif isinstance(event, Post):
            self._post(trial, event.order)
        else:
            trial.goals.append(event.event_id)
        return trial

    def _post(self, pending: _Pending, order: BookOrder) -> None:
        self.orders[order.order_id] = order
        self.remaining[order.order_id] = 0
        pending.new.add(order.order_id)
        pending.start[order.order_id] = 0
        pending.book[order.order_id] = order.quantity
        asset, amount = escrow(order.side, self.material, order.price, order.quantity)
        balance = pending.balances[(order.player_id, asset)]
        balance[0] -= amount
        balance[1] += amount

    def _take(self, pending: _Pending, order_id: str, quantity: int) -> int:
        if order_id not in pending.book:
            pending.start[order_id] = pending.book[order_id] = self.remaining[order_id]
        pending.book[order_id] -= quantity
        return pending.book[order_id]

    def _fill(self, pending: _Pending, fill: Fill) -> None:
        material = self.material
        notional = fill.notional
        for order_id in (fill.buy_order_id, fill.sell_order_id):
            left = self._take(pending, order_id, fill.quantity)
            pending.filled[order_id][0] += fill.quantity
            pending.filled[order_id][1] += notional
            if left == 0:
                pending.finished[order_id] = OrderStatus.FILLED
        buyer_coins = pending.balances[(fill.buyer_id, COINS)]
        buyer_coins[0] += fill.buyer_refund
        buyer_coins[1] -= notional + fill.buyer_refund
        pending.balances[(fill.buyer_id, material)][0] += fill.quantity
        pending.balances[(fill.seller_id, material)][1] -= fill.quantity
        pending.balances[(fill.seller_id, COINS)][0] += notional - fill.fee
        taker, maker = (
            (fill.buy_order_id, fill.sell_order_id)
            if fill.taker_side is Side.BUY
            else (fill.sell_order_id, fill.buy_order_id)
        )
        maker_order = self.orders[maker]
        trade_key = f"{taker}#{encode_book_key(maker_order.side, maker_order.price, maker)}"
        traded = trade_id(fill.buy_order_id, fill.sell_order_id)
        pending.trades.append(
            {
                "material": material,
                "sk": trade_key,
                "timeKey": trade_time_key(self.now_ms, trade_key),
                "tradeId": traded,
                "price": fill.price,
                "quantity": fill.quantity,
                "takerSide": str(fill.taker_side),
                "executedAt": self.now_ms,
                "buyOrderId": fill.buy_order_id,
                "sellOrderId": fill.sell_order_id,
                "buyerId": fill.buyer_id,
                "sellerId": fill.seller_id,
                "fee": fill.fee,
            }
        )
        pending.fees += fill.fee
        pending.volume += fill.quantity
        pending.last_price = fill.price
        self._record_fill(pending, fill.buyer_id, traded, fill.buy_order_id, Side.BUY, fill, 0)
        self._record_fill(pending, fill.seller_id, traded, fill.sell_order_id, Side.SELL, fill, fill.fee)

    def _record_fill(
        self, pending: _Pending, player: str, traded: str, order_id: str, side: Side, fill: Fill, fee: int
    ) -> None:
        """The player's own record of the fill, under the next number of their fill sequence (the
        house's fills are not recorded: nobody can read them)."""
        if is_house(player):
            return
        seq = pending.fill_seq.get(player, self.fill_seq.get(player, 0)) + 1
        pending.fill_seq[player] = seq
        pending.fills.append(
            {
                "playerId": player,
                "sk": fill_key(seq),
                "seq": seq,
                "fillId": f"{traded}-{side.value[0].lower()}",
                "tradeId": traded,
                "orderId": order_id,
                "material": self.material,
                "side": str(side),
                "price": fill.price,
                "quantity": fill.quantity,
                "fee": fee,
                "executedAt": self.now_ms,
            }
        )

    def _cancel(self, pending: _Pending, cancel: Cancel) -> None:
        self._take(pending, cancel.order_id, cancel.quantity)
        pending.finished[cancel.order_id] = cancel.reason.status
        asset, released = escrow(cancel.side, self.material, cancel.price, cancel.quantity)
        balance = pending.balances[(cancel.player_id, asset)]
        balance[0] += released
        balance[1] -= released

    # -- rendering -----------------------------------------------------------------------------

    def _actions(self, pending: _Pending, ticker: Ticker | None) -> list[Action]:
        for order_id, left in pending.book.items():
            self.remaining[order_id] = left
        actions: list[Action] = [
            action
            for order_id in pending.book
            if (action := self._book_action(order_id, pending)) is not None
        ]
        records = dict.fromkeys([*pending.filled, *pending.finished, *pending.new])
        actions += [self._record_action(order_id, pending) for order_id in records]
        actions += [
            {
                "Update": {
                    "TableName": self.tables.book,
                    "Key": {"material": self.material, "sk": EVENT_PREFIX + event_id},
                    "UpdateExpression": "SET applied = :yes, appliedAt = :at",
                    "ConditionExpression": "applied = :no",
                    "ExpressionAttributeValues": {":yes": True, ":no": False, ":at": self.now_ms},
                }
            }
            for event_id in pending.goals
        ]
        actions += [
            self._balance_action(player, asset, delta) for (player, asset), delta in pending.balances.items()
        ]
        actions += [
            {
                "Put": {
                    "TableName": self.tables.trades,
                    "Item": trade,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
            for trade in pending.trades
        ]
        actions += [self._fill_seq_action(player, last) for player, last in pending.fill_seq.items()]
        actions += [
            {
                "Put": {
                    "TableName": self.tables.accounts,
                    "Item": fill,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
            for fill in pending.fills
        ]
        for player, last in pending.fill_seq.items():
            self.fill_seq[player] = last
        actions.append(self._market_action(pending, ticker))
        return actions

    def _fill_seq_action(self, player: str, last: int) -> Action:
        """Raise the player's fill sequence to ``last``, conditional on it still being what was read."""
        read = self.fill_seq.get(player, 0)
        return {
            "Update": {
                "TableName": self.tables.accounts,
                "Key": {"playerId": player, "sk": FILL_COUNTER_KEY},
                "UpdateExpression": "SET fillSeq = :last",
                "ConditionExpression": "attribute_not_exists(fillSeq)" if read == 0 else "fillSeq = :read",
                "ExpressionAttributeValues": {":last": last} | ({":read": read} if read else {}),
            }
        }

    def _new_order(self, order: BookOrder, pending: _Pending) -> Order:
        quantity, notional = pending.filled.get(order.order_id, [0, 0])
        status = pending.finished.get(order.order_id, OrderStatus.OPEN)
        return Order(
            order_id=order.order_id,
            player_id=order.player_id,
            side=order.side,
            material=self.material,
            quantity=order.quantity,
            price=order.price,
            time_in_force=order.time_in_force,
            status=status,
            filled_quantity=quantity,
            filled_notional=notional,
            created_at=from_millis(self.now_ms),
        )

    def _book_action(self, order_id: str, pending: _Pending) -> Action | None:
        order = self.orders[order_id]
        if order_id in pending.new:
            if pending.book[order_id] == 0:
                return None  # posted and gone in the same transaction
            item = book_order_item(self._new_order(order, pending)) | {"origin": ORIGIN_HOUSE}
            return {
                "Put": {
                    "TableName": self.tables.book,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
        key = {"material": self.material, "sk": encode_book_key(order.side, order.price, order_id)}
        condition = {":was": pending.start[order_id]}
        if pending.book[order_id] == 0:
            return {
                "Delete": {
                    "TableName": self.tables.book,
                    "Key": key,
                    "ConditionExpression": "remaining = :was",
                    "ExpressionAttributeValues": condition,
                }
            }
        return {
            "Update": {
                "TableName": self.tables.book,
                "Key": key,
                "UpdateExpression": "SET remaining = :left",
                "ConditionExpression": "remaining = :was",
                "ExpressionAttributeValues": condition | {":left": pending.book[order_id]},
            }
        }

    def _record_action(self, order_id: str, pending: _Pending) -> Action:
        order = self.orders[order_id]
        if order_id in pending.new:
            return {
                "Put": {
                    "TableName": self.tables.orders,
                    "Item": order_record_item(self._new_order(order, pending)),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
        quantity, notional = pending.filled.get(order_id, [0, 0])
        sets = ["filledQuantity = filledQuantity + :q", "filledNotional = filledNotional + :n"]
        values: dict[str, Any] = {":q": quantity, ":n": notional, ":open": str(OrderStatus.OPEN)}
        status = pending.finished.get(order_id)
        if status is not None:
            sets += ["#status = :status", "statusKey = :key", "closedAt = :at"]
            values |= {":status": str(status), ":key": status_key(status, order_id), ":at": self.now_ms}
        return {
            "Update": {
                "TableName": self.tables.orders,
                "Key": {"playerId": order.player_id, "sk": ORDER_PREFIX + order_id},
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": "#status = :open",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
            }
        }

    def _balance_action(self, player: str, asset: str, delta: list[int]) -> Action:
        available, reserved = delta
        update: Action = {
            "TableName": self.tables.accounts,
            "Key": {"playerId": player, "sk": ASSET_PREFIX + asset},
            "UpdateExpression": "SET available = if_not_exists(available, :zero) + :a, "
            "reserved = if_not_exists(reserved, :zero) + :r",
            "ExpressionAttributeValues": {":a": available, ":r": reserved, ":zero": 0},
        }
        conditions = []
        if reserved < 0:
            conditions.append("reserved >= :release")
            update["ExpressionAttributeValues"][":release"] = -reserved
        if available < 0:
            conditions.append("available >= :spend")
            update["ExpressionAttributeValues"][":spend"] = -available
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": update}

    def _market_action(self, pending: _Pending, ticker: Ticker | None) -> Action:
        sets = [
            "feesAccrued = if_not_exists(feesAccrued, :zero) + :fees",
            "volume = if_not_exists(volume, :zero) + :v",
        ]
        values: dict[str, Any] = {":fees": pending.fees, ":v": pending.volume, ":zero": 0}
        names: dict[str, str] = {}
        removes: list[str] = []
        if pending.goals:
            sets.append("goals = if_not_exists(goals, :zero) + :goals")
            values[":goals"] = len(pending.goals)
        gone = {o for o, left in pending.book.items() if left == 0 and is_house(self.orders[o].player_id)}
        gone |= self.forget_quotes
        self.forget_quotes = set()
        for n, order_id in enumerate(sorted(gone - pending.new)):
            names[f"#gone{n}"] = order_id
            removes.append(f"houseQuotes.#gone{n}")
        for n, order_id in enumerate(sorted(o for o in pending.new if pending.book[o] > 0)):
            order = self.orders[order_id]
            names[f"#quote{n}"] = order_id
            values[f":quote{n}"] = encode_book_key(order.side, order.price, order_id)
            sets.append(f"houseQuotes.#quote{n} = :quote{n}")
        if pending.last_price is not None:
            sets.append("lastPrice = :last")
            values[":last"] = pending.last_price
        if ticker is not None:
            sides = (
                ("bestBid", ticker.best_bid, ticker.bid_known),
                ("bestAsk", ticker.best_ask, ticker.ask_known),
            )
            for name, value, known in sides:
                if not known:
                    continue
                if value is None:
                    removes.append(name)
                else:
                    sets.append(f"{name} = :{name}")
                    values[f":{name}"] = value
        values[":version"] = self.version
        self.version += 1
        values[":next"] = self.version
        sets.append("version = :next")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        update: Action = {
            "TableName": self.tables.markets,
            "Key": {"material": self.material},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(material) AND "
            "(version = :version OR (attribute_not_exists(version) AND :version = :zero))",
            "ExpressionAttributeValues": values,
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}
