"""One `dbt build` per test session on the hand-made fixture warehouse (tests/dbt/fixtures)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbt_harness import DbtRun, load_fixture_warehouse, run_dbt  # noqa: E402,F401


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
