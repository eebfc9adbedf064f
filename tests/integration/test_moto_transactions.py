"""Mercato's TransactWriteItems for moto behaves exactly like moto's own, without copying tables.

The same seeded sequences of transactions (puts, updates, deletes, condition checks; some whose
conditions fail; some with a malformed update) run through both implementations; the tables, the
stream records and every error must come out identical.
"""

import contextlib
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from mercato.emulators import moto_atomic

Outcome = tuple[list[Any], list[Any], list[Any]]


@pytest.fixture(autouse=True)
def restore_fast_path() -> Iterator[None]:
    yield
    moto_atomic.install()


def transactions(seed: int) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed)
    for _ in range(120):
        keys = rng.sample(range(12), rng.randint(1, 4))
        actions: list[dict[str, Any]] = []
        for k in keys:
            key = {"pk": {"S": "p"}, "sk": {"S": f"k{k:02d}"}}
            kind = rng.choice(["Put", "Update", "Update", "Delete", "ConditionCheck"])
            condition = rng.choice(
                [None, "attribute_not_exists(sk)", "attribute_exists(sk)", "n >= :five", "n < :five"]
            )
            op: dict[str, Any] = {"TableName": "t"}
            values: dict[str, Any] = {}
            if kind == "Put":
                op["Item"] = key | {"n": {"N": str(rng.randint(0, 9))}}
            else:
                op["Key"] = key
            if kind == "Update":
                if rng.random() < 0.05:
                    op["UpdateExpression"] = "SET n = n + :s"  # a number plus a string: invalid
                    values[":s"] = {"S": "x"}
                else:
                    op["UpdateExpression"] = "SET n = if_not_exists(n, :zero) + :d"
                    values |= {":zero": {"N": "0"}, ":d": {"N": str(rng.randint(-3, 3))}}
            if condition is not None or kind == "ConditionCheck":
                op["ConditionExpression"] = condition or "attribute_exists(sk)"
                if ":five" in op["ConditionExpression"]:
                    values[":five"] = {"N": "5"}
                if rng.random() < 0.3:
                    op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            if values:
                op["ExpressionAttributeValues"] = values
            actions.append({kind: op})
        yield actions


def run(implementation: Callable[..., None], seed: int) -> Outcome:
    DynamoDBBackend.transact_write_items = implementation  # type: ignore[method-assign]
    with mock_aws():
        client: Any = boto3.client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        errors: list[Any] = []
        for actions in transactions(seed):
            try:
                client.transact_write_items(TransactItems=actions)
                errors.append(None)
            except ClientError as error:
                errors.append((error.response["Error"]["Code"], error.response.get("CancellationReasons")))
        items = sorted(client.scan(TableName="t")["Items"], key=lambda item: item["sk"]["S"])
        streams = boto3.client("dynamodbstreams")
        arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
        stream = [
            (
                r["eventName"],
                r["dynamodb"]["Keys"],
                r["dynamodb"].get("OldImage"),
                r["dynamodb"].get("NewImage"),
            )
            for r in records
        ]
        return items, stream, errors


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_fast_path_is_indistinguishable_from_motos_own(seed: int) -> None:
    mototrack = run(moto_atomic.MOTO_TRANSACT_WRITE_ITEMS, seed)
    ours = run(moto_atomic.transact_write_items, seed)

    assert ours == mototrack
    items, stream, errors = ours
    assert items, "some writes landed"
    assert any(e is not None and e[0] == "TransactionCanceledException" for e in errors), (
        "some were cancelled"
    )
    assert len(stream) > 10
    assert sum(e is None for e in errors) > 10, "some transactions committed"


def test_the_benchmark_measures_both_paths_on_the_same_sizes() -> None:
    from mercato.bench.moto_transactions import bench_moto

    figures = bench_moto([0, 100])

    assert figures["sizes"] == [0, 100]
    assert len(figures["moto_ms"]) == len(figures["mercato_ms"]) == len(figures["ratio"]) == 2
    assert all(ms > 0 for ms in figures["moto_ms"] + figures["mercato_ms"])


