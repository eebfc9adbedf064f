"""The house market maker (DESIGN §6), pure: the ladder it wants to show, given F and its holdings.

A ladder is a function of state, not of history: at every settlement of a footballer the matcher
compares the house's resting quotes with :func:`ladder` and cancels or posts the difference. So a
goal (F moves), a fill against the house (its holdings move) or a crash halfway through a re-quote
all end in the same ladder.
"""

from typing import NamedTuple

from mercato.models.ids import HOUSE_PREFIX
from mercato.models.markets import HouseParams
from mercato.models.money import BPS_DENOMINATOR, MAX_PRICE
from mercato.models.orders import Side


def house_player(material: str) -> str:
    """The house's account for one footballer: its coins and shares are touched only by that
    market's single writer (no global hot item, DESIGN §1 principle 5)."""
    return HOUSE_PREFIX + material


def is_house(player_id: str) -> bool:
    return player_id.startswith(HOUSE_PREFIX)


class Quote(NamedTuple):
    side: Side
    price: int
    quantity: int


def ladder(fundamental: int, params: HouseParams, shares: int, coins: int) -> list[Quote]:
    """The quotes the house wants around ``fundamental`` when it holds ``shares`` and ``coins`` in all
    (available plus reserved).

    Half-spread ``h = max(1, F × spreadBps // 10,000)``, step ``s = max(1, F × stepBps // 10,000)``.
    Holding more shares than it started with, the house leans its quotes down to sell; holding
    fewer, up to buy: ``shift = clamp((inventory − shares) × s // size, −h, h)``. Asks sit at
    ``F + h + shift + k·s`` and bids at ``F − h + shift − k·s``, so asks never go below F and bids
    never above it. Asks are limited by the shares held; bids by the coins and by ``maxInventory``.
    """
    half = max(1, fundamental * params.spread_bps // BPS_DENOMINATOR)
    step = max(1, fundamental * params.step_bps // BPS_DENOMINATOR)
    shift = max(-half, min(half, (params.inventory - shares) * step // params.size))
    quotes: list[Quote] = []
    left = shares
    for level in range(params.levels):
        price = fundamental + half + shift + level * step
        quantity = min(params.size, left)
        if quantity <= 0 or price > MAX_PRICE:
            break
        quotes.append(Quote(Side.SELL, price, quantity))
        left -= quantity
    room, cash = params.max_inventory - shares, coins
    for level in range(params.levels):
        price = fundamental - half + shift - level * step
        if price < 1:
            break
        quantity = min(params.size, room, cash // price)
        if quantity <= 0:
            break
        quotes.append(Quote(Side.BUY, price, quantity))
        room -= quantity
        cash -= quantity * price
    return quotes
