"""The leaderboard rollup's configuration, read once at cold start (STYLE rule 5)."""

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from mercato.environment import read_settings
from mercato.storage.names import TableNames


class LeaderboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables: TableNames
    """The exchange's tables it reads balances and prices from."""
    leaderboard_table: str = Field(validation_alias="MERCATO_LEADERBOARD_TABLE", min_length=3)
    """The table it writes the boards to (the only one it writes)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "LeaderboardSettings":
        """The settings, or :class:`~mercato.environment.SettingsError` naming each bad variable."""
        return read_settings(cls, env)
