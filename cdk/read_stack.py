"""Stack ``MercatoRead-<stage>``, in the read region: a read-only intake on the region's replicas of
the global tables, its own rate-limit table, and its function URL (docs/architecture.md, "Second
region for reads"). No pipe, no Kinesis, no matcher: nothing here writes a replicated table."""

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.capabilities.functions import python_function
from cdk.capabilities.intake import function_url_cors
from cdk.capabilities.monitoring import alarm_topic, fail_open_alarm, notify
from cdk.capabilities.tables import REGIONAL_ONLY, Tables
from cdk.settings import DeploySettings
from mercato.intake.settings import AUTH_SECRET_ARN_ENV, READ_REGION_ENV, WRITE_URL_ENV
from mercato.resources import ALL_TABLES, LEADERBOARD, LIMITS, READ_REGION_CORS, TABLES


class ReadRegionStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: DeploySettings, region: str) -> None:
        super().__init__(scope, id, env=Environment(region=region))
        prefix = settings.prefix
        self.limits = Tables.regional_table(self, LIMITS, prefix)
        replicas = {
            spec.logical_name: dynamodb.Table.from_table_attributes(
                self,
                f"{spec.logical_name.title()}Replica",
                table_name=spec.name(prefix),
                global_indexes=[index.name for index in spec.indexes] or None,
            )
            for spec in ALL_TABLES
            if spec not in REGIONAL_ONLY
        }
        secret = secretsmanager.Secret.from_secret_name_v2(
            self, "SigningSecret", f"{prefix}/auth-signing-secret"
        )
        environment = {spec.env_var: spec.name(prefix) for spec in TABLES} | {
            LEADERBOARD.env_var: LEADERBOARD.name(prefix),
            LIMITS.env_var: self.limits.table_name,
            AUTH_SECRET_ARN_ENV: secret.secret_name,
            READ_REGION_ENV: region,
            **settings.rate_limit_environment(),
        }
        if settings.write_url:
            environment[WRITE_URL_ENV] = settings.write_url
        self.function = python_function(
            self, "Intake", name="intake", handler="mercato.intake.handler.handler", environment=environment
        )
        for table in replicas.values():
            table.grant_read_data(self.function)
        self.limits.grant_read_write_data(self.function)
        secret.grant_read(self.function)
        self.url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            cors=function_url_cors(READ_REGION_CORS),
        )
        CfnOutput(self, "Url", value=self.url.url, description=f"Mercato's reads in {region}")
        # this intake limits players with its own table: its fail-open is counted in this region
        self.topic = alarm_topic(self, f"{prefix}-read", settings.alarm_email)
        self.fail_open = notify(fail_open_alarm(self, "RateLimiterFailOpen"), self.topic)
