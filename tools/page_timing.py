"""Page render times against a snapshot, for the benchmark (``render_times``) and the tests.

A developer tool (it points the app at a snapshot through the app's own entry-point variables,
RW_PUBLISHED and RW_APP_DIR, for the length of a timing), not part of the dashboards.

Each page is rendered headlessly with Streamlit's ``AppTest`` (the same script runner ``streamlit run``
uses, without a browser): the time from request to the page's elements being computed, i.e. every
query and chart spec, not the browser's paint. Each page is rendered once untimed (AppTest's own
setup and Python imports, which a server does once), then timed on its next view: cold = caches
cleared and the snapshot re-opened before it (every query hits DuckDB); warm = within the cache TTL.

Usage: ``python -m tools.page_timing PATH/TO/snapshot.duckdb`` prints JSON ``{page: seconds}``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
sys.path.insert(0, str(APP.parent))
from page_list import PAGES as PAGE_LIST  # noqa: E402

PAGES = {p.title: p.script for p in PAGE_LIST}  # the one page list (page_list.py)


@contextmanager
def published_as(snapshot_path: str | Path):
    """Point RW_PUBLISHED at a temp dir whose current.duckdb links to ``snapshot_path``."""
    snapshot_path = Path(snapshot_path).resolve()
    old = {k: os.environ.get(k) for k in ("RW_PUBLISHED", "RW_APP_DIR")}
    with tempfile.TemporaryDirectory(prefix="rw-timing-") as tmp:
        (Path(tmp) / "current.duckdb").symlink_to(snapshot_path)
        os.environ["RW_PUBLISHED"] = tmp
        os.environ["RW_APP_DIR"] = str(Path(tmp) / "app")  # the timing session's audit log
        try:
            yield Path(tmp)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _render(page: str, timeout: float, cold: bool) -> tuple[float, list[str]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.session_state["rw_user"] = {"name": "timing", "role": "engineer"}  # logged in: every page opens
    at.switch_page(page)  # the page itself through app.py's st.navigation, nothing else
    # Untimed first run: AppTest's own per-instance setup (it scans every installed package for
    # Streamlit components, ~1-2 s here; a server does that once at start) and Python imports.
    at.run()
    if cold:  # every query of the page goes to DuckDB again, on a freshly opened connection
        st.cache_data.clear()
        st.cache_resource.clear()
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    return elapsed, [e.message for e in at.exception]


def render_times(snapshot_path: str | Path, *, warm: bool = False, timeout: float = 60) -> dict[str, float]:
    """Seconds to render each page against ``snapshot_path``: cold caches (``warm=False``) or warm.

    Raises RuntimeError if a page raised an exception while rendering.
    """
    out: dict[str, float] = {}
    with published_as(snapshot_path):
        for title, page in PAGES.items():
            seconds, errors = _render(page, timeout, cold=not warm)
            if errors:
                raise RuntimeError(f"{title} ({page}) failed: {errors[0]}")
            out[title] = round(seconds, 3)
    return out


if __name__ == "__main__":
    snapshot = sys.argv[1]
    print(
        json.dumps(
            {"cold": render_times(snapshot), "warm": render_times(snapshot, warm=True)},
            ensure_ascii=False,
            indent=1,
        )
    )
