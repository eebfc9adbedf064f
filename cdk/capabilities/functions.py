"""What every Mercato function shares: arm64, Python 3.11, JSON logs, Powertools settings, code
built without Docker (:mod:`cdk.assets`)."""

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk import assets
from mercato.observability import NAMESPACE, Service


def python_function(
    scope: Construct, id: str, *, name: Service, handler: str, environment: dict[str, str], memory: int = 512
) -> lambda_.Function:
    layer = lambda_.LayerVersion(
        scope,
        f"{id}Dependencies",
        code=lambda_.Code.from_asset(str(assets.dependencies(name))),
        compatible_architectures=[lambda_.Architecture.ARM_64],
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_11],
        description=f"Mercato {name}: pinned dependencies for Linux arm64",
    )
    return lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime.PYTHON_3_11,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(assets.source(name))),
        layers=[layer],
        memory_size=memory,
        timeout=Duration.seconds(30),
        logging_format=lambda_.LoggingFormat.JSON,
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **environment,
        },
    )
