"""Make moto's DynamoDB handle one request at a time, as AWS makes each request atomic.

moto serves requests on several threads (its server, or a test's thread pool with ``mock_aws``) and
nothing in its DynamoDB backend is locked: two ``TransactWriteItems`` that check the same balance
can interleave, and both pass their conditions, a double spend AWS would never allow. Serialising
every DynamoDB request (parsing, conditions, writes and the response) restores the guarantee. The
GIL already serialises moto's pure-Python work, so the lock costs next to nothing.

Written against moto 5.2.5 (pinned). ``tests/integration/test_moto_transactions.py`` runs the same
transactions through moto's implementation and this one and requires identical tables, stream
records and errors; the concurrency tests of intake show the races the lock closes.
"""

import base64
import copy
import functools
import json
import threading
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.serialize import TimestampSerializer
from moto.core.utils import get_service_model
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import UpdateExpressionValidator
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from mercato.storage.items import plain

_LOCK = threading.RLock()
_MARK = "_mercato_atomic"
REQUESTS: dict[str, int] = {}
"""Requests served per service (``dynamodb``, ``dynamodbstreams``) since the lock was installed."""
MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
"""moto's own implementation, kept for the equivalence tests and the benchmark."""


def install() -> None:
    """Idempotent: serialise every DynamoDB and DynamoDB Streams request on one process-wide lock
    (the stream reader must not see a transaction half-applied either), replace moto's
    ``TransactWriteItems`` with :func:`transact_write_items`, answer item and stream operations
    through :func:`plain_response` and parse each update expression once."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    if not getattr(UpdateExpressionParser.make, _MARK, False):
        UpdateExpressionParser.make = _parsed_once(UpdateExpressionParser.make)
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        if handler not in MOTO_SERIALIZED:
            MOTO_SERIALIZED[handler] = handler.serialized
            handler.serialized = _plain_json(handler.serialized)  # type: ignore[method-assign]
        original = handler.call_action
        if getattr(original, _MARK, False):
            continue
        handler.call_action = _locked(original)  # type: ignore[method-assign]


def _parsed_once(parse: Any) -> Any:
    """moto parses an ``UpdateExpression`` three times per update (the request's check, the
    transaction's validation, the write), and the matcher sends the same few expressions all day.
    The tree is only read (every validator works on its own deep copy), so each text is parsed once."""
    cached = functools.lru_cache(maxsize=4096)(parse)

    def make(cls: Any, expression: str) -> Any:
        return cached(expression)

    setattr(make, _MARK, True)
    return classmethod(make)


def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            REQUESTS[self.service_name] = REQUESTS.get(self.service_name, 0) + 1
            return original(self)

    setattr(call_action, _MARK, True)
    return call_action


PLAIN_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "DescribeStream",
        "GetShardIterator",
        "GetRecords",
    }
)
"""The operations whose results moto builds as wire JSON already (items as ``{"S": ...}`` maps),
but for values JSON has no form for: binary attributes (``bytes``, which AWS sends in base64) and the
stream records' ``datetime`` (epoch seconds)."""
MOTO_SERIALIZED: dict[type, Any] = {}
"""moto's own ``serialized`` per handler, kept for the equivalence test."""


def plain_response(handler: Any, action_result: ActionResult) -> tuple[int, dict[str, str], str] | None:
    """The response to an item or stream operation as JSON dumped straight from moto's result, or
    ``None`` (an error, another operation, a paginated or empty result, a value of another type) for
    moto's serializer. Only the keys of the operation's output shape are kept, as moto's serializer
    keeps them (moto's ``DeleteItem`` adds a ``ConsumedCapacityUnits`` the shape does not have)."""
    result = action_result.result
    operation = handler._get_action()
    if (
        type(action_result) not in (ActionResult, DynamoResult)
        or not isinstance(result, dict)
        or operation not in PLAIN_OPERATIONS
    ):
        return None
    keys = _output_keys(handler.boto3_service_name, operation)
    try:
        body = json.dumps({k: v for k, v in result.items() if k in keys and v is not None}, default=_wire)
    except TypeError:
        return None
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    headers.update(handler.response_headers)
    return 200, headers, body


@functools.cache
def _output_keys(service: str, operation: str) -> frozenset[str]:
    shape = get_service_model(service).operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _plain_json(original: Any) -> Any:
    """moto 5.2.5 writes every response by walking the operation's output shape in botocore's
    model, key by key: about a third of what an item operation costs on moto. For the item and
    stream operations the result is the wire JSON already, so it is dumped as it is; errors and every
    other operation keep moto's serializer. ``tests/integration/test_moto_transactions.py`` calls
    every operation this path answers and requires the same JSON as moto's serializer writes."""

    @functools.wraps(original)
    def serialized(self: Any, action_result: ActionResult) -> Any:
        return plain_response(self, action_result) or original(self, action_result)

    return serialized


def lock() -> threading.RLock:
    """The lock, for other emulated services that read DynamoDB state directly (the stream poller)."""
    return _LOCK


# -- a transaction path that does not copy whole tables ------------------------------------------


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """``TransactWriteItems`` with AWS's semantics, without moto's per-action deep copy of every
    table the transaction names (which makes each transaction linear in the tables' size).

    1. Every action is parsed and its condition evaluated against the state before the transaction
       (DynamoDB refuses two actions on one item, so no action sees another's effect).
    2. If any condition fails, nothing is applied: ``TransactionCanceledException`` with one reason
       per action, in order, exactly as moto reports them.
    3. Otherwise the actions are applied in order; each write adds its stream record. Should a write
       still fail (a malformed update expression), the items it touched and the stream records it
       added are restored before the error is raised, so a failed transaction leaves no trace.

    Callers hold the request lock installed by :func:`install`, so no other request interleaves.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        table_name = op["TableName"]
        original_item: dict[str, Any] | None = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Update":
                _validate_update(self, table_name, key, current, op)
            planned.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as failed:
            errors.append(("ConditionalCheckFailed", str(failed.message), original_item))
        except Exception as error:
            errors.append((type(error).__name__, str(error), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    saved = [
        (table_name, key, copy.deepcopy(self.get_item(table_name, key))) for _, _, table_name, key in planned
    ]
    streams = {
        name: len(self.get_table(name).stream_shard.items)  # type: ignore[union-attr]
        for name in {table_name for _, _, table_name, _ in planned}
        if self.get_table(name).stream_shard is not None
    }
    try:
        for op_type, op, table_name, key in planned:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,  # type: ignore[arg-type]  # None, as moto passes it
                    expression_attribute_values=values,  # type: ignore[arg-type]
                )
    except Exception:
        for table_name, key, before in saved:
            table = self.get_table(table_name)
            if before is None:
                if self.get_item(table_name, key) is not None:
                    table.delete_item(*_key_values(table, key))
            else:
                table.put_item(before.to_json()["Attributes"])
        for name, length in streams.items():
            del self.get_table(name).stream_shard.items[length:]  # type: ignore[union-attr]
        raise


def _validate_update(
    backend: DynamoDBBackend, table_name: str, key: dict[str, Any], current: Item | None, op: dict[str, Any]
) -> None:
    """What moto's ``update_item`` validates before it writes, run on a copy of the one item, so an
    invalid update cancels the transaction before anything is applied (``ValidationException``)."""
    table = backend.get_table(table_name)
    hash_value, range_value = _key_values(table, key)
    UpdateExpressionValidator(
        UpdateExpressionParser.make(op["UpdateExpression"]),
        expression_attribute_names=op.get("ExpressionAttributeNames"),  # type: ignore[arg-type]
        expression_attribute_values=op.get("ExpressionAttributeValues"),  # type: ignore[arg-type]
        item=copy.deepcopy(current) if current is not None else Item(hash_value, range_value, attrs={}),
        table=table,
    ).validate()


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


# -- reading whole tables without a request ------------------------------------------------------

_DESERIALIZE = TypeDeserializer().deserialize


def table_items(
    table_name: str, account_id: str = DEFAULT_ACCOUNT_ID, region: str = "us-east-1"
) -> list[dict[str, Any]]:
    """Every item of an in-process moto table, read straight from moto's backend under the request
    lock (so no transaction is half-seen), as plain values: what a consistent ``Scan`` of every page
    returns, without serialising the whole table into a response and parsing it back (which is most
    of what such a scan costs on moto)."""
    with _LOCK:
        table = dynamodb_backends[account_id][region].get_table(table_name)
        return [
            plain({name: _DESERIALIZE(value) for name, value in item.to_json()["Attributes"].items()})
            for item in table.all_items()
        ]
