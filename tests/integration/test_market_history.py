"""Candles, 24-hour figures, the trades cursor, a player's fills and the admin reads, over the whole
pipeline (intake, the matcher's settlement, the reads) on moto, with the clocks fixed."""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.pipelines import pipeline_on
from tests.integration.test_pipeline import Exchange, stocked

T0 = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)

TRADES = [  # (when, price, quantity): bob sells to alice at these times
    (T0 + timedelta(seconds=10), 20, 10),
    (T0 + timedelta(seconds=40), 22, 5),
    (T0 + timedelta(minutes=1, seconds=5), 19, 3),
    (T0 + timedelta(hours=1, minutes=15), 25, 7),
    (T0 + timedelta(hours=6, minutes=30), 18, 2),
]

CANDLES_BY_HAND = {
    "1m": [
        ("2026-06-11T18:00:00Z", 20, 22, 20, 22, 15),
        ("2026-06-11T18:01:00Z", 19, 19, 19, 19, 3),
        ("2026-06-11T19:15:00Z", 25, 25, 25, 25, 7),
        ("2026-06-12T00:30:00Z", 18, 18, 18, 18, 2),
    ],
    "1h": [
        ("2026-06-11T18:00:00Z", 20, 22, 19, 19, 18),
        ("2026-06-11T19:00:00Z", 25, 25, 25, 25, 7),
        ("2026-06-12T00:00:00Z", 18, 18, 18, 18, 2),
    ],
    "1d": [
        ("2026-06-11T00:00:00Z", 20, 25, 19, 25, 25),
        ("2026-06-12T00:00:00Z", 18, 18, 18, 18, 2),
    ],
}
"""Worked out on paper from :data:`TRADES`: (start, open, high, low, close, volume)."""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def millis(self) -> int:
        return int(self.now.timestamp() * 1000)


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[Exchange, Clock]]:
    """The exchange after :data:`TRADES`, each settled at its own time (built once: the tests read)."""
    clock = Clock(T0)
    with pipeline_on("moto", matcher_clock=clock.millis, intake_clock=lambda: clock.now) as pipeline:
        exchange = stocked(Exchange(pipeline))
        for when, price, quantity in TRADES:
            clock.now = when
            assert exchange.order("bob", "Sell", quantity, price).status == 202
            assert exchange.order("alice", "Buy", quantity, price).status == 202
            exchange.drain()
        yield exchange, clock


@pytest.fixture
def traded(history: tuple[Exchange, Clock]) -> tuple[Exchange, Clock]:
    exchange, clock = history
    clock.now = T0 + timedelta(hours=7)
    return exchange, clock


