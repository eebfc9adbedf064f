"""A small HTTP client for the Mercato API (the CLI, the demo's traders and the tests use it)."""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """An answer other than 2xx, or one that is not JSON: ``status`` (the HTTP status), ``code`` (the
    error's ``code``, e.g. ``insufficient_balance``; empty when the answer is not Mercato's) and
    ``body`` (the whole JSON answer, or the text of one that is not JSON)."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        said = error.get("message") if error else " ".join(str(body).split())[:200]  # a page: one line
        super().__init__(f"{status} {error.get('code', '')}: {said}")
        self.status = status
        self.code = error.get("code", "")
        self.body = body


def _decoded(text: bytes) -> Any:
    """The answer's JSON, or its text when it is not JSON (an error page from something that is not
    Mercato): an answer never ends in a ``JSONDecodeError``."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace")


def _segment(value: str) -> str:
    """One path segment, percent-encoded whole: a ``/``, ``?``, ``#`` or space in an id or a
    material names that value, never another route or a query."""
    return urllib.parse.quote(value, safe="")


@dataclass
class Client:
    """Mercato's HTTP API for Python, on the standard library. Each method is one request and returns
    the answer's JSON as the API sends it (camelCase names, DESIGN §5). An answer other than 2xx
    raises :class:`ApiError`; a server that cannot be reached raises ``urllib.error.URLError`` (an
    ``OSError``), and one that does not answer in ``timeout`` seconds ``TimeoutError``."""

    url: str
    token: str | None = None
    timeout: float = 10.0

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """Any route: ``body`` is sent as JSON, ``query``'s ``None`` values are left out."""
        target = self.url.rstrip("/") + path
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(target, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, _decoded(error.read())) from None
        answer = _decoded(text)
        if isinstance(answer, str):  # a 2xx that is not JSON: not Mercato answering (a proxy, a wrong URL)
            raise ApiError(status, answer)
        return answer

    # -- the API -------------------------------------------------------------------------------

    def place(self, side: str, material: str, quantity: int, price: int, **options: Any) -> dict[str, Any]:
        """Place a limit order: ``side`` is ``"Buy"`` or ``"Sell"``; ``options`` are the body's other
        fields by their wire names (``timeInForce="IOC"``, ``clientOrderId=...``,
        ``expiresAt="2026-06-11T19:00:00Z"``); ``None`` leaves one out. Answers the accepted order
        (``202``; ``200`` for a resend of the same ``clientOrderId`` and body)."""
        body = {"type": side, "material": material, "quantity": quantity, "pricePerUnit": price}
        result: dict[str, Any] = self.request(
            "POST", "/orders", body | {k: v for k, v in options.items() if v is not None}
        )
        return result

    def cancel(self, order_id: str) -> dict[str, Any]:
        """Cancel one of the caller's open orders; answers the order as cancelled (its reservation
        released). ``ApiError`` 409 ``order_not_open`` once it has filled or been cancelled."""
        result: dict[str, Any] = self.request("DELETE", f"/orders/{_segment(order_id)}")
        return result

    def order(self, order_id: str) -> dict[str, Any]:
        """One of the caller's orders, with what has filled."""
        result: dict[str, Any] = self.request("GET", f"/orders/{_segment(order_id)}")
        return result

    def orders(self, status: str | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """The caller's orders, newest first (``status``: open, filled, cancelled or expired); pass the
        answer's ``nextCursor`` as ``cursor`` for the next page."""
        query = {"status": status, "limit": limit, "cursor": cursor}
        result: dict[str, Any] = self.request("GET", "/orders", query=query)
        return result

    def fills(self, after: str = "0", limit: int = 100) -> dict[str, Any]:
        """The caller's fills after the cursor ``after``, oldest first: poll with the answer's
        cursor and no fill is skipped or repeated."""
        result: dict[str, Any] = self.request("GET", "/fills", query={"after": after, "limit": limit})
        return result

    def balances(self) -> dict[str, Any]:
        """The caller's account (``GET /accounts/me``): available and reserved per asset, and rank."""
        result: dict[str, Any] = self.request("GET", "/accounts/me")
        return result

    def markets(self) -> list[dict[str, Any]]:
        """Every listed market with its ticker and 24-hour figures."""
        result: list[dict[str, Any]] = self.request("GET", "/markets")
        return result

    def market(self, material: str) -> dict[str, Any]:
        """One market: ticker, 24-hour figures, and F and goals for a footballer."""
        result: dict[str, Any] = self.request("GET", f"/markets/{_segment(material)}")
        return result

    def book(self, material: str, depth: int = 10) -> dict[str, Any]:
        """The book's best ``depth`` price levels per side (price, quantity, orders)."""
        path = f"/markets/{_segment(material)}/book"
        result: dict[str, Any] = self.request("GET", path, query={"depth": depth})
        return result

    def trades(
        self,
        material: str,
        limit: int = 20,
        cursor: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        """A market's trades, newest first; ``start`` and ``end`` (ISO 8601) are sent as ``from`` and
        ``to``, and ``cursor`` takes the answer's ``nextCursor``."""
        query = {"limit": limit, "cursor": cursor, "from": start, "to": end}
        result: dict[str, Any] = self.request("GET", f"/markets/{_segment(material)}/trades", query=query)
        return result

    def candles(
        self, material: str, interval: str = "1h", start: str | None = None, end: str | None = None
    ) -> dict[str, Any]:
        """Open, high, low, close and volume per ``interval`` (``1m``, ``1h`` or ``1d``) from the
        market's trades; ``start`` and ``end`` (ISO 8601) are sent as ``from`` and ``to``."""
        query = {"interval": interval, "from": start, "to": end}
        result: dict[str, Any] = self.request("GET", f"/markets/{_segment(material)}/candles", query=query)
        return result

    def deposit(self, player: str, asset: str, quantity: int, deposit_id: str) -> dict[str, Any]:
        """Credit a player's ``asset`` (``coins`` or a material; admin); the same ``deposit_id``
        again credits once."""
        body = {"depositId": deposit_id, "asset": asset, "quantity": quantity}
        result: dict[str, Any] = self.request("POST", f"/accounts/{_segment(player)}/deposits", body)
        return result

    def withdraw(self, player: str, asset: str, quantity: int, withdrawal_id: str) -> dict[str, Any]:
        """Debit a player's available ``asset`` (admin); ``ApiError`` 409 if it does not cover it."""
        body = {"withdrawalId": withdrawal_id, "asset": asset, "quantity": quantity}
        result: dict[str, Any] = self.request("POST", f"/accounts/{_segment(player)}/withdrawals", body)
        return result

    def goal(self, footballer: str, event_id: str, match_id: str, minute: int) -> dict[str, Any]:
        """Post a goal by ``footballer`` (admin); the same ``event_id`` again counts once."""
        body = {"eventId": event_id, "material": footballer, "matchId": match_id, "minute": minute}
        result: dict[str, Any] = self.request("POST", "/events/goals", body)
        return result

    def list_market(self, listing: dict[str, Any]) -> dict[str, Any]:
        """List a market (admin): ``listing`` as the API takes it, e.g. ``{"material": "wheat",
        "kind": "commodity", "name": "Wheat"}``."""
        result: dict[str, Any] = self.request("POST", "/markets", listing)
        return result

    def account(self, player: str) -> dict[str, Any]:
        """A player's balances (admin)."""
        result: dict[str, Any] = self.request("GET", f"/accounts/{_segment(player)}")
        return result

    def player_orders(
        self, player: str, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """A player's orders, newest first (admin)."""
        query = {"status": status, "limit": limit, "cursor": cursor}
        result: dict[str, Any] = self.request("GET", f"/accounts/{_segment(player)}/orders", query=query)
        return result

    def goals(self, footballer: str) -> dict[str, Any]:
        """A footballer's goals, in the order they were posted."""
        result: dict[str, Any] = self.request("GET", f"/markets/{_segment(footballer)}/goals")
        return result

    def leaderboard(self, window: str = "all", limit: int = 50) -> dict[str, Any]:
        """Players ranked as of the last rollup (``window``: all, day or week)."""
        result: dict[str, Any] = self.request("GET", "/leaderboard", query={"window": window, "limit": limit})
        return result
