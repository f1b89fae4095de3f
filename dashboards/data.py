"""All data access for the dashboards. Every SQL statement the app runs is in this module.

The app reads only the published snapshot (``app_config.app_paths().published``, a symlink the
pipeline swaps atomically). The connection is read-only and cached per *resolved* snapshot file, so
a new publish is picked up on the next query (the cache key changes) and a running pipeline, which
writes a different file, is never blocked by the dashboards nor blocks them. Query results are
cached for ``TTL_SECONDS``; the snapshot file is part of every cache key.

A table or column the snapshot lacks yields ``None`` (``MissingData`` for the caller to show as an
info message), never a stack trace.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st
import yaml
from app_config import app_paths

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
    with LABELS_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


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


def _columns(table: str) -> set[str]:
    schema, name = table.split(".")
    df = query(
        "select column_name from information_schema.columns "
        "where table_catalog = 'snapshot' and table_schema = ? and table_name = ?",
        (schema, name),
    )
    return set() if isinstance(df, Missing) else set(df["column_name"])


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[object] = []

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return ("where " + " and ".join(self.clauses)) if self.clauses else ""


# --------------------------------------------------------------------------- publish info, registry


def publish_info() -> dict | None:
    df = query(
        "select run_id, published_at, warehouse_version from meta.publish_info order by published_at desc"
    )
    if isinstance(df, Missing) or df.empty:
        return None
    return df.iloc[0].to_dict()


def indicator_registry() -> pd.DataFrame | Missing:
    return query("select * from marts.indicator_registry")


def topic_indicators(topic: str) -> pd.DataFrame | Missing:
    """Registry rows whose id or Chinese name contains one of the topic's keywords (labels.yaml)."""
    reg = indicator_registry()
    if isinstance(reg, Missing):
        return reg
    keywords = labels()["topics"][topic]
    hay = reg["indicator_id"].str.lower() + " " + reg["name_zh"]
    mask = pd.Series(False, index=reg.index)
    for kw in keywords:
        mask |= hay.str.contains(kw.lower(), regex=False) | hay.str.contains(kw, regex=False)
    return reg[mask].reset_index(drop=True)


# --------------------------------------------------------------------------- indicator values


def _iv() -> str:
    """``marts.indicator_values`` without breakdown rows (e.g. 退回原因构成 per reason): totals only."""
    if "breakdown" in _columns("marts.indicator_values"):
        return "(select * from marts.indicator_values where breakdown is null)"
    return "marts.indicator_values"


def indicator_periods() -> list[str]:
    df = query(f"select distinct period from {_iv()} order by period desc")
    return [] if isinstance(df, Missing) else list(df["period"])


def period_completeness() -> pd.DataFrame | Missing:
    """``marts.period_completeness``: per month, whether every active source delivered through its last day."""
    return query(
        "select period, is_complete, missing_sources, missing_detail_zh from marts.period_completeness "
        "order by period desc"
    )


def period_status(period: str | None) -> dict | None:
    """``{'is_complete': bool, 'missing_sources': str, 'missing_detail_zh': str}`` for a month, or None
    when the month (or the completeness mart) is not in the snapshot."""
    if not period:
        return None
    df = period_completeness()
    if isinstance(df, Missing):
        return None
    row = df[df["period"] == period]
    return None if row.empty else row.iloc[0].to_dict()


def complete_periods() -> list[str]:
    df = period_completeness()
    return (
        []
        if isinstance(df, Missing)
        else [p for p, ok in zip(df["period"], df["is_complete"], strict=True) if ok]
    )


def default_indicator_period() -> str | None:
    """The latest complete month (marts.period_completeness: every active source delivered through its
    last day). On a snapshot without that mart: the latest period with (nearly) all indicators."""
    complete = complete_periods()
    periods = indicator_periods()
    if complete:
        in_values = [p for p in complete if p in periods] if periods else complete
        if in_values:
            return in_values[0]
    df = query(
        f"""
        select period, count(distinct indicator_id) as n from {_iv()}
        group by period order by period desc
        """
    )
    if isinstance(df, Missing) or df.empty:
        return None
    full = df[df["n"] >= 0.8 * df["n"].max()]
    return str(full["period"].iloc[0])


