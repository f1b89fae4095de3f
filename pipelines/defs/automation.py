"""Jobs, the inbox sensor and the nightly schedule."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.settings import Settings

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# Everything: land → standardize → dbt build (+ tests) → quality checks → publish.
# In-process executor: steps share one DuckDB file and must run one after another.
warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingest every new file in the inbox, standardize, build and check the warehouse, publish.",
)


def all_sources_tags(source_ids: list[str]) -> dict[str, str]:
    """Run tags that select every source partition in one run (single-run backfill policy)."""
    return {RANGE_START: source_ids[0], RANGE_END: source_ids[-1]}


def inbox_state(inbox: Path) -> dict[str, str]:
    """{relative path: "size:mtime_ns"} for every file under the inbox's source folders."""
    state = {}
    if not inbox.exists():
        return state
    for p in sorted(inbox.glob("*/*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            state[str(p.relative_to(inbox))] = f"{st.st_size}:{st.st_mtime_ns}"
    return state


def new_files_by_source(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Files that are new or changed since the cursor, grouped by the source folder they are in."""
    out: dict[str, list[str]] = {}
    for rel, sig in current.items():
        if previous.get(rel) != sig:
            out.setdefault(rel.split("/", 1)[0], []).append(rel)
    return out


def busy_message(data_dir: Path) -> str | None:
    """The message of the run holding the data dir, or None when it is free."""
    from pipelines.runlock import RunLockHeld, holder

    held_by = holder(data_dir)
    return str(RunLockHeld(data_dir, held_by)) if held_by is not None else None


def build_automation(
    settings: Settings, source_ids: list[str]
) -> tuple[dg.ScheduleDefinition, dg.SensorDefinition]:
    """The nightly schedule and the inbox sensor for the data dir and sources of ``settings``."""
    data_dir = settings.paths.data_dir
    inbox = settings.paths.inbox

    @dg.schedule(
        job=warehouse_job,
        cron_schedule="0 2 * * *",
        execution_timezone="Asia/Shanghai",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Nightly build at 02:00 Beijing time: every source, then checks and publication.",
    )
    def nightly_build(context: dg.ScheduleEvaluationContext):
        busy = busy_message(data_dir)
        if busy:
            return dg.SkipReason(busy)
        return dg.RunRequest(
            run_key=context.scheduled_execution_time.isoformat(), tags=all_sources_tags(source_ids)
        )

    @dg.sensor(
        job=warehouse_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Notices new or changed files in data/inbox/ (cursor = file sizes and mtimes) and "
        "runs the warehouse job for the sources that received them. Nothing is processed twice.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        busy = busy_message(data_dir)
        if busy:  # the cursor is not advanced: the files are seen again on the next tick
            return dg.SkipReason(busy)
        previous = json.loads(context.cursor) if context.cursor else {}
        current = inbox_state(inbox)
        changed = new_files_by_source(previous, current)
        requests = []
        for source, files in sorted(changed.items()):
            if source not in source_ids:
                context.log.warning(
                    f"files in inbox/{source}/ but no source YAML with source_id {source!r} in "
                    f"{settings.sources_dir}: {files[:3]}"
                )
                continue
            key = hashlib.sha256("\n".join(f"{f}={current[f]}" for f in files).encode()).hexdigest()[:16]
            requests.append(dg.RunRequest(run_key=f"{source}-{key}", partition_key=source))
        context.update_cursor(json.dumps(current))
        if not requests:
            return dg.SkipReason(f"no new files in {inbox}")
        return requests

    return nightly_build, inbox_sensor
