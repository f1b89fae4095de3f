{#- Spark (Parquet tables, rebuilt whole by the Spark engine): a table; row-level delete needs a
    table format such as Delta (docs/scale-out.md). -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='delete+insert',
        unique_key='period',
        on_schema_change='append_new_columns',
        post_hook=([] if target.type == 'spark' else [
            "delete from {{ this }} where file_id is not null and file_id not in
             (select distinct file_id from {{ ref('stg_std__visits') }} where file_id is not null)"
        ])
    )
}}
-- depends_on: {{ ref('stg_std__visits') }}
-- depends_on: {{ ref('int_referrals__touched_persons') }}
-- One row per visit (门诊/急诊/住院). Incremental by month: a run rebuilds only the months that
-- received rows from a file not seen before or held rows of a file no longer in std.visits (a
-- corrected re-send has a new file_id and replaces the old one), plus the following month (its
-- first-visit flags can depend on them), reading 30 days before them for the episode look-back.
-- The post-hook removes rows of files no longer in std.visits from months no new row arrived for.
-- Rows of untouched files are not re-derived, except when reference data changed or a full
-- standardize rewrote std in place (int_referrals__touched_persons holds '*'): then every month is.
with

visits as (

    select * from {{ ref('int_visits__attributed') }}

),

{% if is_incremental() %}
new_files as (

    -- file ids in std.visits not yet in this table (a scan of one column of the staging view)
    select distinct file_id from {{ ref('stg_std__visits') }}
    where file_id is not null
    except
    select distinct file_id from {{ this }}

),

removed_files as (

    -- file ids in this table no longer in std.visits (replaced by a corrected re-send, or withdrawn)
    select distinct file_id from {{ this }}
    where file_id is not null
    except
    select distinct file_id from {{ ref('stg_std__visits') }}

),

changed_months as (

    select distinct {{ month_start('coalesce(staged.visit_at, staged.admitted_at)') }} as month_start
    from {{ ref('stg_std__visits') }} as staged
    inner join new_files
        on staged.file_id = new_files.file_id

    union

    select distinct cast({{ dbt.concat(['existing.period', "'-01'"]) }} as date) as month_start
    from {{ this }} as existing
    inner join removed_files
        on existing.file_id = removed_files.file_id

    union

    -- everything, when int_visits__attributed re-derived every visit (reference data changed, a
    -- full standardize rewrote std in place: int_referrals__touched_persons holds '*')
    select distinct month_start from visits
    where exists (select 1 from {{ ref('int_referrals__touched_persons') }} where person_scope = '*')

),

affected_months as (

    select month_start from changed_months
    union
    select {{ dbt.dateadd('month', 1, 'month_start') }} from changed_months

),
{% endif %}

in_scope as (

    select * from visits
    {% if is_incremental() %}
    where visits.event_at >= (
        select {{ dbt.dateadd('day', -var('episode_gap_days'), 'min(month_start)') }} from affected_months
    )
    {% endif %}

),

episodes as (

    -- The look-back on a narrow projection joined back by visit_key: a window over every column
    -- of a city year (≈ 10 M rows) ran out of DuckDB's 3 GB cap; the join spills, the window did not.
    select
        visit_key as episode_visit_key,
        lag(event_at) over (
            partition by coalesce(person_key, visit_key), coalesce(icd10_category, 'UNK')
            order by event_at, visit_key
        ) as previous_same_category_at

    from in_scope

),

final as (

    select
        visit_key,
        visit_id,
        institution_code,
        person_key,
        sex_code,
        residence_county_code,
        visit_type_code,
        visit_type,
        setting,
        event_at,
        visit_at,
        admitted_at,
        discharged_at,
        case
            when setting = 'inpatient' and discharged_at is not null and admitted_at is not null
                then greatest({{ dbt.datediff('cast(admitted_at as date)', 'cast(discharged_at as date)', 'day') }}, 1)
        end as length_of_stay_days,
        department_name,
        diagnosis_code,
        diagnosis_name,
        std_diagnosis_code,
        icd10_category,
        condition_group,
        diagnosis_qualifier,
        discharge_disposition_code,
        payment_type_code,
        total_fee,
        systolic_bp,
        diastolic_bp,
        fasting_glucose,
        major_exam_code,
        level_code,
        institution_type_code,
        county_code,
        alliance_id,
        is_primary_care,
        case
            when residence_county_code is null or county_code is null then null
            else residence_county_code = county_code
        end as in_county,
        (
            previous_same_category_at is null
            or {{ days_between('previous_same_category_at', 'event_at') }} > {{ var('episode_gap_days') }}
        ) as first_visit_of_episode,
        case when discharged_at is not null then {{ to_period('discharged_at') }} end as discharge_period,
        period,
        source_id,
        file_id,
        source_row_number

    from in_scope
    inner join episodes
        on in_scope.visit_key = episodes.episode_visit_key
    {% if is_incremental() %}
    where month_start in (select month_start from affected_months)
    {% endif %}

)

select * from final
