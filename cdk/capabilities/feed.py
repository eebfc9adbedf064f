"""The goal feed: a function polling football-data.org's scorers once a minute."""

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.capabilities.functions import python_function
from cdk.capabilities.tables import Tables
from mercato.feed.settings import API_KEY_ARN_ENV, COMPETITION_ENV

FEED_ACTIONS: Final = {
    "markets": ("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"),
    "book": ("dynamodb:PutItem", "dynamodb:GetItem"),
}
"""The feed's DynamoDB actions by table: it scans the footballers, reads a market and stores its
count (conditional update), and puts a goal event into the book (reading it back when it exists)."""


class GoalFeed(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, tables: Tables, competition: str) -> None:
        super().__init__(scope, id)
        self.api_key = secretsmanager.Secret(
            self,
            "ApiKey",
            secret_name=f"{prefix}/football-data-api-key",
            description="football-data.org API key: set it with `aws secretsmanager put-secret-value`",
        )
        self.function = python_function(
            self,
            "Function",
            name="feed",
            handler="mercato.feed.handler.handler",
            environment=tables.environment()
            | {API_KEY_ARN_ENV: self.api_key.secret_arn, COMPETITION_ENV: competition},
        )
        self.api_key.grant_read(self.function)
        # what the job calls and no more (read-write on both tables let a feed holding an outside API
        # key delete resting orders: a reviewer's find); tests/infrastructure checks the calls a poll
        # makes against these
        for name, granted in FEED_ACTIONS.items():
            tables.by_name[name].grant(self.function, *granted)
        self.schedule = events.Rule(
            self,
            "EveryMinute",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(self.function)],
        )
