"""``referral-warehouse indicators``: print indicator values from the published warehouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "indicators",
        help="print indicator values (marts.indicator_values) from the published warehouse",
        description=(
            "Prints the indicators of one month at one geography level from the published snapshot "
            "(read-only; never the warehouse being written). Definitions: docs/indicators.md and "
            "marts.indicator_registry. Exit code 0, or 2 when the snapshot or the period is missing."
        ),
    )
    p.add_argument(
        "--period",
        metavar="YYYY-MM",
        help="month (default: the latest complete month: every active source delivered through its last day)",
    )
    p.add_argument(
        "--level",
        choices=["region", "county", "alliance", "institution", "level"],
        default="region",
        help="geography level (default: region)",
    )
    p.add_argument(
        "--indicator", action="append", dest="indicator_ids", metavar="ID", help="only this indicator"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--data-dir", help="data directory (default: $RW_DATA_DIR or ./data)")
    p.add_argument(
        "--published",
        type=Path,
        help="published DuckDB snapshot (default: <data-dir>/published/current.duckdb)",
    )
    p.set_defaults(handler=run_indicators)


def run_indicators(args: argparse.Namespace) -> int:
    from pipelines.publish.indicators import (
        IndicatorsError,
        format_json,
        format_table,
        read_indicator_values,
        read_period_status,
    )
    from pipelines.settings import paths

    published = args.published or paths(args.data_dir).published
    try:
        period, values = read_indicator_values(
            published,
            period=args.period,
            level=args.level,
            indicator_ids=tuple(args.indicator_ids) if args.indicator_ids else None,
        )
    except IndicatorsError as exc:
        print(f"indicators: {exc}", file=sys.stderr)
        return 2
    status = read_period_status(published, period)
    if not status.is_complete:
        print(f"indicators: {period} {status.label_zh}", file=sys.stderr)
    if args.json:
        print(format_json(period, args.level, published, values, status))
    else:
        print(format_table(period, args.level, values, status))
    return 0
