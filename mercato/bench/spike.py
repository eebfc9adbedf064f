"""``mercato bench spike``: a goal-moment write spike on one footballer, Mercato's matcher against a
one-transaction-per-record baseline, in the same run on identical input.

2,000 fans' buy orders for one footballer reach the book at once, against resting sells and the
house's ladder, with a goal among them; the pipeline is then drained. Every DynamoDB request the
matcher makes is counted at its client (:class:`~mercato.local.faults.StorageCalls`), not
estimated. From the counts, and per-request latencies stated in :data:`LATENCY_MS`, the fills per
second one hot material reaches on AWS are modelled: one material has one writer, so its requests
run one after another and the modelled time is the sum of their latencies.
"""

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Final

import boto3
import botocore.session
from moto import mock_aws

from mercato.emulators import moto_atomic
from mercato.local.faults import StorageCalls
from mercato.local.pipeline import LocalPipeline
from mercato.matcher.book import BookOrder
from mercato.matcher.dynamo import DynamoMatcherStore, book_order
from mercato.matcher.ports import BookRead
from mercato.matcher.service import Matcher
from mercato.models.accounts import Deposit
from mercato.models.events import GoalEvent
from mercato.models.keys import BUY_PREFIX, SELL_PREFIX
from mercato.models.markets import FootballerListing
from mercato.models.orders import OrderRequest, Side
from mercato.storage.names import TableNames
from mercato.testing.invariants import scan, violations

FOOTBALLER: Final = "lionel-messi"
LATENCY_MS: Final = {"read": 5.0, "write": 5.0, "transaction": 10.0}
"""Modelled latency of one request on AWS, in ms. AWS documents single-digit-millisecond reads and
writes for DynamoDB; 5 ms is taken for a consistent GetItem, Query or BatchGetItem and for an
UpdateItem. A TransactWriteItems runs two phases (prepare, then commit: AWS bills two write units
per item for it), so it is taken as two writes, 10 ms, whatever its size."""
READS: Final = {"get_item", "query", "batch_get_item", "scan"}
WRITES: Final = {"update_item", "put_item", "delete_item"}


@dataclass(frozen=True)
class Counted:
    fills: int
    requests: int
    transactions: int
    by_operation: dict[str, int]
    invocations: int
    seconds: float

    @property
    def modelled_ms(self) -> float:
        reads = sum(n for op, n in self.by_operation.items() if op in READS)
        writes = sum(n for op, n in self.by_operation.items() if op in WRITES)
        return (
            reads * LATENCY_MS["read"]
            + writes * LATENCY_MS["write"]
            + self.transactions * LATENCY_MS["transaction"]
        )

    @property
    def modelled_fills_per_s(self) -> float:
        return self.fills / (self.modelled_ms / 1_000) if self.modelled_ms else 0.0


@dataclass(frozen=True)
class SpikeFigures:
    fills: int
    dynamodb_requests_per_fill: float
    transactions_per_fill: float
    baseline_dynamodb_requests_per_fill: float
    baseline_transactions_per_fill: float
    modelled_aws_fills_per_s: float
    baseline_modelled_aws_fills_per_s: float
    mercato: Counted
    baseline: Counted

    def as_dict(self) -> dict[str, Any]:
        """Exactly the keys the issue asks ``--json`` for."""
        return {
            "fills": self.fills,
            "dynamodb_requests_per_fill": round(self.dynamodb_requests_per_fill, 4),
            "transactions_per_fill": round(self.transactions_per_fill, 4),
            "baseline_dynamodb_requests_per_fill": round(self.baseline_dynamodb_requests_per_fill, 4),
            "baseline_transactions_per_fill": round(self.baseline_transactions_per_fill, 4),
            "modelled_aws_fills_per_s": round(self.modelled_aws_fills_per_s, 1),
            "baseline_modelled_aws_fills_per_s": round(self.baseline_modelled_aws_fills_per_s, 1),
        }


