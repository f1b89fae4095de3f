"""``referral-warehouse quality``: run the checks, show history and changes, drill into a check."""

from __future__ import annotations

import argparse
import datetime as dt


def _connect(args: argparse.Namespace, read_only: bool):
    import duckdb

    db = args.warehouse or args.settings.paths.warehouse
    return duckdb.connect(str(db), read_only=read_only)


def _print_df(df) -> None:
    import pandas as pd

    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
        print(df.to_string(index=False) if len(df) else "(no rows)")


def _run(args: argparse.Namespace) -> int:
    from pipelines.quality import build_data_docs, run_quality

    run_id = args.run_id or dt.datetime.now().strftime("q%Y%m%dT%H%M%S")
    con = _connect(args, read_only=False)
    try:
        report = run_quality(con, run_id, stage=args.stage, incremental=not args.recount)
        if args.docs:
            out = args.docs_dir or (args.settings.paths.data_dir / "quality_docs")
            print(f"Data Docs: {build_data_docs(out)}")
    finally:
        con.close()
    if report.blocking_failures:
        print(f"{len(report.blocking_failures)} blocking check results failed: publication must not happen")
        return 2
    return 0


def _history(args: argparse.Namespace) -> int:
    con = _connect(args, read_only=True)
    try:
        _print_df(con.sql("SELECT * FROM quality.runs ORDER BY run_at, run_id").df())
        print()
        where = "" if args.all else "WHERE change <> 'still_passing'"
        _print_df(
            con.sql(
                f"""SELECT check_id, source_id, severity, previous_status, status, change,
                           previous_violating_rows AS prev_rows, violating_rows AS rows, violating_rows_delta AS delta
                    FROM quality.check_changes {where} ORDER BY change, check_id, source_id"""
            ).df()
        )
    finally:
        con.close()
    return 0


def _drill(args: argparse.Namespace) -> int:
    from pipelines.quality import violating_rows

    con = _connect(args, read_only=True)
    try:
        _print_df(violating_rows(con, args.check_id, limit=args.limit, source_id=args.source))
    finally:
        con.close()
    return 0


def _docs(args: argparse.Namespace) -> int:
    from pipelines.quality import build_data_docs

    con = _connect(args, read_only=True)
    try:
        out = args.out or (args.settings.paths.data_dir / "quality_docs")
        print(f"Data Docs: {build_data_docs(out, con=con)}")
    finally:
        con.close()
    return 0


def _list(args: argparse.Namespace) -> int:
    import pandas as pd

    from pipelines.quality import load_catalogue

    cat = load_catalogue()
    rows = [
        {"check_id": c.check_id, "table": c.table, "category": c.category, "element": c.element,
         "threshold": c.threshold, "severity": c.severity}
        for c in cat.checks
    ]  # fmt: skip
    _print_df(pd.DataFrame(rows))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quality", help="data-quality checks (GX suites), history, drill-down, Data Docs"
    )
    p.add_argument("--data-dir", default=None, help="data directory (default ./data or $RW_DATA_DIR)")
    p.add_argument(
        "--warehouse", default=None, help="DuckDB file (default <data-dir>/warehouse/warehouse.duckdb)"
    )
    sub = p.add_subparsers(dest="quality_command", metavar="ACTION")
    sub.required = True

    r = sub.add_parser("run", help="run the checks and persist results; exit 2 on a blocking failure")
    r.add_argument("--run-id", default=None)
    r.add_argument("--stage", choices=["all", "raw", "std"], default="all")
    r.add_argument("--docs", action="store_true", help="also build the GX Data Docs site")
    r.add_argument("--docs-dir", default=None)
    r.add_argument(
        "--recount",
        action="store_true",
        help="count every row again instead of reusing the per-file counts of earlier runs",
    )
    r.set_defaults(handler=_run)

    h = sub.add_parser("history", help="runs and run-to-run changes (new / resolved / still failing)")
    h.add_argument("--all", action="store_true", help="also list checks still passing")
    h.set_defaults(handler=_history)

    d = sub.add_parser("drill", help="list the (masked) rows violating a check")
    d.add_argument("check_id")
    d.add_argument("--source", default=None)
    d.add_argument("--limit", type=int, default=20)
    d.set_defaults(handler=_drill)

    o = sub.add_parser("docs", help="build the GX Data Docs site (validates the suites without persisting)")
    o.add_argument("--out", default=None)
    o.set_defaults(handler=_docs)

    ls = sub.add_parser("list", help="the check catalogue")
    ls.set_defaults(handler=_list)
