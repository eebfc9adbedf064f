"""Make moto's DynamoDB handle one request at a time, as AWS makes each request atomic.

moto serves requests on several threads (its server, or a test's thread pool with ``mock_aws``) and
nothing in its DynamoDB backend is locked: two ``TransactWriteItems`` that check the same balance
can interleave, and both pass their conditions, a double spend AWS would never allow. Serialising
every DynamoDB request (parsing, conditions, writes and the response) restores the guarantee. The
GIL already serialises moto's pure-Python work, so the lock costs next to nothing.

Written against moto 5.2.5 (pinned); ``tests/integration/test_moto_atomic.py`` shows the race it
closes.
"""

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
_MARK = "_mercato_atomic"


def install() -> None:
    """Idempotent: serialise every DynamoDB and DynamoDB Streams request on one process-wide lock
    (the stream reader must not see a transaction half-applied either)."""
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action
        if getattr(original, _MARK, False):
            continue
        handler.call_action = _locked(original)  # type: ignore[method-assign]


def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    return call_action


def lock() -> threading.RLock:
    """The lock, for other emulated services that read DynamoDB state directly (the stream poller)."""
    return _LOCK
