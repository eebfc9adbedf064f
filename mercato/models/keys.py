"""The book table's sort key (DESIGN §2): price-time priority is the key order itself.

``SELL#{price:012d}#{orderId}`` sorts asks cheapest first; ``BUY#{MAX_PRICE - price:012d}#{orderId}``
sorts bids dearest first. Within one price the UUIDv7 order id sorts oldest first.
"""

import re
from typing import Final, NamedTuple

from mercato.models.ids import UUID7_PATTERN
from mercato.models.money import MAX_PRICE, MIN_PRICE
from mercato.models.orders import Side

BUY_PREFIX: Final = "BUY#"
SELL_PREFIX: Final = "SELL#"
_KEY = re.compile(r"^(BUY|SELL)#(\d{12})#(" + UUID7_PATTERN[1:-1] + r")$")


class BookKey(NamedTuple):
    side: Side
    price: int
    order_id: str


def side_prefix(side: Side) -> str:
    return BUY_PREFIX if side is Side.BUY else SELL_PREFIX


def encode_book_key(side: Side, price: int, order_id: str) -> str:
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise ValueError(f"price {price} is outside {MIN_PRICE}..{MAX_PRICE}")
    if side is Side.BUY:
        return f"{BUY_PREFIX}{MAX_PRICE - price:012d}#{order_id}"
    return f"{SELL_PREFIX}{price:012d}#{order_id}"


def decode_book_key(key: str) -> BookKey:
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"not a book order key: {key!r}")
    tag, digits, order_id = match.groups()
    side = Side.BUY if tag == "BUY" else Side.SELL
    price = MAX_PRICE - int(digits) if side is Side.BUY else int(digits)
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise ValueError(f"book key {key!r} encodes price {price}, outside {MIN_PRICE}..{MAX_PRICE}")
    return BookKey(side, price, order_id)
