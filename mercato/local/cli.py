"""``mercato``: the command line."""

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mercato.local.commands import add_client_commands, player_name

if TYPE_CHECKING:
    from mercato.intake.limits import Bucket
    from mercato.local.stack import EmbeddedStack


def _bench_core(args: argparse.Namespace) -> int:
    from mercato.bench.core import bench_core

    figures = bench_core(
        orders=args.orders, runs=args.runs, reference_orders=args.reference_orders, seed=args.seed
    )
    if args.json:
        print(json.dumps(figures.as_dict()))
        return 0
    print(
        f"crossing engine, {figures.orders:,} operations (orders and cancels), median of {figures.runs} runs"
    )
    print(
        f"  engine     {figures.orders_per_s:>12,.0f} orders/s   runs: "
        + ", ".join(f"{r:,.0f}" for r in figures.run_orders_per_s)
    )
    print(f"  events     {figures.events:>12,}            resting at the end: {figures.resting_at_end:,}")
    print(f"side by side on the first {figures.reference_orders:,} operations")
    print(f"  engine     {figures.engine_small_orders_per_s:>12,.0f} orders/s")
    print(f"  reference  {figures.reference_orders_per_s:>12,.0f} orders/s")
    print(f"  ratio      {figures.ratio:>12,.1f} x")
    return 0


def _bench_moto(args: argparse.Namespace) -> int:
    from mercato.bench.moto_transactions import bench_moto

    figures = bench_moto()
    if args.json:
        print(json.dumps(figures))
        return 0
    print("one 4-action TransactWriteItems, median ms, with every table already holding N items")
    print(f"  {'N':>7}  {'moto':>9}  {'mercato':>9}  {'ratio':>6}")
    for n, theirs, ours, ratio in zip(
        figures["sizes"], figures["moto_ms"], figures["mercato_ms"], figures["ratio"], strict=True
    ):
        print(f"  {n:>7,}  {theirs:>9.2f}  {ours:>9.2f}  {ratio:>5.1f}x")
    return 0


def _bench_spike(args: argparse.Namespace) -> int:
    from mercato.bench.spike import bench_spike, report

    _quiet()
    local = None
    if args.storage in ("auto", "dynamodb-local"):
        from mercato.emulators.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailable

        try:
            local = DynamoDBLocal().start()
        except DynamoDBLocalUnavailable as error:
            if args.storage == "dynamodb-local":  # asked for: the one-line error, exit status 1
                raise
            print(f"mercato: not in DynamoDB Local ({error})", file=sys.stderr)
    if local is not None:
        print("mercato: the tables are in DynamoDB Local", file=sys.stderr)
        try:
            figures = bench_spike(
                fans=args.fans, sellers=args.sellers, seed=args.seed, dynamodb_url=local.endpoint_url
            )
        finally:
            local.stop()
    else:
        print(
            "mercato: the tables are in moto, which scans a table to answer a query: 2,000 fans take"
            " many minutes there, 200 under a minute",
            file=sys.stderr,
        )
        figures = bench_spike(fans=args.fans, sellers=args.sellers, seed=args.seed)
    if args.json:
        print(report(figures, args.fans), file=sys.stderr)  # the breakdown, for a person
        print(json.dumps(figures.as_dict()))
        return 0
    print(report(figures, args.fans))
    return 0


