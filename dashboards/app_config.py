"""The app's configuration. The Streamlit app has no CLI: this is its entry point's one reading of
the environment (RW_DATA_DIR, RW_PUBLISHED, RW_APP_DIR ...: pipelines/settings.py); the pages and
helpers get their locations from here and pass them on."""

from __future__ import annotations

import os

from pipelines.settings import Paths, Settings


def app_paths() -> Paths:
    """The locations the app reads (published snapshot, reviewed mappings, users and audit log)."""
    return Settings.from_environ(os.environ).paths
