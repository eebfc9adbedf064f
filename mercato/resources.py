"""One definition per resource (DESIGN §1 principle 7): the tables, their keys, streams and indexes.

The CDK app and the local stack both build their tables from these specs, so local runs exercise the
shape that deploys. Nothing here does I/O.
"""

from dataclasses import dataclass, field
from typing import Final, Literal

StreamView = Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"]


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSpec:
    logical_name: str
    partition_key: str
    sort_key: str | None = None
    stream: StreamView | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    ttl: str | None = None
    """The attribute holding an item's expiry (Unix seconds) for DynamoDB's time to live."""

    @property
    def env_var(self) -> str:
        """The environment variable a function reads this table's name from."""
        return f"MERCATO_{self.logical_name.upper()}_TABLE"

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}"

    @property
    def key_attributes(self) -> tuple[str, ...]:
        keys = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        for index in self.indexes:
            keys += [index.partition_key, index.sort_key]
        return tuple(dict.fromkeys(keys))


BOOK: Final = TableSpec(
    "book",
    partition_key="material",
    sort_key="sk",
    stream="NEW_AND_OLD_IMAGES",
    indexes=(Index("by-expiry", partition_key="material", sort_key="expiry"),),
)
"""Every material's resting orders (``BUY#…``/``SELL#…``) and market events (``EVENT#…``). The sparse
``by-expiry`` index holds good-till-date orders, keyed ``{expiresAt:013d}#{orderId}``, and IOC and FOK
orders, keyed a minute after their ``createdAt`` (``ANNOUNCED_ORDER_DUE_MS``), so the matcher finds
the due ones wherever they rest, whether or not the record announcing them reached it."""

ORDERS: Final = TableSpec(
    "orders",
    partition_key="playerId",
    sort_key="sk",
    indexes=(Index("by-status", partition_key="playerId", sort_key="statusKey"),),
)
"""Each player's order records (``ORDER#{orderId}``) and client order id markers (``CLIENT#{id}``)."""

ACCOUNTS: Final = TableSpec("accounts", partition_key="playerId", sort_key="sk")
"""Balances (``ASSET#{asset}``) and the deposit and withdrawal records that make them idempotent:
what grows with the number of players and their grants, not with trading."""

FILLS: Final = TableSpec("fills", partition_key="playerId", sort_key="sk")
"""Each player's fills (``FILL#{seq:012d}``), numbered by the sequence in ``FILLSEQ``: written by
settlement only, read by ``GET /fills``. Apart from the accounts so that reading every balance (the
leaderboard's rollup) does not read the whole history of fills."""

TRADES: Final = TableSpec(
    "trades",
    partition_key="material",
    sort_key="sk",
    indexes=(Index("by-time", partition_key="material", sort_key="timeKey"),),
)
"""One item per fill, keyed ``{takerOrderId}#{makerBookKey}`` so replays collide. The ``by-time`` index
orders a material's trades by when they executed (``{executedAt:013d}#{sk}``): the trades cursor, its
time range and the candles read it."""

MARKETS: Final = TableSpec("markets", partition_key="material")
"""The catalog: one item per material with its ticker, its last 25 hours' figures (``hours``), fees
accrued and footballer state."""

TABLES: Final = (BOOK, ORDERS, ACCOUNTS, FILLS, TRADES, MARKETS)

LIMITS: Final = TableSpec("limits", partition_key="playerId", sort_key="bucket", ttl="expiresAt")
"""Per-player token buckets, one item per player and route class; an idle bucket expires (TTL)
once it would be full again anyway. Written by intake before it serves a request, never by the
matcher."""

LEADERBOARD: Final = TableSpec("leaderboard", partition_key="pk", sort_key="sk", ttl="expiresAt")
"""The leaderboard rollup's output: numbered board versions (``BOARD#{window}#{version}``), one
pointer item per window naming the version served, and hourly value snapshots the day and week
windows measure from. Only the scheduled rollup writes here; the trading path never does."""

SUPPORT_TABLES: Final = (LIMITS, LEADERBOARD)
"""Tables beside the exchange's own: each function that uses one gets its name explicitly."""

ALL_TABLES: Final = TABLES + SUPPORT_TABLES


@dataclass(frozen=True)
class CorsSpec:
    """What browsers may do with the intake's function URL (Lambda answers the pre-flight itself)."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...]
    exposed_headers: tuple[str, ...]
    """Answer headers a page on another origin may read (beyond the few every browser lets it)."""
    max_age_seconds: int = 600
    """How long a browser may keep a pre-flight's answer (Chromium keeps at most two hours)."""


INTAKE_CORS: Final = CorsSpec(
    allowed_origins=("*",),
    allowed_methods=("GET", "POST", "DELETE"),
    allowed_headers=("Authorization", "Content-Type", "Last-Event-ID", "traceparent"),
    # a 429's wait, a 421's write URL and the region that answered, a 405's methods, a 401's
    # challenge, the trace
    exposed_headers=(
        "Retry-After",
        "Mercato-Write-Url",
        "Mercato-Region",
        "Allow",
        "WWW-Authenticate",
        "traceparent",
    ),
)
READ_REGION_CORS: Final = CorsSpec(
    allowed_origins=("*",),
    # writes too: the function refuses them itself (421 with Mercato-Write-Url), which a pre-flight
    # refusing the method would hide from a page (a reviewer's find)
    allowed_methods=("GET", "POST", "DELETE"),
    allowed_headers=("Authorization", "Content-Type", "traceparent"),
    exposed_headers=INTAKE_CORS.exposed_headers,
)
