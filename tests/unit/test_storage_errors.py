"""The one AWS error classifier (mercato.storage.errors): each code DynamoDB answers with, at the top
level and as a transaction's cancellation reason, means one domain error, and every storage call of
the matcher and of intake reports it in the domain's terms."""

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mercato.feed.dynamo import DynamoFeedStore
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.matcher.dynamo import DynamoMatcherStore
from mercato.models.accounts import Deposit
from mercato.models.errors import Busy, StateMoved, Throttled
from mercato.models.events import GoalEvent
from mercato.models.orders import Order, Side
from mercato.storage.errors import classify
from mercato.storage.names import TableNames

TABLES = TableNames("book", "orders", "accounts", "trades", "markets", "fills")


def _error(code: str, operation: str = "GetItem", reasons: list[str] | None = None) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "refused"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, operation)


def _cancelled(*reasons: str) -> ClientError:
    return _error("TransactionCanceledException", "TransactWriteItems", list(reasons))


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
    ],
)
def test_a_call_refused_for_load_or_contention_is_busy(code: str) -> None:
    assert isinstance(classify(_error(code)), Busy)


def test_a_failed_condition_of_a_single_write_means_the_state_moved() -> None:
    assert isinstance(classify(_error("ConditionalCheckFailedException", "PutItem")), StateMoved)


@pytest.mark.parametrize(
    "reason",
    ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"],
)
def test_a_transaction_cancelled_for_load_or_contention_is_busy(reason: str) -> None:
    assert isinstance(classify(_cancelled("None", reason, "None")), Busy)


def test_a_transaction_cancelled_by_a_condition_means_the_state_moved() -> None:
    assert isinstance(classify(_cancelled("None", "ConditionalCheckFailed")), StateMoved)


def test_a_failed_condition_wins_over_a_throttled_action_in_the_same_transaction() -> None:
    """Retrying the same transaction could only fail again: the caller must read again."""
    assert isinstance(classify(_cancelled("ThrottlingError", "ConditionalCheckFailed")), StateMoved)


@pytest.mark.parametrize(
    "error",
    [
        _error("ValidationException", "TransactWriteItems"),
        _error("ResourceNotFoundException"),
        _cancelled("ValidationError", "None"),
        _error("TransactionCanceledException", "TransactWriteItems"),
    ],
    ids=["validation", "no-table", "cancelled-invalid", "cancelled-no-reasons"],
)
def test_a_bug_is_not_mistaken_for_moved_state_or_load(error: ClientError) -> None:
    assert classify(error) is None


class _Refusing:
    """A boto3 client whose every call answers ``error``."""

    def __init__(self, error: ClientError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            raise self.error

        return call


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_the_matchers_reads_report_throttling_as_busy(code: str) -> None:
    store = DynamoMatcherStore(_Refusing(_error(code)), TABLES)
    with pytest.raises(Busy):
        store.market("wheat")
    with pytest.raises(Busy):
        store.read_book("wheat")
    with pytest.raises(Busy):
        store.holdings("alice", ("wheat", "coins"))
    with pytest.raises(Busy):
        store.pending_goals("wheat")


def test_the_matchers_ticker_write_reports_a_missing_market_as_moved_state() -> None:
    store = DynamoMatcherStore(_Refusing(_error("ConditionalCheckFailedException", "UpdateItem")), TABLES)
    with pytest.raises(StateMoved):
        store.set_ticker("ghost", 10, 12, 1)


def test_the_matcher_does_not_hide_a_bug_behind_a_domain_error() -> None:
    store = DynamoMatcherStore(_Refusing(_error("ValidationException")), TABLES)
    with pytest.raises(ClientError):
        store.market("wheat")


@pytest.mark.parametrize(
    "reason",
    ["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "TransactionConflict"],
)
def test_intake_answers_a_transaction_cancelled_for_load_with_429(reason: str) -> None:
    store = DynamoIntakeStore(_Refusing(_cancelled("None", reason, "None")), TABLES)
    with pytest.raises(Throttled):
        store.deposit("alice", _deposit(), at=_AT)


def test_intake_answers_a_throttled_single_write_with_429() -> None:
    store = DynamoIntakeStore(_Refusing(_error("ProvisionedThroughputExceededException", "PutItem")), TABLES)
    with pytest.raises(Throttled):
        store.put_goal_event(_goal(), at=_AT)


_AT = datetime(2026, 6, 1, tzinfo=UTC)


def _deposit() -> Deposit:
    return Deposit.model_validate({"depositId": "d-1", "asset": "coins", "quantity": 10})


def _goal() -> GoalEvent:
    return GoalEvent.model_validate(
        {"eventId": "g-1", "material": "lionel-messi", "matchId": "final", "minute": 9}
    )


def _order() -> Order:
    return Order(
        order_id="01900000-0000-7000-8000-000000000001",
        player_id="alice",
        side=Side.BUY,
        material="wheat",
        quantity=3,
        price=10,
        created_at=_AT,
    )


def test_intake_reports_a_cancel_refused_by_a_condition_as_moved_state() -> None:
    store = DynamoIntakeStore(_Refusing(_cancelled("ConditionalCheckFailed", "None", "None")), TABLES)
    with pytest.raises(StateMoved):
        store.cancel_order(_order(), 3, at=_AT)


def test_intake_does_not_hide_a_cancel_refused_as_invalid_behind_moved_state() -> None:
    store = DynamoIntakeStore(_Refusing(_cancelled("ValidationError", "None", "None")), TABLES)
    with pytest.raises(ClientError):
        store.cancel_order(_order(), 3, at=_AT)


def test_the_feed_reads_a_failed_condition_as_someone_else_having_saved_first() -> None:
    store = DynamoFeedStore(_Refusing(_error("ConditionalCheckFailedException", "UpdateItem")), TABLES)
    assert store.save("lionel-messi", "WC-2026-scorers", was=1, now=2) is False
    throttled = DynamoFeedStore(_Refusing(_error("ThrottlingException", "UpdateItem")), TABLES)
    with pytest.raises(ClientError):
        throttled.save("lionel-messi", "WC-2026-scorers", was=1, now=2)
