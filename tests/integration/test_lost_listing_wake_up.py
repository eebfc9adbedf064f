"""A footballer whose listing wake-up was lost was never woken by the sweep, so its house never
quoted (the book stayed empty) until some player happened to place an order in it (a reviewer's
find; red before ``needs_waking`` looked for a footballer never settled).

mercato/matcher/sweep.py: "a wake-up can be lost: the event-source mapping discards a record after its
retries or its record age ... The sweep finds each market with an order due now, a crossed book or a
pending goal". The listing event (book item ``LISTING``) is the one wake-up the house's first ladder
depends on, and ``needs_waking`` does not look for it: nothing records whether it was acted on.
"""

from functools import partial

from mercato.local.memory_lane import MemoryPipeline
from mercato.matcher.house import house_player
from mercato.matcher.sweep import due_markets, needs_waking
from tests.integration.pipelines import PipelineApi, pipeline_on

MESSI = "lionel-messi"


def test_the_sweep_wakes_a_footballer_whose_listing_wake_up_was_lost() -> None:
    with pipeline_on("memory") as pipeline:
        assert isinstance(pipeline, MemoryPipeline)
        api = PipelineApi(pipeline)
        assert api.list_footballer(MESSI).status == 201
        # the mapping discarded the listing's record (matcher down past the record age, mapping
        # disabled for an upgrade): the documented case the sweep exists for
        pipeline.wake_ups.queue.clear()

        store = pipeline.matcher.store
        woken = due_markets(store.materials(), partial(needs_waking, store), pipeline.matcher.clock())
        for material in woken:  # what the embedded stack's sweep does with what it finds
            pipeline.matcher.settle(material)

        house = house_player(MESSI)
        quotes = [o for o in store.read_book(MESSI).orders if o.player_id == house]
        assert MESSI in woken
        assert quotes, "the house never quotes: no sweep will ever wake this market"


def test_the_sweep_leaves_a_settled_footballer_and_an_empty_commodity_alone() -> None:
    with pipeline_on("memory") as pipeline:
        assert isinstance(pipeline, MemoryPipeline)
        api = PipelineApi(pipeline)
        assert api.list_footballer(MESSI).status == 201
        assert api.list_market("wheat").status == 201
        pipeline.drain()  # the listing's wake-up settled: the house quotes

        store = pipeline.matcher.store
        assert due_markets(store.materials(), partial(needs_waking, store), pipeline.matcher.clock()) == []


def test_a_footballer_whose_house_has_nothing_to_quote_is_not_woken_every_minute() -> None:
    """A reviewer's find: a house with nothing to quote settled to nothing and committed nothing, so
    its market stayed at version 0 with an empty book and every sweep woke it again; a footballer's
    first settlement now always commits."""
    with pipeline_on("memory") as pipeline:
        assert isinstance(pipeline, MemoryPipeline)
        api = PipelineApi(pipeline)
        reply = api.list_footballer(MESSI, house={"inventory": 0, "budget": 0})
        assert reply.status == 201, reply.body
        pipeline.drain()  # the listing's wake-up settled: nothing to quote

        store = pipeline.matcher.store
        clock = pipeline.matcher.clock
        woken = []
        for minute in range(3):  # three sweeps, each settling what it woke
            found = due_markets(store.materials(), partial(needs_waking, store), clock() + minute * 60_000)
            for material in found:
                pipeline.matcher.settle(material)
            woken.append(found)
        assert woken[1:] == [[], []], f"woken by every sweep: {woken}"
