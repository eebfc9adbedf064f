"""The tables of :data:`mercato.resources.ALL_TABLES`: on demand, point-in-time recovery, the book's
stream with new and old images, time to live where a spec names one."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from mercato.resources import ALL_TABLES, TABLES, TableSpec

_VIEWS = {"NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES}


class Tables(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str) -> None:
        super().__init__(scope, id)
        self.by_name: dict[str, dynamodb.Table] = {
            spec.logical_name: self._table(spec, prefix) for spec in ALL_TABLES
        }

    def _table(self, spec: TableSpec, prefix: str) -> dynamodb.Table:
        key = dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING)
        table = dynamodb.Table(
            self,
            spec.logical_name.title(),
            table_name=spec.name(prefix),
            partition_key=key,
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
            if spec.sort_key
            else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=_VIEWS[spec.stream] if spec.stream else None,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute=spec.ttl,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(
                    name=index.partition_key, type=dynamodb.AttributeType.STRING
                ),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING),
            )
        return table

    @property
    def exchange(self) -> dict[str, dynamodb.Table]:
        """The exchange's own tables (:data:`mercato.resources.TABLES`), not the rate-limit and
        leaderboard tables beside them."""
        return {spec.logical_name: self.by_name[spec.logical_name] for spec in TABLES}

    @property
    def book(self) -> dynamodb.Table:
        return self.by_name["book"]

    def environment(self) -> dict[str, str]:
        """The variables a function reads the table names from (``TableNames.from_env``)."""
        return {spec.env_var: self.by_name[spec.logical_name].table_name for spec in TABLES}
