"""Orders: the request a game client posts, and the order record the exchange keeps."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, ValidationInfo, computed_field, field_validator, model_validator

from mercato.models.base import RequestModel, Timestamp, WireModel
from mercato.models.ids import ClientToken, OrderId, PlayerId
from mercato.models.money import COINS, MaterialId, NonNegative, Price, Quantity

MAX_EXPIRY_AHEAD = timedelta(days=90)
"""How far ahead ``expiresAt`` may lie (as EVE Online allows): a good-till-date order is a short-lived
promise, and the bound keeps every expiry key the same width (see ``storage.items.expiry_key``)."""

ANNOUNCED_ORDER_DUE_MS = 60_000
"""How long after it arrived an IOC or FOK order comes due in the book's ``by-expiry`` index (in ms).
Its record normally wakes the matcher within a second or two and that settlement ends it; only one
whose record was lost is still resting a minute later, and a settlement from then on ends it. Due at
once, the IOCs of a rush would fill the index's first page (50 keys a settlement) ahead of the
good-till-date orders due before them."""


def due_at_ms(time_in_force: "TimeInForce", expires_at_ms: int | None, created_at_ms: int) -> int | None:
    """When a resting order comes due in the book's ``by-expiry`` index (ms): a good-till-date order
    at its expiry, an IOC or FOK order ``ANNOUNCED_ORDER_DUE_MS`` after it arrived, any other never."""
    if expires_at_ms is not None:
        return expires_at_ms
    if time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        return created_at_ms + ANNOUNCED_ORDER_DUE_MS
    return None


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


def escrow(side: Side, material: str, price: int, quantity: int) -> tuple[str, int]:
    """What ``quantity`` of an order holds in reserve, as ``(asset, amount)``: coins at its limit price
    for a buy, the items themselves for a sell. Placing reserves it; a cancel or expiry releases it."""
    if side is Side.BUY:
        return COINS, price * quantity
    return material, quantity


class TimeInForce(StrEnum):
    GTC = "GTC"
    """Good till cancelled: rests until filled or cancelled (or until ``expiresAt``, if given)."""
    IOC = "IOC"
    """Immediate or cancel: trades what it can on arrival; the rest is cancelled."""
    FOK = "FOK"
    """Fill or kill: fills completely on arrival or is cancelled completely."""


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.OPEN


class CancelReason(StrEnum):
    USER = "user"
    SELF_TRADE = "self_trade"
    IOC_REMAINDER = "ioc_remainder"
    FOK_UNFILLED = "fok_unfilled"
    EXPIRED = "expired"
    HOUSE_REQUOTE = "house_requote"

    @property
    def status(self) -> OrderStatus:
        return OrderStatus.EXPIRED if self is CancelReason.EXPIRED else OrderStatus.CANCELLED


class OrderRequest(RequestModel):
    """``POST /orders``: ``{"type": "Sell", "material": "wheat", "quantity": 100, "pricePerUnit": 10}``."""

    model_config = ConfigDict(
        json_schema_extra={  # the rule of _expiry_is_for_resting_orders, for schema readers
            "if": {"required": ["timeInForce"], "properties": {"timeInForce": {"enum": ["IOC", "FOK"]}}},
            "then": {"properties": {"expiresAt": {"type": "null"}}},
        }
    )

    side: Side = Field(alias="type")
    material: MaterialId
    quantity: Quantity
    price: Price = Field(alias="pricePerUnit")
    client_order_id: ClientToken | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expires_at: Timestamp | None = None

    @field_validator("expires_at")
    @classmethod
    def _expiry_is_for_resting_orders(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """Only a GTC order expires, at the instant given, in UTC and to the millisecond the exchange
        keeps (cut down, so it never trades after the instant asked for): the first answer, every
        read and a resend's fingerprint all see the same instant, whatever offset it was sent in."""
        if value is None:
            return None
        if info.data.get("time_in_force", TimeInForce.GTC) is not TimeInForce.GTC:
            raise ValueError("expiresAt applies only to GTC orders; IOC and FOK never rest")
        try:
            utc = value.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last instant a datetime holds
            raise ValueError("expiresAt is out of range") from None
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)

    def reservation(self) -> tuple[str, int]:
        """What intake escrows for this order: ``(asset, amount)``."""
        return escrow(self.side, self.material, self.price, self.quantity)


class Order(WireModel):
    """An order as the exchange keeps it; its wire form is DESIGN §5's ``order`` body."""

    order_id: OrderId
    player_id: PlayerId = Field(exclude=True)
    client_order_id: ClientToken | None = None
    side: Side = Field(alias="type")
    material: MaterialId
    quantity: Quantity
    price: Price = Field(alias="pricePerUnit")
    time_in_force: TimeInForce = TimeInForce.GTC
    expires_at: Timestamp | None = None
    status: OrderStatus = OrderStatus.OPEN
    filled_quantity: NonNegative = 0
    filled_notional: NonNegative = 0
    created_at: Timestamp
    cancelled_by_owner: bool = Field(default=False, exclude=True)
    """Cancelled through ``DELETE /orders/{id}``, so a repeated cancel can answer as the first did."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def remaining_quantity(self) -> int:
        """What can still trade: nothing once the order is final."""
        return 0 if self.status.is_final else self.quantity - self.filled_quantity

    @model_validator(mode="after")
    def _a_state_the_exchange_can_reach(self) -> Self:
        if self.filled_quantity > self.quantity:
            raise ValueError("filledQuantity exceeds quantity")
        if (self.status is OrderStatus.FILLED) != (self.filled_quantity == self.quantity):
            raise ValueError("an order is filled exactly when filledQuantity equals quantity")
        limit = self.filled_quantity * self.price
        if self.side is Side.BUY and self.filled_notional > limit:
            raise ValueError("a buy never pays more than its limit")
        if self.side is Side.SELL and self.filled_notional < limit:
            raise ValueError("a sell never receives less than its limit")
        if self.filled_quantity == 0 and self.filled_notional != 0:
            raise ValueError("filledNotional without a fill")
        if self.expires_at is not None and self.time_in_force is not TimeInForce.GTC:
            raise ValueError("expiresAt applies only to GTC orders")
        return self

    @classmethod
    def accept(cls, request: OrderRequest, *, order_id: str, player_id: str, created_at: datetime) -> "Order":
        """The new open order intake writes for an accepted request."""
        return cls(
            order_id=order_id,
            player_id=player_id,
            client_order_id=request.client_order_id,
            side=request.side,
            material=request.material,
            quantity=request.quantity,
            price=request.price,
            time_in_force=request.time_in_force,
            expires_at=request.expires_at,
            created_at=created_at,
        )
