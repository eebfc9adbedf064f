"""The stack only composes: one construct per capability (STYLE rule 8)."""

from aws_cdk import Environment, Stack
from constructs import Construct

from cdk.capabilities.feed import GoalFeed
from cdk.capabilities.intake import Intake
from cdk.capabilities.leaderboard import LeaderboardRollup
from cdk.capabilities.matcher import MatcherFunction
from cdk.capabilities.monitoring import Monitoring
from cdk.capabilities.pipe import BookPipe
from cdk.capabilities.stream import BookEvents
from cdk.capabilities.tables import Tables
from cdk.settings import DeploySettings
from mercato.matcher.settings import STREAM_NAME_ENV
from mercato.resources import LEADERBOARD


class MercatoStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, id, env=Environment(region=settings.region) if settings.region else None)
        prefix = settings.prefix
        read_regions = (settings.read_region,) if settings.read_region else ()
        self.tables = Tables(self, "Tables", prefix=prefix, replica_regions=read_regions)
        self.events = BookEvents(self, "BookEvents", prefix=prefix, shard_count=settings.shard_count)
        self.pipe = BookPipe(self, "Pipe", prefix=prefix, book=self.tables.book, stream=self.events.stream)
        self.intake = Intake(
            self,
            "Intake",
            prefix=prefix,
            tables=self.tables,
            rate_limits=settings.rate_limit_environment(),
            secret_replica_regions=read_regions,
        )
        self.leaderboard = LeaderboardRollup(
            self, "Leaderboard", prefix=prefix, tables=self.tables, every_minutes=settings.leaderboard_minutes
        )
        self.leaderboard.table.grant_read_data(self.intake.function)
        # a cancel wakes its market's matcher (the pipe forwards no cancel): a record on the stream
        self.events.stream.grant_write(self.intake.function)
        self.intake.function.add_environment(STREAM_NAME_ENV, self.events.stream.stream_name)
        self.intake.function.add_environment(LEADERBOARD.env_var, self.leaderboard.table.table_name)
        self.matcher = MatcherFunction(
            self,
            "Matcher",
            prefix=prefix,
            tables=self.tables,
            stream=self.events.stream,
            parallelization_factor=settings.parallelization_factor,
        )
        self.feed = GoalFeed(
            self, "Feed", prefix=prefix, tables=self.tables, competition=settings.feed_competition
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=prefix,
            functions={
                "intake": self.intake.function,
                "matcher": self.matcher.function,
                "feed": self.feed.function,
                "leaderboard": self.leaderboard.function,
            },
            matcher=self.matcher.function,
            on_failure=self.matcher.on_failure,
            alarm_email=settings.alarm_email,
            tables=self.tables.by_name,
            iterator_age_ms=settings.iterator_age_alarm_ms,
            errors_threshold=settings.errors_alarm_threshold,
            pipe_name=self.pipe.name,
        )
