"""A record is a wake-up, never state (DESIGN §1): an IOC or FOK whose record was never delivered
(a batch the mapping gave up after its retries, or one too old) is ended by a settlement of the
market all the same, because the ``by-expiry`` index holds IOC and FOK orders as due a minute after
they arrived (``ANNOUNCED_ORDER_DUE_MS``). Before, only the record's hint made the matcher read such
an order below the top of the book (on DynamoDB the matcher reads each side from the top down to
where it crosses): it stayed open, its coins reserved, for good (a reviewer's find). The memory
engine reads the whole book."""

import time

import pytest

from mercato.models.orders import ANNOUNCED_ORDER_DUE_MS
from tests.integration.pipelines import PipelineApi, pipeline_on


@pytest.mark.parametrize("tif", ["IOC", "FOK"])
def test_an_order_whose_wake_up_was_lost_is_ended_by_the_next_settlement(tif: str) -> None:
    ahead = [0]  # how far the matcher's clock runs ahead of the wall clock, in ms

    def matcher_clock() -> int:
        return time.time_ns() // 1_000_000 + ahead[0]

    with pipeline_on("moto", matcher_clock=matcher_clock) as pipeline:
        # Given bids above where carol's order would rest, so a read from the top never reaches it
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.deposit("dave", "coins", 1_000)
        api.deposit("carol", "coins", 1_000)
        api.deposit("bob", "wheat", 10)
        for _ in range(10):
            assert api.order("dave", "Buy", 1, 5).status == 202
        api.drain()
        order_id = api.order("carol", "Buy", 1, 1, timeInForce=tif).body["orderId"]

        # When its record is lost (the pipe reads on from the stream's end), and a minute later the
        # market's next order, crossing nothing, wakes the matcher
        api.moto.pipe.start_at_latest()
        ahead[0] = ANNOUNCED_ORDER_DUE_MS
        assert api.order("bob", "Sell", 1, 6).status == 202
        api.drain()

        # Then carol's order is ended and her coin released
        assert api.call("GET", f"/orders/{order_id}", player="carol").body["status"] == "cancelled"
        balances = api.call("GET", "/accounts/me", player="carol").body["balances"]
        assert balances["coins"] == {"available": 1_000, "reserved": 0}
