"""The deployed names of the five tables, as a function receives them."""

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TableNames:
    book: str
    orders: str
    accounts: str
    trades: str
    markets: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "TableNames":
        """Read ``MERCATO_<TABLE>_TABLE`` for each table of :data:`mercato.resources.TABLES`."""
        from mercato.resources import TABLES

        return cls(**{spec.logical_name: env[spec.env_var] for spec in TABLES})
