"""A record is a wake-up, never state (DESIGN §1): an IOC or FOK whose record was never delivered
(a batch the mapping gave up after its retries, or one too old) is ended by a settlement of the
market all the same, because the ``by-expiry`` index holds IOC and FOK orders as due a minute after
they arrived (``ANNOUNCED_ORDER_DUE_MS``). Before, only the record's hint made the matcher read such
an order below the top of the book (on DynamoDB the matcher reads each side from the top down to
where it crosses): it stayed open, its coins reserved, for good (a reviewer's find). The memory
engine reads the whole book."""

import time

import pytest

from mercato.local.memory_lane import MemoryPipeline
from mercato.local.pipeline import LocalPipeline
from mercato.models.orders import ANNOUNCED_ORDER_DUE_MS
from mercato.storage import upgrade as upgrade_module
from mercato.storage.upgrade import upgrade
from mercato.testing.invariants import scan
from tests.integration.pipelines import PipelineApi, pipeline_on


class AheadClock:
    """The matcher's clock: the wall clock, run ``ahead_ms`` ahead."""

    ahead_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.ahead_ms


def bids_above_carol(pipeline: LocalPipeline | MemoryPipeline) -> PipelineApi:
    """Wheat with ten of dave's bids at 5, carol's coins and bob's wheat."""
    api = PipelineApi(pipeline)
    api.list_market("wheat")
    api.deposit("dave", "coins", 1_000)
    api.deposit("carol", "coins", 1_000)
    api.deposit("bob", "wheat", 10)
    for _ in range(10):
        assert api.order("dave", "Buy", 1, 5).status == 202
    api.drain()
    return api


@pytest.mark.parametrize("tif", ["IOC", "FOK"])
def test_an_order_whose_wake_up_was_lost_is_ended_by_the_next_settlement(tif: str) -> None:
    clock = AheadClock()
    with pipeline_on("moto", matcher_clock=clock) as pipeline:
        # Given bids above where carol's order would rest, so a read from the top never reaches it
        api = bids_above_carol(pipeline)
        order_id = api.order("carol", "Buy", 1, 1, timeInForce=tif).body["orderId"]

        # When its record is lost (the pipe reads on from the stream's end), and a minute later the
        # market's next order, crossing nothing, wakes the matcher
        api.moto.pipe.start_at_latest()
        clock.ahead_ms = ANNOUNCED_ORDER_DUE_MS
        assert api.order("bob", "Sell", 1, 6).status == 202
        api.drain()

        # Then carol's order is ended and her coin released
        assert api.call("GET", f"/orders/{order_id}", player="carol").body["status"] == "cancelled"
        balances = api.call("GET", "/accounts/me", player="carol").body["balances"]
        assert balances["coins"] == {"available": 1_000, "reserved": 0}


@pytest.mark.parametrize("tif", ["IOC", "FOK"])
def test_an_order_an_earlier_version_left_without_a_due_key_gets_one_from_the_upgrade(tif: str) -> None:
    """Before the due key, intake wrote an IOC or FOK book item without ``expiry``: the upgrade gives
    it the key this version writes, so the same lost wake-up is ended all the same."""
    clock = AheadClock()
    with pipeline_on("moto", matcher_clock=clock) as pipeline:
        api = bids_above_carol(pipeline)
        api.moto.pipe.start_at_latest()  # carol's record is lost
        order_id = api.order("carol", "Buy", 1, 1, timeInForce=tif).body["orderId"]
        client, book = api.moto.dynamodb, api.moto.tables.book
        [item] = [i for i in scan(client, book) if i.get("orderId") == order_id]
        written = item["expiry"]
        key = {"material": "wheat", "sk": item["sk"]}
        client.update_item(TableName=book, Key=key, UpdateExpression="REMOVE expiry")  # as it was

        assert upgrade(client, "test").orders_given_due_keys == 1
        assert client.get_item(TableName=book, Key=key)["Item"]["expiry"] == written
        assert upgrade(client, "test").orders_given_due_keys == 0

        clock.ahead_ms = ANNOUNCED_ORDER_DUE_MS
        assert api.order("bob", "Sell", 1, 6).status == 202
        api.drain()
        assert api.call("GET", f"/orders/{order_id}", player="carol").body["status"] == "cancelled"


def test_the_upgrade_does_not_write_back_an_order_settled_after_its_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An IOC the matcher ended between the upgrade's scan and its update stays gone: the update
    requires the item to exist (an update would otherwise create a book item for a closed order)."""
    with pipeline_on("moto") as pipeline:
        api = PipelineApi(pipeline)
        api.list_market("wheat")
        api.deposit("carol", "coins", 1_000)
        api.moto.pipe.start_at_latest()
        order_id = api.order("carol", "Buy", 1, 1, timeInForce="IOC").body["orderId"]
        client, book = api.moto.dynamodb, api.moto.tables.book
        [item] = [i for i in scan(client, book) if i.get("orderId") == order_id]
        stale = {k: v for k, v in item.items() if k != "expiry"}
        client.delete_item(TableName=book, Key={"material": "wheat", "sk": item["sk"]})  # settled
        monkeypatch.setattr(upgrade_module, "items", lambda *args, **kwargs: iter([stale]))

        assert upgrade_module.index_announced_orders(client, api.moto.tables) == 0
        assert [i for i in scan(client, book) if i.get("orderId") == order_id] == []
