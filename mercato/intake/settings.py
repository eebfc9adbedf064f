"""Intake's configuration, read once at cold start (STYLE rule 5)."""

import os
from collections.abc import Mapping

from pydantic import BaseModel, SecretStr, model_validator

from mercato.intake.limits import LimitSettings
from mercato.storage.names import TableNames


class IntakeSettings(BaseModel):
    tables: TableNames
    auth_secret: SecretStr | None = None
    """The HS256 secret itself (``MERCATO_AUTH_SECRET``, local runs)."""
    auth_secret_arn: str | None = None
    """A Secrets Manager secret holding it (``MERCATO_AUTH_SECRET_ARN``, on AWS)."""
    leaderboard_table: str | None = None
    """The rollup's boards (``MERCATO_LEADERBOARD_TABLE``); ``None``: no leaderboard."""
    read_region: str | None = None
    """Set in a read region (``MERCATO_READ_REGION``): this intake serves reads and refuses writes."""
    write_url: str | None = None
    """The home region's intake URL, named in a read region's refusals (``MERCATO_WRITE_URL``)."""
    limits: LimitSettings | None = None
    """Per-player rate limits (``MERCATO_LIMITS_TABLE`` and ``MERCATO_LIMIT_*``); ``None``: off."""

    @model_validator(mode="after")
    def _one_secret_source(self) -> "IntakeSettings":
        if (self.auth_secret is None) == (self.auth_secret_arn is None):
            raise ValueError("set exactly one of MERCATO_AUTH_SECRET and MERCATO_AUTH_SECRET_ARN")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "IntakeSettings":
        return cls(
            tables=TableNames.from_env(env),
            auth_secret=SecretStr(env["MERCATO_AUTH_SECRET"]) if env.get("MERCATO_AUTH_SECRET") else None,
            auth_secret_arn=env.get("MERCATO_AUTH_SECRET_ARN") or None,
            leaderboard_table=env.get("MERCATO_LEADERBOARD_TABLE") or None,
            read_region=env.get("MERCATO_READ_REGION") or None,
            write_url=env.get("MERCATO_WRITE_URL") or None,
            limits=LimitSettings.from_env(env),
        )
