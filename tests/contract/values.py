"""Domain values the contract tests build, by their Python names (requests validate by wire names)."""

from datetime import UTC, datetime

from mercato.models.accounts import Deposit, Withdrawal
from mercato.models.events import GoalEvent

AT = datetime(2026, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC)
"""Microseconds included: every store keeps times to the millisecond."""
AT_MS = int(AT.timestamp() * 1000)


def a_deposit(deposit_id: str, asset: str, quantity: int) -> Deposit:
    return Deposit.model_validate({"depositId": deposit_id, "asset": asset, "quantity": quantity})


def a_withdrawal(withdrawal_id: str, asset: str, quantity: int) -> Withdrawal:
    return Withdrawal.model_validate({"withdrawalId": withdrawal_id, "asset": asset, "quantity": quantity})


def a_goal(event_id: str, minute: int = 10, material: str = "lionel-messi") -> GoalEvent:
    return GoalEvent.model_validate(
        {"eventId": event_id, "material": material, "matchId": "m-1", "minute": minute}
    )
