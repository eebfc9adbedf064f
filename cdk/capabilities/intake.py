"""The intake function behind a function URL (auth NONE: the function verifies the JWT itself)."""

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.capabilities.functions import python_function
from cdk.capabilities.tables import Tables
from mercato.intake.settings import AUTH_SECRET_ARN_ENV
from mercato.resources import INTAKE_CORS, LIMITS, CorsSpec


class Intake(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        tables: Tables,
        rate_limits: dict[str, str],
        secret_replica_regions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        self.secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            secret_name=f"{prefix}/auth-signing-secret",
            description="HS256 secret the game server signs Mercato tokens with",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
            replica_regions=[secretsmanager.ReplicaRegion(region=r) for r in secret_replica_regions] or None,
        )
        self.function = python_function(
            self,
            "Function",
            name="intake",
            handler="mercato.intake.handler.handler",
            environment=tables.environment()
            | {AUTH_SECRET_ARN_ENV: self.secret.secret_arn}
            | {LIMITS.env_var: tables.by_name[LIMITS.logical_name].table_name, **rate_limits},
        )
        self.secret.grant_read(self.function)
        for name in ("book", "orders", "accounts", "markets"):
            tables.by_name[name].grant_read_write_data(self.function)
        for name in ("trades", "fills"):
            tables.by_name[name].grant_read_data(self.function)
        tables.by_name[LIMITS.logical_name].grant_read_write_data(self.function)
        self.url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            cors=function_url_cors(INTAKE_CORS),
        )
        CfnOutput(self, "Url", value=self.url.url, description="Mercato's API")
        CfnOutput(self, "SecretArn", value=self.secret.secret_arn, description="the token signing secret")


def function_url_cors(spec: CorsSpec) -> lambda_.FunctionUrlCorsOptions:
    """A function URL's CORS rules (Lambda answers the pre-flight and adds the headers itself)."""
    return lambda_.FunctionUrlCorsOptions(
        allowed_origins=list(spec.allowed_origins),
        allowed_methods=[lambda_.HttpMethod(method) for method in spec.allowed_methods],
        allowed_headers=list(spec.allowed_headers),
        exposed_headers=list(spec.exposed_headers),
        max_age=Duration.seconds(spec.max_age_seconds),
    )
