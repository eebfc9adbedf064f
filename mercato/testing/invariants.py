"""The invariants of DESIGN §8, checked over every table (the tests, and ``mercato demo``).

:func:`violations` reads the tables with consistent scans; :func:`problems` checks tables already
read, so a caller with a cheaper way to read the same items (``mercato sim`` reads in-process moto's
tables directly, see :func:`mercato.emulators.moto_atomic.table_items`) checks exactly the same things.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from mercato.matcher.house import is_house
from mercato.models.history import HOUR_MS, KEPT_HOURS
from mercato.models.money import COINS, fee_for
from mercato.storage.items import (
    ASSET_PREFIX,
    DEPOSIT_PREFIX,
    FILL_COUNTER_KEY,
    FILL_PREFIX,
    ORDER_PREFIX,
    WITHDRAWAL_PREFIX,
    plain,
)
from mercato.storage.names import TableNames
from mercato.storage.pages import items


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    return [plain(item) for item in items(client.scan, TableName=table, ConsistentRead=True)]


def scan_tables(client: Any, tables: TableNames) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table, by table name, each scanned once: for a caller that computes more
    than the invariants from the same read."""
    return {table: scan(client, table) for table in vars(tables).values()}


TableReader = Callable[[str], list[dict[str, Any]]]
"""Every item of the named table, as plain Python values (numbers as ``int``)."""


def violations(client: Any, tables: TableNames, *, drained: bool = True) -> list[str]:
    """Every broken invariant, in words; an empty list when all hold."""
    return problems(lambda table: scan(client, table), tables, drained=drained)


