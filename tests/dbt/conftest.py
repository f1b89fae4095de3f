"""One `dbt build` per test session on the hand-made fixture warehouse (tests/dbt/fixtures)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture_warehouse import load_fixture_warehouse  # noqa: E402

from pipelines.settings import DBT_PROJECT_DIR  # noqa: E402


@dataclass
class DbtRun:
    success: bool
    statuses: dict[str, str]  # unique_id -> status
    resource_types: dict[str, str]  # unique_id -> resource type


def run_dbt(args: list[str], warehouse: Path, work: Path) -> DbtRun:
    """Run dbt (a subprocess: dbt-duckdb keeps its connection open in-process) against ``warehouse``
    with target/log paths under ``work``; statuses come from target/run_results.json."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "RW_WAREHOUSE": str(warehouse)}
    proc = subprocess.run(
        [
            str(dbt) if dbt.exists() else "dbt",
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--threads",
            "1",
        ],  # fmt: skip
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    statuses: dict[str, str] = {}
    types: dict[str, str] = {}
    results_file = work / "target" / "run_results.json"
    if results_file.exists():
        for r in json.loads(results_file.read_text(encoding="utf-8"))["results"]:
            statuses[r["unique_id"]] = r["status"]
            types[r["unique_id"]] = r["unique_id"].split(".", 1)[0]
    if proc.returncode != 0:
        print(proc.stdout[-5000:], proc.stderr[-2000:])
    return DbtRun(proc.returncode == 0, statuses, types)


@pytest.fixture(scope="session")
def dbt_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_work")


@pytest.fixture(scope="session")
def built_warehouse(dbt_work: Path) -> tuple[Path, DbtRun]:
    """The fixture std/ref tables built by `dbt build` (seeds, models, data tests, unit tests)."""
    db = load_fixture_warehouse(dbt_work / "warehouse.duckdb")
    run = run_dbt(["build"], db, dbt_work)
    return db, run


@pytest.fixture
def warehouse_copy(built_warehouse: tuple[Path, DbtRun], tmp_path: Path) -> Path:
    """A private copy of the built warehouse for tests that change it."""
    db, _ = built_warehouse
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(db, copy)
    return copy
