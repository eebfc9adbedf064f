"""Defects an adversarial pass found around the matcher (issue 10), each pinned by a test that failed
before its fix: a caller's order booked to another player, an idempotent resend refused, GTD expiry
blocked by far-future orders, unhandled errors on crafted input, and retries that were not idempotent."""

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.emulators.function_url import function_url_event
from mercato.intake.app import build_handler
from mercato.intake.auth import Scope, issue_token
from mercato.intake.dynamo import DynamoIntakeStore
from mercato.intake.service import Intake
from mercato.local.memory_stack import MemoryEngine
from mercato.models.orders import MAX_EXPIRY_AHEAD
from mercato.storage.items import expiry_key
from mercato.storage.names import TableNames
from tests.integration.conftest import SECRET, Api
from tests.integration.test_review_findings import START, Exchange, clocked_exchange
from tests.integration.test_review_findings import exchange as exchange  # the fixture

MESSI = "lionel-messi"


# -- 1. per-request state ---------------------------------------------------------------------------


def _alice_paused_in_the_resolver(
    monkeypatch: pytest.MonkeyPatch, alice: Callable[[], None], bob: Callable[[], None]
) -> None:
    """Run ``alice`` until her request (header ``x-who: alice``) is inside the resolver, after her
    token was checked; then run ``bob`` (to the end, or until it has to wait for alice's); then
    let alice's resume."""
    alice_inside, bob_done = threading.Event(), threading.Event()
    original = LambdaFunctionUrlResolver._resolve

    def paused(self: LambdaFunctionUrlResolver) -> Any:
        if self.current_event.headers.get("x-who") == "alice":
            alice_inside.set()
            bob_done.wait(1)  # bob may run to the end meanwhile, or be made to wait for alice
        return original(self)

    def bob_then_done() -> None:
        bob()
        bob_done.set()

    monkeypatch.setattr(LambdaFunctionUrlResolver, "_resolve", paused)
    threads = [threading.Thread(target=alice), threading.Thread(target=bob_then_done)]
    threads[0].start()
    assert alice_inside.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(10)


