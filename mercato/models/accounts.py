"""Player accounts: per asset, what is available and what is reserved by open orders."""

from pydantic import Field

from mercato.models.base import RequestModel, WireModel
from mercato.models.ids import ClientToken, PlayerId
from mercato.models.money import Amount, Asset, NonNegative


class Balance(WireModel):
    available: NonNegative = 0
    reserved: NonNegative = 0

    @property
    def total(self) -> int:
        return self.available + self.reserved


class Account(WireModel):
    player_id: PlayerId
    balances: dict[str, Balance] = Field(default_factory=dict)


class Deposit(RequestModel):
    """``POST /accounts/{playerId}/deposits``: credit once per ``depositId``."""

    deposit_id: ClientToken
    asset: Asset
    quantity: Amount


class Withdrawal(RequestModel):
    """``POST /accounts/{playerId}/withdrawals``: debit the available amount, never the reserved."""

    withdrawal_id: ClientToken
    asset: Asset
    quantity: Amount
