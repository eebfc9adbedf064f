"""Seeded trading sessions through the whole local pipeline, checked at every drain against the
invariants of DESIGN §8 and, at the end, against the reference book replayed in order-id order
(invariant 6: every fill took the best-priced, oldest opposite order)."""

import random

import boto3
import pytest
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.book import BookOrder, Cancel, Fill
from mercato.models.orders import CancelReason, Side, TimeInForce
from mercato.testing.invariants import scan, violations
from mercato.testing.reference import ReferenceBook
from tests.integration.conftest import SECRET, Api

PLAYERS = ("p1", "p2", "p3", "p4", "p5")


@pytest.mark.parametrize(
    "seed", [1, pytest.param(2, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)]
)
def test_a_random_session_settles_exactly_as_the_reference_book(seed: int) -> None:
    rng = random.Random(seed)
    moto_atomic.install()
    with mock_aws():
        pipeline = LocalPipeline.create(boto3.Session(), "sim", SECRET)
        api = Api(pipeline.intake, pipeline.dynamodb, pipeline.tables)
        api.list_market("wheat", feeBps=150)
        for player in PLAYERS:
            api.deposit(player, "coins", 1_000_000)
            api.deposit(player, "wheat", 10_000)
        reference = ReferenceBook(fee_bps=150)
        expected: list[Fill | Cancel] = []
        placed: list[tuple[str, str]] = []

        def drain() -> None:
            pipeline.drain()
            assert violations(pipeline.dynamodb, pipeline.tables) == []

        for _ in range(70):
            if placed and rng.random() < 0.15:
                drain()  # a cancel takes effect after everything before it was matched
                player, order_id = placed.pop(rng.randrange(len(placed)))
                reply = api.call("DELETE", f"/orders/{order_id}", player=player)
                cancelled = reference.cancel(order_id)
                assert (reply.status == 200) == (cancelled is not None)
                if cancelled is not None:
                    expected.append(cancelled)
                continue
            player = rng.choice(PLAYERS)
            side = rng.choice(["Buy", "Sell"])
            tif = rng.choice(["GTC", "GTC", "GTC", "GTC", "IOC", "FOK"])
            quantity, price = rng.randint(1, 20), rng.randint(95, 105)
            reply = api.order(player, side, quantity, price, timeInForce=tif)
            assert reply.status == 202
            order_id = reply.body["orderId"]
            placed.append((player, order_id))
            expected += reference.submit(
                BookOrder(order_id, player, Side(side), price, quantity, TimeInForce(tif))
            )
            if rng.random() < 0.3:
                drain()
        drain()

        trades = scan(pipeline.dynamodb, pipeline.tables.trades)
        got = sorted((t["buyOrderId"], t["sellOrderId"], t["price"], t["quantity"], t["fee"]) for t in trades)
        want = sorted(
            (f.buy_order_id, f.sell_order_id, f.price, f.quantity, f.fee)
            for f in expected
            if isinstance(f, Fill)
        )
        assert got == want
        assert len(want) > 5, "the session traded"
        records = {
            r["orderId"]: r["status"]
            for r in scan(pipeline.dynamodb, pipeline.tables.orders)
            if "orderId" in r and r["sk"].startswith("ORDER#")
        }
        for event in expected:
            if isinstance(event, Cancel) and event.reason is not CancelReason.USER:
                assert records[event.order_id] == "cancelled", event