def test_a_request_paused_after_authentication_keeps_its_caller(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's request is paused inside the resolver, after her token was checked; bob's request is
    let run; then alice's resumes. Each must act as its own caller."""
    api.list_market("wheat")
    api.deposit("alice", "coins", 10_000)
    api.deposit("bob", "coins", 10_000)
    replies: dict[str, Any] = {}

    def alice() -> None:
        body = {"type": "Buy", "material": "wheat", "quantity": 5, "pricePerUnit": 100}
        replies["alice"] = api.call("POST", "/orders", body, player="alice", headers={"x-who": "alice"})

    def bob() -> None:
        replies["bob"] = api.order("bob", "Buy", 2, 50)

    _alice_paused_in_the_resolver(monkeypatch, alice, bob)

    assert replies["alice"].status == 202
    assert replies["bob"].status == 202
    assert api.balances("alice")["coins"] == {"available": 9_500, "reserved": 500}
    assert api.balances("bob")["coins"] == {"available": 9_900, "reserved": 100}
    alice_order = api.call("GET", f"/orders/{replies['alice'].body['orderId']}", player="alice")
    assert alice_order.status == 200
    assert alice_order.body["quantity"] == 5


def test_two_exchanges_in_one_process_keep_each_callers_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools keeps the request being resolved on its ``BaseRouter`` class, so two handlers in one
    process (a game's tests running two stacks, or two fixtures) share it: alice's request on one
    exchange is paused inside the resolver while bob's runs on the other; each must act as its own
    caller on its own exchange."""
    first, second = MemoryEngine.create(SECRET), MemoryEngine.create(SECRET)
    admin = issue_token(SECRET, "admin", Scope.ADMIN)

    def call(engine: MemoryEngine, player: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        token = admin if player == "admin" else issue_token(SECRET, player, Scope.TRADE)
        encoded = json.dumps(body).encode() if body is not None else None
        headers = {"authorization": f"Bearer {token}", "x-who": player}
        event = function_url_event(method, path, headers=headers, body=encoded)
        answer: dict[str, Any] = engine.intake(event, None)
        return answer

    for engine, player in ((first, "alice"), (second, "bob")):
        call(engine, "admin", "POST", "/markets", {"material": "wheat", "kind": "commodity", "name": "Wheat"})
        deposit = {"depositId": "d", "asset": "coins", "quantity": 10_000}
        call(engine, "admin", "POST", f"/accounts/{player}/deposits", deposit)
    replies: dict[str, dict[str, Any]] = {}

    def alice() -> None:
        body = {"type": "Buy", "material": "wheat", "quantity": 5, "pricePerUnit": 100}
        replies["alice"] = call(first, "alice", "POST", "/orders", body)

    def bob() -> None:
        body = {"type": "Buy", "material": "wheat", "quantity": 2, "pricePerUnit": 50}
        replies["bob"] = call(second, "bob", "POST", "/orders", body)

    _alice_paused_in_the_resolver(monkeypatch, alice, bob)

    assert replies["alice"]["statusCode"] == 202, replies["alice"]
    assert replies["bob"]["statusCode"] == 202, replies["bob"]
    alice_coins = json.loads(call(first, "alice", "GET", "/accounts/me")["body"])["balances"]["coins"]
    bob_coins = json.loads(call(second, "bob", "GET", "/accounts/me")["body"])["balances"]["coins"]
    assert alice_coins == {"available": 9_500, "reserved": 500}
    assert bob_coins == {"available": 9_900, "reserved": 100}


def test_a_handler_error_is_a_500_in_the_error_shape(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: Any) -> Any:
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(api.client, "scan", broken)
    reply = api.call("GET", "/markets")
    assert reply.status == 500
    assert reply.body["error"]["code"] == "internal_error"
    assert "exploded" not in reply.body["error"]["message"]  # internals stay in the log


# -- 2. an idempotent resend that races its first attempt -------------------------------------------


def test_a_resend_racing_its_first_attempt_gets_the_same_order(
    dynamodb: Any, tables: TableNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resend's read of the clientOrderId marker ran before the first attempt committed, so it
    learns of the marker from the transaction's cancellation reason (raw DynamoDB JSON)."""
    store = DynamoIntakeStore(dynamodb, tables)
    api = Api(build_handler(Intake(store), lambda: SECRET), dynamodb, tables)
    api.list_market("wheat")
    api.deposit("alice", "coins", 10_000)
    first = api.order("alice", "Buy", 5, 100, clientOrderId="c-1")
    assert first.status == 202
    monkeypatch.setattr(store, "get_client_order", lambda *_: None)

    again = api.order("alice", "Buy", 5, 100, clientOrderId="c-1")

    assert again.status == 200, again.body
    assert again.body["orderId"] == first.body["orderId"]
    assert api.balances("alice")["coins"] == {"available": 9_500, "reserved": 500}
    other = api.order("alice", "Buy", 6, 100, clientOrderId="c-1")
    assert (other.status, other.code) == (409, "client_order_id_reused")


# -- 3. expiry that any player could block ----------------------------------------------------------


def test_an_expiry_beyond_the_documented_maximum_is_refused(api: Api) -> None:
    api.list_market("wheat")
    api.deposit("alice", "coins", 10_000)
    far = (datetime.now(UTC) + timedelta(days=365 * 274)).isoformat()
    before = api.snapshot()

    reply = api.order("alice", "Buy", 1, 10, expiresAt=far)

    assert (reply.status, reply.code) == (422, "expiry_too_far")
    assert api.snapshot() == before


def test_the_expiry_key_sorts_as_time_for_every_accepted_instant() -> None:
    epoch_ms = [0, 1, 999_999_999_999, 1_000_000_000_000, 1_700_000_000_000]
    latest = datetime(2200, 1, 1, tzinfo=UTC) + MAX_EXPIRY_AHEAD
    epoch_ms.append(int(latest.timestamp() * 1000))
    keys = [expiry_key(ms, "0190a000-0000-7000-8000-000000000000") for ms in epoch_ms]
    assert keys == sorted(keys)


def test_an_expiry_key_wider_than_13_digits_is_refused_not_mis_sorted() -> None:
    """Year 2300 is 14 digits of milliseconds: as a key it would sort before every 13-digit now."""
    with pytest.raises(ValueError, match="outside the key's range"):
        expiry_key(10_413_792_000_000, "0190a000-0000-7000-8000-000000000000")


@pytest.mark.parametrize(
    ("far", "accepted"),
    [
        pytest.param("2300-01-01T00:00:00+00:00", False, id="year 2300, as reported"),
        pytest.param((START + MAX_EXPIRY_AHEAD).isoformat(), True, id="the 90-day bound"),
    ],
)
def test_a_due_order_expires_however_many_far_future_ones_rest(
    monkeypatch: pytest.MonkeyPatch, far: str, accepted: bool
) -> None:
    """60 far-future bids, more than the 50 keys the matcher reads from the by-expiry index, all
    above carol's due bid (so hers is outside the top of the book the matcher reads). Before the
    fix year-2300 bids were accepted, their 14-digit keys sorted before every 13-digit now, and
    carol's bid stayed open; now they are refused, and bids at the bound sort after hers."""
    moto_atomic.install()
    now = [START]
    with mock_aws():
        exchange = clocked_exchange(monkeypatch, now)
        exchange.list_market("wheat")
        exchange.deposit("mallory", "coins", 100_000)
        exchange.deposit("carol", "coins", 1_000)
        for _ in range(60):
            reply = exchange.order("mallory", "Buy", 1, 100, expiresAt=far)
            assert reply.status == 202 if accepted else (reply.status, reply.code) == (422, "expiry_too_far")
        soon = (START + timedelta(minutes=1)).isoformat()
        gtd = exchange.order("carol", "Buy", 1, 50, expiresAt=soon).body["orderId"]
        exchange.drain()

        now[0] = START + timedelta(minutes=2)
        exchange.deposit("bob", "wheat", 1)
        assert exchange.order("bob", "Sell", 1, 101).status == 202  # wakes the market, crosses nothing
        exchange.drain()

        assert exchange.status("carol", gtd) == ("expired", 0)
        assert exchange.balances("carol")["coins"] == {"available": 1_000, "reserved": 0}
        assert exchange.problems() == []


# -- 4. crafted input never produces a 5xx ----------------------------------------------------------


def test_deeply_nested_json_is_a_400_not_a_crash(api: Api) -> None:
    for depth in (1_000, 2_000):
        reply = api.call("GET", "/markets", raw=b"[" * depth)  # a public read: no token needed
        assert (reply.status, reply.code) == (400, "malformed_json")
        reply = api.call("POST", "/orders", raw=b"[" * depth + b"]" * depth, player="alice")
        assert (reply.status, reply.code) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/orders", "alice"),
        ("/markets", "admin"),
        ("/accounts/bob/deposits", "admin"),
        ("/events/goals", "admin"),
    ],
)
def test_closed_nesting_near_the_recursion_limit_is_a_400_on_every_body_route(
    api: Api, path: str, who: str
) -> None:
    """A closed body a dozen frames short of the recursion limit used to parse in the strict check
    and then exhaust the stack when Powertools parsed it again to validate it: a 500."""
    before = api.snapshot()
    wrong = {}
    for depth in [*range(900, 1_000), 33, 500]:
        body = b"[" * depth + b"]" * depth
        reply = api.call("POST", path, raw=body, admin=who == "admin", player=None if who == "admin" else who)
        if reply.status != 400 or reply.code != "malformed_json":
            wrong[depth] = reply.status
    assert wrong == {}, "depth -> status"  # before the fix: 422 below ~940, 500 at 941-952
    assert api.snapshot() == before


