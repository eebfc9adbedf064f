"""The leaderboard's arithmetic (no I/O): marks, portfolio values, windowed gains and ranks.

A player's portfolio value is their coins plus every holding (available and reserved alike) marked
at its market's last price, or at the fundamental value F for a footballer that has not traded yet;
a commodity that has never traded marks at 0. ``all`` ranks by that value. ``day`` and ``week`` rank
by the gain since the value snapshot taken nearest the window's start (``since`` says when), less
what was deposited and plus what was withdrawn since then (valued at today's marks), so a deposit is
not a gain.
Ties share a rank (1, 2, 2, 4); among equals, player ids sort ascending.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from mercato.models.markets import FootballerMarket, Market
from mercato.models.money import COINS


class Window(StrEnum):
    ALL = "all"
    DAY = "day"
    WEEK = "week"

    @property
    def length(self) -> timedelta | None:
        return {Window.ALL: None, Window.DAY: timedelta(days=1), Window.WEEK: timedelta(days=7)}[self]


WINDOWS: Final = tuple(Window)


@dataclass(frozen=True)
class Movement:
    """A deposit (positive quantity) or a withdrawal (negative) of one asset, at a time."""

    player_id: str
    asset: str
    quantity: int
    at_ms: int


@dataclass(frozen=True)
class Standing:
    rank: int
    player_id: str
    score: int
    """What is ranked: the value for ``all``, the gain for ``day`` and ``week``."""
    value: int
    """The portfolio value now."""


def marks(markets: Iterable[Market]) -> dict[str, int]:
    """Coins per unit of each asset."""
    found = {COINS: 1}
    for market in markets:
        if market.last_price is not None:
            found[market.material] = market.last_price
        elif isinstance(market, FootballerMarket):
            found[market.material] = market.fundamental_value
        else:
            found[market.material] = 0
    return found


def portfolio_value(holdings: Mapping[str, int], marked: Mapping[str, int]) -> int:
    return sum(quantity * marked.get(asset, 0) for asset, quantity in holdings.items())


def values(holdings: Mapping[str, Mapping[str, int]], marked: Mapping[str, int]) -> dict[str, int]:
    return {player: portfolio_value(assets, marked) for player, assets in holdings.items()}


def gains(
    now: Mapping[str, int],
    baseline: Mapping[str, int],
    movements: Iterable[Movement],
    marked: Mapping[str, int],
    since_ms: int,
    moved_then: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, int]:
    """Each player's value change since the baseline, net of what moved in or out after it: the
    movements the baseline's own scan had not seen (``moved_then``), or, for a baseline without
    them, those stamped after ``since_ms``."""
    contributed: dict[str, int] = {}
    if moved_then is not None:
        for player, assets in net_moved(movements).items():
            before = moved_then.get(player, {})
            contributed[player] = sum(
                (quantity - before.get(asset, 0)) * marked.get(asset, 0) for asset, quantity in assets.items()
            )
        movements = []
    for movement in movements:
        if movement.at_ms > since_ms:
            worth = movement.quantity * marked.get(movement.asset, 0)
            contributed[movement.player_id] = contributed.get(movement.player_id, 0) + worth
    return {
        player: value - baseline.get(player, 0) - contributed.get(player, 0) for player, value in now.items()
    }


def net_moved(movements: Iterable[Movement]) -> dict[str, dict[str, int]]:
    """Each player's deposits less withdrawals, per asset."""
    net: dict[str, dict[str, int]] = {}
    for movement in movements:
        assets = net.setdefault(movement.player_id, {})
        assets[movement.asset] = assets.get(movement.asset, 0) + movement.quantity
    return net


def rank(scores: Mapping[str, int], value_now: Mapping[str, int]) -> list[Standing]:
    """Highest score first; equal scores share a rank and sort by player id."""
    ordered = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
    standings: list[Standing] = []
    for position, (player, score) in enumerate(ordered, start=1):
        shared = standings and standings[-1].score == score
        standings.append(
            Standing(
                rank=standings[-1].rank if shared else position,
                player_id=player,
                score=score,
                value=value_now[player],
            )
        )
    return standings