def problems(read: TableReader, tables: TableNames, *, drained: bool = True) -> list[str]:
    """Every broken invariant of the tables ``read`` returns, in words; empty when all hold."""
    problems: list[str] = []
    accounts = read(tables.accounts)
    book_items = read(tables.book)
    book = [item for item in book_items if item.get("kind") == "order"]
    records = [item for item in read(tables.orders) if item["sk"].startswith(ORDER_PREFIX)]
    trades = read(tables.trades)
    markets = {item["material"]: item for item in read(tables.markets)}

    # 1. conservation, per asset
    held: Counter[str] = Counter()
    flows: Counter[str] = Counter()
    balances: dict[tuple[str, str], dict[str, int]] = {}
    for item in accounts:
        key = item["sk"]
        if key.startswith(ASSET_PREFIX):
            asset = key.removeprefix(ASSET_PREFIX)
            held[asset] += item["available"] + item["reserved"]
            balances[(item["playerId"], asset)] = item
            # 3. nothing negative
            if item["available"] < 0 or item["reserved"] < 0:
                problems.append(f"negative balance: {item['playerId']} {asset} {item}")
        elif key.startswith(DEPOSIT_PREFIX):
            flows[item["asset"]] += item["quantity"]
        elif key.startswith(WITHDRAWAL_PREFIX):
            flows[item["asset"]] -= item["quantity"]
    held[COINS] += sum(market.get("feesAccrued", 0) for market in markets.values())
    problems += [
        f"conservation: {asset} held {held[asset]} != deposits - withdrawals {flows[asset]}"
        for asset in sorted(set(held) | set(flows))
        if held[asset] != flows[asset]
    ]

    # 2. escrow matches the book
    escrow: Counter[tuple[str, str]] = Counter()
    for order in book:
        if order["side"] == "Buy":
            escrow[(order["playerId"], COINS)] += order["remaining"] * order["price"]
        else:
            escrow[(order["playerId"], order["material"])] += order["remaining"]
    for key in set(escrow) | {k for k, v in balances.items() if v["reserved"]}:
        reserved = balances.get(key, {}).get("reserved", 0)
        if reserved != escrow[key]:
            problems.append(f"escrow: {key} reserves {reserved} but its open orders hold {escrow[key]}")

    # 3. no order filled beyond its quantity; filled = the sum of its trades; 4. trades exist once
    traded: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    trade_ids = Counter(trade["tradeId"] for trade in trades)
    problems += [f"trade {tid} exists {n} times" for tid, n in trade_ids.items() if n > 1]
    for trade in trades:
        for order_id in (trade["buyOrderId"], trade["sellOrderId"]):
            traded[order_id][0] += trade["quantity"]
            traded[order_id][1] += trade["quantity"] * trade["price"]
    resting = {order["orderId"]: order for order in book}
    for record in records:
        order_id = record["orderId"]
        if record["filledQuantity"] > record["quantity"]:
            problems.append(f"overfilled: {order_id}")
        if [record["filledQuantity"], record["filledNotional"]] != traded[order_id]:
            problems.append(
                f"order {order_id} says filled {record['filledQuantity']} but trades say {traded[order_id]}"
            )
        on_book = resting.get(order_id)
        if record["status"] == "open" and drained and on_book is None:
            problems.append(f"order {order_id} is open but not on the book")
        if on_book is not None and record["status"] != "open":
            problems.append(f"order {order_id} is {record['status']} but still on the book")
        if on_book is not None and on_book["remaining"] != record["quantity"] - record["filledQuantity"]:
            problems.append(
                f"order {order_id}: book remaining {on_book['remaining']} disagrees with its record"
            )

    # fees accrued on each market are exactly the fees of its trades; every book order has a record
    fees: Counter[str] = Counter()
    for trade in trades:
        fees[trade["material"]] += trade.get("fee", 0)
    problems += [
        f"{material} accrued {market.get('feesAccrued', 0)} in fees but its trades paid {fees[material]}"
        for material, market in sorted(markets.items())
        if market.get("feesAccrued", 0) != fees[material]
    ]
    recorded = {record["orderId"] for record in records}
    problems += [
        f"book order {order['orderId']} has no order record"
        for order in book
        if order["orderId"] not in recorded
    ]

    # 10. each trade is at its resting order's price (a house quote's own, when it crossed on arrival),
    #     within both orders' limits, and pays its market's fee on that price (a matcher that charged
    #     twice the fee, or filled a buyer at its own limit above the resting ask, left every other
    #     check here green: a reviewer's find)
    problems += _pricing_problems(trades, records, markets)

    # 5. when drained, no book is crossed
    if drained:
        best: dict[str, dict[str, int]] = defaultdict(dict)
        for order in book:
            side = best[order["material"]]
            if order["side"] == "Buy":
                side["bid"] = max(side.get("bid", 0), order["price"])
            else:
                side["ask"] = min(side.get("ask", 10**13), order["price"])
        for material, side in best.items():
            if "bid" in side and "ask" in side and side["bid"] >= side["ask"]:
                problems.append(f"{material} is crossed: bid {side['bid']} >= ask {side['ask']}")

    # 7. each market's hourly figures (the 24-hour figures' source) are those of its trades
    by_material: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trade in trades:
        by_material[trade["material"]].append(trade)
    for material, market in sorted(markets.items()):
        problems += _hours_problems(material, market.get("hours", []), by_material[material])

    # 8. each footballer counts exactly the goals applied to it; when drained, none is pending
    goals = [item for item in book_items if item.get("kind") == "goal"]
    applied = Counter(goal["material"] for goal in goals if goal["applied"])
    for material, market in sorted(markets.items()):
        if market.get("kind") == "footballer" and market.get("goals", 0) != applied[material]:
            problems.append(
                f"goals: {material} counts {market.get('goals', 0)} but {applied[material]} are applied"
            )
    if drained:
        problems += [
            f"goals: {goal['material']} has goal {goal['sk']} still pending when drained"
            for goal in goals
            if not goal["applied"] and goal["material"] in markets
        ]
    problems += _fill_problems(read(tables.fills), trades)
    return problems