def _cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize(
    ("status", "key"),
    [
        (None, {"playerId": "alice"}),
        (None, {"playerId": "alice", "statusKey": "open#x"}),
        ("open", {"playerId": "alice", "sk": "ORDER#x"}),
        ("open", {"playerId": "alice"}),
        (None, {"playerId": "alice", "sk": "ORDER#x", "statusKey": "open#x"}),
    ],
)
def test_a_crafted_cursor_is_a_422(api: Api, status: str | None, key: dict[str, Any]) -> None:
    """Over a stored order: before the fix an empty listing answered 200, one with an order a
    TypeError (a 500)."""
    api.list_market("wheat")
    api.deposit("alice", "coins", 1_000)
    assert api.order("alice", "Buy", 1, 10).status == 202
    query = {"cursor": _cursor(key)} | ({"status": status} if status else {})
    reply = api.call("GET", "/orders", player="alice", query=query)
    assert (reply.status, reply.code) == (422, "bad_cursor"), reply.body


def test_a_goal_event_cannot_take_the_listing_event_s_key(exchange: Exchange) -> None:
    exchange.list_messi()
    for event_id in ("listing", "LISTING"):
        body = {"eventId": event_id, "material": MESSI, "matchId": "final", "minute": 23}
        reply = exchange.call("POST", "/events/goals", body, admin=True)
        assert reply.status == 202, reply.body
    exchange.drain()
    assert exchange.market(MESSI)["goals"] == 2
    assert exchange.problems() == []


