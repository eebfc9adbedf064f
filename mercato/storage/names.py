"""The deployed names of the six exchange tables, as a function receives them."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TableNames:
    book: str
    orders: str
    accounts: str
    trades: str
    markets: str
    fills: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TableNames":
        """Read ``MERCATO_<TABLE>_TABLE`` for each table of :data:`mercato.resources.TABLES` (a
        function reads them through its settings model, :func:`mercato.environment.read_settings`)."""
        from mercato.resources import TABLES

        return cls(**{spec.logical_name: env[spec.env_var] for spec in TABLES})
