"""One wrapper around a boto3 client that counts its calls and can inject a fault at any of them.

Every storage call an adapter makes goes through the client it was given, so wrapping that client is
the one place to count DynamoDB requests (``mercato bench spike``) and to make the k-th call fail
(the crash-at-every-call tests and ``mercato sim``):

- ``CRASH_BEFORE``: the process dies before the request is sent (nothing written);
- ``CRASH_AFTER``: the request succeeded but the process dies before its answer is used;
- ``CONFLICT``: DynamoDB cancels a transaction with ``TransactionConflict``;
- ``THROTTLE`` and ``PROVISIONED``: DynamoDB throttles the request.

A crash is a :class:`Crash`, a ``BaseException``: no adapter, handler or batch processor catches
it, so it unwinds the whole invocation and leaves the records where they were, as a Lambda that
died would; the caller redelivers by simply running again.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError


class Fault(StrEnum):
    CRASH_BEFORE = "crash_before"
    CRASH_AFTER = "crash_after"
    CONFLICT = "transaction_conflict"
    THROTTLE = "throttling"
    PROVISIONED = "provisioned_throughput_exceeded"


class Crash(BaseException):
    """An injected crash: the invocation dies here and is redelivered."""

    def __init__(self, fault: Fault, operation: str, call: int) -> None:
        super().__init__(f"{fault} at call {call} ({operation})")
        self.fault = fault
        self.operation = operation
        self.call = call


FaultPlan = Callable[[int, str], Fault | None]
"""Given the 1-based number of a call and its operation name, the fault to inject (or none)."""


def no_faults(call: int, operation: str) -> Fault | None:
    return None


def crash_at(k: int, fault: Fault) -> FaultPlan:
    """Inject ``fault`` at the k-th call only."""
    return lambda call, operation: fault if call == k else None


def _client_error(code: str, operation: str, message: str, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, **extra}
    return ClientError(response, operation)


def _raise(fault: Fault, operation: str, call: int, arguments: dict[str, Any]) -> None:
    if fault is Fault.CRASH_BEFORE:
        raise Crash(fault, operation, call)
    if fault is Fault.CONFLICT and operation == "transact_write_items":
        reasons = [{"Code": "TransactionConflict"} for _ in arguments.get("TransactItems", [])]
        raise _client_error(
            "TransactionCanceledException",
            "TransactWriteItems",
            "Transaction cancelled (injected conflict)",
            CancellationReasons=reasons,
        )
    if fault is Fault.PROVISIONED:
        raise _client_error("ProvisionedThroughputExceededException", operation, "injected")
    if fault in (Fault.THROTTLE, Fault.CONFLICT):
        raise _client_error("ThrottlingException", operation, "injected")


@dataclass
class StorageCalls:
    """A boto3 client that counts every call by operation and injects the plan's faults.

    Attributes other than method calls (``meta``, ``exceptions``) pass through untouched."""

    client: Any
    plan: FaultPlan = no_faults
    calls: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    enabled: bool = True
    before: Callable[[int, str], None] | None = None
    """Called before each call is made (a test uses it to land a request inside another's work)."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name.startswith("_") or name in ("meta", "exceptions") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.enabled:
                return attribute(*args, **kwargs)
            self.calls += 1
            self.by_operation[name] += 1
            if self.before is not None:
                self.before(self.calls, name)
            fault = self.plan(self.calls, name)
            if fault is not None and fault is not Fault.CRASH_AFTER:
                self.injected[fault] += 1
                _raise(fault, name, self.calls, kwargs)
            result = attribute(*args, **kwargs)
            if fault is Fault.CRASH_AFTER:
                self.injected[fault] += 1
                raise Crash(fault, name, self.calls)
            return result

        return call

    @property
    def transactions(self) -> int:
        return self.by_operation["transact_write_items"]