class OneRecordStore:
    """The baseline's storage: the matcher's adapter, except that the book it reads is only the
    record's own order and the opposite side down to its price (the original design settled each
    record alone, in its own transaction). The ticker's own side is then unknown, so it is read
    after the commit, as the matcher does for any side it did not read to its end."""

    def __init__(self, client: Any, tables: TableNames) -> None:
        self.inner = DynamoMatcherStore(client, tables)
        self.client = client
        self.tables = tables
        self.focus: tuple[Side, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_book(
        self, material: str, *, bid_floor: int | None = None, ask_ceiling: int | None = None
    ) -> BookRead:
        if self.focus is None:  # a goal or listing record: only the house's own quotes move
            return BookRead([], bids_complete=False, asks_complete=False)
        side, price = self.focus
        opposite = SELL_PREFIX if side is Side.BUY else BUY_PREFIX
        crossing: list[BookOrder] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.tables.book,
                "KeyConditionExpression": "material = :m AND begins_with(sk, :p)",
                "ExpressionAttributeValues": {":m": material, ":p": opposite},
                "ConsistentRead": True,
                "Limit": 10,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self.client.query(**kwargs)
            orders = [book_order(item) for item in page.get("Items", [])]
            crossing += orders
            start = page.get("LastEvaluatedKey")
            beyond = orders and (orders[-1].price > price if side is Side.BUY else orders[-1].price < price)
            if not start or beyond:
                break
        last = crossing[-1].price if crossing else None
        done = start is None
        if side is Side.BUY:
            return BookRead(crossing, bids_complete=False, asks_complete=done, highest_ask_read=last)
        return BookRead(crossing, bids_complete=done, asks_complete=False, lowest_bid_read=last)


def settle_record_by_record(matcher: Matcher, store: OneRecordStore, event: dict[str, Any]) -> dict[str, Any]:
    """The baseline handler: each record settled alone, in order; a failure fails the rest."""
    import base64

    records: list[dict[str, Any]] = event.get("Records", [])
    for n, record in enumerate(records):
        try:
            change = json.loads(base64.b64decode(record["kinesis"]["data"]))
            image = change["dynamodb"]["NewImage"]
            material = record["kinesis"]["partitionKey"]
            hints: list[str] = []
            store.focus = None
            if image.get("kind", {}).get("S") == "order":
                store.focus = (Side(image["side"]["S"]), int(image["price"]["N"]))
                hints = [image["sk"]["S"]]
            matcher.settle(material, hints)
        except Exception:
            return {
                "batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in records[n:]]
            }
    return {"batchItemFailures": []}


def in_process_session() -> boto3.Session:
    """A session for in-process moto: fake credentials, and account-id endpoints off (moto's
    in-process stream calls need that)."""
    core = botocore.session.Session()
    core.set_config_variable("account_id_endpoint_mode", "disabled")
    return boto3.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",
        region_name="us-east-1",
        botocore_session=core,
    )


def _deposit(pipeline: LocalPipeline, player: str, asset: str, quantity: int) -> None:
    pipeline.service.deposit(
        player,
        Deposit.model_validate({"depositId": f"{player}-{asset}", "asset": asset, "quantity": quantity}),
    )


def _order(pipeline: LocalPipeline, player: str, side: str, quantity: int, price: int) -> None:
    request = OrderRequest.model_validate(
        {"type": side, "material": FOOTBALLER, "quantity": quantity, "pricePerUnit": price}
    )
    pipeline.service.place_order(player, request)


def _spike(
    prefix: str, *, fans: int, sellers: int, seed: int, baseline: bool, dynamodb_url: str | None = None
) -> Counted:
    """Set up the book, send the spike, drain it with the matcher's client counted."""
    rng = random.Random(seed)
    session = in_process_session()
    pipeline = LocalPipeline.create(
        session, prefix, "bench-secret-not-used-for-anything-0", dynamodb_endpoint_url=dynamodb_url
    )
    listing = FootballerListing.model_validate(
        {
            "material": FOOTBALLER,
            "kind": "footballer",
            "name": "Lionel Messi",
            "team": "Argentina",
            "baseValue": 1_000,
            "goalValue": 100,
        }
    )
    pipeline.service.list_market(listing)
    for n in range(sellers):
        _deposit(pipeline, f"seller-{n:03d}", FOOTBALLER, 60)
        _order(pipeline, f"seller-{n:03d}", "Sell", 60, rng.randint(1_100, 1_180))
    for n in range(fans):
        _deposit(pipeline, f"fan-{n:04d}", "coins", 10_000)
    pipeline.drain()
    for n in range(fans):
        _order(pipeline, f"fan-{n:04d}", "Buy", rng.randint(1, 3), rng.randint(1_100, 1_200))
        if n == fans // 2:
            goal = {"eventId": "wc:44:1", "material": FOOTBALLER, "matchId": "final", "minute": 36}
            pipeline.service.post_goal(GoalEvent.model_validate(goal))
    trades_before = len(scan(pipeline.dynamodb, pipeline.tables.trades))
    calls = StorageCalls(pipeline.dynamodb)
    invocations = pipeline.mapping.invocations
    if baseline:
        store = OneRecordStore(calls, pipeline.tables)
        pipeline.matcher.store = store
        pipeline.mapping.handler = lambda event, context: settle_record_by_record(
            pipeline.matcher, store, event
        )
    else:
        pipeline.matcher.store = DynamoMatcherStore(calls, pipeline.tables)
    started = time.perf_counter()
    pipeline.drain()
    seconds = time.perf_counter() - started
    calls.enabled = False
    problems = violations(pipeline.dynamodb, pipeline.tables)
    if problems:
        raise RuntimeError(f"the spike broke an invariant ({prefix}): {problems[:3]}")
    fills = len(scan(pipeline.dynamodb, pipeline.tables.trades)) - trades_before
    return Counted(
        fills=fills,
        requests=calls.calls,
        transactions=calls.transactions,
        by_operation=dict(calls.by_operation),
        invocations=pipeline.mapping.invocations - invocations,
        seconds=seconds,
    )


