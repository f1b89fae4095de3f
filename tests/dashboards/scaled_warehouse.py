"""A city-sized synthetic snapshot (same tables and columns as the fixture) for page timing.

Built as a real run publishes: the big marts are written into a copy of the fixture warehouse, the
dbt reporting models are built on them (``dbt run --select reporting``) and the warehouse is
published with the pipeline's publish step.

Not for asserting values: it only makes the dashboards' queries run on realistic row counts
(a city of ~10 million residents: ~2,000 institutions, 12 months, ~1 M referrals, ~2 M slot
bookings, ~600 k indicator values). Built in DuckDB with ``range()``: ~10 s on 2 cores.

Usage: ``python tests/dashboards/scaled_warehouse.py OUT.duckdb [referrals]``; then
``python -m tools.page_timing OUT.duckdb``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
from fixture_warehouse import PUBLISHED_AT, fixture_warehouse

from pipelines.publish.snapshot import build_snapshot

MONTHS = 12
INSTITUTIONS = 2000
COUNTIES = 12


def build_scaled_warehouse(path: str | Path, referrals: int = 1_000_000) -> Path:
    """Start from the fixture warehouse (registry, column shapes), fill every big table, build the
    reporting models and publish the snapshot to ``path``."""
    from dbt_harness import run_dbt  # tests/dbt, on the path once fixture_warehouse is imported

    path = Path(path)
    work = Path(tempfile.mkdtemp(prefix="rw-scaled-"))
    warehouse = work / "warehouse.duckdb"
    shutil.copyfile(fixture_warehouse(), warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set preserve_insertion_order = false")
        p = {"inst": INSTITUTIONS, "cty": COUNTIES, "months": MONTHS, "n_ref": referrals}
        sql = """
        create or replace table marts.dim_institutions as
        select printf('I%05d', i) as institution_code,
               printf('机构%05d', i) as institution_name,
               case when i % 20 = 0 then '3' when i % 5 = 0 then '2' else '1' end as level_code,
               case when i % 20 = 0 then '三级' when i % 5 = 0 then '二级' else '基层' end as level_name,
               'township_hc' as type_code,
               printf('C%02d', i % $cty) as county_code, printf('区县%02d', i % $cty) as county_name,
               printf('A%03d', i % 40) as alliance_id, printf('医联体%03d', i % 40) as alliance_name,
               '医联体' as alliance_type, i < 40 as is_alliance_lead, i % 5 <> 0 as is_primary_care
        from range($inst) t(i);

        create temp table periods as
        select strftime(date '2025-01-01' + to_months(m), '%Y-%m') as period from range($months) t(m);

        create or replace table marts.indicator_values as
        with geo as (
            select 'region' as geo_level, 'city' as geo_id, '全市' as geo_name
            union all select distinct 'county', county_code, county_name from marts.dim_institutions
            union all select distinct 'alliance', alliance_id, alliance_name from marts.dim_institutions
            union all select distinct 'level', level_code, level_name from marts.dim_institutions
            union all select 'institution', institution_code, institution_name from marts.dim_institutions
        ),
        base as (
            select r.indicator_id, r.unit, p.period, g.*,
                   100 + (hash(r.indicator_id, p.period, g.geo_id) % 5000)::double as denominator
            from marts.indicator_registry r, periods p, geo g
            where r.indicator_id <> 'up_return_reason_share'
        )
        select indicator_id || '|' || period || '|' || geo_level || '|' || geo_id || '|' as value_key,
               indicator_id, period, geo_level, geo_id, geo_name, null::varchar as breakdown,
               round(denominator * (0.3 + (hash(geo_id, period) % 60) / 100.0)) as numerator,
               case when unit = '人次' then null else denominator end as denominator,
               case when unit = '人次' then round(denominator * 0.5)
                    else 100.0 * round(denominator * (0.3 + (hash(geo_id, period) % 60) / 100.0)) / denominator
               end as value
        from base;

        create or replace table marts.fct_referrals as
        with r as (select i, (hash(i) % 1000000007)::bigint as h from range($n_ref) t(i))
        select printf('R%09d', i) as referral_id, 'platform' as referral_origin, printf('pk%09d', h % 3000000) as person_key,
               case when h % 3 = 0 then 'down' else 'up' end as direction,
               case when h % 7 = 0 then 'inpatient' else 'outpatient' end as setting,
               printf('I%05d', h % $inst) as from_institution_code,
               printf('I%05d', (h >> 8) % $inst) as to_institution_code,
               ((h % 3) + 1)::varchar as from_level_code, (((h >> 4) % 3) + 1)::varchar as to_level_code,
               printf('C%02d', (h % $inst) % $cty) as from_county_code,
               printf('C%02d', ((h >> 8) % $inst) % $cty) as to_county_code,
               printf('A%03d', (h % $inst) % 40) as from_alliance_id, printf('A%03d', ((h >> 8) % $inst) % 40) as to_alliance_id,
               h % 4 <> 0 as same_alliance, h % 50 = 0 as green_channel,
               timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint) as requested_at,
               case when h % 10 < 8 then timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint + h % 30) end as accepted_at,
               case when h % 10 >= 8 then timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint + 4) end as returned_at,
               case when h % 10 < 7 then timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint + h % 120) end as arrived_at,
               case when h % 10 >= 8 then '3' when h % 10 < 7 then '4' else '2' end as status_code,
               case when h % 10 >= 8 then 'returned' when h % 10 < 7 then 'arrived' else 'accepted' end as final_status,
               case when h % 10 >= 8 then ['01', '02', '03', '04', '05', '99'][1 + h % 6] end as return_reason_code,
               null::varchar as return_reason_name,
               case when h % 10 < 8 then (h % 30)::double end as hours_to_accept,
               case when h % 10 < 7 then (h % 120)::double end as hours_to_arrival,
               case when h % 3 = 0 then timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint + h % 40) end as fd_contact_at,
               case when h % 3 = 0 then h % 40 <= 24 end as fd_contact_within_24h,
               (h % 3)::bigint as followup_count, h % 5 < 3 as closed_loop,
               strftime(timestamp '2025-01-01' + to_hours((i * 8760 // $n_ref)::bigint), '%Y-%m') as period
        from r;

        create or replace table marts.fct_slot_pools as
        select printf('P%07d', i) as pool_id, printf('I%05d', (i % 100) * 20) as institution_code,
               '3' as level_code, 'C01' as county_code, 'A001' as alliance_id, true as is_alliance_lead,
               '心内科' as department_name, date '2025-01-01' + (i % 365)::int as clinic_date,
               timestamp '2025-01-01' as released_at, 50 as total_slots, 10 as reserved_slots,
               8::bigint as bookings, 6::bigint as bookings_attended, 1::bigint as bookings_no_show,
               1::bigint as bookings_cancelled,
               strftime(date '2025-01-01' + (i % 365)::int, '%Y-%m') as period
        from range(250000) t(i);

        create or replace table marts.fct_slot_bookings as
        select printf('B%09d', i) as booking_id, printf('P%07d', i // 8) as pool_id,
               printf('I%05d', ((i // 8) % 100) * 20) as institution_code,
               printf('I%05d', ((i // 8) % 100) * 20) as pool_institution_code, '心内科' as department_name,
               date '2025-01-01' + ((i // 8) % 365)::int as clinic_date,
               printf('I%05d', hash(i) % $inst) as booking_institution_code,
               timestamp '2025-01-01' as booked_at, ['1', '1', '1', '1', '1', '1', '2', '3'][1 + i % 8] as booking_status_code,
               strftime(date '2025-01-01' + ((i // 8) % 365)::int, '%Y-%m') as period
        from range(2000000) t(i);

        create or replace table marts.fct_undertreated_cases as
        select printf('UVK%08d', i) as visit_key, printf('UV%08d', i) as visit_id,
               printf('I%05d', hash(i) % $inst) as institution_code, printf('upk%08d', i) as person_key,
               timestamp '2025-01-01' + to_hours(i % 8760) as visit_at,
               case when i % 3 = 0 then 'diabetes_referral' else 'hypertension_referral' end as criterion_id,
               case when i % 3 = 0 then '首次发现血糖异常且分型不明' else '血压≥180/110 mmHg' end as criterion_zh,
               case when i % 3 = 0 then 'diabetes' else 'hypertension' end as condition,
               1::bigint as criteria_count, '1' as level_code,
               printf('C%02d', (hash(i) % $inst) % $cty) as county_code, 'A001' as alliance_id,
               strftime(timestamp '2025-01-01' + to_hours(i % 8760), '%Y-%m') as period
        from range(200000) t(i);

        create or replace table raw.files as
        select printf('f%06d', i) as file_id, printf('his_%02d', i % 40) as source_id, 'visits' as entity,
               printf('visits_%06d.csv', i) as file_name, strftime(date '2025-01-01' + (i % 365)::int, '%Y%m') as period,
               md5(i::varchar) as sha256, 100000 as size_bytes,
               timestamp '2025-01-01' + to_minutes(i * 10) as received_at,
               1000 as rows_read, 990 as rows_landed, 10 as rows_quarantined, 0 as rows_footer,
               case when i % 100 = 0 then 'rejected' else 'landed' end as status,
               case when i % 100 = 0 then '缺少必需列' end as reason, null::varchar as replaces_file_id
        from range(50000) t(i);

        create or replace table raw.quarantine as
        select printf('f%06d', i % 50000) as file_id, printf('his_%02d', i % 40) as source_id, 'visits' as entity,
               i as row_number, 'standardize' as stage, 'visit_datetime' as element,
               printf('2025-13-%02d', i % 40) as raw_value, 'invalid_date' as reason_code, '日期无法解析' as reason
        from range(500000) t(i);

        create or replace table std.unmapped_terms as
        select 'diagnosis_name' as element, printf('诊断术语%06d', i) as raw_value, (hash(i) % 500)::bigint as frequency,
               'his_01' as sources, timestamp '2025-01-01' as first_seen, timestamp '2025-12-31' as last_seen
        from range(20000) t(i);
        """
        for key, val in p.items():
            sql = sql.replace(f"${key}", str(val))
        con.execute(sql)
        con.execute("alter table raw.files add column path varchar")
    finally:
        con.close()
    if not run_dbt(["run", "--select", "reporting"], warehouse, work).success:
        raise RuntimeError(f"dbt run --select reporting failed ({work})")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    build_snapshot(warehouse, path, "run-scaled")
    with duckdb.connect(str(path)) as con:
        con.execute("update meta.publish_info set published_at = ?", [PUBLISHED_AT])
    shutil.rmtree(work, ignore_errors=True)
    return path


if __name__ == "__main__":  # pragma: no cover
    out = build_scaled_warehouse(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    with duckdb.connect(str(out), read_only=True) as c:
        for t in (
            "marts.indicator_values",
            "reporting.referral_summary",
            "reporting.referral_institution_flows",
            "restricted.fct_referrals",
            "restricted.quarantine",
        ):
            print(t, c.execute(f"select count(*) from {t}").fetchone()[0])
