"""The matcher's configuration, read once at cold start (STYLE rule 5)."""

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mercato.environment import read_settings
from mercato.storage.names import TableNames

STREAM_NAME_ENV = "MERCATO_STREAM_NAME"


class MatcherSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables: TableNames
    """The exchange's tables it settles into."""
    stream_name: str | None = Field(default=None, validation_alias="MERCATO_STREAM_NAME")  # STREAM_NAME_ENV
    """The Kinesis stream a scheduled sweep puts its wake-ups on (:mod:`mercato.matcher.sweep`)."""
    trace_file: Path | None = Field(default=None, validation_alias="MERCATO_TRACE_FILE")
    """Order spans as JSON lines (a local run); X-Ray needs no setting."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "MatcherSettings":
        """The settings, or :class:`~mercato.environment.SettingsError` naming each bad variable."""
        return read_settings(cls, env)
