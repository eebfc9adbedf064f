"""Create the tables of :mod:`mercato.resources` with boto3 (the local stack and the tests).

The CDK app builds the same specs into CloudFormation; both read :data:`mercato.resources.TABLES`.
"""

from typing import Any

from mercato.resources import (
    ACCOUNTS,
    BOOK,
    FILLS,
    MARKETS,
    ORDERS,
    SUPPORT_TABLES,
    TABLES,
    TRADES,
    TableSpec,
)
from mercato.storage.names import TableNames


def create_table_request(spec: TableSpec, prefix: str) -> dict[str, Any]:
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": spec.name(prefix),
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in spec.key_attributes
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ]
    return request


def create_tables(client: Any, prefix: str) -> TableNames:
    """Create every table (a low-level or resource client both work) and return their names."""
    for spec in TABLES:
        client.create_table(**create_table_request(spec, prefix))
    return table_names(prefix)


def support_table_names(prefix: str) -> dict[str, str]:
    """The rate-limit and leaderboard tables' names, by logical name."""
    return {spec.logical_name: spec.name(prefix) for spec in SUPPORT_TABLES}


def create_support_tables(client: Any, prefix: str, *, missing_only: bool = False) -> dict[str, str]:
    """Create the rate-limit and leaderboard tables, time to live on; their names by logical name.
    ``missing_only`` creates only those ``prefix`` lacks (a kept directory whose first start was cut
    short after the exchange tables)."""
    existing: set[str] = set()
    if missing_only:
        pages = client.get_paginator("list_tables").paginate()
        existing = {name for page in pages for name in page["TableNames"]}
    for spec in SUPPORT_TABLES:
        if spec.name(prefix) in existing:
            continue
        client.create_table(**create_table_request(spec, prefix))
        if spec.ttl:
            client.update_time_to_live(
                TableName=spec.name(prefix),
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl},
            )
    return support_table_names(prefix)


def table_names(prefix: str) -> TableNames:
    return TableNames(
        book=BOOK.name(prefix),
        orders=ORDERS.name(prefix),
        accounts=ACCOUNTS.name(prefix),
        trades=TRADES.name(prefix),
        markets=MARKETS.name(prefix),
        fills=FILLS.name(prefix),
    )