def candles(exchange: Exchange, interval: str, **query: str) -> list[tuple[Any, ...]]:
    reply = exchange.call(
        "GET", "/markets/wheat/candles", query={"interval": interval, "from": "2026-06-11T18:00:00Z"} | query
    )
    assert reply.status == 200, reply.body
    assert (reply.body["material"], reply.body["interval"]) == ("wheat", interval)
    return [
        (c["start"], c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in reply.body["candles"]
    ]


@pytest.mark.parametrize("interval", ["1m", "1h", "1d"])
def test_candles_of_a_seeded_sequence_equal_the_table_worked_by_hand(
    traded: tuple[Exchange, Clock], interval: str
) -> None:
    exchange, _ = traded

    assert candles(exchange, interval) == CANDLES_BY_HAND[interval]


def test_candles_cover_from_inclusive_to_exclusive(traded: tuple[Exchange, Clock]) -> None:
    exchange, _ = traded

    window = candles(exchange, "1m", **{"from": "2026-06-11T18:00:40Z", "to": "2026-06-11T18:01:05Z"})

    assert window == [("2026-06-11T18:00:00Z", 22, 22, 22, 22, 5)]


@pytest.mark.parametrize("path", ["/markets/wheat/candles", "/markets/wheat/trades"])
@pytest.mark.parametrize("instant", ["1781200800", "1781200800000"])
def test_a_range_given_as_a_unix_number_is_refused_as_ambiguous(
    traded: tuple[Exchange, Clock], path: str, instant: str
) -> None:
    """Seconds or milliseconds? The API takes ISO 8601 with a zone only, as in bodies."""
    exchange, _ = traded

    assert (
        exchange.call(
            "GET", path, query={"interval": "1h", "from": instant} if "candles" in path else {"from": instant}
        ).code
        == "invalid_field"
    )


def test_the_default_range_starts_on_a_candles_boundary(traded: tuple[Exchange, Clock]) -> None:
    """Without ``from`` the range is the last 720 candles up to now; asked at 06:00:30 that began at
    18:00:30, and the 18:00 candle came back as half of itself (open 22, volume 5): the range
    starts on the boundary instead, so each candle is the whole of its minute."""
    exchange, clock = traded
    clock.now = datetime(2026, 6, 12, 6, 0, 30, tzinfo=UTC)

    reply = exchange.call("GET", "/markets/wheat/candles", query={"interval": "1m"})

    first = reply.body["candles"][0]
    assert (first["start"], first["open"], first["close"], first["volume"]) == (
        "2026-06-11T18:00:00Z",
        20,
        22,
        15,
    )


def test_candles_refuse_an_empty_range_a_too_wide_one_and_an_unknown_interval(
    traded: tuple[Exchange, Clock],
) -> None:
    exchange, _ = traded
    path = "/markets/wheat/candles"
    backwards = {"interval": "1h", "from": "2026-06-12T00:00:00Z", "to": "2026-06-11T00:00:00Z"}
    too_wide = {"interval": "1m", "from": "2026-01-01T00:00:00Z", "to": "2026-06-11T00:00:00Z"}

    assert exchange.call("GET", path, query=backwards).code == "invalid_range"
    future = exchange.call("GET", path, query={"interval": "1h", "from": "2999-01-01T00:00:00Z"})
    assert (future.code, future.body["error"]["message"]) == (
        "invalid_range",
        "from must be before now (to's default)",
    )
    assert exchange.call("GET", path, query=too_wide).code == "range_too_large"
    assert exchange.call("GET", path, query={"interval": "5m"}).status == 422
    assert exchange.call("GET", "/markets/gold/candles").code == "unknown_material"


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        ("2026-06-10T00:00:00Z", "2026-06-11T01:00:00Z", 200),  # 1,500 minutes on their boundaries
        ("2026-06-10T00:00:30Z", "2026-06-11T01:00:30Z", 422),  # 1,500 minutes touching 1,501 candles
        ("2026-06-10T00:00:30Z", "2026-06-11T01:00:00Z", 200),
    ],
)
def test_the_candle_limit_counts_the_candles_a_range_touches(
    traded: tuple[Exchange, Clock], start: str, end: str, status: int
) -> None:
    """A reviewer's find: the limit compared the range's width with 1,500 candles' width, so a range
    of exactly that width starting mid-minute answered 1,501 candles."""
    exchange, _ = traded
    reply = exchange.call("GET", "/markets/wheat/candles", query={"interval": "1m", "from": start, "to": end})
    assert reply.status == status
    if status == 422:
        assert reply.code == "range_too_large"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (
            "/markets/wheat/candles",
            {"interval": "1d", "from": "1900-01-01T00:00:00Z", "to": "1901-01-01T00:00:00Z"},
        ),
        (
            "/markets/wheat/candles",
            {"interval": "1d", "from": "9999-12-30T00:00:00Z", "to": "9999-12-31T00:00:00Z"},
        ),
        ("/markets/wheat/candles", {"interval": "1d", "to": "1969-01-01T00:00:00Z"}),
        ("/markets/wheat/trades", {"to": "0001-01-01T00:00:00Z"}),
        ("/markets/wheat/trades", {"from": "9999-01-01T00:00:00Z"}),
        # inside one millisecond: no trade (stamped in whole milliseconds) can fall in it
        (
            "/markets/wheat/candles",
            {"interval": "1m", "from": "2026-06-11T18:00:10.0001Z", "to": "2026-06-11T18:00:10.0009Z"},
        ),
        ("/markets/wheat/trades", {"from": "2026-06-11T18:00:09.9991Z", "to": "2026-06-11T18:00:09.9999Z"}),
    ],
)
def test_a_well_formed_range_with_no_millisecond_the_index_holds_is_empty_not_refused(
    traded: tuple[Exchange, Clock], path: str, query: dict[str, str]
) -> None:
    """Before 1970, after 2286 or inside one millisecond: the range is valid and holds no trade (it
    was refused as 'from must be before to' once both ends were clamped or cut to milliseconds)."""
    exchange, _ = traded

    reply = exchange.call("GET", path, query=query)

    assert reply.status == 200, reply.body
    assert reply.body.get("candles", reply.body.get("trades")) == []


