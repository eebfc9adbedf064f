"""The ``mercato`` client commands: each calls one API operation and prints a table (``--json`` prints
the answer as it came, for scripts). Names are printed as they are, accents and all."""

import argparse
import http.client
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

from mercato.models.text import is_hidden

if TYPE_CHECKING:
    from mercato.local.client import Client

Render = Callable[[Any], list[str]]
Call = Callable[["Client", argparse.Namespace], Any]


# -- tables -------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):  # a footballer's house parameters: as the API sends them
        return _printable_json(value)
    return "-" if value is None else _printable(str(value))


def _printable(text: str) -> str:
    """``text`` with every hidden character escaped (``\x1b``, ``\u202e``, a lone ``\ud800``): a
    name stored before listings refused them, or served by a server of another version, must not
    drive the terminal (an escape sequence retitled it; a bidirectional override reorders the line;
    a lone surrogate cannot be encoded at all). The joiners a listed name may carry print as they
    are, so an emoji sequence stays one emoji."""
    return "".join(c.encode("unicode_escape").decode() if is_hidden(c) else c for c in text)


def _json_escape(c: str) -> str:
    """``c`` as JSON's ``\\uXXXX`` escape (a pair of them beyond the first plane)."""
    units = c.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i : i + 2]):04x}" for i in range(0, len(units), 2))


