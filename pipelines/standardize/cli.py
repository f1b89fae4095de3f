"""``referral-warehouse standardize``: a subcommand group.

standardize run       rebuild std.* from the raw landing in the warehouse
standardize render    regenerate standard/STANDARD.md and standard/canonical/<entity>.csv
standardize accuracy  accuracy per source/entity/element against the generator's truth
standardize diagnosis map diagnosis texts/codes (the diagnosis standardizer's own CLI)
"""

from __future__ import annotations

import argparse
import sys


def _render(args: argparse.Namespace) -> int:
    from pipelines.standardize.standard import canonical_templates, load_standard, render_all, render_markdown

    std = load_standard(args.standard_dir)
    if args.check:
        stale = []
        md = std.directory / "STANDARD.md"
        if not md.exists() or md.read_text(encoding="utf-8") != render_markdown(std):
            stale.append(str(md))
        for entity, header in canonical_templates(std).items():
            p = std.directory / "canonical" / f"{entity}.csv"
            if not p.exists() or p.read_text(encoding="utf-8") != header:
                stale.append(str(p))
        for s in stale:
            print(f"out of date: {s}")
        return 1 if stale else 0
    for p in render_all(std):
        print(f"wrote {p}")
    return 0


def _connect(p, read_only: bool = False):
    import duckdb

    if not p.warehouse.exists():
        raise SystemExit(f"no warehouse at {p.warehouse}: land some files first (referral-warehouse land)")
    return p, duckdb.connect(str(p.warehouse), read_only=read_only)


def _sources(sources_dir):
    """The source YAMLs, or exit 2 naming the file, line and key of every problem."""
    from pipelines.ingest.registry import SourceConfigError, load_sources

    try:
        return load_sources(sources_dir)
    except SourceConfigError as exc:
        print(f"bad source YAML (run `referral-warehouse sources validate`):\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(args: argparse.Namespace) -> int:
    from pipelines.standardize.engine import standardize_all
    from pipelines.standardize.secret import load_or_create_secret

    sources = _sources(args.settings.sources_dir)
    p, con = _connect(args.settings.paths)
    try:
        report = standardize_all(
            con,
            sources,
            load_or_create_secret(p.secrets_dir),
            entities=args.entity or None,
            diagnosis=False if args.no_diagnosis else None,
            full=args.full,
            cache_dir=p.data_dir / "cache",
        )
    finally:
        con.close()
    print(report)
    return 0 if report.reconciles else 1


def _accuracy(args: argparse.Namespace) -> int:
    from pipelines.standardize.accuracy import accuracy_by_field, summary
    from pipelines.standardize.secret import load_or_create_secret

    sources = _sources(args.settings.sources_dir)
    p, con = _connect(args.settings.paths)
    try:
        df = accuracy_by_field(con, p.truth, sources, load_or_create_secret(p.secrets_dir))
        if df.empty:
            print(f"no truth records under {p.truth / 'records'} matched the warehouse", file=sys.stderr)
            return 1
        s = summary(con)
    finally:
        con.close()
    if args.all:
        with_pd_options(lambda: print(df.to_string(index=False)))
    else:
        by_element = (
            df[df["element"] != "(record)"]
            .groupby(["entity", "element"], as_index=False)[
                ["records", "correct_before", "correct_after", "recoverable", "correct_after_recoverable"]
            ]
            .sum()
        )
        by_element["accuracy_before"] = (by_element.correct_before / by_element.records).round(4)
        by_element["accuracy_after"] = (by_element.correct_after / by_element.records).round(4)
        by_element["accuracy_after_recoverable"] = (
            by_element.correct_after_recoverable / by_element.recoverable.where(by_element.recoverable > 0)
        ).round(4)
        print("per element, all sources:")
        with_pd_options(lambda: print(by_element.to_string(index=False)))
        print("\nper source, whole records:")
        with_pd_options(lambda: print(df[df["element"] == "(record)"].to_string(index=False)))
    print()
    print(
        f"values: {s['values']}  accuracy before {s['value_accuracy_before']:.2%}  after {s['value_accuracy_after']:.2%}"
        f"  | recoverable {s['recoverable_values']}: after {s['recoverable_accuracy_after']:.2%}"
    )
    print(
        f"records: {s['records']}  accuracy before {s['record_accuracy_before']:.2%}  after "
        f"{s['record_accuracy_after']:.2%}  | recoverable {s['recoverable_records']}: after "
        f"{s['recoverable_record_accuracy_after']:.2%}"
    )
    print("written to std.accuracy_by_field")
    return 0


def with_pd_options(fn) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_rows", 1000, "display.max_columns", 20):
        fn()


def _data_and_sources(parser, data_dir_help: str) -> None:
    parser.add_argument("--data-dir", default=None, help=data_dir_help)
    parser.add_argument(
        "--sources-dir",
        default=None,
        help="source YAML folder (default: $RW_SOURCES_DIR, else ./sources when it exists, else the project's)",
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "standardize",
        help="the data-element standard: run, render, accuracy, diagnosis",
        description="Standardize the raw landing to the data-element standard (std.* tables) and related tools.",
    )
    group = parser.add_subparsers(dest="standardize_command", metavar="SUBCOMMAND")
    group.required = True

    run = group.add_parser("run", help="rebuild std.* from the raw landing")
    _data_and_sources(run, "data directory (default: ./data or $RW_DATA_DIR)")
    run.add_argument("--entity", action="append", help="only this entity (repeatable)")
    run.add_argument(
        "--no-diagnosis", action="store_true", help="skip diagnosis mapping (columns stay empty)"
    )
    run.add_argument(
        "--full", action="store_true", help="rebuild std.* from every landed row (default: only new files)"
    )
    run.set_defaults(handler=_run)

    render = group.add_parser("render", help="write standard/STANDARD.md and standard/canonical/*.csv")
    render.add_argument("--standard-dir", default=None, help="standard folder (default: standard/)")
    render.add_argument(
        "--check", action="store_true", help="only check the files are up to date (exit 1 if not)"
    )
    render.set_defaults(handler=_render)

    acc = group.add_parser("accuracy", help="accuracy before/after standardization against the truth")
    _data_and_sources(acc, "data directory holding warehouse/ and truth/")
    acc.add_argument("--all", action="store_true", help="print every (source, entity, element) row")
    acc.set_defaults(handler=_accuracy)

    try:
        from pipelines.standardize.diagnosis_cli import add_parser
    except ImportError:  # the diagnosis part is not installed
        return
    add_parser(group)