def test_a_range_s_bounds_count_a_trade_at_their_exact_millisecond_from_in_and_to_out(
    traded: tuple[Exchange, Clock],
) -> None:
    """The first trade is stamped 18:00:10.000: a ``from`` a tenth of a millisecond after it leaves it
    out (the bound is not cut down to the millisecond it falls in), and a ``to`` a tenth of a
    millisecond after it takes it in (so ``to`` is exclusive of the instant, not of the millisecond)."""
    exchange, _ = traded
    path = "/markets/wheat/trades"

    after = exchange.call(
        "GET", path, query={"from": "2026-06-11T18:00:10.0001Z", "to": "2026-06-11T18:00:11Z"}
    )
    upto = exchange.call(
        "GET", path, query={"from": "2026-06-11T18:00:09Z", "to": "2026-06-11T18:00:10.0001Z"}
    )
    before = exchange.call("GET", path, query={"from": "2026-06-11T18:00:09Z", "to": "2026-06-11T18:00:10Z"})

    assert after.body["trades"] == []
    assert [t["price"] for t in upto.body["trades"]] == [20]
    assert before.body["trades"] == []


def test_the_market_shows_the_last_24_hours(traded: tuple[Exchange, Clock]) -> None:
    """At 18:00:30 the next day the window holds every trade but the first: 22, 19, 25, 18."""
    exchange, clock = traded
    clock.now = T0 + timedelta(days=1, seconds=30)

    market = exchange.call("GET", "/markets/wheat").body
    listed = next(m for m in exchange.call("GET", "/markets").body if m["material"] == "wheat")

    figures = {key: market[key] for key in ("change24h", "high24h", "low24h", "volume24h")}
    assert figures == {"change24h": 18 - 22, "high24h": 25, "low24h": 18, "volume24h": 17}
    assert {key: listed[key] for key in figures} == figures
    clock.now = T0 + timedelta(days=3)
    assert exchange.call("GET", "/markets/wheat").body["change24h"] is None


def test_listing_a_traded_market_again_answers_its_day_figures(traded: tuple[Exchange, Clock]) -> None:
    """The identical listing's replay answers the market as GET /markets/{material} does: it answered
    null day figures for a market that had just traded (a reviewer's find)."""
    exchange, clock = traded
    clock.now = T0 + timedelta(days=1, seconds=30)

    relisted = exchange.list_market("wheat")

    assert relisted.status == 200
    day = ("change24h", "high24h", "low24h", "volume24h")
    read = exchange.call("GET", "/markets/wheat").body
    assert {key: relisted.body[key] for key in day} == {key: read[key] for key in day}
    assert relisted.body["volume24h"] == 17


