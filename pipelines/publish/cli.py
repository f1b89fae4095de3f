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
    _snapshot_options(p)
    p.set_defaults(handler=run_indicators)

    r = subparsers.add_parser(
        "report",
        help="write the monthly report 月度分级诊疗运行报告 (Excel workbook + printable PDF)",
        description=(
            "Writes 月度分级诊疗运行报告_<period>.xlsx (native charts) and .pdf (headless Chromium) from the "
            "published snapshot: headline indicators vs target, last month and last year; county ranking; "
            "referral flows; return reasons; data quality; sources with incomplete data. Counts of people "
            "below 5 are suppressed. Exit code 0, or 2 when the snapshot or the period is missing."
        ),
    )
    r.add_argument("--period", metavar="YYYY-MM", help="month (default: the latest complete month)")
    r.add_argument("--out", type=Path, help="output folder (default: <data-dir>/reports)")
    r.add_argument("--no-pdf", action="store_true", help="write only the Excel workbook")
    _snapshot_options(r)
    r.set_defaults(handler=run_report)


def _snapshot_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --published: where the published snapshot is read from."""
    parser.add_argument("--data-dir", help="data directory (default: $RW_DATA_DIR or ./data)")
    parser.add_argument(
        "--published",
        type=Path,
        help="published DuckDB snapshot (default: <data-dir>/published/current.duckdb)",
    )


def run_report(args: argparse.Namespace) -> int:
    from pipelines.publish.report import ReportError, generate

    p = args.settings.paths
    published = args.published or p.published
    out = args.out or (p.data_dir / "reports")
    try:
        files = generate(published, out, period=args.period, pdf=not args.no_pdf)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


def run_indicators(args: argparse.Namespace) -> int:
    from pipelines.publish.indicators import (
        IndicatorsError,
        format_json,
        format_table,
        read_indicator_values,
        read_period_status,
    )

    published = args.published or args.settings.paths.published
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
