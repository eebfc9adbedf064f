"""Deployment settings, from CDK context (``cdk deploy -c stage=prod -c parallelizationFactor=4``)."""

from typing import Any

from pydantic import BaseModel, Field

from mercato.pipes.definition import MATCHER_SOURCE


class DeploySettings(BaseModel):
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    shard_count: int | None = Field(default=None, ge=1, le=500)
    """``None``: the Kinesis stream is on-demand; a number: provisioned with that many shards."""
    parallelization_factor: int = Field(default=MATCHER_SOURCE.parallelization_factor, ge=1, le=10)
    iterator_age_alarm_ms: int = Field(default=60_000, ge=1_000)
    errors_alarm_threshold: int = Field(default=1, ge=1)
    feed_competition: str = Field(default="WC", pattern=r"^[A-Z0-9]{2,8}$")
    """The football-data.org competition code the feed follows."""

    @property
    def prefix(self) -> str:
        return f"mercato-{self.stage}"

    @classmethod
    def from_context(cls, get: Any) -> "DeploySettings":
        """``get`` is ``node.try_get_context``; context keys are camelCase."""
        fields = {
            "stage": "stage",
            "shard_count": "shardCount",
            "parallelization_factor": "parallelizationFactor",
            "iterator_age_alarm_ms": "iteratorAgeAlarmMs",
            "errors_alarm_threshold": "errorsAlarmThreshold",
            "feed_competition": "feedCompetition",
        }
        given = {name: get(key) for name, key in fields.items() if get(key) is not None}
        for name in given:
            if name not in ("stage", "feed_competition"):
                given[name] = int(given[name])
        return cls(**given)