def monthly_report_files(period: str, pdf: bool = False) -> bytes:
    """The monthly report 月度分级诊疗运行报告 of ``period`` built from the published snapshot
    (pipelines/publish/report.py): the Excel workbook, or the PDF when ``pdf``."""
    import tempfile

    from pipelines.publish import report

    rep = report.build_report(Path(snapshot_target().split("|")[0]), period)
    with tempfile.TemporaryDirectory(prefix="rw-report-") as tmp:
        if pdf:
            out = report.write_pdf(rep, Path(tmp) / "report.pdf")
        else:
            out = report.write_excel(rep, Path(tmp) / "report.xlsx")
        return out.read_bytes()


def report_pdf_available() -> bool:
    from pipelines.publish.report import chromium_binary

    return chromium_binary() is not None


def direction_split_indicators() -> tuple[str, ...]:
    """Registry indicators that also have breakdown = up / down rows (registry breakdowns = direction)."""
    reg = indicator_registry()
    if isinstance(reg, Missing) or "breakdowns" not in reg.columns:
        return ()
    return tuple(reg.loc[reg["breakdowns"] == "direction", "indicator_id"])


def indicator_breakdowns(
    indicator_ids: tuple[str, ...], geo_level: str, period: str, breakdowns: tuple[str, ...] = ("up", "down")
) -> pd.DataFrame | Missing:
    """Rows of direction-split indicators (breakdown up / down) next to their totals, one period and
    geography level, with the registry's name and unit."""
    if not indicator_ids:
        return pd.DataFrame()
    if "breakdown" not in _columns("marts.indicator_values"):
        return Missing("marts.indicator_values.breakdown")
    ids = ", ".join("?" * len(indicator_ids))
    bds = ", ".join("?" * len(breakdowns))
    reason = (
        "v.null_reason_zh"
        if "null_reason_zh" in _columns("marts.indicator_values")
        else "null as null_reason_zh"
    )
    return query(
        f"""
        select v.indicator_id, r.name_zh, r.unit, r.target, r.direction, v.geo_id, v.geo_name,
               coalesce(v.breakdown, 'all') as breakdown, v.value, v.numerator, v.denominator, {reason}
        from marts.indicator_values v join marts.indicator_registry r using (indicator_id)
        where v.indicator_id in ({ids}) and v.geo_level = ? and v.period = ?
          and (v.breakdown is null or v.breakdown in ({bds}))
        order by v.indicator_id, v.geo_id, v.breakdown
        """,
        (*indicator_ids, geo_level, period, *breakdowns),
    )


def geo_options(geo_level: str) -> pd.DataFrame | Missing:
    return query(
        f"select distinct geo_id, geo_name from {_iv()} where geo_level = ? order by geo_id",
        (geo_level,),
    )


def geo_levels() -> list[str]:
    df = query(f"select distinct geo_level from {_iv()}")
    if isinstance(df, Missing):
        return []
    order = list(labels()["geo_levels"])
    present = set(df["geo_level"])
    return [g for g in order if g in present] + sorted(present - set(order))


def indicator_cards(geo_level: str, geo_id: str, period: str, indicator_ids: tuple[str, ...] | None = None):
    """One row per indicator for one place and period, with last month's value and the registry."""
    where = ""
    params: list[object] = [geo_level, geo_id, period, period]
    if indicator_ids:
        where = f"and r.indicator_id in ({', '.join('?' * len(indicator_ids))})"
        params.extend(indicator_ids)
    return query(
        f"""
        with reg as (select *, row_number() over () as seq from marts.indicator_registry),
        v as (select * from {_iv()} where geo_level = ? and geo_id = ?),
        cur as (select * from v where period = ?),
        prev as (
            select * from v
            where period = strftime(strptime(? || '-01', '%Y-%m-%d') - interval 1 month, '%Y-%m')
        )
        select r.indicator_id, r.name_zh, r.unit, r.target, r.direction, r.definition_zh,
               r.numerator_zh, r.denominator_zh, r.source,
               cur.period, cur.value, cur.numerator, cur.denominator,
               prev.period as prev_period, prev.value as prev_value,
               prev.numerator as prev_numerator, prev.denominator as prev_denominator
        from reg r
        join cur using (indicator_id)
        left join prev using (indicator_id)
        where true {where}
        order by r.seq
        """,
        tuple(params),
    )


