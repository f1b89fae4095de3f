"""dbt models (staging → intermediate → marts) as Dagster assets; dbt tests become asset checks."""

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.defs.engine import EngineResource
from pipelines.defs.resources import WarehouseResource
from pipelines.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# dbt as the pipeline starts it: own process group, killed with the run (dbt_child.py)
DBT_CHILD = Path(__file__).with_name("dbt_child.sh")
os.environ.setdefault("RW_PYTHON", sys.executable)
KEEP_DBT_TARGETS = 3


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's .venv), so PATH need not be activated."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def _put_dbt_on_path() -> None:
    """dagster-dbt's project preparer looks for `dbt` on PATH: make it the project's own."""
    bin_dir = str(Path(dbt_executable()).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def ensure_manifest() -> Path:
    """`dagster dev` re-parses on load; headless runs parse once when no manifest exists yet."""
    _put_dbt_on_path()
    dbt_project.prepare_if_dev()
    if not dbt_project.manifest_path.exists():
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


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


ensure_manifest()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
)
def warehouse_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    engine: EngineResource,
):
    """`dbt build`: models, seeds (indicator registry) and tests, streamed as they finish.

    Engine ``spark``: the lake is written first, dbt builds on Spark (dbt-spark), and the marts
    come back into the DuckDB warehouse (pipelines.engines.spark.build)."""
    # dbt reads RW_WAREHOUSE (profiles.yml); DbtCliResource takes no env, so set it for this step only
    env = {"RW_WAREHOUSE": str(warehouse.paths.warehouse)}
    spark = engine.resolved == "spark"
    if spark:
        from pipelines.engines.spark import build as spark_build

        env.update(spark_build.prepare(warehouse.paths, log=context.log.info))
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    targets = warehouse.paths.data_dir / "dbt_target"
    targets.mkdir(parents=True, exist_ok=True)
    _prune_targets(targets)
    try:
        # per-run target/log folders under the data dir, not in the code checkout
        yield from dbt.cli(["build"], context=context, target_path=targets / context.run_id[:8]).stream()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if spark:
        spark_build.finish(warehouse.paths, log=context.log.info)


def _prune_targets(targets: Path) -> None:
    """Keep the newest few per-run dbt target folders."""
    old = sorted((p for p in targets.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in old[KEEP_DBT_TARGETS - 1 :]:
        shutil.rmtree(p, ignore_errors=True)


def dbt_resource() -> DbtCliResource:
    executable = (
        str(DBT_CHILD) if os.name == "posix" and Path(dbt_executable()).exists() else dbt_executable()
    )
    return DbtCliResource(project_dir=dbt_project, dbt_executable=executable)
