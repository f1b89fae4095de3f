"""``referral-warehouse run``: the same Dagster job the schedule runs, headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.settings import Settings, default_sources_dir, paths, resolve_engine, secure_tree

DAGSTER_YAML = """# Persistent Dagster instance for referral-warehouse (runs appear in `make dagster`).
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """A persistent Dagster instance folder (runs appear in `make dagster`)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def run_pipeline(
    data_dir: str | None = None,
    sources: list[str] | None = None,
    months: list[str] | None = None,
    sources_dir: str | Path | None = None,
    wait: bool = False,
    engine: str | None = None,
    *,
    settings: Settings | None = None,
) -> bool:
    """Execute warehouse_job in-process on the persistent instance. Returns success.

    ``settings`` (the CLI resolves them once from its arguments and the environment), else the
    explicit ``data_dir`` / ``sources_dir`` / ``engine`` (no environment: their defaults are the
    project's ``data/``, ``./sources`` or the project's, ``duckdb``).

    Holds the data dir's run lock (pipelines/runlock.py) from before anything is written until the
    run has ended; raises RunLockHeld at once when another run holds it (or waits, ``wait=True``)."""
    import uuid

    from pipelines.runlock import run_lock

    if settings is None:
        settings = Settings(
            paths=paths(data_dir),
            sources_dir=Path(sources_dir).resolve() if sources_dir else default_sources_dir(),
            engine=resolve_engine(engine),
        )
    run_id = str(uuid.uuid4())
    with run_lock(settings.paths.data_dir, run_id=run_id, command="run", wait=wait, log=_stderr):
        return _run_locked(settings, sources, months, run_id)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _run_locked(settings: Settings, sources: list[str] | None, months: list[str] | None, run_id: str) -> bool:
    p = settings.paths.ensure()
    from pipelines.ingest.registry import SourceConfigError, load_sources

    try:  # before Dagster loads the definitions: a bad YAML is named with its file, line and key
        found = load_sources(settings.sources_dir)
    except SourceConfigError as exc:
        raise SystemExit(f"bad source YAML (run `referral-warehouse sources validate`):\n{exc}") from None
    print(f"sources: {len(found)} source YAMLs in {found.sources_dir}", file=sys.stderr)
    import dagster as dg

    from pipelines.defs import automation, build_definitions

    source_ids = sorted(found)
    job = build_definitions(settings).resolve_job_def("warehouse_job")
    if sources:
        unknown = sorted(set(sources) - set(source_ids))
        if unknown:
            raise SystemExit(
                f"unknown source(s): {', '.join(unknown)}; known (source YAMLs in {found.sources_dir}): "
                f"{', '.join(source_ids)}"
            )
        ordered = [s for s in source_ids if s in sources]
        if len(ordered) == 1:
            tags = {"dagster/partition": ordered[0]}
        else:
            tags = {automation.RANGE_START: ordered[0], automation.RANGE_END: ordered[-1]}
    else:
        tags = automation.all_sources_tags(source_ids)
    run_config = {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "ops": {"raw__landing": {"config": {"months": list(months or [])}}},
    }
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(p.dagster_home))) as instance:
        result = job.execute_in_process(
            instance=instance, tags=tags, run_config=run_config, raise_on_error=False, run_id=run_id
        )
        print(f"\nrun {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}", file=sys.stderr)
        _print_held_back(p.warehouse)
        if not result.success:
            for event in result.all_events:
                if event.is_step_failure:
                    err = event.event_specific_data.error
                    print(
                        f"  step {event.step_key} failed: {err.message.strip() if err else ''}",
                        file=sys.stderr,
                    )
    for line in secure_tree(p):
        print(f"file mode fixed: {line}", file=sys.stderr)
    return result.success


def _print_held_back(wh: Path) -> None:
    """The files refused and the source-periods they hold back (docs/ingestion.md)."""
    import duckdb

    from pipelines.defs.publish import held_back

    if not wh.exists():
        return
    try:
        with duckdb.connect(str(wh), read_only=True) as con:
            held = held_back(con)
    except duckdb.Error:
        return
    for source_id, period, name, reason, n_files, n_rows in held:
        print(
            f"  held back / 暂缓发布: {source_id} {period or '?'} ({n_files} files, {n_rows} rows) — {name}: {reason}",
            file=sys.stderr,
        )


def _handle_run(args: argparse.Namespace) -> int:
    from pipelines.runlock import RunLockHeld

    try:
        ok = run_pipeline(
            sources=args.source or None, months=args.month or None, wait=args.wait, settings=args.settings
        )
    except RunLockHeld as exc:
        print(str(exc), file=sys.stderr)
        return 3
    return 0 if ok else 1


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="ingest the inbox, standardize, build + check the warehouse, publish (the scheduled job)",
        description=(
            "Runs warehouse_job, the same Dagster job the nightly schedule and the inbox sensor run, "
            "headless and in-process, recorded in the persistent Dagster instance under DATA_DIR/dagster_home "
            "(so it shows in the Dagster UI). Exit status 1 when any step fails or a blocking quality "
            "check stops publication; the previously published snapshot then stays in place. Exit status 3, "
            "at once and before anything is written, when another run holds the data dir (see --wait)."
        ),
    )
    p.add_argument("--data-dir", help="data directory (default: ./data or $RW_DATA_DIR)")
    p.add_argument("--source", action="append", help="only this source (repeatable); default: all sources")
    p.add_argument("--month", action="append", help="only files of this period YYYYMM (repeatable)")
    p.add_argument(
        "--sources-dir",
        help="source YAML folder (default: $RW_SOURCES_DIR, else ./sources of the working directory when it "
        "exists, else the installed project's sources/)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="when another run holds the data dir, wait for it instead of exiting",
    )
    p.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default=None,
        help="where the warehouse is built: duckdb (embedded, default) or spark (dbt-spark over a "
        "Parquet lake; docs/scale-out.md). Default: $RW_ENGINE, else duckdb",
    )
    p.set_defaults(handler=_handle_run)