def indicator_series(indicator_id: str, geo_level: str, geo_ids: tuple[str, ...]) -> pd.DataFrame | Missing:
    if not geo_ids:
        return pd.DataFrame(columns=["period", "geo_id", "geo_name", "value", "numerator", "denominator"])
    return query(
        f"""
        select period, geo_id, geo_name, value, numerator, denominator
        from {_iv()}
        where indicator_id = ? and geo_level = ? and geo_id in ({", ".join("?" * len(geo_ids))})
        order by period, geo_id
        """,
        (indicator_id, geo_level, *geo_ids),
    )


def indicator_slice(geo_level: str, period: str | None = None, geo_ids: tuple[str, ...] | None = None):
    """All indicator values for one geo level (optionally one period / some places), with the registry."""
    w = _Where()
    w.add("v.geo_level = ?", geo_level)
    if period:
        w.add("v.period = ?", period)
    if geo_ids:
        w.add(f"v.geo_id in ({', '.join('?' * len(geo_ids))})", *geo_ids)
    return query(
        f"""
        select v.indicator_id, r.name_zh, r.unit, r.target, r.direction, v.period, v.geo_id, v.geo_name,
               v.value, v.numerator, v.denominator
        from {_iv()} v join marts.indicator_registry r using (indicator_id)
        {w.sql}
        order by v.indicator_id, v.period, v.geo_id
        """,
        tuple(w.params),
    )


def institutions() -> pd.DataFrame | Missing:
    return query(
        "select * from marts.dim_institutions order by county_code, level_code desc, institution_code"
    )


# --------------------------------------------------------------------------- referrals


def referral_periods() -> list[str]:
    df = query("select distinct period from marts.fct_referrals order by period desc")
    return [] if isinstance(df, Missing) else list(df["period"])


def _referral_where(period: str | None, county: str | None, setting: str | None, alias: str = "") -> _Where:
    a = f"{alias}." if alias else ""
    w = _Where()
    if period:
        w.add(f"{a}period = ?", period)
    if county:
        w.add(f"({a}from_county_code = ? or {a}to_county_code = ?)", county, county)
    if setting:
        w.add(f"{a}setting = ?", setting)
    return w


