"""``mercato``: the command line."""

import argparse
import json
import sys
from collections.abc import Sequence


def _bench_core(args: argparse.Namespace) -> int:
    from mercato.matcher.bench import bench_core

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


def _demo(_: argparse.Namespace) -> int:
    print("mercato demo: not yet. The embedded stack is still to come; `mercato bench core` runs today.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mercato", description="A play-money exchange for games.")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    targets = bench.add_subparsers(dest="target", required=True)
    core = targets.add_parser("core", help="the pure crossing engine against the reference book")
    core.add_argument(
        "--orders", type=int, default=1_000_000, help="operations to generate (default 1,000,000)"
    )
    core.add_argument("--runs", type=int, default=3, help="runs to take the median of (default 3)")
    core.add_argument(
        "--reference-orders", type=int, default=20_000, help="operations for the side-by-side run"
    )
    core.add_argument("--seed", type=int, default=7)
    core.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    core.set_defaults(handler=_bench_core)

    demo = commands.add_parser("demo", help="run the embedded stack with simulated traders")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
