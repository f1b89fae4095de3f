"""Data access for the dashboards: the connection, the cache and the query helpers. The SQL of each
page lives in its query module (``queries/<area>.py``, see page_list.py); nothing else runs SQL.

The app reads only the published snapshot (``app_config.app_paths().published``, a symlink the
pipeline swaps atomically). The connection is read-only and cached per *resolved* snapshot file, so
a new publish is picked up on the next query (the cache key changes) and a running pipeline, which
writes a different file, is never blocked by the dashboards nor blocks them. Query results are
cached for ``TTL_SECONDS``; the snapshot file is part of every cache key.

The pages read aggregates: the dbt ``reporting`` models (one row per filter combination, 'ALL' for
"any", people counts below the small-cell threshold already withheld in the data) and the indicator
tables; row-level data only in ``restricted`` (the quality page's masked drill-down).

A table or column the snapshot lacks yields ``None`` (``MissingData`` for the caller to show as an
info message), never a stack trace.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import privacy
import streamlit as st
import yaml
from app_config import app_paths

from pipelines.contracts.standard import default_standard

TTL_SECONDS = 300
LABELS_FILE = Path(__file__).with_name("labels.yaml")


class SnapshotMissing(RuntimeError):
    """No published snapshot exists yet."""


@dataclass(frozen=True)
class Missing:
    """A query could not run because the snapshot lacks a table or column."""

    what: str


@functools.cache
def labels() -> dict:
    """labels.yaml, with its ``from_standard`` groups filled from the standard's value domains."""
    with LABELS_FILE.open(encoding="utf-8") as fh:
        out = yaml.safe_load(fh)
    standard = default_standard()
    for group, domain_id in out.pop("from_standard", {}).items():
        values = standard.domain(domain_id)
        if not values:
            raise KeyError(f"labels.yaml from_standard.{group}: {domain_id} is not a value domain")
        out[group] = {v.code: v.name_zh for v in values} | {
            v.name_en.lower().replace("-", "_"): v.name_zh for v in values
        }
    return out


def label(group: str, code: object) -> str:
    """The Chinese label of ``code`` in ``labels.yaml`` group ``group`` (the code itself if unknown)."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return ""
    return str(labels().get(group, {}).get(str(code), code))


# --------------------------------------------------------------------------- connection


def snapshot_path() -> Path:
    return app_paths().published


def snapshot_target() -> str:
    """The snapshot file behind ``current.duckdb``, as a cache key (raises SnapshotMissing).

    The key is the resolved path plus the file's inode and mtime, so a new publish is seen even when
    it re-uses a snapshot file name (``os.replace`` of the same ``<run_id>.duckdb``).
    """
    link = snapshot_path()
    if not link.exists():
        raise SnapshotMissing(str(link))
    real = link.resolve()
    stat = real.stat()
    return f"{real}|{stat.st_ino}|{stat.st_mtime_ns}"


@st.cache_resource(max_entries=2, show_spinner=False)
def _connect(target: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to one snapshot file.

    The file is ATTACHed (READ_ONLY) to a private in-memory database rather than opened with
    ``duckdb.connect(path)``: DuckDB shares one instance per path within a process, which would keep
    serving a replaced file of the same name. No replacement scans: a missing table is an error,
    never a Python variable of that name.
    """
    path = target.split("|")[0].replace("'", "''")
    con = duckdb.connect(":memory:", config={"python_enable_replacements": False})
    con.execute(f"attach '{path}' as snapshot (read_only)")
    return con


def _cursor(target: str) -> duckdb.DuckDBPyConnection:
    """One cursor per query (sessions run in their own threads), pointed at the snapshot catalog."""
    cur = _connect(target).cursor()
    cur.execute("use snapshot")
    return cur


@st.cache_data(ttl=TTL_SECONDS, max_entries=512, show_spinner=False)
def _query(target: str, sql: str, params: tuple) -> pd.DataFrame:
    cur = _cursor(target)
    try:
        return cur.execute(sql, list(params)).df()
    finally:
        cur.close()


def query(sql: str, params: tuple = ()) -> pd.DataFrame | Missing:
    try:
        return _query(snapshot_target(), sql, tuple(params))
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        return Missing(str(exc).splitlines()[0])


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _tables(target: str) -> frozenset[str]:
    cur = _cursor(target)
    try:
        rows = cur.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    finally:
        cur.close()
    return frozenset(r[0] for r in rows)


def has_table(name: str) -> bool:
    return name in _tables(snapshot_target())


def table_columns(table: str) -> set[str]:
    schema, name = table.split(".")
    df = query(
        "select column_name from information_schema.columns "
        "where table_catalog = 'snapshot' and table_schema = ? and table_name = ?",
        (schema, name),
    )
    return set() if isinstance(df, Missing) else set(df["column_name"])


class Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[object] = []

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return ("where " + " and ".join(self.clauses)) if self.clauses else ""


def reporting(sql: str, params: tuple = (), counts: tuple[str, ...] = ()) -> pd.DataFrame | Missing:
    """A query over the ``reporting`` aggregates: the people-count columns ``counts`` that the
    reporting layer withheld (NULL, ``suppressed``) come back as ``privacy.SUPPRESSED_COUNT``, which
    every display helper (privacy.py, ui.py) shows as ``<5``; a rate on it as withheld."""
    df = query(sql, params)
    if isinstance(df, Missing):
        return df
    df = df.copy()
    for col in counts:
        if col in df.columns:
            df[col] = df[col].astype("Float64").fillna(privacy.SUPPRESSED_COUNT).astype("int64")
    return df


ALL = "ALL"  # the reporting models' member for "any" of a filter


def filter_values(*values: str | None) -> tuple[str, ...]:
    """Filter choices as the reporting models key them: None (全部) is ``'ALL'``."""
    return tuple(ALL if v is None else v for v in values)


# --------------------------------------------------------------------------- publish info


def publish_info() -> dict | None:
    df = query(
        "select run_id, published_at, warehouse_version from meta.publish_info order by published_at desc"
    )
    if isinstance(df, Missing) or df.empty:
        return None
    return df.iloc[0].to_dict()
