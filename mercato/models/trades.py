"""Trades: one per fill, named by the two orders that crossed."""

from pydantic import Field

from mercato.models.base import Timestamp, WireModel
from mercato.models.ids import OrderId, PlayerId
from mercato.models.money import MaterialId, NonNegative, Price, Quantity
from mercato.models.orders import Side


class Trade(WireModel):
    """A fill; the wire form is ``{tradeId, price, quantity, takerSide, executedAt}``."""

    trade_id: str
    material: MaterialId = Field(exclude=True)
    price: Price
    quantity: Quantity
    taker_side: Side
    executed_at: Timestamp
    buy_order_id: OrderId = Field(exclude=True)
    sell_order_id: OrderId = Field(exclude=True)
    buyer_id: PlayerId = Field(exclude=True)
    seller_id: PlayerId = Field(exclude=True)
    fee: NonNegative = Field(default=0, exclude=True)
