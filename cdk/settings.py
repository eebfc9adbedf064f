"""Deployment settings, from CDK context (``cdk deploy -c stage=prod -c parallelizationFactor=4``)."""

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from mercato.feed.settings import COMPETITION_PATTERN
from mercato.intake.limits import Bucket, RouteClass, limit_env_var
from mercato.pipes.definition import MATCHER_SOURCE

_INTEGERS = (
    "shard_count",
    "parallelization_factor",
    "iterator_age_alarm_ms",
    "errors_alarm_threshold",
    "leaderboard_minutes",
)


class DeploySettings(BaseModel):
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    shard_count: int | None = Field(default=None, ge=1, le=500)
    """``None``: the Kinesis stream is on-demand; a number: provisioned with that many shards."""
    parallelization_factor: int = Field(default=MATCHER_SOURCE.parallelization_factor, ge=1, le=10)
    iterator_age_alarm_ms: int = Field(default=60_000, ge=1_000)
    errors_alarm_threshold: int = Field(default=1, ge=1)
    feed_competition: str = Field(default="WC", pattern=COMPETITION_PATTERN)
    """The football-data.org competition code the feed follows."""
    github_repository: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """``OWNER/REPO``: when set, the app also synthesises stack ``MercatoDeploy`` (GitHub's OIDC
    provider and the role the deploy workflow assumes)."""
    github_branch: str = Field(default="main", pattern=r"^[A-Za-z0-9_./-]{1,100}$")
    github_oidc_provider_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$",
    )
    """Import the account's existing GitHub OIDC provider instead of creating one (one per account)."""
    rate_limit_orders: str = "20/5"
    """Each player's order bucket, ``CAPACITY/PER_SECOND`` (``-c rateLimitOrders=40/10``)."""
    rate_limit_reads: str = "60/20"
    rate_limit_admin: str | None = None
    """The game server's bucket; unset, admin traffic is exempt."""
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    """The home region, fixed in the template (``-c region=us-east-1``); a read region needs it."""
    read_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    """``-c readRegion=eu-west-1``: replicate the read models there and deploy a read-only intake."""
    write_url: str | None = Field(default=None, pattern=r"^https://[A-Za-z0-9.-]+/?$")
    """The home intake's URL, named in the read region's 421 answers (known after the first deploy)."""
    leaderboard_minutes: int = Field(default=5, ge=1, le=1440)
    """How often the leaderboard rollup runs (``-c leaderboardMinutes=N``)."""
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """``-c alarmEmail=ops@example.com``: the alarms' topic mails it (the address confirms first)."""
    cdk_qualifier: str = Field(default="hnb659fds", pattern=r"^[a-z0-9]{1,10}$")
    """The bootstrap qualifier: the deploy role may assume only this bootstrap's roles."""

    @field_validator("rate_limit_orders", "rate_limit_reads", "rate_limit_admin")
    @classmethod
    def _a_bucket(cls, value: str | None) -> str | None:
        if value is not None:
            Bucket.parse(value)
        return value

    def rate_limit_environment(self) -> dict[str, str]:
        """The intake function's ``MERCATO_LIMIT_*`` variables."""
        buckets = {
            RouteClass.ORDERS: self.rate_limit_orders,
            RouteClass.READS: self.rate_limit_reads,
            RouteClass.ADMIN: self.rate_limit_admin,
        }
        return {limit_env_var(kind): text for kind, text in buckets.items() if text is not None}

    @model_validator(mode="after")
    def _read_region_beside_a_home_region(self) -> "DeploySettings":
        if self.read_region is not None and (self.region is None or self.region == self.read_region):
            raise ValueError("readRegion needs the home region as -c region=..., and a different one")
        return self

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
            "github_repository": "githubRepository",
            "github_branch": "githubBranch",
            "github_oidc_provider_arn": "githubOidcProviderArn",
            "cdk_qualifier": "cdkQualifier",
            "alarm_email": "alarmEmail",
            "rate_limit_orders": "rateLimitOrders",
            "rate_limit_reads": "rateLimitReads",
            "rate_limit_admin": "rateLimitAdmin",
            "leaderboard_minutes": "leaderboardMinutes",
            "region": "region",
            "read_region": "readRegion",
            "write_url": "writeUrl",
        }
        given = {name: get(key) for name, key in fields.items() if get(key) is not None}
        for name in given:
            if name in _INTEGERS:
                given[name] = int(given[name])
        return cls(**given)