def _every_plain_operation(dynamodb: Any, streams: Any) -> None:
    """Each operation the plain JSON path answers, in the forms that shape a response: binary
    attributes and sets, returned values, consumed capacity, projections, counts, missing items."""
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    dynamodb.create_table(
        TableName="plain",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    binary = {"b": {"B": b"\x00\xffhi"}, "bs": {"BS": [b"x", b"y"]}, "m": {"M": {"bb": {"B": b"q"}}}}
    values = {"ns": {"NS": ["1", "2.5"]}, "nul": {"NULL": True}, "l": {"L": [{"S": "z"}, {"BOOL": False}]}}
    dynamodb.put_item(TableName="plain", Item={**key, **binary, **values})
    dynamodb.put_item(
        TableName="plain",
        Item={"pk": {"S": "a"}, "sk": {"S": "2"}, "n": {"N": "5"}},
        ReturnValues="ALL_OLD",
        ReturnConsumedCapacity="TOTAL",
        ReturnItemCollectionMetrics="SIZE",
    )
    dynamodb.get_item(TableName="plain", Key=key)
    dynamodb.get_item(TableName="plain", Key=key, ProjectionExpression="b, m.bb")
    dynamodb.get_item(TableName="plain", Key={"pk": {"S": "none"}, "sk": {"S": "1"}})
    for returned in ("UPDATED_NEW", "ALL_OLD", "ALL_NEW", "NONE"):
        dynamodb.update_item(
            TableName="plain",
            Key=key,
            UpdateExpression="SET c = :b ADD n :one",
            ExpressionAttributeValues={":b": {"B": b"zz"}, ":one": {"N": "1"}},
            ReturnValues=returned,
            ReturnConsumedCapacity="INDEXES",
        )
    with contextlib.suppress(ClientError):
        dynamodb.put_item(
            TableName="plain",
            Item=key,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    by_pk = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}
    dynamodb.query(TableName="plain", **by_pk)
    dynamodb.query(TableName="plain", Select="COUNT", **by_pk)
    dynamodb.query(TableName="plain", Limit=1, ReturnConsumedCapacity="TOTAL", **by_pk)
    dynamodb.scan(TableName="plain")
    dynamodb.scan(TableName="plain", Select="COUNT")
    dynamodb.batch_get_item(RequestItems={"plain": {"Keys": [key, {"pk": {"S": "x"}, "sk": {"S": "1"}}]}})
    dynamodb.batch_write_item(
        RequestItems={"plain": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"S": "1"}}}}]}
    )
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": "plain", "Key": key}}])
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "plain", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}}],
        ReturnConsumedCapacity="TOTAL",
    )
    dynamodb.delete_item(TableName="plain", Key={"pk": {"S": "a"}, "sk": {"S": "2"}}, ReturnValues="ALL_OLD")
    dynamodb.delete_item(TableName="plain", Key={"pk": {"S": "a"}, "sk": {"S": "9"}})
    arn = dynamodb.describe_table(TableName="plain")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    streams.get_records(ShardIterator=iterator["ShardIterator"])


def test_item_and_stream_responses_are_the_json_motos_own_serializer_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: Counter[str] = Counter()
    differing: list[str] = []

    def checked(handler: type) -> Callable[[Any, ActionResult], Any]:
        motos_own = moto_atomic.MOTO_SERIALIZED[handler]

        def serialized(self: Any, action_result: ActionResult) -> Any:
            theirs = motos_own(self, action_result)
            ours = moto_atomic.plain_response(self, action_result)
            if ours is not None:
                compared[self._get_action()] += 1
                if (ours[0], ours[1], json.loads(ours[2])) != (theirs[0], theirs[1], json.loads(theirs[2])):
                    differing.append(f"{self._get_action()}: {ours} != {theirs}")
            return theirs

        return serialized

    # Given moto's own serializer answering, with the plain JSON path computed beside it
    moto_atomic.install()
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        monkeypatch.setattr(handler, "serialized", checked(handler))
    # When every operation the path answers is called, in the forms that shape a response
    with mock_aws():
        _every_plain_operation(
            boto3.client("dynamodb", region_name="us-east-1"),
            boto3.client("dynamodbstreams", region_name="us-east-1"),
        )
    # Then each of its answers is the status, headers and JSON moto's serializer writes
    assert differing == []
    assert set(compared) == moto_atomic.PLAIN_OPERATIONS


def test_one_update_expression_parsed_once_serves_items_with_other_values() -> None:
    # Given one UpdateExpression text, parsed once and kept
    moto_atomic.install()
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").create_table(
            TableName="parsed",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # When it sets other values on other items, alone and inside transactions
        for n in range(3):
            table.update_item(
                Key={"pk": f"item-{n}"},
                UpdateExpression="SET #v = :v ADD #c :one",
                ExpressionAttributeNames={"#v": "value", "#c": "count"},
                ExpressionAttributeValues={":v": f"value-{n}", ":one": n + 1},
            )
        table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "parsed",
                        "Key": {"pk": "item-0"},
                        "UpdateExpression": "SET #v = :v ADD #c :one",
                        "ExpressionAttributeNames": {"#v": "value", "#c": "count"},
                        "ExpressionAttributeValues": {":v": "again", ":one": 10},
                    }
                }
            ]
        )
        # Then each item holds its own values: the kept tree carries none of an earlier request's
        items = {i["pk"]: (i["value"], i["count"]) for i in table.scan()["Items"]}
    assert items == {"item-0": ("again", 11), "item-1": ("value-1", 2), "item-2": ("value-2", 3)}
