"""The one classifier of AWS errors: a botocore ``ClientError`` to the domain's
:class:`~mercato.models.errors.StateMoved` or :class:`~mercato.models.errors.Busy`.

A top-level code names the cause of a single call. A cancelled transaction
(``TransactionCanceledException``) names one reason per action; any ``ConditionalCheckFailed``
among them means the state moved (re-reading is the only cure, so it wins over a throttled action in
the same transaction), otherwise any throttling or conflict reason means busy. A call that never
reached DynamoDB, or that it failed on its own side, is :func:`unavailable` (an answer to retry, not a
bug). Anything else (a validation error, a missing table) is a bug and is left as it is.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from mercato.models.errors import Busy, StateMoved

CANCELLED: Final = "TransactionCanceledException"
STATE_MOVED_CODES: Final = frozenset({"ConditionalCheckFailedException"})
BUSY_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
"""Top-level codes of a call refused for load or contention."""
STATE_MOVED_REASONS: Final = frozenset({"ConditionalCheckFailed"})
BUSY_REASONS: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
"""Cancellation reasons of an action refused for load or contention."""
UNAVAILABLE_CODES: Final = frozenset(
    {"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"}
)
"""Top-level codes of a call the service failed on its side (boto3 has retried them already)."""


def cancellation_reasons(error: ClientError) -> list[str]:
    """The code of each action's cancellation reason, in action order (``"None"`` for an action
    that was not at fault)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code") or "None") for reason in reasons]


def classify(error: ClientError) -> StateMoved | Busy | None:
    """The domain error ``error`` means, or ``None`` when it is none of them (a bug to surface)."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code == CANCELLED:
        reasons = cancellation_reasons(error)
        if STATE_MOVED_REASONS.intersection(reasons):
            return StateMoved(", ".join(reasons))
        if BUSY_REASONS.intersection(reasons):
            return Busy(", ".join(reasons))
        return None
    if code in STATE_MOVED_CODES:
        return StateMoved(code)
    if code in BUSY_CODES:
        return Busy(code)
    return None


@contextmanager
def domain_errors() -> Iterator[None]:
    """Re-raise a classified ``ClientError`` as its domain error (the original as its cause)."""
    try:
        yield
    except ClientError as error:
        domain = classify(error)
        if domain is None:
            raise
        raise domain from error


class Classified:
    """A boto3 client whose every method call reports :class:`StateMoved` and :class:`Busy` in the
    domain's terms; attributes that are not methods pass through."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with domain_errors():
                return attribute(*args, **kwargs)

        return call


def busy(error: ClientError) -> bool:
    """Whether ``error`` reports load or contention (retry later) rather than moved state."""
    return isinstance(classify(error), Busy)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says DynamoDB could not be reached or failed on its side, after boto3's own
    retries: the endpoint refused or timed out (DynamoDB Local restarting, a network fault), or the
    service answered ``InternalServerError``. Whether a write applied is then unknown, so only an
    idempotent retry is safe."""
    if isinstance(error, EndpointUnreachable | HTTPClientError):
        return True
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in UNAVAILABLE_CODES
