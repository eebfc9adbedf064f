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

_LOCK = threading.RLock()
_MARK = "_mercato_atomic"


def install() -> None:
    """Idempotent: wrap ``DynamoHandler.call_action`` in one process-wide lock."""
    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def lock() -> threading.RLock:
    """The lock, for other emulated services that read DynamoDB state directly (the stream poller)."""
    return _LOCK
