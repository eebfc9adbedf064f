"""The deployed names of the five tables, as a function receives them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TableNames:
    book: str
    orders: str
    accounts: str
    trades: str
    markets: str
