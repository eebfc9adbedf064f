"""Book sort keys (DESIGN §2): the lexicographic order of keys is price-time priority."""

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.models import (
    MAX_PRICE,
    MIN_PRICE,
    Side,
    decode_book_key,
    encode_book_key,
    new_order_id,
    trade_id,
)
from mercato.models.ids import UUID7_PATTERN, order_id_millis

prices = st.one_of(
    st.sampled_from([MIN_PRICE, MIN_PRICE + 1, MAX_PRICE - 1, MAX_PRICE]), st.integers(MIN_PRICE, MAX_PRICE)
)


@st.composite
def uuid7s(draw: st.DrawFn) -> str:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version 7, 12 random bits, variant 10, 62 random bits."""
    millis = draw(st.integers(0, 2**48 - 1))
    value = (millis << 80) | (0x7 << 76) | (draw(st.integers(0, 2**12 - 1)) << 64)
    value |= (0b10 << 62) | draw(st.integers(0, 2**62 - 1))
    return str(uuid.UUID(int=value))


resting_orders = st.lists(st.tuples(prices, uuid7s()), min_size=2, max_size=40, unique_by=lambda o: o[1])


@given(resting_orders)
def test_ask_keys_sort_cheapest_first_then_oldest(orders: list[tuple[int, str]]) -> None:
    by_key = sorted(orders, key=lambda o: encode_book_key(Side.SELL, *o))

    assert by_key == sorted(orders, key=lambda o: (o[0], o[1]))


@given(resting_orders)
def test_bid_keys_sort_dearest_first_then_oldest(orders: list[tuple[int, str]]) -> None:
    by_key = sorted(orders, key=lambda o: encode_book_key(Side.BUY, *o))

    assert by_key == sorted(orders, key=lambda o: (-o[0], o[1]))


@given(st.sampled_from(Side), prices, uuid7s())
def test_a_key_decodes_to_what_it_encodes(side: Side, price: int, order_id: str) -> None:
    key = encode_book_key(side, price, order_id)

    assert decode_book_key(key) == (side, price, order_id)
    assert key.startswith(f"{side.upper()}#")


@given(st.lists(uuid7s(), min_size=2, max_size=20, unique=True))
def test_uuid7_strings_sort_by_their_timestamp(ids: list[str]) -> None:
    assert [order_id_millis(i) for i in sorted(ids)] == sorted(order_id_millis(i) for i in ids)


def test_the_extreme_prices_encode_to_twelve_digits() -> None:
    order_id = new_order_id()

    assert encode_book_key(Side.SELL, 1, order_id) == f"SELL#000000000001#{order_id}"
    assert encode_book_key(Side.SELL, MAX_PRICE, order_id) == f"SELL#999999999999#{order_id}"
    assert encode_book_key(Side.BUY, MAX_PRICE, order_id) == f"BUY#000000000000#{order_id}"
    assert encode_book_key(Side.BUY, 1, order_id) == f"BUY#999999999998#{order_id}"


@pytest.mark.parametrize("price", [0, -1, MAX_PRICE + 1])
def test_a_price_out_of_range_has_no_key(price: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        encode_book_key(Side.SELL, price, new_order_id())


@pytest.mark.parametrize(
    "key",
    [
        "SELL#12#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
        "HOLD#000000000001#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
        "SELL#000000000001#not-a-uuid",
        "SELL#000000000001#0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b",  # a v4 uuid
        "SELL#000000000000#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",  # price 0
        "BUY#999999999999#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",  # price 0
        "EVENT#goal-1",
    ],
)
def test_anything_else_is_not_a_book_key(key: str) -> None:
    with pytest.raises(ValueError, match="book"):
        decode_book_key(key)


def test_new_order_ids_are_uuid7_and_sort_in_the_order_they_were_made() -> None:
    ids = [new_order_id() for _ in range(2_000)]

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert all(re.match(UUID7_PATTERN, i) for i in ids)


def test_a_trade_id_is_determined_by_its_two_orders() -> None:
    buy, sell = new_order_id(), new_order_id()

    assert trade_id(buy, sell) == trade_id(buy, sell)
    assert trade_id(buy, sell) != trade_id(sell, buy)
    assert trade_id(buy, sell) != trade_id(buy, new_order_id())
