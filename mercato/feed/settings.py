"""The goal feed's configuration, read once at cold start (STYLE rule 5)."""

import os
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mercato.environment import env_var, read_settings
from mercato.storage.names import TableNames

COMPETITION_PATTERN: Final = r"^[A-Z0-9]{2,8}$"
"""A football-data.org competition code (``WC``, ``PL``, …)."""


class FeedSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables: TableNames
    """The exchange's tables it lists goals into."""
    api_key_arn: str = Field(validation_alias="MERCATO_FEED_API_KEY_ARN", min_length=1)
    """The Secrets Manager secret holding the football-data.org API key."""
    competition: str = Field(
        default="WC", validation_alias="MERCATO_FEED_COMPETITION", pattern=COMPETITION_PATTERN
    )
    """The competition whose scorers it follows."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "FeedSettings":
        """The settings, or :class:`~mercato.environment.SettingsError` naming each bad variable."""
        return read_settings(cls, env)


API_KEY_ARN_ENV: Final = env_var(FeedSettings, "api_key_arn")
COMPETITION_ENV: Final = env_var(FeedSettings, "competition")