def referral_summary(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    """Per direction: counts, returns, in-alliance, closed loops, 24-hour family-doctor contact."""
    w = _referral_where(period, county, setting)
    return query(
        f"""
        select direction,
               count(*) as n,
               count(*) filter (where returned_at is not null or return_reason_code is not null) as n_returned,
               count(*) filter (where same_alliance) as n_same_alliance,
               count(*) filter (where not same_alliance) as n_cross_alliance,
               count(*) filter (where arrived_at is not null) as n_arrived,
               count(*) filter (where closed_loop) as n_closed_loop,
               count(*) filter (where fd_contact_within_24h) as n_fd_24h,
               median(hours_to_accept) as median_hours_to_accept,
               median(hours_to_arrival) as median_hours_to_arrival,
               count(hours_to_accept) as n_accept_timed,
               count(hours_to_arrival) as n_arrival_timed
        from marts.fct_referrals {w.sql}
        group by direction order by direction desc
        """,
        tuple(w.params),
    )


def referral_level_flows(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    w = _referral_where(period, county, setting)
    return query(
        f"""
        select direction, from_level_code, to_level_code, count(*) as n
        from marts.fct_referrals {w.sql}
        group by all order by direction desc, from_level_code, to_level_code
        """,
        tuple(w.params),
    )


def referral_institution_flows(
    period=None, county=None, setting=None, top: int = 500
) -> pd.DataFrame | Missing:
    """The ``top`` largest institution-to-institution flows (a city has ~10^5 pairs)."""
    w = _referral_where(period, county, setting)
    return query(
        f"""
        with top as (
            select direction, from_institution_code, to_institution_code, same_alliance, count(*) as n
            from marts.fct_referrals {w.sql}
            group by all order by n desc, from_institution_code, to_institution_code
            limit ?
        )
        select t.direction,
               coalesce(a.institution_name, t.from_institution_code) as from_name,
               coalesce(b.institution_name, t.to_institution_code) as to_name,
               t.same_alliance, t.n
        from top t
        left join marts.dim_institutions a on a.institution_code = t.from_institution_code
        left join marts.dim_institutions b on b.institution_code = t.to_institution_code
        order by t.n desc, from_name, to_name
        """,
        (*w.params, top),
    )


def referral_monthly(county=None, setting=None) -> pd.DataFrame | Missing:
    w = _referral_where(None, county, setting)
    return query(
        f"""
        select period, direction, count(*) as n,
               count(*) filter (where same_alliance) as n_same_alliance,
               count(*) filter (where closed_loop) as n_closed_loop
        from marts.fct_referrals {w.sql}
        group by all order by period, direction
        """,
        tuple(w.params),
    )


def return_reasons(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    w = _referral_where(period, county, setting)
    w.add("direction = 'up'")
    w.add("(returned_at is not null or return_reason_code is not null)")
    return query(
        f"""
        select coalesce(return_reason_code, '99') as return_reason_code,
               any_value(return_reason_name) as return_reason_name, count(*) as n
        from marts.fct_referrals {w.sql}
        group by 1 order by n desc, 1
        """,
        tuple(w.params),
    )


def timeliness_bins(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    """Counts of referrals per hours bin for request→acceptance and request→arrival."""
    edges = labels()["hour_bins"]
    cases = " ".join(
        f"when h < {hi} then '{lo}–{hi} 小时'" for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    )
    order = " ".join(f"when h < {hi} then {i}" for i, hi in enumerate(edges[1:]))
    w = _referral_where(period, county, setting)
    return query(
        f"""
        with t as (  -- one scan: each referral gives its two durations
            select direction, unnest(['请求→接收', '请求→到诊']) as stage,
                   unnest([hours_to_accept, hours_to_arrival]) as h
            from marts.fct_referrals {w.sql}
        )
        select direction, stage,
               case {cases} else '≥{edges[-1]} 小时' end as bin,
               case {order} else {len(edges) - 1} end as bin_order,
               count(*) as n
        from t where h is not null
        group by all order by direction desc, stage desc, bin_order
        """,
        tuple(w.params),
    )


def fd_contact_by_institution(period=None, county=None, setting=None) -> pd.DataFrame | Missing:
    w = _referral_where(period, county, setting, alias="f")
    w.add("f.direction = 'down'")
    return query(
        f"""
        select coalesce(d.institution_name, f.to_institution_code) as institution_name,
               count(*) as n_down,
               count(*) filter (where f.fd_contact_within_24h) as n_fd_24h,
               count(*) filter (where f.closed_loop) as n_closed_loop
        from marts.fct_referrals f
        left join marts.dim_institutions d on d.institution_code = f.to_institution_code
        {w.sql}
        group by 1 order by n_down desc, 1
        """,
        tuple(w.params),
    )


# --------------------------------------------------------------------------- chronic disease, slots


def undertreated_by_institution(period=None, county=None) -> pd.DataFrame | Missing:
    w = _Where()
    if period:
        w.add("u.period = ?", period)
    if county:
        w.add("d.county_code = ?", county)
    return query(
        f"""
        select coalesce(d.institution_name, u.institution_code) as institution_name,
               d.county_name,
               count(*) as n_cases,
               count(*) filter (where u.condition = 'hypertension') as n_hypertension,
               count(*) filter (where u.condition = 'diabetes') as n_diabetes
        from marts.fct_undertreated_cases u
        left join marts.dim_institutions d using (institution_code)
        {w.sql}
        group by all order by n_cases desc, institution_name
        """,
        tuple(w.params),
    )


def undertreated_by_criterion(period=None, county=None) -> pd.DataFrame | Missing:
    w = _Where()
    if period:
        w.add("u.period = ?", period)
    if county:
        w.add("d.county_code = ?", county)
    return query(
        f"""
        select u.condition, u.criterion_zh, count(*) as n_cases
        from marts.fct_undertreated_cases u
        left join marts.dim_institutions d using (institution_code)
        {w.sql}
        group by all order by n_cases desc, u.criterion_zh
        """,
        tuple(w.params),
    )


def undertreated_periods() -> list[str]:
    df = query("select distinct period from marts.fct_undertreated_cases order by period desc")
    return [] if isinstance(df, Missing) else list(df["period"])


def slot_pools(period=None) -> pd.DataFrame | Missing:
    """Per hospital: outpatient slots, the share reserved for primary care, and how the reserve was used."""
    w = _Where()
    if period:
        w.add("p.period = ?", period)
    return query(
        f"""
        select coalesce(d.institution_name, p.institution_code) as institution_name,
               sum(p.total_slots)::bigint as total_slots, sum(p.reserved_slots)::bigint as reserved_slots,
               sum(p.bookings)::bigint as bookings,
               sum(p.bookings - p.bookings_cancelled)::bigint as bookings_used,
               sum(p.bookings_attended)::bigint as bookings_attended
        from marts.fct_slot_pools p
        left join marts.dim_institutions d using (institution_code)
        {w.sql}
        group by 1 order by reserved_slots desc, 1
        """,
        tuple(w.params),
    )


def slot_bookings(period=None, by: str = "pool_institution_code") -> pd.DataFrame | Missing:
    """Bookings of reserved slots per pool-owning hospital or per booking primary institution."""
    if by not in ("pool_institution_code", "booking_institution_code"):
        raise ValueError(by)
    w = _Where()
    if period:
        w.add("b.period = ?", period)
    return query(
        f"""
        select coalesce(d.institution_name, b.{by}) as institution_name,
               count(*) as n_bookings,
               count(*) filter (where b.booking_status_code = '1') as n_attended,
               count(*) filter (where b.booking_status_code = '2') as n_no_show,
               count(*) filter (where b.booking_status_code = '3') as n_cancelled
        from marts.fct_slot_bookings b
        left join marts.dim_institutions d on d.institution_code = b.{by}
        {w.sql}
        group by 1 order by n_bookings desc, 1
        """,
        tuple(w.params),
    )


# --------------------------------------------------------------------------- data quality


SCORECARD_GRAINS = ("source_element", "source", "element", "institution")


def _latest_run(table: str) -> str:
    return f"run_id = (select run_id from {table} order by run_at desc, run_id desc limit 1)"


def scorecards(grain: str = "source_element") -> pd.DataFrame | Missing:
    """Latest run's scorecards at one grain: conformance before vs after standardization (in %)."""
    cols = _columns("quality.scorecards")
    if not cols:
        return Missing("quality.scorecards")
    if not {"grain", "conformance_before", "conformance_after"} <= cols:  # an older/other shape: show as is
        return query("select * from quality.scorecards order by all")
    return query(
        f"""
        select source_id, institution_code, entity, element, values_total,
               round(100 * conformance_before, 1) as valid_before_pct,
               round(100 * conformance_after, 1) as valid_after_pct,
               round(100 * (conformance_after - conformance_before), 1) as improvement_pct,
               checks_evaluated, checks_failed, blocking_failed,
               round(100 * check_pass_rate, 2) as check_pass_pct
        from quality.scorecards
        where grain = ? and {_latest_run("quality.scorecards")}
        order by source_id nulls first, institution_code nulls first, entity nulls first, element nulls first
        """,
        (grain,),
    )


def _overall_rows() -> str:
    """quality.check_results has per-source rows plus one ``ALL`` row per check: use the ALL rows."""
    return "(source_id = 'ALL' or not exists (select 1 from quality.check_results where source_id = 'ALL'))"


def accuracy_headline() -> pd.DataFrame | Missing:
    """Before -> after standardization per source plus one region-wide row (source_id ``ALL``), in %.

    Accuracy against the truth (``ingest.accuracy_by_field``, sample regions) when the snapshot has it,
    else conformance (``quality.scorecards`` at grain ``source``). Column ``measure`` says which."""
    if "records" in _columns("ingest.accuracy_by_field"):
        return query(
            """
            with a as (select * from ingest.accuracy_by_field where element <> '(record)'),
            per as (
                select source_id, sum(records) as n, sum(correct_before) as b, sum(correct_after) as c
                from a group by source_id
                union all
                select 'ALL', sum(records), sum(correct_before), sum(correct_after) from a
            )
            select 'accuracy' as measure, source_id, n as values_total,
                   round(100.0 * b / nullif(n, 0), 1) as before_pct, round(100.0 * c / nullif(n, 0), 1) as after_pct
            from per order by source_id = 'ALL' desc, source_id
            """
        )
    cols = _columns("quality.scorecards")
    if not {"grain", "conformance_before", "conformance_after", "values_total"} <= cols:
        return Missing("ingest.accuracy_by_field / quality.scorecards")
    return query(
        f"""
        with s as (
            select * from quality.scorecards where grain = 'source' and {_latest_run("quality.scorecards")}
        )
        select 'conformance' as measure, source_id, values_total,
               round(100 * conformance_before, 1) as before_pct, round(100 * conformance_after, 1) as after_pct
        from s
        union all
        select 'conformance', 'ALL', sum(values_total),
               round(100 * sum(conformance_before * values_total) / nullif(sum(values_total), 0), 1),
               round(100 * sum(conformance_after * values_total) / nullif(sum(values_total), 0), 1)
        from s
        order by source_id = 'ALL' desc, source_id
        """
    )


def kahn_heatmap() -> pd.DataFrame | Missing:
    """Latest run: per Kahn category (conformance / completeness / plausibility) x source, the share of
    evaluated values that pass (100 * (1 - violating / denominator)) and the failed checks."""
    return query(
        f"""
        select category, source_id,
               round(100 * (1 - sum(violating_rows) / nullif(sum(denominator), 0)), 2) as pass_pct,
               count(*) filter (where status = 'fail') as checks_failed,
               count(*) filter (where status <> 'skipped') as checks_evaluated
        from quality.check_results
        where {_latest_run("quality.check_results")} and source_id <> 'ALL' and source_id is not null
        group by category, source_id
        order by category, source_id
        """
    )


def check_runs() -> pd.DataFrame | Missing:
    return query(
        f"""
        select run_id, max(run_at) as run_at,
               count(distinct check_id) filter (where status <> 'skipped') as n_checks,
               count(distinct check_id) filter (where status = 'fail') as n_failed,
               count(distinct check_id) filter (where status = 'fail' and severity = 'blocking') as n_blocking_failed,
               coalesce(sum(violating_rows), 0)::bigint as violating_rows
        from quality.check_results
        where {_overall_rows()}
        group by run_id order by max(run_at), run_id
        """
    )


def check_results_latest() -> pd.DataFrame | Missing:
    return query(
        f"""
        select check_id, category, severity, source_id, entity, element, violating_rows, denominator,
               rate, threshold, status, reason
        from quality.check_results
        where {_latest_run("quality.check_results")} and {_overall_rows()}
        order by status, check_id
        """
    )


def check_changes() -> pd.DataFrame | Missing:
    """Per check (and source): this run's status vs the previous run's, with the change in violating rows."""
    cols = _columns("quality.check_changes")
    if not cols:
        return Missing("quality.check_changes")
    if "violating_rows_delta" in cols:
        delta = "violating_rows_delta as delta"
    elif {"violating_rows", "previous_violating_rows"} <= cols:
        delta = "violating_rows - coalesce(previous_violating_rows, 0) as delta"
    else:
        delta = "null as delta"
    wanted = [
        "check_id", "source_id", "category", "severity", "previous_run_id", "run_id", "previous_status",
        "status", "change", "previous_violating_rows", "violating_rows",
    ]  # fmt: skip
    select = ", ".join(c for c in wanted if c in cols)
    order = (
        "case change when 'new' then 0 when 'still_failing' then 1 when 'resolved' then 2 else 3 end, "
        if ("change" in cols)
        else ""
    )
    source_first = "source_id <> 'ALL', " if "source_id" in cols else ""
    return query(
        f"select {select}, {delta} from quality.check_changes order by {order}{source_first}check_id"
    )


def mart_fitness() -> pd.DataFrame | Missing:
    cols = _columns("quality.mart_fitness")
    if not cols:
        return Missing("quality.mart_fitness")
    wanted = ["mart", "verdict", "blocking_failed", "warnings_failed", "failing_checks", "reason"]
    select = ", ".join(c for c in wanted if c in cols) or "*"
    run_filter = f"where {_latest_run('quality.mart_fitness')}" if {"run_id", "run_at"} <= cols else ""
    return query(f"select {select} from quality.mart_fitness {run_filter} order by mart")


def quarantine_summary() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id, entity, element, reason_code, any_value(reason) as reason, count(*) as n_rows
        from ingest.quarantine group by all order by n_rows desc, source_id, element
        """
    )


def quarantine_rows(limit: int = 500) -> pd.DataFrame | Missing:
    return query(
        """
        select q.source_id, q.entity, f.file_name, q.row_number, q.stage, q.element, q.raw_value,
               q.reason_code, q.reason
        from ingest.quarantine q left join ingest.files f using (file_id)
        order by q.source_id, f.file_name, q.row_number limit ?
        """,
        (limit,),
    )


def unmapped_terms() -> pd.DataFrame | Missing:
    return query("select * from ingest.unmapped_terms order by frequency desc, element, raw_value")


# --------------------------------------------------------------------------- ingestion


def files() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id, entity, file_name, period, status, reason, received_at, size_bytes,
               rows_read, rows_landed, rows_quarantined, rows_footer, file_id, replaces_file_id
        from ingest.files order by received_at desc, file_name
        """
    )


def held_back() -> pd.DataFrame | Missing:
    """Refused files and the source-periods they hold back from this publication."""
    return query(
        """
        select source_id, period, file_name, entity, reason, files_withheld, rows_withheld, received_at
        from ingest.held_back order by source_id, period, file_name
        """
    )


def files_by_source() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id,
               count(*) as n_received,
               count(*) filter (where status = 'landed') as n_landed,
               count(*) filter (where status = 'rejected') as n_rejected,
               count(*) filter (where status = 'duplicate') as n_duplicate,
               count(*) filter (where status = 'replaced') as n_replaced,
               sum(rows_read)::bigint as rows_read, sum(rows_landed)::bigint as rows_landed,
               sum(rows_quarantined)::bigint as rows_quarantined
        from ingest.files group by source_id order by source_id
        """
    )


def freshness(as_of=None) -> pd.DataFrame | Missing:
    """Last file received, last landed file and latest period per source, with age at ``as_of``."""
    as_of = as_of if as_of is not None else pd.Timestamp.now()
    return query(
        """
        select source_id,
               max(received_at) as last_received_at,
               max(received_at) filter (where status = 'landed') as last_landed_at,
               max(period) filter (where status = 'landed') as latest_period,
               (epoch(?::timestamp) - epoch(max(received_at))) / 86400.0 as days_since_received
        from ingest.files group by source_id order by source_id
        """,
        (pd.Timestamp(as_of).to_pydatetime(),),
    )
