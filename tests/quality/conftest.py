"""Fixtures of the quality tests; the hand-made warehouse lives in ``tests_quality_helpers``."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tests_quality_helpers import build_base  # noqa: E402


@pytest.fixture
def bad_warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_base(con)
    yield con
    con.close()


@pytest.fixture(scope="session")
def bad_run(tmp_path_factory):
    """The known-bad warehouse after one quality run (run id ``r1``): for read-only assertions."""
    from tests_quality_helpers import AS_OF, SOURCES

    from pipelines.quality import run_quality

    con = duckdb.connect(str(tmp_path_factory.mktemp("bad_run") / "warehouse.duckdb"))
    build_base(con)
    report = run_quality(con, "r1", as_of=AS_OF, sources=SOURCES, log=lambda _m: None)
    yield con, report
    con.close()
