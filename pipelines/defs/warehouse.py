"""dbt models (staging → intermediate → marts) as Dagster assets; dbt tests become asset checks."""

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.dbt_project import run_with_concurrent_update_guard

from pipelines.defs.dbt_child import write_launcher
from pipelines.defs.engine import EngineResource
from pipelines.defs.resources import WarehouseResource
from pipelines.runlock import children_file, stop_process_group
from pipelines.settings import DBT_PROJECT_DIR

KEEP_DBT_TARGETS = 3


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's .venv), so PATH need not be activated."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


# what dbt parses: a change to any of these makes an existing manifest stale
PROJECT_SOURCES = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "tests",
    "snapshots",
    "analyses",
)


def manifest_is_stale(project: DbtProject) -> bool:
    """True when there is no manifest or a project file is newer than it (after a ``git pull``, an
    edited model ...): the Dagster assets must describe the project dbt will build, or the build's
    events name nodes the assets do not know."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = Path(project.project_dir)
    for name in PROJECT_SOURCES:
        path = root / name
        files = [path] if path.is_file() else (path.rglob("*") if path.is_dir() else [])
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


def ensure_manifest(project: DbtProject, reparse: bool = False) -> Path:
    """Parse the project when asked (``dagster dev`` re-parses on load) or when the manifest is
    missing or stale, with the project's own dbt (no PATH change)."""
    if reparse or manifest_is_stale(project):

        def parse(project: DbtProject) -> None:
            dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
            dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()

        run_with_concurrent_update_guard(project.manifest_path, parse, project=project)
    return project.manifest_path


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys are [schema, name] (std.visits, marts.fct_referrals); groups follow the dbt folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else "models"
        return dg.AssetKey([folder, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else "models"
        return f"warehouse_{folder}"


def dbt_cli(project: DbtProject, run_target: Path, env: Mapping[str, str]) -> DbtCliResource:
    """The dbt CLI for one build: on POSIX through the launcher that keeps dbt from outliving the
    run and hands it ``env`` (pipelines/defs/dbt_child.py); else the plain dbt."""
    dbt = dbt_executable()
    if os.name == "posix" and Path(dbt).exists():
        dbt = str(write_launcher(run_target, env))
    return DbtCliResource(project_dir=project, dbt_executable=dbt)


def build_warehouse_assets(reparse: bool = False) -> dg.AssetsDefinition:
    """The dbt assets (parses the project first when ``reparse`` or when it has no manifest)."""
    project = dbt_project()
    ensure_manifest(project, reparse)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=WarehouseTranslator(),
        retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
    )
    def warehouse_dbt_models(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource
    ):
        """`dbt build`: models, seeds (indicator registry) and data tests, streamed as they finish.

        Engine ``spark``: the lake is written first, dbt builds on Spark (dbt-spark), and the marts
        come back into the DuckDB warehouse (pipelines.engines.spark.build)."""
        settings = warehouse.settings(engine)
        p = settings.paths
        # dbt reads RW_WAREHOUSE (profiles.yml): handed to the dbt process, not set in this one
        env = {
            "RW_WAREHOUSE": str(p.warehouse),
            "RW_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "RW_RUN_CHILDREN": str(children_file(p.data_dir)),
        }
        spark = settings.engine == "spark"
        if spark:
            from pipelines.engines.spark import build as spark_build

            env.update(spark_build.prepare(settings, log=context.log.info))
        targets = p.data_dir / "dbt_target"
        targets.mkdir(parents=True, exist_ok=True)
        _prune_targets(targets)
        # per-run target/log folders under the data dir, not in the code checkout
        run_target = targets / context.run_id[:8]
        reuse_partial_parse(targets, run_target)
        dbt = dbt_cli(project, run_target, env)
        # The dbt unit tests check the models' SQL on hand-made rows, not the data: they run in
        # `make test` (tests/dbt builds them), not in every pipeline run (dbt's own advice), where
        # they cost seconds on every day's increment.
        invocation = dbt.cli(
            ["build", "--exclude", "resource_type:unit_test"], context=context, target_path=run_target
        )
        try:
            yield from invocation.stream()
        except BaseException:
            stop_dbt(invocation.process)  # before a retry: a live dbt would hold the warehouse's lock
            raise
        if spark:
            spark_build.finish(settings, log=context.log.info)

    return warehouse_dbt_models


def stop_dbt(process: subprocess.Popen | None) -> None:
    """Stop a dbt build whose step failed, with whatever it started (the launcher made dbt the
    leader of its own process group); a dbt that already finished is left alone."""
    if process is None or process.poll() is not None:
        return
    if not stop_process_group(process.pid, wait_s=30, gone=lambda: process.poll() is not None):
        process.terminate()  # not a group leader (no launcher): dbt alone
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)  # reap it


def reuse_partial_parse(targets: Path, run_target: Path) -> Path | None:
    """Start the run from the previous run's parse state (``partial_parse.msgpack``) of this data dir.
    dagster-dbt copies the project's own state, written by ``dbt parse`` under the default
    warehouse path: a profile that differs (every data dir's RW_WAREHOUSE) makes dbt discard it and
    parse the whole project again on every run. dbt checks the copied state itself (its version,
    the project files, profile, vars) and re-parses what changed. Returns the file copied, if any."""
    name = "partial_parse.msgpack"
    if (run_target / name).exists():  # a retry of this run: keep its own
        return None
    previous = sorted(
        (d / name for d in targets.iterdir() if d.is_dir() and d != run_target and (d / name).exists()),
        key=lambda f: f.stat().st_mtime,
        reverse=True,
    )
    if not previous:
        return None
    run_target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(previous[0], run_target / name)
    return previous[0]


def _prune_targets(targets: Path) -> None:
    """Keep the newest few per-run dbt target folders."""
    old = sorted((p for p in targets.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in old[KEEP_DBT_TARGETS - 1 :]:
        shutil.rmtree(p, ignore_errors=True)
