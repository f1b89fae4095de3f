"""Fixtures for the dashboard tests: a published fixture snapshot and AppTest helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DASHBOARDS = REPO / "dashboards"
APP = DASHBOARDS / "app.py"
for p in (str(DASHBOARDS), str(HERE)):  # the app's own modules (data, privacy, ui) and the fixture builder
    if p not in sys.path:
        sys.path.insert(0, p)

from apptest_auth import as_role  # noqa: E402
from fixture_warehouse import build_fixture_warehouse, publish  # noqa: E402


@pytest.fixture(autouse=True)
def app_dir(tmp_path, monkeypatch) -> Path:
    """Users and the audit log of the app under test live in a temp dir, never in data/app."""
    d = tmp_path / "app"
    monkeypatch.setenv("RW_APP_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def fixture_snapshot(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("published")
    snap = build_fixture_warehouse(root / "snapshots" / "run-20250702.duckdb")
    publish(root, snap)
    return root


@pytest.fixture
def published(fixture_snapshot, monkeypatch) -> Path:
    """RW_PUBLISHED points at the fixture snapshot's published dir for this test."""
    monkeypatch.setenv("RW_PUBLISHED", str(fixture_snapshot))
    return fixture_snapshot


@pytest.fixture
def open_page(published):
    """Render a page of the real app (entry point + st.navigation) and return the AppTest."""
    from streamlit.testing.v1 import AppTest

    def _open(page: str | None = None, role: str = "engineer"):
        at = as_role(AppTest.from_file(str(APP), default_timeout=30), role)
        if page:
            at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return _open
