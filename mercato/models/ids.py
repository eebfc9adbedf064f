"""Identifiers: UUIDv7 order ids (RFC 9562) and the deterministic ids derived from them."""

import hashlib
import threading
import uuid
from typing import Annotated, Final

import uuid6
from pydantic import StringConstraints

UUID7_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
UUID_PATTERN: Final = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
"""Any UUID as RFC 9562 writes it: an order id in a path is one (an unknown one is a 404, whatever
its version; intake assigns version 7, lower case)."""
TOKEN_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
"""Client-chosen ids (client order ids, deposit ids, event ids): short, printable, no separators."""

OrderId = Annotated[str, StringConstraints(strict=True, pattern=UUID7_PATTERN)]
ClientToken = Annotated[str, StringConstraints(strict=True, pattern=TOKEN_PATTERN)]
PlayerId = Annotated[str, StringConstraints(strict=True, pattern=TOKEN_PATTERN)]

HOUSE_PREFIX: Final = "house."
"""The house's accounts, one per footballer (``house.<material>``)."""
DOT_SEGMENTS: Final = (".", "..")
"""Ids a URL cannot carry as a path segment: every WHATWG URL client drops them, ``%2E`` too."""
ME: Final = "me"
"""``/accounts/me`` is the caller's own account, so no player is called ``me``."""


def reserved(player_id: str) -> str | None:
    """Why ``player_id`` is no player's account, or ``None`` when it may be one. In any case: ids are
    case-sensitive, but a ``House.lionel-messi`` on a leaderboard would pass for the house."""
    if player_id.lower().startswith(HOUSE_PREFIX):
        return "the house's accounts are the exchange's own"
    if player_id.lower() == ME:
        return "'me' names the caller's own account in /accounts/me; no player is called 'me'"
    if player_id in DOT_SEGMENTS:
        return (
            f"{player_id!r} cannot be a path segment: browsers and fetch remove it (RFC 3986), so"
            f" /accounts/{player_id}/orders would reach another route"
        )
    return None


_TRADE_NAMESPACE: Final = uuid.UUID("5b0f4a52-3c1e-4b5e-9a57-6d2c0e4f8a11")
_lock = threading.Lock()


def new_order_id() -> str:
    """A fresh UUIDv7 as a lower-case string; ids from one process sort in the order they were made.

    ``uuid6.uuid7`` keeps a module-level last timestamp, so calls are serialised here for the
    embedded stack, which serves requests on several threads.
    """
    with _lock:
        return str(uuid6.uuid7())


def order_id_at(millis: int, *seed: str, counter: int | None = None) -> str:
    """A UUIDv7 carrying ``millis`` whose random bits are drawn from ``seed`` (SHA-256): the same seed
    gives the same id. The house's quotes after a goal take the goal's instant this way, so the orders
    placed after the goal replay after the goal's ladder (and meet it), however late the goal settles,
    and a settlement retried after a conflict posts the same ids again. A ``counter`` (12 bits) takes
    the place of the 12 bits after the version (RFC 9562 §6.2, method 1), so ids at one instant sort
    by it: a ladder replays in its own order, best quote first."""
    if not 0 <= millis < 1 << 48:
        raise ValueError(f"a UUIDv7 carries 48 bits of milliseconds, not {millis}")
    if counter is not None and not 0 <= counter < 1 << 12:
        raise ValueError(f"a UUIDv7's counter has 12 bits, not room for {counter}")
    bits = int.from_bytes(hashlib.sha256("|".join(seed).encode()).digest()[:10], "big")  # 80 bits
    rand_a, rand_b = bits >> 68 if counter is None else counter, bits & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def order_id_millis(order_id: str) -> int:
    """The Unix time in milliseconds carried in a UUIDv7's first 48 bits."""
    return int(order_id[:8] + order_id[9:13], 16)


def trade_id(buy_order_id: str, sell_order_id: str) -> str:
    """The one id a trade between these two orders can have.

    Two orders trade at most once (a fill exhausts one of them), so the pair names the trade, and a
    replayed settlement writes the same id, which ``attribute_not_exists`` then refuses.
    """
    return str(uuid.uuid5(_TRADE_NAMESPACE, f"{buy_order_id}|{sell_order_id}"))