def _bench_rollup(args: argparse.Namespace) -> int:
    from mercato.bench.rollup import bench_rollup

    figures = bench_rollup(players=args.players, fills=args.fills, runs=args.runs)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"leaderboard rollup on DynamoDB Local: {figures['players']:,} players, {figures['fills']:,} fills")
    print(f"  {'':<34}{'fills table':>14}{'fills in accounts':>20}")
    for kind, label in (("ledger", "balance scan, median s"), ("rollup", "whole rollup, median s")):
        own, inline = figures[f"{kind}_s_fills_table"], figures[f"{kind}_s_fills_in_accounts"]
        print(f"  {label:<34}{own:>14.3f}{inline:>20.3f}")
    own, inline = figures["accounts_items_fills_table"], figures["accounts_items_fills_in_accounts"]
    print(f"  {'accounts items scanned':<34}{own:>14,}{inline:>20,}")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from mercato.intake.app import logger as intake_logger
    from mercato.local.sim import load_schedule, simulate
    from mercato.matcher.handler import logger

    for injected in (logger, intake_logger):  # each injected fault is logged as an error otherwise
        injected.setLevel("CRITICAL")
    replay = None
    if args.schedule is not None:
        try:
            schedule = load_schedule(args.schedule)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(
                f"mercato sim: {args.schedule}: not a schedule --shrink saved ({error})",
                file=sys.stderr,
            )
            return 2
        args.seed, args.session, args.sessions = schedule.seed, schedule.session, 1
        args.steps, args.fault_rate, replay = schedule.steps, schedule.fault_rate, schedule.draws
        args.store = schedule.store
    figures = simulate(
        args.seed,
        sessions=args.sessions,
        steps=args.steps,
        fault_rate=args.fault_rate,
        verbose=args.replay,
        first_session=args.session,
        replay=replay,
        store=args.store,
    )
    if args.json:
        print(json.dumps(figures.as_dict()))
    else:
        faults = ", ".join(f"{kind} {n:,}" for kind, n in sorted(figures.faults_injected.items()))
        print(
            f"seed {figures.seed}: {figures.sessions} sessions, {figures.steps:,} steps, "
            f"{figures.orders:,} orders in {figures.seconds:.1f} s "
            f"({figures.orders / max(figures.seconds, 1e-9):,.1f} orders/s)"
        )
        print(f"faults injected: {faults}")
        print(f"invariant violations: {figures.invariant_violations}")
    if figures.failure is None:
        return 0
    print(f"FAILED {figures.failure}", file=sys.stderr)
    if args.schedule is not None:
        print(f"replay: mercato sim --schedule {args.schedule} --replay", file=sys.stderr)
        return 1
    session = int(figures.failure.split(" session ")[1].split()[0])
    replay_command = (
        f"mercato sim --seed {args.seed} --session {session} --sessions 1 "
        f"--steps {args.steps} --fault-rate {args.fault_rate} --store {args.store} --replay"
    )
    print(f"replay: {replay_command}", file=sys.stderr)
    if args.shrink:
        _shrink(args.seed, session, args.steps, args.fault_rate, args.store)
    return 1


def _shrink(seed: int, session: int, steps: int, fault_rate: float, store: str) -> None:
    from mercato.local.sim import Schedule, Store, save_schedule, shrink

    print("shrinking ...", file=sys.stderr)
    lane: Store = "memory" if store == "memory" else "moto"
    shrunk = shrink(seed, session, steps, fault_rate, store=lane)
    if shrunk is None:
        print("the failure did not recur on its own: nothing to shrink", file=sys.stderr)
        return
    path = f"sim-schedule-{seed}-{session}.json"
    save_schedule(path, Schedule(seed, session, shrunk.steps, fault_rate, shrunk.draws, lane))
    print(
        f"shrunk in {shrunk.runs} runs: {shrunk.original_steps} steps and {shrunk.original_faults} "
        f"faults -> {shrunk.steps} steps and {shrunk.faults} faults: FAILED {shrunk.failure}",
        file=sys.stderr,
    )
    print(f"replay the short schedule: mercato sim --schedule {path} --replay", file=sys.stderr)


def _bench_stack(args: argparse.Namespace) -> int:
    from mercato.bench.stack import bench_stack
    from mercato.local.stack import SWITCH_INTERVAL_SECONDS

    _quiet()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # as mercato up runs the stack
    figures = bench_stack(
        small=args.small,
        large=args.large,
        clients=args.clients,
        orders_per_run=args.orders,
        offered_per_s=args.offered,
        latency_seconds=args.latency_seconds,
        rounds=args.rounds,
        progress=None if args.json else sys.stdout,
        engine=args.engine,
    )
    if args.json:
        print(json.dumps(figures.as_dict()))
        return 0
    print(f"the embedded stack ({figures.storage}), {figures.clients} client processes over HTTP")
    print(f"  settled orders/s, median of {figures.rounds} rounds taking turns:")
    for stored, median, rounds in (
        (figures.stored_small, figures.orders_per_s_small, figures.rounds_small),
        (figures.stored_large, figures.orders_per_s_large, figures.rounds_large),
    ):
        each = ", ".join(f"{rate:,.0f}" for rate in rounds)
        print(f"    {stored:>9,} stored  {median:>9,.0f}   (rounds: {each})")
    print(f"  slowdown (median of the rounds' ratios)  {figures.slowdown:.2f}x")
    print(
        f"  order-to-fill at {figures.offered_orders_per_s:.0f} orders/s offered:"
        f" p50 {figures.order_to_fill_p50_ms:.0f} ms, p99 {figures.order_to_fill_p99_ms:.0f} ms"
        f" ({figures.latency_orders} orders)"
    )
    return 0