def _pricing_problems(
    trades: list[dict[str, Any]], records: list[dict[str, Any]], markets: dict[str, dict[str, Any]]
) -> list[str]:
    limits = {record["orderId"]: record["price"] for record in records}
    problems: list[str] = []
    for trade in trades:
        price, trade_id = trade["price"], trade["tradeId"]
        buying = trade["takerSide"] == "Buy"
        maker, taker = (
            (trade["sellOrderId"], trade["buyOrderId"])
            if buying
            else (trade["buyOrderId"], trade["sellOrderId"])
        )
        if is_house(trade["buyerId"] if buying else trade["sellerId"]):  # a house quote crossing on arrival
            if taker in limits and price != limits[taker]:
                problems.append(
                    f"pricing: trade {trade_id} at {price}, not its house quote's price {limits[taker]}"
                )
        elif maker in limits and price != limits[maker]:
            problems.append(
                f"pricing: trade {trade_id} at {price}, not its resting order's price {limits[maker]}"
            )
        buy, sell = limits.get(trade["buyOrderId"]), limits.get(trade["sellOrderId"])
        if (buy is not None and price > buy) or (sell is not None and price < sell):
            problems.append(
                f"pricing: trade {trade_id} at {price} is outside its orders' limits (buy {buy}, sell {sell})"
            )
        market = markets.get(trade["material"])
        if market is not None and "feeBps" in market:
            fee = fee_for(price * trade["quantity"], market["feeBps"])
            if trade.get("fee", 0) != fee:
                problems.append(f"pricing: trade {trade_id} paid {trade.get('fee', 0)} in fees, not {fee}")
    return problems


def _fill_problems(fills: list[dict[str, Any]], trades: list[dict[str, Any]]) -> list[str]:
    """9. Each player's fill records are numbered 1 to N with no gap, their sequence item says N, and
    they are exactly the player's part in the trades: one record per trade a player (not the house)
    took part in, and none for a trade that does not exist (what ``GET /fills?after=`` pages
    through without skipping or repeating)."""
    problems: list[str] = []
    counters = {item["playerId"]: item["fillSeq"] for item in fills if item["sk"] == FILL_COUNTER_KEY}
    records = [item for item in fills if item["sk"].startswith(FILL_PREFIX)]
    numbered: dict[str, list[int]] = defaultdict(list)
    for record in records:
        numbered[record["playerId"]].append(record["seq"])
    for player in sorted(set(numbered) | set(counters)):
        seqs = sorted(numbered[player])
        if seqs != list(range(1, len(seqs) + 1)) or counters.get(player, 0) != len(seqs):
            problems.append(
                f"fills: {player} has records {seqs[:5]}{'…' if len(seqs) > 5 else ''} ({len(seqs)}) "
                f"and sequence {counters.get(player, 0)}"
            )
    expected = Counter(
        (player, trade["tradeId"])
        for trade in trades
        for player in (trade["buyerId"], trade["sellerId"])
        if not is_house(player)
    )
    recorded = Counter((record["playerId"], record["tradeId"]) for record in records)
    problems += [
        f"fills: {player} has {recorded[(player, trade_id)]} records of trade {trade_id}, not "
        f"{expected[(player, trade_id)]}"
        for player, trade_id in sorted(set(expected) | set(recorded))
        if expected[(player, trade_id)] != recorded[(player, trade_id)]
    ]
    return problems


def _hours_problems(material: str, stored: list[list[int]], trades: list[dict[str, Any]]) -> list[str]:
    """The hours a market keeps are the :data:`KEPT_HOURS` ending with the latest hour its trades
    executed in, each with those trades' high, low and volume; open and close are a price traded at
    the hour's first and last millisecond (trades settled in the same millisecond are stored in no
    order of their own)."""
    hours: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for trade in trades:
        hours[trade["executedAt"] - trade["executedAt"] % HOUR_MS].append(trade)
    kept = [hour for hour in sorted(hours) if hour >= max(hours) - (KEPT_HOURS - 1) * HOUR_MS]
    if [figures[0] for figures in stored] != kept:
        return [f"{material} keeps figures for hours {[f[0] for f in stored]}; its trades fill {kept}"]
    problems = []
    for hour_ms, open_, high, low, close, volume, first_ms, last_ms in stored:
        inside = hours[hour_ms]
        first = min(t["executedAt"] for t in inside)
        last = max(t["executedAt"] for t in inside)
        if (
            high != max(t["price"] for t in inside)
            or low != min(t["price"] for t in inside)
            or volume != sum(t["quantity"] for t in inside)
            or (first_ms, last_ms) != (first, last)
            or open_ not in {t["price"] for t in inside if t["executedAt"] == first}
            or close not in {t["price"] for t in inside if t["executedAt"] == last}
        ):
            problems.append(f"{material}'s figures for hour {hour_ms} disagree with its trades")
    return problems