def bench_spike(
    *, fans: int = 2_000, sellers: int = 40, seed: int = 7, dynamodb_url: str | None = None
) -> SpikeFigures:
    """Both matchers on identical input (the same seed) in one moto, each on its own tables; with
    ``dynamodb_url`` (DynamoDB Local on loopback) the tables and their streams live there instead,
    Kinesis and SQS stay in moto. The requests counted are the same either way; DynamoDB Local answers
    a consistent query without scanning the whole table, so large spikes finish."""
    moto_atomic.install()
    with mock_aws():
        ours = _spike(
            "spike", fans=fans, sellers=sellers, seed=seed, baseline=False, dynamodb_url=dynamodb_url
        )
        theirs = _spike(
            "base", fans=fans, sellers=sellers, seed=seed, baseline=True, dynamodb_url=dynamodb_url
        )
    return SpikeFigures(
        fills=ours.fills,
        dynamodb_requests_per_fill=ours.requests / ours.fills,
        transactions_per_fill=ours.transactions / ours.fills,
        baseline_dynamodb_requests_per_fill=theirs.requests / theirs.fills,
        baseline_transactions_per_fill=theirs.transactions / theirs.fills,
        modelled_aws_fills_per_s=ours.modelled_fills_per_s,
        baseline_modelled_aws_fills_per_s=theirs.modelled_fills_per_s,
        mercato=ours,
        baseline=theirs,
    )


def report(figures: SpikeFigures, fans: int) -> str:
    """The figures as a table, with every count behind them."""
    ours, theirs = figures.mercato, figures.baseline
    lines = [
        f"goal spike: {fans:,} buy orders for one footballer at once, a goal among them",
        f"  {'':<36}{'mercato':>12}{'baseline':>12}",
    ]
    rows: list[tuple[str, float, float, str]] = [
        ("fills", ours.fills, theirs.fills, ",.0f"),
        ("DynamoDB requests", ours.requests, theirs.requests, ",.0f"),
        ("TransactWriteItems", ours.transactions, theirs.transactions, ",.0f"),
        ("matcher invocations", ours.invocations, theirs.invocations, ",.0f"),
        ("DynamoDB requests per fill", ours.requests / ours.fills, theirs.requests / theirs.fills, ".3f"),
        ("transactions per fill", ours.transactions / ours.fills, theirs.transactions / theirs.fills, ".3f"),
        ("modelled ms on AWS", ours.modelled_ms, theirs.modelled_ms, ",.0f"),
        (
            "modelled AWS fills/s, one material",
            ours.modelled_fills_per_s,
            theirs.modelled_fills_per_s,
            ",.0f",
        ),
        ("drain here, seconds", ours.seconds, theirs.seconds, ".1f"),
    ]
    lines += [f"  {name:<36}{a:>12{fmt}}{b:>12{fmt}}" for name, a, b, fmt in rows]
    for label, counted in (("mercato", ours), ("baseline", theirs)):
        operations = ", ".join(f"{op} {n:,}" for op, n in sorted(counted.by_operation.items()))
        lines.append(f"  {label} requests: {operations}")
    lines.append(
        "  model: one material's requests run one after another; ms per request: "
        + ", ".join(f"{kind} {ms:g}" for kind, ms in LATENCY_MS.items())
    )
    return "\n".join(lines)