def test_the_day_figures_read_trades_only_from_the_hour_the_window_starts_in(
    traded: tuple[Exchange, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures come from the hours the matcher keeps on the market item: at 01:00 (the window
    starts at 01:00 the day before, an hour without trades) no trade is read; at 18:00:30 the next
    day only the trades from 18:00:30 to 19:00 the day before are, not the day's."""
    exchange, clock = traded
    store = exchange.pipeline.service.store
    asked: list[tuple[int, int]] = []
    read = store.trades_between

    def counted(material: str, start_ms: int, end_ms: int, at_most: int | None) -> Any:
        asked.append((start_ms, end_ms))
        return read(material, start_ms, end_ms, at_most)

    monkeypatch.setattr(store, "trades_between", counted)
    millis = Clock(T0).millis()

    figures = exchange.call("GET", "/markets/wheat").body
    assert (figures["change24h"], figures["volume24h"]) == (18 - 20, 27)
    assert asked == []
    clock.now = T0 + timedelta(days=1, seconds=30)
    assert exchange.call("GET", "/markets/wheat").body["volume24h"] == 17
    assert asked == [(millis + 30_000, millis + 3_600_000)]


def test_the_trades_cursor_pages_newest_first_without_a_gap(traded: tuple[Exchange, Clock]) -> None:
    exchange, _ = traded
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = exchange.call("GET", "/markets/wheat/trades", query=query).body
        seen += [trade["price"] for trade in page["trades"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert seen == [18, 25, 19, 22, 20]


def test_trades_in_a_time_range(traded: tuple[Exchange, Clock]) -> None:
    exchange, _ = traded
    query = {"from": "2026-06-11T18:00:40Z", "to": "2026-06-11T19:15:00Z"}

    page = exchange.call("GET", "/markets/wheat/trades", query=query).body

    assert [(t["price"], t["executedAt"]) for t in page["trades"]] == [
        (19, "2026-06-11T18:01:05Z"),
        (22, "2026-06-11T18:00:40Z"),
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "eyJtYXRlcmlhbCI6ICJjb3BwZXIiLCAic2siOiAieCIsICJ0aW1lS2V5IjogIjAifQ==",  # copper's
        "W10=",  # []
    ],
)
def test_a_trades_cursor_from_elsewhere_is_refused(traded: tuple[Exchange, Clock], cursor: str) -> None:
    exchange, _ = traded

    assert exchange.call("GET", "/markets/wheat/trades", query={"cursor": cursor}).code == "bad_cursor"


@pytest.mark.parametrize("sk", ["", "zzzz"], ids=["empty-key", "another-key"])
def test_a_trades_cursor_whose_key_was_changed_is_refused(traded: tuple[Exchange, Clock], sk: str) -> None:
    """A real cursor with its ``sk`` emptied (DynamoDB refuses an empty key: a 500) or replaced (the
    page would start elsewhere, repeating trades) is not one the API returned."""
    exchange, _ = traded
    cursor = exchange.call("GET", "/markets/wheat/trades", query={"limit": "2"}).body["nextCursor"]
    crafted = json.loads(base64.urlsafe_b64decode(cursor)) | {"sk": sk}
    forged = base64.urlsafe_b64encode(json.dumps(crafted).encode()).decode()

    assert exchange.call("GET", "/markets/wheat/trades", query={"cursor": forged}).code == "bad_cursor"


def test_a_players_fills_come_oldest_first_and_the_cursor_carries_on(
    traded: tuple[Exchange, Clock],
) -> None:
    exchange, _ = traded

    first = exchange.call("GET", "/fills", query={"limit": "3"}, player="alice").body
    rest = exchange.call("GET", "/fills", query={"after": first["cursor"]}, player="alice").body
    nothing_new = exchange.call("GET", "/fills", query={"after": rest["cursor"]}, player="alice").body

    fills = first["fills"] + rest["fills"]
    assert [(f["price"], f["quantity"], f["side"], f["fee"]) for f in fills] == [
        (price, quantity, "Buy", 0) for _, price, quantity in TRADES
    ]
    assert (first["cursor"], rest["cursor"], nothing_new) == ("3", "5", {"fills": [], "cursor": "5"})
    assert set(fills[0]) == {
        "fillId",
        "tradeId",
        "orderId",
        "material",
        "side",
        "price",
        "quantity",
        "fee",
        "executedAt",
    }
    bob = exchange.call("GET", "/fills", player="bob").body["fills"]
    assert [(f["side"], f["fee"]) for f in bob][:1] == [("Sell", 20 * 10 * 200 // 10_000)]
    assert {f["tradeId"] for f in bob} == {f["tradeId"] for f in fills}


@pytest.mark.parametrize("after", ["6", "-1", "x", "1.5", "0000000000001"])
def test_a_fills_cursor_past_the_players_fills_or_not_a_number_is_refused(
    traded: tuple[Exchange, Clock], after: str
) -> None:
    exchange, _ = traded

    reply = exchange.call("GET", "/fills", query={"after": after}, player="alice")

    assert reply.status == 422
    assert reply.code in ("bad_cursor", "invalid_field")


def test_the_game_server_reads_a_players_balances_and_orders(traded: tuple[Exchange, Clock]) -> None:
    exchange, _ = traded

    account = exchange.call("GET", "/accounts/alice", admin=True)
    orders = exchange.call("GET", "/accounts/alice/orders", query={"limit": "2"}, admin=True)
    more = exchange.call(
        "GET", "/accounts/alice/orders", query={"cursor": orders.body["nextCursor"]}, admin=True
    )

    assert account.body == exchange.call("GET", "/accounts/me", player="alice").body
    assert [o["pricePerUnit"] for o in orders.body["orders"] + more.body["orders"]] == [18, 25, 19, 22, 20]
    assert exchange.call("GET", "/accounts/alice", player="alice").code == "wrong_scope"
    assert exchange.call("GET", "/fills", admin=True).code == "wrong_scope"


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/me/orders",
        "/accounts/ME/orders",
        "/accounts/Me",
        "/accounts/%2E/orders",
        "/accounts/%2E%2E",
        "/accounts/House.lionel-messi",
        "/accounts/HOUSE.lionel-messi/orders",
    ],
)
def test_the_game_server_reading_an_id_no_player_can_have_is_refused(
    traded: tuple[Exchange, Clock], path: str
) -> None:
    """``me`` names the caller on /accounts/me, dot segments are removed by browsers and a house id
    in another case passes for the house: an admin's /accounts/me/orders answered 200 with an empty
    page for a player "me" who can never exist (a reviewer's finds). The house's own lower-case
    accounts stay readable."""
    exchange, _ = traded

    reply = exchange.call("GET", path, admin=True)

    assert (reply.status, reply.code) == (403, "reserved_player")
    assert exchange.call("GET", "/accounts/house.lionel-messi", admin=True).status == 200
