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
