"""The tables of :data:`mercato.resources.ALL_TABLES`: on demand, point-in-time recovery, the book's
stream with new and old images, time to live where a spec names one."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from mercato.resources import ALL_TABLES, LIMITS, TABLES, TableSpec

_VIEWS = {"NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES}


AnyTable = dynamodb.Table | dynamodb.TableV2
"""A regional table, or a global table when the stack has a read region."""

REGIONAL_ONLY = (LIMITS,)
"""Never replicated: rate-limit buckets are each region's own state."""


class Tables(Construct):
    def __init__(
        self, scope: Construct, id: str, *, prefix: str, replica_regions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(scope, id)
        self.by_name: dict[str, AnyTable] = {
            spec.logical_name: self._global_table(spec, prefix, replica_regions)
            if replica_regions and spec not in REGIONAL_ONLY
            else self._table(spec, prefix)
            for spec in ALL_TABLES
        }

    def _table(self, spec: TableSpec, prefix: str) -> dynamodb.Table:
        return self.regional_table(self, spec, prefix)

    @staticmethod
    def regional_table(scope: Construct, spec: TableSpec, prefix: str) -> dynamodb.Table:
        """One region's table (also the read region's own rate-limit table)."""
        key = dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING)
        table = dynamodb.Table(
            scope,
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
            deletion_protection=True,  # RETAIN guards against deleting the stack, this against DeleteTable
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

    def _global_table(self, spec: TableSpec, prefix: str, regions: tuple[str, ...]) -> dynamodb.TableV2:
        """The same table as a DynamoDB global table with a replica in each read region."""
        return dynamodb.TableV2(
            self,
            spec.logical_name.title(),
            table_name=spec.name(prefix),
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
            if spec.sort_key
            else None,
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            dynamo_stream=_VIEWS[spec.stream] if spec.stream else None,
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,  # every replica's too
            time_to_live_attribute=spec.ttl,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(
                        name=index.partition_key, type=dynamodb.AttributeType.STRING
                    ),
                    sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING),
                )
                for index in spec.indexes
            ]
            or None,
            replicas=[dynamodb.ReplicaTableProps(region=region) for region in regions],
        )

    @property
    def exchange(self) -> dict[str, AnyTable]:
        """The exchange's own tables (:data:`mercato.resources.TABLES`), not the rate-limit and
        leaderboard tables beside them."""
        return {spec.logical_name: self.by_name[spec.logical_name] for spec in TABLES}

    @property
    def book(self) -> AnyTable:
        return self.by_name["book"]

    def environment(self) -> dict[str, str]:
        """The variables a function reads the table names from (``TableNames.from_env``)."""
        return {spec.env_var: self.by_name[spec.logical_name].table_name for spec in TABLES}