def _printable_json(answer: Any, indent: int | None = None) -> str:
    """``answer`` as JSON, the same document a parser reads, with every hidden character escaped:
    :func:`json.dumps` escapes only the C0 controls when it keeps the rest of a name readable (the
    line breaks it writes itself, between values, stay)."""
    text = json.dumps(answer, indent=indent, ensure_ascii=False)
    return "".join(_json_escape(c) if c != "\n" and is_hidden(c) else c for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return (
        [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]
        if rows
        else [
            line(headers),
            "(none)",
        ]
    )


def fields(record: dict[str, Any]) -> list[str]:
    """One record as ``name  value`` lines."""
    width = max((len(name) for name in record), default=0)
    return [f"{name.ljust(width)}  {_cell(value)}" for name, value in record.items()]


def _next(cursor: Any, flag: str) -> list[str]:
    return [] if cursor is None else ["", f"more: pass {flag} {cursor}"]


def _orders(answer: Any) -> list[str]:
    rows = [
        (
            o["orderId"],
            o["type"],
            o["material"],
            o["quantity"],
            o["pricePerUnit"],
            o["filledQuantity"],
            o["status"],
        )
        for o in answer["orders"]
    ]
    headers = ("order", "type", "material", "quantity", "price", "filled", "status")
    return table(headers, rows) + _next(answer.get("nextCursor"), "--cursor")


def _balances(answer: Any) -> list[str]:
    rows = [(asset, b["available"], b["reserved"]) for asset, b in sorted(answer["balances"].items())]
    return [f"player {answer['playerId']}", *table(("asset", "available", "reserved"), rows)]


def _markets(answer: Any) -> list[str]:
    rows = [
        (
            m["material"],
            m["name"],
            m["kind"],
            m["bestBid"],
            m["bestAsk"],
            m["lastPrice"],
            m.get("change24h"),
            m["volume"],
        )
        for m in answer
    ]
    return table(("material", "name", "kind", "bid", "ask", "last", "24h", "volume"), rows)


def _book(answer: Any) -> list[str]:
    rows = [("ask", level["price"], level["quantity"], level["orders"]) for level in reversed(answer["asks"])]
    rows += [("bid", level["price"], level["quantity"], level["orders"]) for level in answer["bids"]]
    return [f"book {answer['material']}", *table(("side", "price", "quantity", "orders"), rows)]


def _trades(answer: Any) -> list[str]:
    rows = [(t["executedAt"], t["price"], t["quantity"], t["takerSide"]) for t in answer["trades"]]
    return table(("executed", "price", "quantity", "taker"), rows) + _next(
        answer.get("nextCursor"), "--cursor"
    )


def _candles(answer: Any) -> list[str]:
    rows = [(c["start"], c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in answer["candles"]]
    title = f"{answer['material']} {answer['interval']} candles"
    return [title, *table(("start", "open", "high", "low", "close", "volume"), rows)]


def _goals(answer: Any) -> list[str]:
    rows = [(g["postedAt"], g["matchId"], g["minute"], g["eventId"], g["applied"]) for g in answer["goals"]]
    title = f"{answer['material']}: {len(rows)} goal{'' if len(rows) == 1 else 's'}"
    return [title, *table(("posted", "match", "minute", "event", "applied"), rows)]


def _leaderboard(answer: Any) -> list[str]:
    rows = [(s["rank"], s["playerId"], s["score"], s["value"]) for s in answer["standings"]]
    when = answer["generatedAt"] or "never: no rollup has run yet"
    return [
        f"leaderboard {answer['window']}, as of {when}",
        *table(("rank", "player", "score", "value"), rows),
    ]


def _fills(answer: Any) -> list[str]:
    rows = [
        (f["executedAt"], f["material"], f["side"], f["price"], f["quantity"], f["fee"], f["orderId"])
        for f in answer["fills"]
    ]
    headers = ("executed", "material", "side", "price", "quantity", "fee", "order")
    return [*table(headers, rows), "", f"next time: pass --after {answer['cursor']}"]


def _record(answer: Any) -> list[str]:
    return fields(answer)


# -- the commands -------------------------------------------------------------------------------


def _listing(args: argparse.Namespace) -> dict[str, Any]:
    listing: dict[str, Any] = {"material": args.material, "kind": args.kind, "name": args.name}
    extra = {
        "feeBps": args.fee_bps,
        "team": args.team,
        "personId": args.person_id,
        "baseValue": args.base_value,
        "goalValue": args.goal_value,
    }
    return listing | {key: value for key, value in extra.items() if value is not None}


def _list_catalog(client: "Client", args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each listing of the catalog ``mercato up`` starts with, through ``POST /markets``: a deployed
    stage gets the markets a game was built against locally (an identical listing is a no-op). A
    listing the API refuses (a market listed differently already) does not stop the others: each
    refusal is printed, and the command then fails naming them all."""
    from mercato.local.catalog import DEFAULT_CATALOG
    from mercato.local.client import ApiError

    listed, refused = [], []
    for listing in DEFAULT_CATALOG:
        try:
            listed.append(client.list_market(listing.model_dump(mode="json", by_alias=True)))
        except ApiError as error:
            if error.status >= 500 or error.status in (401, 403, 429):  # not this listing's fault
                raise
            print(_printable(f"mercato: {listing.material}: {error}"), file=sys.stderr)
            refused.append(listing.material)
    if refused:
        names = ", ".join(refused)
        message = f"{len(refused)} of {len(DEFAULT_CATALOG)} listings refused ({names}); the rest are listed"
        raise ApiError(409, {"error": {"code": "market_exists", "message": message}})
    return listed


def _place(client: "Client", args: argparse.Namespace) -> Any:
    options = {"timeInForce": args.tif, "clientOrderId": args.client_order_id, "expiresAt": args.expires_at}
    return client.place(args.order_command.title(), args.material, args.quantity, args.price, **options)


def _run(args: argparse.Namespace) -> int:
    from mercato.local.client import ApiError

    try:
        answer = args.call(_client(args), args)
    except ApiError as error:  # the API refused: one line, or with --json the whole answer as JSON alone
        if args.json:
            print(_printable_json(error.body), file=sys.stderr)
        else:
            print(_printable(f"mercato: {error}"), file=sys.stderr)
            if hint := _HINTS.get(error.code):
                print(f"mercato: {hint}", file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException) as error:  # no answer, or one that is not HTTP
        print(
            _printable(f"mercato: cannot reach {args.url}: {str(error) or type(error).__name__}"),
            file=sys.stderr,
        )
        return 2
    except ValueError as error:  # urllib's refusal of a URL it cannot send to (``--url notaurl``)
        print(_printable(f"mercato: cannot send a request to {args.url!r}: {error}"), file=sys.stderr)
        return 2
    lines = [_printable_json(answer, indent=2)] if args.json else map(_printable, args.render(answer))
    print("\n".join(lines))
    return 0


_HINTS: Final = {
    "missing_token": "give --player NAME (signs a token with $MERCATO_AUTH_SECRET), --token TOKEN, "
    "or set $MERCATO_TOKEN",
    "bad_signature": "sign it with the MERCATO_AUTH_SECRET the server runs with",
    "expired_token": "sign a new one (--player NAME, or mercato token NAME)",
}
"""What to do next, printed under the API's refusal for the refusals a command line can cure."""


def _usage(problem: str) -> NoReturn:
    """Arguments the command cannot run with: exit 2, as argparse does for the ones it finds."""
    print(f"mercato: {problem}", file=sys.stderr)
    raise SystemExit(2)


def _client(args: argparse.Namespace) -> "Client":
    from mercato.intake.auth import Scope, issue_token
    from mercato.local.client import Client

    if args.player and args.token:
        _usage("give --token or --player, not both")
    if args.admin and not args.player:
        _usage("--admin signs an admin token with --player; give --player too")
    if args.player:  # a flag typed now wins over the environment's default token
        secret = os.environ.get("MERCATO_AUTH_SECRET", "")
        if not secret:
            _usage("--player signs a token with $MERCATO_AUTH_SECRET, which is not set")
        return Client(args.url, issue_token(secret, args.player, Scope.ADMIN if args.admin else Scope.TRADE))
    return Client(args.url, args.token or os.environ.get("MERCATO_TOKEN"))


def player_name(value: str) -> str:
    """An argparse type: a player id a token can carry (the API refuses any other, so a token for
    one would be refused on every request)."""
    import re

    from mercato.models.ids import TOKEN_PATTERN, reserved

    if not re.fullmatch(TOKEN_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a player id (1-64 of A-Z a-z 0-9 . _ : -)")
    if (why := reserved(value)) is not None:
        raise argparse.ArgumentTypeError(f"{value!r}: {why}")
    return value


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("MERCATO_URL", "http://127.0.0.1:8080"),
        help="the API's base URL (default: $MERCATO_URL or http://127.0.0.1:8080)",
    )
    common.add_argument("--token", help="a bearer token (default: $MERCATO_TOKEN)")
    common.add_argument(
        "--player", type=player_name, help="sign a token for this player with $MERCATO_AUTH_SECRET"
    )
    common.add_argument("--admin", action="store_true", help="with --player: an admin (game server) token")
    common.add_argument(
        "--json", action="store_true", help="print the API's answer as JSON instead of a table"
    )
    return common


def add_client_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register every client command on ``commands``."""
    common = _common()

    def command(
        group: "argparse._SubParsersAction[argparse.ArgumentParser]",
        name: str,
        help_: str,
        call: Call,
        render: Render,
    ) -> argparse.ArgumentParser:
        parser = group.add_parser(name, help=help_, description=help_, parents=[common])
        parser.set_defaults(handler=_run, call=call, render=render)
        return parser

    # orders
    order = commands.add_parser(
        "order", help="place an order or show one", description="place an order or show one"
    )
    order_commands = order.add_subparsers(dest="order_command", required=True)
    for side in ("buy", "sell"):
        place = command(
            order_commands,
            side,
            f"place an order to {side}",
            _place,
            _record,
        )
        place.add_argument("material", help="the material id, e.g. wheat or lionel-messi")
        place.add_argument("quantity", type=int, help="how many units (an integer)")
        place.add_argument("price", type=int, help="the limit price per unit in coins (an integer)")
        place.add_argument(
            "--tif",
            type=str.upper,
            choices=["GTC", "IOC", "FOK"],
            default="GTC",
            help="time in force (default GTC: rests)",
        )
        place.add_argument("--client-order-id", help="your id for the order; resending it is safe")
        place.add_argument(
            "--expires-at", help="GTC only: when the order stops trading (ISO 8601 with a zone)"
        )
    show = command(order_commands, "show", "one of your orders", lambda c, a: c.order(a.order_id), _record)
    show.add_argument("order_id", help="the order id the exchange gave it")

    cancel = command(
        commands, "cancel", "cancel the rest of an order", lambda c, a: c.cancel(a.order_id), _record
    )
    cancel.add_argument("order_id", help="the order id the exchange gave it")
    orders = command(
        commands,
        "orders",
        "your orders, newest first, a page at a time",
        lambda c, a: c.orders(a.status, a.limit, a.cursor),
        _orders,
    )
    orders.add_argument("--status", choices=["open", "filled", "cancelled", "expired"], help="only these")
    orders.add_argument("--limit", type=int, default=50, help="orders per page, 1-100 (default 50)")
    orders.add_argument("--cursor", help="the cursor a previous page printed, for the page after it")
    fills = command(
        commands,
        "fills",
        "your fills, oldest first, after a cursor",
        lambda c, a: c.fills(a.after, a.limit),
        _fills,
    )
    fills.add_argument(
        "--after", default="0", help="the cursor the last call printed (default 0: from the start)"
    )
    fills.add_argument("--limit", type=int, default=100, help="fills per call, 1-500 (default 100)")

    # accounts
    balances = command(
        commands,
        "balances",
        "your balances (or, with an admin token, a player's)",
        lambda c, a: c.account(a.of) if a.of else c.balances(),
        _balances,
    )
    balances.add_argument("--of", metavar="PLAYER", help="admin: the player whose balances to show")
    for name, verb, id_flag in (
        ("deposit", "credit", "--deposit-id"),
        ("withdraw", "debit", "--withdrawal-id"),
    ):
        movement = command(
            commands,
            name,
            f"{verb} a player (admin)",
            (
                (lambda c, a: c.deposit(a.to, a.asset, a.quantity, a.movement_id))
                if name == "deposit"
                else (lambda c, a: c.withdraw(a.to, a.asset, a.quantity, a.movement_id))
            ),
            _balances,
        )
        movement.add_argument("to", metavar="PLAYER", help="the player's id")
        movement.add_argument("asset", help="coins or a material id")
        movement.add_argument("quantity", type=int, help="how much (an integer)")
        movement.add_argument(
            id_flag,
            dest="movement_id",
            required=True,
            help="your id for it; the same id again changes nothing",
        )

    # markets
    command(commands, "markets", "the catalog with a ticker per market", lambda c, a: c.markets(), _markets)
    market = commands.add_parser("market", help="one market", description="one market")
    market_commands = market.add_subparsers(dest="market_command", required=True)
    market_show = command(
        market_commands,
        "show",
        "a market's ticker and 24-hour figures",
        lambda c, a: c.market(a.material),
        _record,
    )
    market_show.add_argument("material", help="the material id")
    book = command(
        commands, "book", "a market's price levels", lambda c, a: c.book(a.material, a.depth), _book
    )
    book.add_argument("material", help="the material id")
    book.add_argument("--depth", type=int, default=10, help="price levels per side, 1-100 (default 10)")
    trades = command(
        commands,
        "trades",
        "a market's trades, newest first, a page at a time",
        lambda c, a: c.trades(a.material, a.limit, a.cursor, a.start, a.end),
        _trades,
    )
    trades.add_argument("material", help="the material id")
    trades.add_argument("--limit", type=int, default=20, help="trades per page, 1-200 (default 20)")
    trades.add_argument("--cursor", help="the cursor a previous page printed, for older trades")
    trades.add_argument("--from", dest="start", help="only trades at or after this instant (ISO 8601)")
    trades.add_argument("--to", dest="end", help="only trades before this instant (ISO 8601)")
    candles = command(
        commands,
        "candles",
        "open, high, low, close and volume per interval",
        lambda c, a: c.candles(a.material, a.interval, a.start, a.end),
        _candles,
    )
    candles.add_argument("material", help="the material id")
    candles.add_argument(
        "--interval", choices=["1m", "1h", "1d"], default="1h", help="candle width (default 1h)"
    )
    candles.add_argument(
        "--from", dest="start", help="the first instant (ISO 8601; default: 720 intervals ago)"
    )
    candles.add_argument("--to", dest="end", help="the instant after the last (ISO 8601; default: now)")
    goals = command(
        commands,
        "goals",
        "a footballer's goals, in the order they were posted",
        lambda c, a: c.goals(a.footballer),
        _goals,
    )
    goals.add_argument("footballer", help="the footballer's material id, e.g. lionel-messi")
    board = command(
        commands,
        "leaderboard",
        "players ranked by portfolio value (all) or its gain (day, week), as of the last rollup",
        lambda c, a: c.leaderboard(a.window, a.limit),
        _leaderboard,
    )
    board.add_argument("--window", choices=["all", "day", "week"], default="all", help="default all")
    board.add_argument("--limit", type=int, default=20, help="players, 1-100 (default 20)")
    command(
        commands,
        "list-catalog",
        "list the local stack's default catalog (6 commodities, the 35 footballers of the 2022 final) "
        "on this URL (admin); listing it again changes nothing",
        _list_catalog,
        _markets,
    )
    listing = command(
        commands,
        "list-market",
        "list a commodity or a footballer (admin)",
        lambda c, a: c.list_market(_listing(a)),
        _record,
    )
    listing.add_argument("material", help="the new material id: a-z, 0-9 and -, e.g. gold")
    listing.add_argument("name", help="the name players see, as it is spelled (e.g. 'Kylian Mbappé')")
    listing.add_argument(
        "--kind", choices=["commodity", "footballer"], default="commodity", help="default commodity"
    )
    listing.add_argument("--fee-bps", type=int, help="the sales tax in basis points (default 200)")
    listing.add_argument("--team", help="footballer: the team")
    listing.add_argument("--person-id", type=int, help="footballer: the football-data.org person id")
    listing.add_argument("--base-value", type=int, help="footballer: the value before any goal, in coins")
    listing.add_argument("--goal-value", type=int, help="footballer: what each goal adds, in coins")
    goal = command(
        commands,
        "goal",
        "post a goal for a footballer (admin)",
        lambda c, a: c.goal(a.material, a.event_id, a.match_id, a.minute),
        _record,
    )
    goal.add_argument("material", help="the footballer's material id, e.g. lionel-messi")
    goal.add_argument("--event-id", required=True, help="the goal's id; the same id again counts once")
    goal.add_argument("--match-id", required=True, help="the match it was scored in")
    goal.add_argument("--minute", type=int, required=True, help="the minute it was scored")
