"""Mercato's domain and wire types, key encoding and integer money. No I/O and no boto3 here."""

from mercato.models.accounts import Account, Balance, Deposit, Withdrawal
from mercato.models.events import GoalEvent
from mercato.models.ids import new_order_id, order_id_millis, trade_id
from mercato.models.keys import BookKey, decode_book_key, encode_book_key
from mercato.models.markets import (
    CommodityListing,
    CommodityMarket,
    FootballerListing,
    FootballerMarket,
    Market,
    market_from,
    parse_listing,
)
from mercato.models.money import COINS, MAX_PRICE, MAX_QUANTITY, MIN_PRICE, MIN_QUANTITY, fee_for
from mercato.models.orders import CancelReason, Order, OrderRequest, OrderStatus, Side, TimeInForce
from mercato.models.trades import Trade

__all__ = [
    "COINS",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "MIN_PRICE",
    "MIN_QUANTITY",
    "Account",
    "Balance",
    "BookKey",
    "CancelReason",
    "CommodityListing",
    "CommodityMarket",
    "Deposit",
    "FootballerListing",
    "FootballerMarket",
    "GoalEvent",
    "Market",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "Side",
    "TimeInForce",
    "Trade",
    "Withdrawal",
    "decode_book_key",
    "encode_book_key",
    "fee_for",
    "market_from",
    "new_order_id",
    "order_id_millis",
    "parse_listing",
    "trade_id",
]