@pytest.mark.parametrize("subject", ["alice\n", "alice\r\n", "\nalice", "al ice"])
def test_a_token_subject_must_match_the_player_pattern_whole(api: Api, subject: str) -> None:
    api.list_market("wheat")
    token = issue_token(SECRET, subject, Scope.TRADE)
    reply = api.call("GET", "/accounts/me", token=token)
    assert (reply.status, reply.code) == (401, "invalid_token")
    body = {"type": "Buy", "material": "wheat", "quantity": 1, "pricePerUnit": 10}
    reply = api.call("POST", "/orders", body, token=token)  # where the old pattern's 500 surfaced
    assert (reply.status, reply.code) == (401, "invalid_token")


# -- 5. retries answer as the first success did -----------------------------------------------------


def test_a_repeated_cancel_returns_the_cancelled_order(api: Api) -> None:
    api.list_market("wheat")
    api.deposit("alice", "coins", 1_000)
    order_id = api.order("alice", "Buy", 5, 100).body["orderId"]
    first = api.call("DELETE", f"/orders/{order_id}", player="alice")
    assert first.status == 200

    again = api.call("DELETE", f"/orders/{order_id}", player="alice")

    assert again.status == 200
    assert again.body == first.body
    assert api.balances("alice")["coins"] == {"available": 1_000, "reserved": 0}


def crash_before_write(k: int, write: Callable[..., Any], count: list[int]) -> Callable[..., Any]:
    """``write``, raising instead of writing on the ``k``-th call counted in ``count``."""

    def call(**kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == k:
            raise ConnectionError(f"crash before write {k}")
        return write(**kwargs)

    return call


def test_cancelling_an_order_the_exchange_cancelled_is_409(exchange: Exchange) -> None:
    exchange.list_market("wheat")
    exchange.deposit("alice", "coins", 1_000)
    order_id = exchange.order("alice", "Buy", 5, 100, timeInForce="IOC").body["orderId"]
    exchange.drain()  # nothing to cross: the matcher cancels the IOC's remainder
    assert exchange.status("alice", order_id) == ("cancelled", 0)

    reply = exchange.call("DELETE", f"/orders/{order_id}", player="alice")

    assert (reply.status, reply.code) == (409, "order_not_open")


def test_a_listing_crashed_at_any_write_leaves_nothing_half_listed(exchange: Exchange) -> None:
    """A crash before the k-th storage write of a footballer listing, for every k, leaves either no
    market or a whole one whose house quotes without any retry; a retry then completes it."""
    client = exchange.client
    writes = {name: getattr(client, name) for name in ("put_item", "transact_write_items", "update_item")}
    for k in range(1, 10):
        material = f"messi-{k}"
        count = [0]  # writes so far, across every write method
        for name in writes:
            setattr(client, name, crash_before_write(k, writes[name], count))
        body = {
            "material": material,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1_000,
            "goalValue": 100,
        }
        reply = exchange.call("POST", "/markets", body, admin=True)
        for name in writes:
            delattr(client, name)
        exchange.drain()
        listed = exchange.call("GET", f"/markets/{material}").status == 200
        assert not listed or exchange.book_items(material), f"k={k}: listed with no house ladder"
        assert exchange.problems() == [], k
        if reply.status == 201:
            break  # k is past the listing's last write
        assert reply.status == 500, reply.body
        assert exchange.call("POST", "/markets", body, admin=True).status in (200, 201)
        exchange.drain()
        assert exchange.book_items(material), k
        assert exchange.problems() == [], k
    else:
        pytest.fail("the listing never completed")