def _quiet() -> None:
    """The matcher logs every batch at INFO, which is right on AWS and noise in a terminal."""
    from mercato.matcher.handler import logger

    logger.setLevel("WARNING")


def _demo(args: argparse.Namespace) -> int:
    from mercato.emulators.dynamodb_local import DynamoDBLocalUnavailable
    from mercato.local.demo import run_demo

    _quiet()
    try:
        figures = run_demo(seconds=args.seconds, traders=args.traders, seed=args.seed, engine=args.engine)
    except DynamoDBLocalUnavailable as error:
        raise SystemExit(f"mercato: {error}") from None
    return 1 if figures.problems else 0


MIN_SECRET_BYTES = 32
"""HS256 wants a key at least as long as its hash (RFC 7518 §3.2)."""


def _secret() -> str:
    secret = os.environ.get("MERCATO_AUTH_SECRET", "")
    if not secret:
        raise SystemExit(
            "mercato: set MERCATO_AUTH_SECRET to the token signing secret (a string of 32+ characters)"
        )
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SystemExit(
            f"mercato: MERCATO_AUTH_SECRET is {len(secret.encode())} bytes; use at least {MIN_SECRET_BYTES}"
            " (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret


def _up(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from mercato.emulators.dynamodb_local import DynamoDBLocalUnavailable
    from mercato.local.stack import EmbeddedStack, PortInUse, StateNeedsDynamoDBLocal
    from mercato.local.state import DataDirInUse

    if args.data is not None and args.engine not in (None, "dynamodb-local"):
        raise SystemExit(
            f"mercato: --data keeps the tables in DynamoDB Local; --engine {args.engine} keeps nothing"
            " (leave out --engine, or use --engine dynamodb-local)"
        )
    if not args.verbose:
        _quiet()
    from mercato import tracing
    from mercato.intake.limits import LimitSettings

    tracing.configure_from_env()  # MERCATO_TRACE_FILE: spans as JSON lines
    limits = None
    if args.rate_limit_orders is not None:  # the buckets were parsed with the arguments ("off": None)
        reads = args.rate_limit_reads or LimitSettings.model_fields["reads"].default
        limits = LimitSettings(table="local", orders=args.rate_limit_orders, reads=reads)
    elif args.rate_limit_reads is not None:
        raise SystemExit("mercato up: --rate-limit-reads limits reads only with --rate-limit-orders")
    secret = _secret()
    from mercato.local.stack import SWITCH_INTERVAL_SECONDS

    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # this process is the stack's: see the constant
    # While it starts, either signal is a Ctrl-C, even where this process was started with SIGINT
    # ignored or blocked (a background job, some test runners): it would be lost until the stack is up.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, signal.default_int_handler)
    stop = threading.Event()
    stack: EmbeddedStack | None = None
    try:
        stack = EmbeddedStack(
            port=args.port,
            secret=secret,
            replay_speed=args.replay_speed,
            rate_limits=limits,
            data_dir=args.data,
            engine=args.engine or ("dynamodb-local" if args.data else "memory"),
        ).start()
        for stopping in (signal.SIGINT, signal.SIGTERM):  # from here on a signal asks for a clean stop
            signal.signal(stopping, lambda *_: stop.set())
    except (PortInUse, StateNeedsDynamoDBLocal, DynamoDBLocalUnavailable, DataDirInUse, ValueError) as error:
        raise SystemExit(f"mercato: {error}") from None
    except OSError as error:  # --data a file, or somewhere this user cannot create a directory
        where = "" if args.data is None else f"cannot keep state in {args.data}: "
        raise SystemExit(f"mercato: {where}{error}") from None
    except ClientError as error:  # DynamoDB Local could not read the tables in --data (a damaged file)
        where = "" if args.data is None else f"DynamoDB Local refused the tables stored in {args.data}: "
        raise SystemExit(f"mercato: {where}{error}") from None
    except KeyboardInterrupt:  # what it had started is stopped (EmbeddedStack.start cleans up)
        if stack is not None:  # it had just started
            stack.stop()
        raise SystemExit("mercato: stopped while starting") from None
    print(f"Mercato is up at {stack.url}  (Ctrl-C stops it)", flush=True)
    print(_where_state_lives(stack), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
        print("Mercato stopped", flush=True)
    return 0


def _where_state_lives(stack: "EmbeddedStack") -> str:
    if stack.data_dir is None:
        engine = "the in-memory exchange" if stack.storage == "memory" else stack.storage
        return f"State: in memory ({engine}); it ends with this process (keep it with --data DIR)"
    line = f"State: {stack.data_dir.resolve()} (DynamoDB Local); it survives a restart"
    if stack.restarted:
        line += f"; restarted on it: every market re-driven, {stack.redriven_fills} fills settled"
    return line


def _token(args: argparse.Namespace) -> int:
    from mercato.intake.auth import Scope, issue_token

    print(issue_token(_secret(), args.player, Scope.ADMIN if args.admin else Scope.TRADE, args.ttl))
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from mercato.storage.upgrade import UpgradeRefused, upgrade

    session = boto3.Session(region_name=args.region)
    if args.endpoint_url is not None and session.get_credentials() is None:
        session = boto3.Session(  # a local engine takes any credentials; these never leave the machine
            aws_access_key_id="local", aws_secret_access_key="local", region_name=args.region or "us-east-1"
        )
    try:
        client = session.resource("dynamodb", endpoint_url=args.endpoint_url).meta.client
        done = upgrade(client, args.prefix, say=print)
    except (UpgradeRefused, BotoCoreError, ClientError, ValueError) as error:  # ValueError: a bad URL
        print(f"mercato upgrade: {error}", file=sys.stderr)
        return 1
    print(
        f"upgraded {args.prefix}: {done.fills_moved:,} fill records moved, "
        f"hourly figures for {len(done.markets_with_hours)} markets, "
        f"{done.orders_given_due_keys:,} resting IOC/FOK orders given due keys"
    )
    return 0


def _whole(value: str, least: int = 0) -> int:
    """An argparse type's whole number of at least ``least``, refused in one line naming it."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < least:
        raise argparse.ArgumentTypeError(f"at least {least}: {value!r}")
    return number


def _real(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def _positive(value: str) -> int:
    return _whole(value, least=1)


def _count(value: str) -> int:
    """Zero or more."""
    return _whole(value)


def _two_or_more(value: str) -> int:
    if _whole(value) < 2:
        raise argparse.ArgumentTypeError("at least 2: the markets open with a trade between two players")
    return int(value)


def _port(value: str) -> int:
    number = _whole(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 to 65535 (0: any free port)")
    return number


def _seconds(value: str) -> float:
    number = _real(value)
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError("a number of seconds above 0")
    return number


def _rate(value: str) -> float:
    number = _real(value)
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError("orders a second, above 0")
    return number


def _fault_rate(value: str) -> float:
    """The simulation's chance of a fault at each point, at most :data:`MAX_FAULT_RATE`."""
    number = _real(value)
    if not 0 <= number <= MAX_FAULT_RATE:
        raise argparse.ArgumentTypeError(f"a chance from 0 to {MAX_FAULT_RATE}: {value!r}")
    return number


def _speed(value: str) -> float:
    number = _real(value)
    if math.isnan(number) or number < 0:  # inf posts every goal at once
        raise argparse.ArgumentTypeError("match minutes per second: 0 (no replay) or more")
    return number


def _bucket(value: str) -> "Bucket | None":
    """``CAPACITY/PER_SECOND`` as a bucket (``off``: None), parsed with the arguments rather than
    when the stack starts."""
    from mercato.intake.limits import Bucket

    if value == "off":
        return None
    try:
        return Bucket.parse(value)
    except ValueError as error:  # pydantic's ValidationError is one too
        raise argparse.ArgumentTypeError(
            f"a bucket is CAPACITY/PER_SECOND, two whole numbers of at least 1, e.g. 20/5: {value!r}"
        ) from error


def _read_bucket(value: str) -> "Bucket":
    """The read bucket: limited orders always come with limited reads (``off`` is refused)."""
    bucket = _bucket(value)
    if bucket is None:
        raise argparse.ArgumentTypeError("reads are limited whenever orders are; give CAPACITY/PER_SECOND")
    return bucket


MAX_FAULT_RATE = 0.2
"""Above it a step may fault on every one of its attempts, and the run stops without a verdict."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mercato", description="A play-money exchange for games.")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    targets = bench.add_subparsers(dest="target", required=True)
    core = targets.add_parser("core", help="the pure crossing engine against the reference book")
    core.add_argument(
        "--orders", type=_positive, default=1_000_000, help="operations to generate (default 1,000,000)"
    )
    core.add_argument("--runs", type=_positive, default=3, help="runs to take the median of (default 3)")
    core.add_argument(
        "--reference-orders", type=_positive, default=20_000, help="operations for the side-by-side run"
    )
    core.add_argument("--seed", type=int, default=7)
    core.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    core.set_defaults(handler=_bench_core)

    moto = targets.add_parser("moto", help="TransactWriteItems on growing tables: moto's path and Mercato's")
    moto.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    moto.set_defaults(handler=_bench_moto)

    spike = targets.add_parser(
        "spike", help="a goal spike on one footballer: requests per fill, Mercato's matcher and a baseline"
    )
    spike.add_argument(
        "--fans", type=_positive, default=2_000, help="buy orders in the spike (default 2,000)"
    )
    spike.add_argument(
        "--sellers", type=_positive, default=40, help="players with resting sells (default 40)"
    )
    spike.add_argument("--seed", type=int, default=7)
    spike.add_argument(
        "--storage",
        choices=("auto", "moto", "dynamodb-local"),
        default="auto",
        help="where the tables live: DynamoDB Local (needs java; the requests counted are the same,"
        " but it answers a query without scanning the table) or moto; auto (the default) takes"
        " DynamoDB Local where it can start",
    )
    spike.add_argument(
        "--dynamodb-local",
        dest="storage",
        action="store_const",
        const="dynamodb-local",
        help="the same as --storage dynamodb-local",
    )
    spike.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    spike.set_defaults(handler=_bench_spike)

    rollup = targets.add_parser(
        "rollup",
        help="the leaderboard rollup as fills pile up: fills in their own table against in the accounts",
    )
    rollup.add_argument("--players", type=_positive, default=1_000, help="players (default 1,000)")
    rollup.add_argument("--fills", type=_positive, default=50_000, help="fill records (default 50,000)")
    rollup.add_argument("--runs", type=_positive, default=3, help="runs per layout (default 3)")
    rollup.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    rollup.set_defaults(handler=_bench_rollup)

    sim = commands.add_parser("sim", help="a seeded, fault-injecting simulation checking every invariant")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument(
        "--sessions", type=_positive, default=4, help="independent sessions, each on fresh tables"
    )
    sim.add_argument("--steps", type=_positive, default=60, help="steps per session (default 60)")
    sim.add_argument("--session", type=_count, default=0, help="the first session's number (to replay one)")
    sim.add_argument(
        "--fault-rate",
        type=_fault_rate,
        default=0.05,
        help=f"chance of a fault at each point, 0 to {MAX_FAULT_RATE} (default 0.05)",
    )
    sim.add_argument("--replay", action="store_true", help="print every step (the run is deterministic)")
    sim.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    sim.add_argument("--shrink", action="store_true", help="on a failure, shrink it to a short schedule")
    sim.add_argument(
        "--store",
        choices=["moto", "memory"],
        default="moto",
        help="in-process moto (default, fidelity) or the in-memory exchange (volume)",
    )
    sim.add_argument("--schedule", help="replay a schedule saved by --shrink (with --replay to print it)")
    sim.set_defaults(handler=_sim)
    stack = targets.add_parser("stack", help="the embedded stack end to end: client processes over HTTP")
    stack.add_argument("--small", type=_positive, default=1_000, help="orders and trades stored first")
    stack.add_argument("--large", type=_positive, default=100_000, help="orders and trades stored then")
    stack.add_argument("--clients", type=_positive, default=4, help="client processes (default 4)")
    stack.add_argument("--orders", type=_positive, default=2_000, help="orders per throughput run")
    stack.add_argument("--offered", type=_rate, default=100.0, help="orders/s for the latency run")
    stack.add_argument("--latency-seconds", type=_seconds, default=10.0, help="length of the latency run")
    stack.add_argument(
        "--rounds", type=_positive, default=3, help="throughput runs per size, taking turns (default 3)"
    )
    stack.add_argument(
        "--engine",
        choices=["memory", "moto", "dynamodb-local"],
        default="memory",
        help="the stack's storage engine (default memory)",
    )
    stack.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    stack.set_defaults(handler=_bench_stack)

    demo = commands.add_parser("demo", help="run the embedded stack with simulated traders")
    demo.add_argument(
        "--seconds", type=_seconds, default=30.0, help="how long the traders trade (default 30)"
    )
    demo.add_argument(
        "--traders", type=_two_or_more, default=8, help="simulated players, at least 2 (default 8)"
    )
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--engine",
        choices=["memory", "moto", "dynamodb-local"],
        default="memory",
        help="the stack's storage engine (default memory; moto runs the AWS-shaped pipeline, slower)",
    )
    demo.set_defaults(handler=_demo)

    up = commands.add_parser("up", help="run the embedded stack in the foreground")
    up.add_argument(
        "--port", type=_port, default=8080, help="the HTTP port on 127.0.0.1 (default 8080; 0 = any)"
    )
    up.add_argument("--verbose", action="store_true", help="log every matcher batch")
    up.add_argument(
        "--replay-speed",
        type=_speed,
        default=1.0,
        help="match minutes per second for the 2022 final's goal replay (default 1; 0 = no replay)",
    )
    up.add_argument(
        "--rate-limit-orders",
        type=_bucket,
        default="off",
        help="each player's order bucket, CAPACITY/PER_SECOND, e.g. 20/5 as deployed (default off)",
    )
    up.add_argument(
        "--rate-limit-reads",
        type=_read_bucket,
        default=None,
        help="each player's read bucket, with --rate-limit-orders (default 60/20)",
    )
    up.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="keep every table in DIR (DynamoDB Local; needs java) across restarts (default: in memory)",
    )
    up.add_argument(
        "--engine",
        choices=["moto", "dynamodb-local", "memory"],
        help="storage: memory (default), the in-memory exchange with the pipe's effect in-process, "
        "the fastest; or moto or DynamoDB Local, each behind the emulated stream, pipe and Kinesis "
        "(default with --data: dynamodb-local)",
    )
    up.set_defaults(handler=_up)

    token = commands.add_parser("token", help="print a token signed with $MERCATO_AUTH_SECRET")
    token.add_argument("player", type=player_name)
    token.add_argument("--admin", action="store_true")
    token.add_argument("--ttl", type=_positive, default=3600, help="seconds until it expires (default 3600)")
    token.set_defaults(handler=_token)

    upgraded = commands.add_parser(
        "upgrade",
        help="bring a deployed stage's tables to this version (matcher's event source disabled first)",
    )
    upgraded.add_argument("--prefix", required=True, help="the stage's table prefix, e.g. mercato-prod")
    upgraded.add_argument("--region", help="the stage's region (default: the AWS configuration's)")
    upgraded.add_argument("--endpoint-url", help="a DynamoDB endpoint other than AWS's (a local engine)")
    upgraded.set_defaults(handler=_upgrade)

    add_client_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    from mercato.emulators.dynamodb_local import DynamoDBLocalUnavailable

    try:
        result: int = handler(args)
    except DynamoDBLocalUnavailable as error:  # any command's --dynamodb-local or engine, one line
        print(f"mercato: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``mercato markets | head -1``): say so once, and keep the
        # interpreter's final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("mercato: the output was closed before everything was written", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
