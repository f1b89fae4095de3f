"""Jobs, the inbox sensor and the nightly schedule."""

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.defs.ingest import SOURCE_IDS
from pipelines.settings import default_sources_dir, paths

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


def all_sources_tags() -> dict[str, str]:
    """Run tags that select every source partition in one run (single-run backfill policy)."""
    return {RANGE_START: SOURCE_IDS[0], RANGE_END: SOURCE_IDS[-1]}


@dg.schedule(
    job=warehouse_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Nightly build at 02:00 Beijing time: every source, then checks and publication.",
)
def nightly_build(context: dg.ScheduleEvaluationContext):
    busy = _busy()
    if busy:
        return dg.SkipReason(busy)
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat(), tags=all_sources_tags())


def _busy() -> str | None:
    """The message of the run holding the data dir, or None when it is free."""
    from pipelines.runlock import RunLockHeld, holder

    data_dir = paths(os.environ.get("RW_DATA_DIR")).data_dir
    held_by = holder(data_dir)
    return str(RunLockHeld(data_dir, held_by)) if held_by is not None else None


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


@dg.sensor(
    job=warehouse_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Notices new or changed files in data/inbox/ (cursor = file sizes and mtimes) and "
    "runs the warehouse job for the sources that received them. Nothing is processed twice.",
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    busy = _busy()
    if busy:  # the cursor is not advanced: the files are seen again on the next tick
        return dg.SkipReason(busy)
    inbox = paths(os.environ.get("RW_DATA_DIR")).inbox
    previous = json.loads(context.cursor) if context.cursor else {}
    current = inbox_state(inbox)
    changed = new_files_by_source(previous, current)
    requests = []
    for source, files in sorted(changed.items()):
        if source not in SOURCE_IDS:
            context.log.warning(
                f"files in inbox/{source}/ but no source YAML with source_id {source!r} in "
                f"{default_sources_dir()}: {files[:3]}"
            )
            continue
        key = hashlib.sha256("\n".join(f"{f}={current[f]}" for f in files).encode()).hexdigest()[:16]
        requests.append(dg.RunRequest(run_key=f"{source}-{key}", partition_key=source))
    context.update_cursor(json.dumps(current))
    if not requests:
        return dg.SkipReason(f"no new files in {inbox}")
    return requests
