"""Properties of the crossing engine, stated with hypothesis against the simple reference book."""

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.matcher.book import BookOrder, Cancel, Event, Fill, OrderBook
from mercato.models.orders import Side, TimeInForce
from mercato.testing.reference import ReferenceBook


@dataclass(frozen=True)
class Submit:
    side: Side
    price: int
    quantity: int
    player: int
    tif: TimeInForce
    lifetime: int | None
    quote: bool = False
    """A house quote: trades at its own price when it crosses on arrival."""


@dataclass(frozen=True)
class CancelOp:
    pick: int
    """Which earlier order to cancel (modulo how many there were)."""


@dataclass(frozen=True)
class Wait:
    millis: int


Op = Submit | CancelOp | Wait

submits = st.builds(
    Submit,
    side=st.sampled_from(Side),
    price=st.integers(97, 103),
    quantity=st.integers(1, 30),
    player=st.integers(0, 4),
    tif=st.sampled_from(
        [TimeInForce.GTC, TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
    ),
    lifetime=st.none() | st.integers(1, 50),
    quote=st.sampled_from([False, False, False, True]),
)
operations = st.lists(
    st.one_of(
        submits,
        submits,
        submits,
        st.builds(CancelOp, st.integers(0, 10_000)),
        st.builds(Wait, st.integers(1, 20)),
    ),
    min_size=40,
    max_size=150,
)
fee_bps = st.sampled_from([0, 1, 200, 10_000])


def replay(
    ops: list[Op], fee: int
) -> tuple[list[list[Event]], list[list[Event]], OrderBook, dict[str, BookOrder]]:
    """Run the same operations through both books, checking the engine's bookkeeping at every step."""
    engine, reference = OrderBook(fee), ReferenceBook(fee)
    engine_steps: list[list[Event]] = []
    reference_steps: list[list[Event]] = []
    submitted: dict[str, BookOrder] = {}
    now = 0
    for op in ops:
        if isinstance(op, Wait):
            now += op.millis
            engine_steps.append(list(engine.expire(now)))
            reference_steps.append(list(reference.expire(now)))
        elif isinstance(op, CancelOp):
            if not submitted:
                continue
            order_id = list(submitted)[op.pick % len(submitted)]
            engine_steps.append([c] if (c := engine.cancel(order_id)) else [])
            reference_steps.append([c] if (c := reference.cancel(order_id)) else [])
        else:
            tif = op.tif
            expires = now + op.lifetime if op.lifetime is not None and tif is TimeInForce.GTC else None
            order = BookOrder(
                f"o{len(submitted):05d}",
                f"p{op.player}",
                op.side,
                op.price,
                op.quantity,
                tif,
                expires,
                op.quote,
            )
            submitted[order.order_id] = order
            engine_steps.append(engine.submit(order, now))
            reference_steps.append(reference.submit(order, now))
        engine.check_invariants()
        assert (engine.best_bid(), engine.best_ask()) == (reference.best_bid(), reference.best_ask())
    return engine_steps, reference_steps, engine, submitted


@settings(max_examples=200, deadline=None)
@given(operations, fee_bps)
def test_the_engine_does_exactly_what_the_reference_book_does(ops: list[Op], fee: int) -> None:
    engine_steps, reference_steps, _, _ = replay(ops, fee)

    assert engine_steps == reference_steps


@settings(max_examples=150, deadline=None)
@given(operations, fee_bps)
def test_every_order_is_filled_cancelled_or_resting_and_never_overfilled(ops: list[Op], fee: int) -> None:
    engine_steps, _, engine, submitted = replay(ops, fee)

    filled: dict[str, int] = defaultdict(int)
    cancelled: dict[str, int] = defaultdict(int)
    for event in (e for step in engine_steps for e in step):
        if isinstance(event, Fill):
            filled[event.buy_order_id] += event.quantity
            filled[event.sell_order_id] += event.quantity
            buy, sell = submitted[event.buy_order_id], submitted[event.sell_order_id]
            assert sell.price <= event.price <= buy.price, "a fill honours both limits"
            assert event.buyer_id != event.seller_id, "no self-trade"
            assert event.fee == event.price * event.quantity * fee // 10_000
            assert event.buyer_refund == (buy.price - event.price) * event.quantity
        else:
            assert isinstance(event, Cancel)
            cancelled[event.order_id] += event.quantity
    for order_id, order in submitted.items():
        resting = engine.remaining(order_id)
        assert filled[order_id] + cancelled[order_id] + resting == order.quantity, order_id
        assert filled[order_id] <= order.quantity
        if order.time_in_force is not TimeInForce.GTC:
            assert resting == 0, "IOC and FOK never rest"
        if order.time_in_force is TimeInForce.FOK:
            assert filled[order_id] in (0, order.quantity), "FOK is all or nothing"


@settings(max_examples=150, deadline=None)
@given(operations, fee_bps)
def test_at_rest_the_book_is_never_crossed(ops: list[Op], fee: int) -> None:
    _, _, engine, _ = replay(ops, fee)

    bid, ask = engine.best_bid(), engine.best_ask()
    assert bid is None or ask is None or bid < ask
    resting = list(engine.resting())
    assert len(resting) == len(engine)
    assert all(o.time_in_force is TimeInForce.GTC for o in resting)
