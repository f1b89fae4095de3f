"""``referral-warehouse land``: land the inbox into the warehouse (raw.*, ref.*) without building."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "land",
        help="land new inbox files into raw.* (and the institution registry into ref.*), nothing else",
        description=(
            "Reads every new file under <inbox>/<source_id>/ with its sources/<source_id>.yaml, records it "
            "in raw.files, keeps its rows as text in raw.<source_id>__<entity> and malformed rows in "
            "raw.quarantine. Files that cannot be read are recorded as rejected with a reason; the run "
            "goes on. Exit code 0 even when files are rejected (see the summary), 2 on a bad source YAML."
        ),
    )
    p.add_argument("--data-dir", help="data directory (default: $RW_DATA_DIR or ./data)")
    p.add_argument("--inbox", type=Path, help="inbox folder (default: <data-dir>/inbox)")
    p.add_argument(
        "--warehouse", type=Path, help="DuckDB file (default: <data-dir>/warehouse/warehouse.duckdb)"
    )
    p.add_argument("--registry", type=Path, help="institution registry folder (default: <data-dir>/registry)")
    p.add_argument(
        "--sources-dir",
        type=Path,
        help="source YAML folder (default: $RW_SOURCES_DIR, else ./sources of the working directory when it "
        "exists, else the installed project's sources/)",
    )
    p.add_argument(
        "--source",
        action="append",
        dest="source_ids",
        metavar="SOURCE_ID",
        help="only this source (repeatable)",
    )
    p.add_argument(
        "--month",
        action="append",
        dest="months",
        metavar="YYYYMM",
        help="only files of this period (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(handler=run_land)


def run_land(args: argparse.Namespace) -> int:
    from pipelines.ingest.registry import SourceConfigError, load_sources

    p = args.settings.paths
    inbox = args.inbox or p.inbox
    warehouse = args.warehouse or p.warehouse
    registry = args.registry or p.registry
    try:
        sources = load_sources(args.settings.sources_dir)
    except SourceConfigError as exc:
        print(f"bad source YAML (run `referral-warehouse sources validate`):\n{exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"sources: {len(sources)} source YAMLs in {sources.sources_dir}")
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if not args.quiet or line.startswith("landing:"):
            print(line)

    from pipelines.runlock import RunLockHeld, run_lock

    try:  # one run at a time per data dir, taken before anything is written
        with run_lock(p.data_dir, command="land", log=lambda m: print(m, file=sys.stderr)):
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            _land(args, warehouse, registry, inbox, sources, log)
    except RunLockHeld as exc:
        print(str(exc), file=sys.stderr)
        return 3
    return 0


def _land(args, warehouse, registry, inbox, sources, log) -> None:
    import duckdb

    from pipelines.ingest import land_inbox, load_registry

    with duckdb.connect(str(warehouse)) as con:
        if (registry / "institutions.csv").exists():
            counts = load_registry(con, registry)
            log(
                f"registry: {counts.get('institutions', 0)} institutions, {counts.get('alliance_memberships', 0)} memberships"
            )
        land_inbox(con, inbox, sources, source_ids=args.source_ids, months=args.months, log=log)
