"""The leaderboard rollup: a function on a schedule that reads the accounts and markets tables and
writes only the leaderboard table (never anything on the trading path)."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from cdk.capabilities.functions import python_function
from cdk.capabilities.tables import Tables
from mercato.resources import LEADERBOARD


class LeaderboardRollup(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, tables: Tables, every_minutes: int) -> None:
        super().__init__(scope, id)
        self.table = tables.by_name[LEADERBOARD.logical_name]
        self.function = python_function(
            self,
            "Function",
            name="leaderboard",
            handler="mercato.leaderboard.handler.handler",
            environment=tables.environment() | {LEADERBOARD.env_var: self.table.table_name},
            memory=1024,
        )
        tables.by_name["accounts"].grant_read_data(self.function)
        tables.by_name["markets"].grant_read_data(self.function)
        self.table.grant_read_write_data(self.function)
        self.schedule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(Duration.minutes(every_minutes)),
            targets=[targets.LambdaFunction(self.function)],
        )
