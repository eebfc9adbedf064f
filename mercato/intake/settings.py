"""Intake's configuration, read once at cold start (STYLE rule 5)."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from mercato.environment import SettingsError, env_var, read_settings
from mercato.intake.limits import LimitSettings
from mercato.storage.names import TableNames


class IntakeSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables: TableNames
    auth_secret: SecretStr | None = Field(default=None, validation_alias="MERCATO_AUTH_SECRET")
    """The HS256 secret itself (local runs)."""
    auth_secret_arn: str | None = Field(default=None, validation_alias="MERCATO_AUTH_SECRET_ARN")
    """A Secrets Manager secret holding it (on AWS)."""
    leaderboard_table: str | None = Field(default=None, validation_alias="MERCATO_LEADERBOARD_TABLE")
    """The rollup's boards; ``None``: no leaderboard."""
    read_region: str | None = Field(default=None, validation_alias="MERCATO_READ_REGION")
    """Set in a read region: this intake serves reads and refuses writes."""
    write_url: str | None = Field(default=None, validation_alias="MERCATO_WRITE_URL")
    """The home region's intake URL, named in a read region's refusals."""
    limits: LimitSettings | None = None
    """Per-player rate limits (``MERCATO_LIMITS_TABLE`` and ``MERCATO_LIMIT_*``); ``None``: off."""
    stream_name: str | None = Field(default=None, validation_alias="MERCATO_STREAM_NAME")
    """The Kinesis stream a cancel's wake-up goes on (:mod:`mercato.pipes.wake`); ``None``: none."""
    trace_file: Path | None = Field(default=None, validation_alias="MERCATO_TRACE_FILE")
    """Order spans as JSON lines (a local run); X-Ray needs no setting."""

    @model_validator(mode="after")
    def _one_secret_source(self) -> "IntakeSettings":
        if (self.auth_secret is None) == (self.auth_secret_arn is None):
            raise ValueError("set exactly one of MERCATO_AUTH_SECRET and MERCATO_AUTH_SECRET_ARN")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "IntakeSettings":
        """The settings, or :class:`~mercato.environment.SettingsError` naming each bad variable."""
        try:
            limits = LimitSettings.from_env(env)
        except ValueError as error:
            raise SettingsError(f"{cls.__name__} from the environment: {error}") from None
        return read_settings(cls, env, limits=limits)


AUTH_SECRET_ARN_ENV: Final = env_var(IntakeSettings, "auth_secret_arn")
READ_REGION_ENV: Final = env_var(IntakeSettings, "read_region")
WRITE_URL_ENV: Final = env_var(IntakeSettings, "write_url")
